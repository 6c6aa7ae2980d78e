/* swarm-cli-broker.c: `swarm-proxy broker`, the rendezvous of providers and workers */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-cli"

#include "config.h"

#include <glib/gi18n.h>

/* SIGUSR1 and g_unix_signal_add() exist only on Unix.  Windows builds have
 * no session report. */
#ifdef G_OS_UNIX
#include <signal.h>

#include <glib-unix.h>
#endif

#include "swarm-broker.h"
#include "swarm-cli.h"
#include "swarm-tunnel.h"

/* The original swarm-proxy listens on every IPv4 interface by default,
 * because a broker is meant to be reached from other machines. */
#define DEFAULT_LISTEN_ADDRESS "0.0.0.0:8787"

/* Upper bound of --open-timeout in seconds.  It rejects a mistyped value,
 * such as milliseconds given for seconds, instead of letting workers wait
 * for hours. */
#define MAX_OPEN_TIMEOUT_SECONDS 3600

SwarmBroker *
swarm_cli_start_broker (const char  *listen_address,
                        guint        open_timeout_ms,
                        gboolean     json,
                        char       **bound_address,
                        int         *exit_status)
{
  g_autoptr(SwarmBroker) broker = swarm_broker_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *bound = NULL;

  if (json)
    swarm_cli_print_status ("starting broker", "listen", listen_address, NULL);
  else
    swarm_cli_print_line (_("starting broker on %s"), listen_address);

  swarm_broker_set_open_timeout (broker, open_timeout_ms);

  if (!swarm_broker_listen (broker, listen_address, &error))
    {
      /* A host that does not parse or resolve is a bad --listen value; a
       * port in use or a missing permission is the machine's state. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
        *exit_status = SWARM_EXIT_USAGE;
      else
        *exit_status = SWARM_EXIT_FAILURE;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        swarm_cli_print_error (_("cannot listen on %s: %s; stop the program that uses "
                                 "this port or choose another --listen address"),
                               listen_address, error->message);
      else
        swarm_cli_print_error (_("cannot listen on %s: %s; choose another --listen "
                                 "address"),
                               listen_address, error->message);
      return NULL;
    }

  bound = swarm_broker_dup_listen_address (broker);
  if (json)
    swarm_cli_print_status ("broker listening", "listen", bound, NULL);
  else
    swarm_cli_print_line (_("broker listening on %s"), bound);

  if (bound_address != NULL)
    *bound_address = g_steal_pointer (&bound);

  return g_steal_pointer (&broker);
}

#ifdef G_OS_UNIX
typedef struct {
  SwarmBroker *broker;
  gboolean json;
} SessionReport;

static void
add_session_json (JsonBuilder        *builder,
                  SwarmBrokerSession *session)
{
  GListModel *tunnels = swarm_broker_session_get_tunnels (session);
  guint n_tunnels = g_list_model_get_n_items (tunnels);
  g_autofree char *since = NULL;

  since = swarm_cli_format_unix_time (swarm_broker_session_get_connected_since (session) /
                                      G_USEC_PER_SEC);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "session_id");
  json_builder_add_string_value (builder, swarm_broker_session_get_session_id (session));
  json_builder_set_member_name (builder, "provider");
  json_builder_add_string_value (builder, swarm_broker_session_get_provider_address (session));
  json_builder_set_member_name (builder, "connected_since");
  json_builder_add_string_value (builder, since);
  json_builder_set_member_name (builder, "tunnels");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n_tunnels; i++)
    {
      g_autoptr(SwarmTunnel) tunnel = g_list_model_get_item (tunnels, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "worker");
      json_builder_add_string_value (builder, swarm_tunnel_get_peer (tunnel));
      json_builder_set_member_name (builder, "host");
      json_builder_add_string_value (builder, swarm_tunnel_get_host (tunnel));
      json_builder_set_member_name (builder, "port");
      json_builder_add_int_value (builder, swarm_tunnel_get_port (tunnel));
      json_builder_set_member_name (builder, "bytes_up");
      json_builder_add_int_value (builder, swarm_tunnel_get_bytes_up (tunnel));
      json_builder_set_member_name (builder, "bytes_down");
      json_builder_add_int_value (builder, swarm_tunnel_get_bytes_down (tunnel));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

/* Prints the registered sessions and their tunnels on SIGUSR1, so an
 * operator can see who is connected right now (`kill -USR1 PID`). */
static gboolean
report_sessions_cb (gpointer user_data)
{
  SessionReport *report = user_data;
  GListModel *sessions = swarm_broker_get_sessions (report->broker);
  guint n_sessions = g_list_model_get_n_items (sessions);

  if (report->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, "ok");
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, "sessions");
      json_builder_set_member_name (builder, "sessions");
      json_builder_begin_array (builder);
      for (guint i = 0; i < n_sessions; i++)
        {
          g_autoptr(SwarmBrokerSession) session = g_list_model_get_item (sessions, i);

          add_session_json (builder, session);
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);

      root = json_builder_get_root (builder);
      swarm_cli_print_json (root);
      return G_SOURCE_CONTINUE;
    }

  swarm_cli_print_line (g_dngettext (GETTEXT_PACKAGE, "%u session registered",
                                     "%u sessions registered", n_sessions),
                        n_sessions);
  for (guint i = 0; i < n_sessions; i++)
    {
      g_autoptr(SwarmBrokerSession) session = g_list_model_get_item (sessions, i);
      GListModel *tunnels = swarm_broker_session_get_tunnels (session);
      g_autofree char *since = NULL;

      since = swarm_cli_format_unix_time (swarm_broker_session_get_connected_since (session) /
                                          G_USEC_PER_SEC);
      swarm_cli_print_line (_("  session %s: provider %s since %s, %u open tunnels"),
                            swarm_broker_session_get_session_id (session),
                            swarm_broker_session_get_provider_address (session),
                            since, g_list_model_get_n_items (tunnels));
    }

  return G_SOURCE_CONTINUE;
}
#endif /* G_OS_UNIX */

static gboolean
parse_open_timeout (const char *text,
                    guint      *timeout_ms)
{
  g_autoptr(GError) error = NULL;
  guint64 seconds;

  if (text == NULL)
    {
      *timeout_ms = SWARM_BROKER_DEFAULT_OPEN_TIMEOUT_MS;
      return TRUE;
    }

  if (!g_ascii_string_to_unsigned (text, 10, 1, MAX_OPEN_TIMEOUT_SECONDS, &seconds, &error))
    {
      swarm_cli_print_error (_("invalid --open-timeout value “%s”: expected whole seconds "
                               "from 1 to %d"),
                             text, MAX_OPEN_TIMEOUT_SECONDS);
      return FALSE;
    }

  *timeout_ms = (guint) seconds * 1000;
  return TRUE;
}

int
swarm_cli_broker_main (int        argc,
                       char     **argv,
                       gboolean   json)
{
  g_autofree char *listen_address = NULL;
  g_autofree char *open_timeout = NULL;
  const GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_address,
      N_("Address to listen on; port 0 picks a free port (default: "
         DEFAULT_LISTEN_ADDRESS ")"), N_("HOST:PORT") },
    { "open-timeout", 0, 0, G_OPTION_ARG_STRING, &open_timeout,
      N_("Seconds a worker waits for the provider to open a tunnel before it gets "
         "504 (default: 20)"), N_("SECONDS") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SwarmBroker) broker = NULL;
  g_autoptr(GError) error = NULL;
#ifdef G_OS_UNIX
  SessionReport report = { 0 };
  guint report_id;
#endif
  guint open_timeout_ms;
  int status;

  /* The --open-timeout help states this default. */
  G_STATIC_ASSERT (SWARM_BROKER_DEFAULT_OPEN_TIMEOUT_MS == 20000);

  context = swarm_cli_option_context_new ("broker", NULL,
                                          _("Run a broker: providers register sessions with\n"
                                            "it, and workers use it as an HTTP proxy with\n"
                                            "SESSION:TOKEN as proxy credentials. Runs until\n"
                                            "SIGINT or SIGTERM. SIGUSR1 prints the registered\n"
                                            "sessions and their tunnels."),
                                          entries, &json);
  if (!swarm_cli_parse_options (context, "broker", &argc, &argv, &json))
    return SWARM_EXIT_USAGE;

  if (listen_address == NULL)
    listen_address = g_strdup (DEFAULT_LISTEN_ADDRESS);

  if (!swarm_cli_check_address ("--listen", listen_address, TRUE, &error))
    {
      swarm_cli_print_error ("%s", error->message);
      return SWARM_EXIT_USAGE;
    }

  if (!parse_open_timeout (open_timeout, &open_timeout_ms))
    return SWARM_EXIT_USAGE;

  broker = swarm_cli_start_broker (listen_address, open_timeout_ms, json, NULL, &status);
  if (broker == NULL)
    return status;

#ifdef G_OS_UNIX
  report.broker = broker;
  report.json = json;
  report_id = g_unix_signal_add (SIGUSR1, report_sessions_cb, &report);
#endif

  status = swarm_cli_run ();

#ifdef G_OS_UNIX
  g_source_remove (report_id);
#endif
  swarm_broker_stop (broker);

  return status;
}
