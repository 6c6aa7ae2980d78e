/* swarm-cli.c: what the headless subcommands share */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#ifdef G_OS_UNIX
#include <signal.h>

#include <glib-unix.h>
#endif

#include "swarm-cli.h"
#include "swarm-log.h"
#include "swarm-wire.h"

/* Returns the exit status table and the environment variables for the
 * description part of --help.  Only `provider` reads SWARM_PROXY_TOKEN, so
 * only its help lists it.  Each variant is one whole string, so that
 * translators see the table in one piece. */
static const char *
get_help_footer (gboolean with_token_variable)
{
  if (with_token_variable)
    return _("Exit status:\n"
             "  0  success, or stopped by SIGINT or SIGTERM\n"
             "  1  runtime failure: cannot listen, cannot read a file, expired ticket\n"
             "  2  usage error: unknown option, missing or conflicting options,\n"
             "     invalid value\n"
             "\n"
             "Environment:\n"
             "  SWARM_PROXY_TOKEN  provider token, used when neither --token nor\n"
             "                     --token-file is given\n"
             "  G_MESSAGES_DEBUG   \"all\" adds debug lines to the log on stderr\n"
             "\n"
             "With --json, every line on stdout and stderr is one JSON object.");

  return _("Exit status:\n"
           "  0  success, or stopped by SIGINT or SIGTERM\n"
           "  1  runtime failure: cannot listen, cannot read a file, expired ticket\n"
           "  2  usage error: unknown option, missing or conflicting options,\n"
           "     invalid value\n"
           "\n"
           "Environment:\n"
           "  G_MESSAGES_DEBUG  \"all\" adds debug lines to the log on stderr\n"
           "\n"
           "With --json, every line on stdout and stderr is one JSON object.");
}

const char *
swarm_cli_get_help_footer (void)
{
  return get_help_footer (FALSE);
}

GOptionContext *
swarm_cli_option_context_new (const char         *subcommand,
                              const char         *parameter_string,
                              const char         *summary,
                              const GOptionEntry *entries,
                              gboolean           *json)
{
  const GOptionEntry json_entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, json,
      N_("Print one JSON object per line on stdout and stderr"), NULL },
    { NULL }
  };
  g_autofree char *prgname = g_strdup_printf ("swarm-proxy %s", subcommand);
  GOptionContext *context;

  /* The usage line of --help is "PRGNAME [OPTION…] PARAMETERS"; naming the
   * subcommand there shows that its options come after it. */
  g_set_prgname (prgname);

  context = g_option_context_new (parameter_string);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context,
                                    get_help_footer (g_str_equal (subcommand, "provider")));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, json_entries, GETTEXT_PACKAGE);

  return context;
}

gboolean
swarm_cli_parse_options (GOptionContext   *context,
                         const char       *subcommand,
                         int              *argc,
                         char           ***argv,
                         gboolean         *json)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      swarm_cli_print_error (_("%s; see swarm-proxy %s --help"), error->message, subcommand);
      return FALSE;
    }

  swarm_log_set_json (*json);

  if (*argc > 1)
    {
      swarm_cli_print_error (_("unexpected argument “%s” after swarm-proxy %s; "
                               "see swarm-proxy %s --help"),
                             (*argv)[1], subcommand, subcommand);
      return FALSE;
    }

  return TRUE;
}

void
swarm_cli_print_error (const char *format,
                       ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (swarm_log_get_json ())
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *json = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, "error");
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, message);
      json_builder_end_object (builder);

      root = json_builder_get_root (builder);
      json = json_to_string (root, FALSE);
      fprintf (stderr, "%s\n", json);
    }
  else
    {
      fprintf (stderr, "swarm-proxy: %s\n", message);
    }

  fflush (stderr);
}

void
swarm_cli_print_json (JsonNode *node)
{
  g_autofree char *json = json_to_string (node, FALSE);

  fprintf (stdout, "%s\n", json);
  fflush (stdout);
}

void
swarm_cli_print_line (const char *format,
                      ...)
{
  va_list args;

  va_start (args, format);
  vfprintf (stdout, format, args);
  va_end (args);

  fputc ('\n', stdout);
  fflush (stdout);
}

void
swarm_cli_print_status (const char *message,
                        const char *first_key,
                        ...)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  va_list args;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, "ok");
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);

  va_start (args, first_key);
  for (const char *key = first_key; key != NULL; key = va_arg (args, const char *))
    {
      const char *value = va_arg (args, const char *);

      json_builder_set_member_name (builder, key);
      json_builder_add_string_value (builder, value);
    }
  va_end (args);

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  swarm_cli_print_json (root);
}

/* Tells whether `address` spells out a port.  g_network_address_parse()
 * silently uses its default port for "host", "[v6]" and a bare IPv6
 * address, and those must not pass as "port 0". */
static gboolean
address_has_port (const char *address)
{
  const char *last_colon = strrchr (address, ':');

  if (address[0] == '[')
    return strstr (address, "]:") != NULL;

  return last_colon != NULL && strchr (address, ':') == last_colon;
}

gboolean
swarm_cli_check_address (const char  *option,
                         const char  *address,
                         gboolean     allow_port_zero,
                         GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GError) local_error = NULL;
  guint16 port;

  if (!address_has_port (address))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("invalid %s address “%s”: the port is missing; "
                     "write HOST:PORT, or [IPV6]:PORT for an IPv6 address"),
                   option, address);
      return FALSE;
    }

  connectable = g_network_address_parse (address, 0, &local_error);
  if (connectable == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("invalid %s address “%s”: %s; write HOST:PORT, "
                     "or [IPV6]:PORT for an IPv6 address"),
                   option, address, local_error->message);
      return FALSE;
    }

  if (*g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)) == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("invalid %s address “%s”: the host is missing; write HOST:PORT"),
                   option, address);
      return FALSE;
    }

  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  if (port == 0 && !allow_port_zero)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("invalid %s address “%s”: the port must be between 1 and 65535"),
                   option, address);
      return FALSE;
    }

  return TRUE;
}

gboolean
swarm_cli_check_field (const char  *what,
                       const char  *value,
                       gboolean     secret,
                       GError     **error)
{
  if (swarm_wire_field_is_valid (value))
    return TRUE;

  if (secret)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("invalid %s: it must be non-empty printable ASCII without spaces"),
                 what);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("invalid %s “%s”: it must be non-empty printable ASCII without spaces"),
                 what, value);

  return FALSE;
}

/* The loop of swarm_cli_run(), and the status it returns. */
static GMainLoop *run_loop;
static int run_exit_status;

#ifdef G_OS_UNIX
static gboolean
signal_received_cb (gpointer user_data)
{
  int signal_number = GPOINTER_TO_INT (user_data);

  g_message ("received %s, stopping", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  swarm_cli_quit (SWARM_EXIT_OK);

  return G_SOURCE_CONTINUE;
}
#endif

int
swarm_cli_run (void)
{
#ifdef G_OS_UNIX
  guint sigint_id;
  guint sigterm_id;
#endif

  run_loop = g_main_loop_new (NULL, FALSE);
  run_exit_status = SWARM_EXIT_OK;

  /* NOTE: g_unix_signal_add() exists only on Unix, so Windows builds install
   * no handler.  There Ctrl+C ends the process through the default console
   * handler: no "stopping" log line, and the exit status is Windows'
   * STATUS_CONTROL_C_EXIT, not the 0 that --help promises. */
#ifdef G_OS_UNIX
  sigint_id = g_unix_signal_add (SIGINT, signal_received_cb, GINT_TO_POINTER (SIGINT));
  sigterm_id = g_unix_signal_add (SIGTERM, signal_received_cb, GINT_TO_POINTER (SIGTERM));
#endif

  g_main_loop_run (run_loop);

#ifdef G_OS_UNIX
  g_clear_handle_id (&sigint_id, g_source_remove);
  g_clear_handle_id (&sigterm_id, g_source_remove);
#endif
  g_clear_pointer (&run_loop, g_main_loop_unref);

  return run_exit_status;
}

void
swarm_cli_quit (int exit_status)
{
  g_return_if_fail (run_loop != NULL);

  run_exit_status = exit_status;
  g_main_loop_quit (run_loop);
}

typedef struct {
  /* Consecutive failed connection attempts, which each retry line shows. */
  guint failures;
  gint64 expires_at_unix;
} ProviderWatch;

char *
swarm_cli_format_unix_time (gint64 unix_time)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (unix_time);

  if (time == NULL)
    return g_strdup_printf ("%" G_GINT64_FORMAT, unix_time);

  return g_date_time_format (time, "%Y-%m-%d %H:%M:%S UTC");
}

static void
provider_state_changed_cb (SwarmProvider *provider,
                           GParamSpec    *pspec,
                           ProviderWatch *watch)
{
  const char *session_id = swarm_provider_get_session_id (provider);
  const char *broker = swarm_provider_get_broker_address (provider);
  const char *last_error;
  g_autofree char *expired_at = NULL;

  switch (swarm_provider_get_state (provider))
    {
    case SWARM_PROVIDER_STATE_OFF:
      g_debug ("provider for session %s stopped", session_id);
      break;

    case SWARM_PROVIDER_STATE_CONNECTING:
      g_message ("connecting to broker %s for session %s", broker, session_id);
      break;

    case SWARM_PROVIDER_STATE_SHARING:
      watch->failures = 0;
      g_message ("sharing: session %s is registered with broker %s", session_id, broker);
      break;

    case SWARM_PROVIDER_STATE_RETRYING:
      watch->failures++;
      last_error = swarm_provider_get_last_error (provider);
      g_message ("retrying in %u s (failure %u in a row: %s)",
                 swarm_provider_get_retry_seconds (provider), watch->failures,
                 last_error != NULL ? last_error : "no error given");
      break;

    case SWARM_PROVIDER_STATE_EXPIRED:
      expired_at = swarm_cli_format_unix_time (watch->expires_at_unix);
      swarm_cli_print_error (_("expired: the ticket of session %s expired at %s and the "
                               "provider stopped; issue a new ticket with swarm-proxy "
                               "ticket and start the provider with it"),
                             session_id, expired_at);
      if (run_loop != NULL)
        swarm_cli_quit (SWARM_EXIT_FAILURE);
      break;

    default:
      g_warning ("provider for session %s is in unknown state %d",
                 session_id, swarm_provider_get_state (provider));
      break;
    }
}

void
swarm_cli_watch_provider (SwarmProvider *provider,
                          gint64         expires_at_unix)
{
  ProviderWatch *watch = g_new0 (ProviderWatch, 1);

  watch->expires_at_unix = expires_at_unix;
  g_signal_connect_data (provider, "notify::state",
                         G_CALLBACK (provider_state_changed_cb), watch,
                         (GClosureNotify) (void (*) (void)) g_free, 0);
}
