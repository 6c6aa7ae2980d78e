/* swarm-window.h: the main window */
#pragma once

#include <adwaita.h>

#include "swarm-share.h"

G_BEGIN_DECLS

typedef enum {
  SWARM_COPY_FORMAT_JSON,   /* the ticket JSON a worker loads */
  SWARM_COPY_FORMAT_URL,    /* http://session_id:token@broker */
  SWARM_COPY_FORMAT_SHELL,  /* export http(s)_proxy=… in lower and upper case */
} SwarmCopyFormat;

#define SWARM_TYPE_WINDOW (swarm_window_get_type ())
G_DECLARE_FINAL_TYPE (SwarmWindow, swarm_window, SWARM, WINDOW, AdwApplicationWindow)

SwarmWindow *swarm_window_new                (GtkApplication    *application,
                                              SwarmShare        *share);

/* Puts the ticket on the clipboard in `format` and shows a toast.  Returns
 * the copied text, or NULL when the ticket has no token. */
char        *swarm_window_copy_ticket        (SwarmWindow       *self,
                                              SwarmStoredTicket *ticket,
                                              SwarmCopyFormat    format);
/* Copies the JSON of the latest usable ticket; FALSE when there is none. */
gboolean     swarm_window_copy_latest_ticket (SwarmWindow       *self);
void         swarm_window_show_toast         (SwarmWindow       *self,
                                              const char        *text);
/* Shows a page: "share", "tickets", "tunnels" or "sessions". */
void         swarm_window_show_page          (SwarmWindow       *self,
                                              const char        *name);

/* Formats `ticket` as copied; NULL without a token. */
char        *swarm_format_ticket             (SwarmStoredTicket *ticket,
                                              SwarmCopyFormat    format);

G_END_DECLS
