/* main.c: swarm-proxy's entry point, which picks a subcommand or the desktop app */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-cli"

#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>

#include "desktop/swarm-desktop.h"
#include "swarm-cli.h"
#include "swarm-log.h"
#include "swarm-version.h"

typedef int (*SubcommandMain) (int argc, char **argv, gboolean json);

static const struct {
  const char *name;
  SubcommandMain main;
} subcommands[] = {
  { "broker", swarm_cli_broker_main },
  { "provider", swarm_cli_provider_main },
  { "ticket", swarm_cli_ticket_main },
  { "share", swarm_cli_share_main },
};

/* Tells whether --json appears among the options, before the option parser
 * has run, so that even an error about the options themselves comes out as
 * JSON.  Stops at "--", after which nothing is an option. */
static gboolean
argv_requests_json (int    argc,
                    char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        return FALSE;
      if (strcmp (argv[i], "--json") == 0)
        return TRUE;
    }

  return FALSE;
}

static void
print_version (gboolean json)
{
  if (json)
    swarm_cli_print_status ("swarm-proxy", "version", SWARM_VERSION, NULL);
  else
    swarm_cli_print_line ("swarm-proxy %s", SWARM_VERSION);
}

static GOptionContext *
create_global_option_context (gboolean *json,
                              gboolean *no_gui,
                              gboolean *background,
                              gboolean *allow_private,
                              gboolean *version)
{
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, json,
      N_("Print one JSON object per line on stdout and stderr"), NULL },
    { "no-gui", 0, 0, G_OPTION_ARG_NONE, no_gui,
      N_("Without a subcommand: share headless from the saved settings instead of "
         "opening the window"), NULL },
    { "background", 0, 0, G_OPTION_ARG_NONE, background,
      N_("Without a subcommand: run the app sharing, with the tray icon and no window; "
         "a later swarm-proxy opens its window"), NULL },
    { "allow-private", 0, 0, G_OPTION_ARG_NONE, allow_private,
      N_("With --no-gui: also let workers reach loopback, private and link-local "
         "addresses, whatever the saved settings say"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, version,
      N_("Print the version and exit"), NULL },
    { NULL }
  };
  GOptionContext *context = g_option_context_new (_("[SUBCOMMAND [OPTION…]]"));

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);

  /* Parsing stops at the subcommand, whose options its own context parses. */
  g_option_context_set_strict_posix (context, TRUE);

  g_option_context_set_summary (context,
                                _("Share one machine's internet egress with HTTP proxy\n"
                                  "clients (workers) elsewhere, through a broker that both\n"
                                  "sides connect to.\n"
                                  "\n"
                                  "Subcommands:\n"
                                  "  broker    run a broker that providers register with and\n"
                                  "            workers use as their HTTP proxy\n"
                                  "  provider  share this machine's egress through a broker\n"
                                  "  ticket    issue a ticket (session id, token, broker address)\n"
                                  "  share     start a broker, a ticket and a provider in one step\n"
                                  "\n"
                                  "Without a subcommand swarm-proxy opens the desktop app,\n"
                                  "with --background starts it sharing with only its tray icon,\n"
                                  "or with --no-gui shares headless from the saved settings.\n"
                                  "See swarm-proxy SUBCOMMAND --help for the options of each\n"
                                  "subcommand."));
  g_option_context_set_description (context, swarm_cli_get_help_footer ());

  return context;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  gboolean json = FALSE;
  gboolean no_gui = FALSE;
  gboolean background = FALSE;
  gboolean allow_private = FALSE;
  gboolean version = FALSE;
  const char *subcommand;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  swarm_log_init ();
  swarm_log_set_json (argv_requests_json (argc, argv));
  g_set_prgname ("swarm-proxy");

  context = create_global_option_context (&json, &no_gui, &background, &allow_private,
                                          &version);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      swarm_cli_print_error (_("%s; see swarm-proxy --help"), error->message);
      return SWARM_EXIT_USAGE;
    }

  /* A --json after the subcommand is parsed later, by the subcommand, but
   * errors before that already use JSON. */
  swarm_log_set_json (json || argv_requests_json (argc, argv));

  if (version)
    {
      print_version (json);
      return SWARM_EXIT_OK;
    }

  if (no_gui && background)
    {
      swarm_cli_print_error (_("--no-gui and --background cannot be combined: --no-gui shares "
                               "without the app, --background runs the app without a window; "
                               "drop one of them"));
      return SWARM_EXIT_USAGE;
    }

  /* The subcommands that share take their own --allow-private, after their
   * name; the app reads its saved setting. */
  if (allow_private && (!no_gui || argc >= 2))
    {
      swarm_cli_print_error (_("--allow-private before a subcommand applies only with "
                               "--no-gui; put it after the subcommand (swarm-proxy share "
                               "--allow-private), or turn on “Allow Access to My Local "
                               "Network” in the app's preferences"));
      return SWARM_EXIT_USAGE;
    }

  if (argc < 2)
    return swarm_desktop_main (argc, argv, no_gui, background, allow_private, json);

  subcommand = argv[1];

  for (gsize i = 0; i < G_N_ELEMENTS (subcommands); i++)
    {
      if (strcmp (subcommand, subcommands[i].name) != 0)
        continue;

      if (no_gui)
        {
          swarm_cli_print_error (_("--no-gui applies only without a subcommand, and "
                                   "swarm-proxy %s never opens a window; drop --no-gui"),
                                 subcommand);
          return SWARM_EXIT_USAGE;
        }
      if (background)
        {
          swarm_cli_print_error (_("--background applies only without a subcommand, and "
                                   "swarm-proxy %s never opens a window; drop --background"),
                                 subcommand);
          return SWARM_EXIT_USAGE;
        }

      return subcommands[i].main (argc - 1, argv + 1, json);
    }

  swarm_cli_print_error (_("unknown subcommand “%s”; the subcommands are broker, provider, "
                           "ticket and share (see swarm-proxy --help)"),
                         subcommand);
  return SWARM_EXIT_USAGE;
}
