/* swarm-background.h: start at login through the Background portal
 *
 * Calls org.freedesktop.portal.Background.RequestBackground with GDBus
 * directly, so one call does not add libportal as a dependency.  No GTK.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SWARM_BACKGROUND_ERROR (swarm_background_error_quark ())

typedef enum {
  SWARM_BACKGROUND_ERROR_UNAVAILABLE,  /* no portal, or it has no Background interface */
  SWARM_BACKGROUND_ERROR_DENIED,       /* the user or the portal refused */
} SwarmBackgroundError;

GQuark   swarm_background_error_quark  (void);

/* Asks to run in the background and, with `autostart`, to be started at
 * login as `swarm-proxy --background`.  `parent_window` is the portal's window
 * identifier ("x11:XID", "wayland:HANDLE") or "". */
void     swarm_background_request_async  (GDBusConnection     *bus,
                                          const char          *parent_window,
                                          const char          *reason,
                                          gboolean             autostart,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
/* Returns whether autostart was granted. */
gboolean swarm_background_request_finish (GAsyncResult        *result,
                                          GError             **error);

G_END_DECLS
