/* placeholder: replaced by the desktop app */
#include "swarm-desktop.h"

int
swarm_desktop_main (int argc, char **argv, gboolean no_gui, gboolean json)
{
  g_printerr ("swarm-proxy: no subcommand given; see swarm-proxy --help\n");
  return 2;
}
