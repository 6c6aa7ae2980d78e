/* swarm-desktop.c: swarm-proxy without a subcommand
 *
 * Picks the face before any GTK call, because gtk_init exits the process
 * when no display can be opened: the window when there is a display and the
 * build has GTK, the headless share otherwise.
 */

#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>
#ifdef G_OS_UNIX
#include <glib-unix.h>
#include <signal.h>
#endif

#include "swarm-cli.h"
#include "swarm-desktop.h"
#include "swarm-share.h"

#if HAVE_GUI
#include "swarm-application.h"
#endif

typedef struct {
  GMainLoop *loop;
  int exit_status;
  gboolean json;
} HeadlessRun;

#ifdef G_OS_UNIX
static gboolean
quit_on_signal_cb (gpointer user_data)
{
  HeadlessRun *run = user_data;

  g_message ("Stopping on a signal");
  g_main_loop_quit (run->loop);
  return G_SOURCE_CONTINUE;
}
#endif

static const char *
state_name (SwarmProviderState state)
{
  switch (state)
    {
    case SWARM_PROVIDER_STATE_OFF:
      return "off";
    case SWARM_PROVIDER_STATE_CONNECTING:
      return "connecting";
    case SWARM_PROVIDER_STATE_SHARING:
      return "sharing";
    case SWARM_PROVIDER_STATE_RETRYING:
      return "retrying";
    case SWARM_PROVIDER_STATE_EXPIRED:
      return "expired";
    default:
      return "unknown";
    }
}

static void
print_state (SwarmShare  *share,
             HeadlessRun *run)
{
  SwarmProviderState state = swarm_share_get_state (share);
  const char *error = swarm_share_get_last_error (share);

  if (run->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, state_name (state));
      json_builder_set_member_name (builder, "retry_seconds");
      json_builder_add_int_value (builder, swarm_share_get_retry_seconds (share));
      json_builder_set_member_name (builder, "last_error");
      if (error != NULL)
        json_builder_add_string_value (builder, error);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      swarm_cli_print_json (root);
    }
  else if (state == SWARM_PROVIDER_STATE_RETRYING)
    {
      g_message ("Share state: retrying in %u s: %s", swarm_share_get_retry_seconds (share),
                 error != NULL ? error : "the broker cannot be reached");
    }
  else
    {
      g_message ("Share state: %s", state_name (state));
    }

  if (state == SWARM_PROVIDER_STATE_EXPIRED)
    {
      swarm_cli_print_error (_("the ticket expired and sharing stopped; delete it or "
                               "create a new one in the app, then start again"));
      run->exit_status = SWARM_EXIT_FAILURE;
      g_main_loop_quit (run->loop);
    }
}

static void
share_state_cb (SwarmShare  *share,
                GParamSpec  *pspec,
                HeadlessRun *run)
{
  print_state (share, run);
}

static void
print_ticket (SwarmStoredTicket *stored,
              gboolean           json)
{
  g_autoptr(SwarmTicket) ticket = swarm_stored_ticket_to_ticket (stored);
  g_autofree char *proxy_url = swarm_stored_ticket_dup_proxy_url (stored);

  if (json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, "ok");
      json_builder_set_member_name (builder, "ticket");
      json_builder_add_value (builder, swarm_ticket_to_json_node (ticket));
      json_builder_set_member_name (builder, "proxy_url");
      json_builder_add_string_value (builder, proxy_url);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      swarm_cli_print_json (root);
    }
  else
    {
      g_autofree char *text = swarm_ticket_to_json (ticket, TRUE);
      g_autofree char *quoted = g_shell_quote (proxy_url);

      swarm_cli_print_line ("%s", _("Ticket (hand it to the workers):"));
      swarm_cli_print_line ("%s\n", text);
      swarm_cli_print_line ("%s", _("A worker fetches a URL through this computer with:"));
      swarm_cli_print_line ("  curl --proxy %s \"$URL\"", quoted);
    }
}

static int
run_headless (gboolean json,
              gboolean allow_private)
{
  g_autoptr(GSettings) settings = swarm_settings_new ();
  g_autoptr(SwarmTicketStore) store = swarm_ticket_store_new (NULL);
  g_autoptr(SwarmShare) share = swarm_share_new (settings, store);
  g_autoptr(GError) error = NULL;
  HeadlessRun run = { NULL, SWARM_EXIT_OK, json };
#ifdef G_OS_UNIX
  guint sigint_id, sigterm_id;
#endif

  swarm_share_use_command_line (share, allow_private);

  /* Without a keyring the store has already logged where the tokens go. */
  if (!swarm_share_start_latest (share, &error))
    {
      swarm_cli_print_error ("%s", error->message);
      return SWARM_EXIT_FAILURE;
    }

  print_ticket (swarm_share_get_ticket (share), json);

  run.loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (share, "notify::state", G_CALLBACK (share_state_cb), &run);
  g_signal_connect (share, "notify::retry-seconds", G_CALLBACK (share_state_cb), &run);
#ifdef G_OS_UNIX
  sigint_id = g_unix_signal_add (SIGINT, quit_on_signal_cb, &run);
  sigterm_id = g_unix_signal_add (SIGTERM, quit_on_signal_cb, &run);
#else
  /* TODO: on Windows, Ctrl+C ends the process without stopping the share
   * first, so the broker sees the connection drop. */
#endif

  g_main_loop_run (run.loop);

#ifdef G_OS_UNIX
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
#endif
  g_signal_handlers_disconnect_by_data (share, &run);
  swarm_share_stop (share);
  g_main_loop_unref (run.loop);
  return run.exit_status;
}

static void
setup_gettext (void)
{
  const char *localedir = g_getenv ("SWARM_PROXY_LOCALEDIR");

  /* Calling these again is harmless, and they must have run before the
   * first translated string. */
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

int
swarm_desktop_main (int       argc,
                    char    **argv,
                    gboolean  no_gui,
                    gboolean  background,
                    gboolean  allow_private,
                    gboolean  json)
{
  setup_gettext ();

  if (no_gui)
    return run_headless (json, allow_private);

#if HAVE_GUI
  if (g_getenv ("WAYLAND_DISPLAY") == NULL && g_getenv ("DISPLAY") == NULL)
    {
      swarm_cli_print_error (_("no display found (neither WAYLAND_DISPLAY nor DISPLAY is "
                               "set); run “swarm-proxy --no-gui” to share without a window"));
      return SWARM_EXIT_FAILURE;
    }

  /* A variable that names a display no server listens on (a closed SSH
   * forward, a stale Wayland socket) passes the check above, and
   * GtkApplication would then exit without a hint.  gtk_init_check() opens
   * the display here, and the application's own gtk_init() reuses it. */
  if (!gtk_init_check ())
    {
      swarm_cli_print_error (_("the display named by WAYLAND_DISPLAY or DISPLAY cannot be "
                               "opened; run “swarm-proxy --no-gui” to share without a window"));
      return SWARM_EXIT_FAILURE;
    }

  return swarm_application_run (argc > 0 ? argv[0] : "swarm-proxy", background);
#else
  swarm_cli_print_error (_("this build has no window because it was built without GTK; "
                           "run “swarm-proxy --no-gui” to share without a window"));
  return SWARM_EXIT_FAILURE;
#endif
}
