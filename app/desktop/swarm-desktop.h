/* swarm-desktop.h: the app without a subcommand */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs swarm-proxy as started with no subcommand: the GTK app when a display
 * is there and the build has it, otherwise (or with `no_gui`) the headless
 * share from the saved settings and keyring.  With `background` the app
 * starts sharing with only its tray icon, and fails like the window does
 * without a display.  Returns the exit status.  `argv` is what is left after
 * the global options were parsed. */
int swarm_desktop_main (int       argc,
                        char    **argv,
                        gboolean  no_gui,
                        gboolean  background,
                        gboolean  allow_private,
                        gboolean  json);

G_END_DECLS
