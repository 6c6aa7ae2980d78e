/* swarm-application.h: the GTK face of swarm-proxy */
#pragma once

#include <adwaita.h>

#include "swarm-share.h"
#include "swarm-tray.h"

G_BEGIN_DECLS

#define SWARM_TYPE_APPLICATION (swarm_application_get_type ())
G_DECLARE_FINAL_TYPE (SwarmApplication, swarm_application, SWARM, APPLICATION, AdwApplication)

SwarmApplication *swarm_application_new        (void);
SwarmShare       *swarm_application_get_share  (SwarmApplication *self);
/* NULL until startup, and when the session bus cannot be reached. */
SwarmTray        *swarm_application_get_tray   (SwarmApplication *self);

/* Starts or stops sharing; errors end up as a toast in the window. */
void              swarm_application_set_sharing (SwarmApplication *self,
                                                 gboolean          sharing);

/* Runs the application.  Only `argv0` is passed on: the command line was
 * parsed already, and GApplication would reject the options it does not
 * know.  With `background` the primary instance shares and shows no window
 * until a later launch activates it, and a second instance only asks the
 * primary one to share. */
int               swarm_application_run        (const char       *argv0,
                                                gboolean          background);

G_END_DECLS
