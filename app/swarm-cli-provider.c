/* swarm-cli-provider.c: `swarm-proxy provider`, which shares this machine's egress */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-cli"

#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n.h>

#include "swarm-cli.h"
#include "swarm-policy.h"
#include "swarm-provider.h"
#include "swarm-ticket.h"

#define TOKEN_ENVIRONMENT_VARIABLE "SWARM_PROXY_TOKEN"

typedef struct {
  char *broker;
  char *session_id;
  char *token;
  char *token_file;
  char *ticket;
  gboolean allow_private;
} ProviderOptions;

static void
provider_options_clear (ProviderOptions *options)
{
  g_clear_pointer (&options->broker, g_free);
  g_clear_pointer (&options->session_id, g_free);
  g_clear_pointer (&options->token, g_free);
  g_clear_pointer (&options->token_file, g_free);
  g_clear_pointer (&options->ticket, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ProviderOptions, provider_options_clear)

/* Where the provider connects to and how it proves the session. */
typedef struct {
  char *broker;
  char *session_id;
  char *token;
  gint64 expires_at_unix;
} ProviderTarget;

static void
provider_target_clear (ProviderTarget *target)
{
  g_clear_pointer (&target->broker, g_free);
  g_clear_pointer (&target->session_id, g_free);
  g_clear_pointer (&target->token, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ProviderTarget, provider_target_clear)

/* Fills `target` from the ticket at `path`.  Every failure here is about the
 * file, not the command line, so it returns SWARM_EXIT_FAILURE. */
static int
target_from_ticket (const char     *path,
                    ProviderTarget *target)
{
  g_autoptr(SwarmTicket) ticket = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expired_at = NULL;
  gint64 now_unix = g_get_real_time () / G_USEC_PER_SEC;
  gint64 expires_at_unix;

  ticket = swarm_ticket_load (path, &error);
  if (ticket == NULL && g_error_matches (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_EXPIRED))
    {
      swarm_cli_print_error (_("ticket %s has expired (%s); issue a new one with "
                               "swarm-proxy ticket and start the provider with it"),
                             path, error->message);
      return SWARM_EXIT_FAILURE;
    }
  if (ticket == NULL)
    {
      swarm_cli_print_error (_("cannot use ticket %s: %s; check the path, or issue a new "
                               "ticket with swarm-proxy ticket"),
                             path, error->message);
      return SWARM_EXIT_FAILURE;
    }

  expires_at_unix = swarm_ticket_get_expires_at_unix (ticket);
  if (swarm_ticket_is_expired (ticket, now_unix))
    {
      expired_at = swarm_cli_format_unix_time (expires_at_unix);
      swarm_cli_print_error (_("ticket %s for session %s expired at %s (Unix time %" PRId64
                               "); issue a new one with swarm-proxy ticket "
                               "--session-id %s --broker %s --ttl DURATION and start the "
                               "provider with it"),
                             path, swarm_ticket_get_session_id (ticket), expired_at,
                             expires_at_unix, swarm_ticket_get_session_id (ticket),
                             swarm_ticket_get_broker_addr (ticket));
      return SWARM_EXIT_FAILURE;
    }

  if (!swarm_cli_check_address ("broker_addr", swarm_ticket_get_broker_addr (ticket),
                                FALSE, &error) ||
      !swarm_cli_check_field ("session_id", swarm_ticket_get_session_id (ticket),
                              FALSE, &error) ||
      !swarm_cli_check_field ("token", swarm_ticket_get_token (ticket), TRUE, &error))
    {
      swarm_cli_print_error (_("cannot use ticket %s: %s"), path, error->message);
      return SWARM_EXIT_FAILURE;
    }

  target->broker = g_strdup (swarm_ticket_get_broker_addr (ticket));
  target->session_id = g_strdup (swarm_ticket_get_session_id (ticket));
  target->token = g_strdup (swarm_ticket_get_token (ticket));
  target->expires_at_unix = expires_at_unix;

  return SWARM_EXIT_OK;
}

/* Reads the token from the first line of `path`, without its line end. */
static int
read_token_file (const char  *path,
                 char       **token)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize line_length;

  if (!g_file_get_contents (path, &contents, NULL, &error))
    {
      swarm_cli_print_error (_("cannot read the token file: %s; check --token-file"),
                             error->message);
      return SWARM_EXIT_FAILURE;
    }

  line_length = strcspn (contents, "\n");
  if (line_length > 0 && contents[line_length - 1] == '\r')
    line_length--;
  contents[line_length] = '\0';

  if (!swarm_cli_check_field (_("token"), contents, TRUE, &error))
    {
      swarm_cli_print_error (_("the first line of token file %s is not a valid token: %s"),
                             path, error->message);
      return SWARM_EXIT_FAILURE;
    }

  *token = g_steal_pointer (&contents);
  return SWARM_EXIT_OK;
}

/* Picks the token from --token, --token-file or SWARM_PROXY_TOKEN, in that
 * order of precedence, and rejects --token together with --token-file. */
static int
resolve_token (const ProviderOptions  *options,
               char                  **token)
{
  g_autoptr(GError) error = NULL;
  const char *environment_token = g_getenv (TOKEN_ENVIRONMENT_VARIABLE);

  if (options->token != NULL && options->token_file != NULL)
    {
      swarm_cli_print_error (_("--token and --token-file both give the token; "
                               "give only one of them"));
      return SWARM_EXIT_USAGE;
    }

  if (options->token_file != NULL)
    return read_token_file (options->token_file, token);

  if (options->token == NULL && environment_token == NULL)
    {
      swarm_cli_print_error (_("no token given; use --token-file PATH, set %s, or "
                               "give --ticket PATH instead"),
                             TOKEN_ENVIRONMENT_VARIABLE);
      return SWARM_EXIT_USAGE;
    }

  if (options->token != NULL &&
      !swarm_cli_check_field (_("--token value"), options->token, TRUE, &error))
    {
      swarm_cli_print_error ("%s", error->message);
      return SWARM_EXIT_USAGE;
    }

  if (options->token == NULL &&
      !swarm_cli_check_field (TOKEN_ENVIRONMENT_VARIABLE, environment_token, TRUE, &error))
    {
      swarm_cli_print_error ("%s", error->message);
      return SWARM_EXIT_USAGE;
    }

  *token = g_strdup (options->token != NULL ? options->token : environment_token);
  return SWARM_EXIT_OK;
}

static int
target_from_options (const ProviderOptions *options,
                     ProviderTarget        *target)
{
  g_autoptr(GError) error = NULL;

  if (options->broker == NULL || options->session_id == NULL)
    {
      swarm_cli_print_error (_("missing %s; a provider needs either --ticket PATH, or "
                               "--broker HOST:PORT and --session-id ID with a token "
                               "(see swarm-proxy provider --help)"),
                             options->broker == NULL ? "--broker" : "--session-id");
      return SWARM_EXIT_USAGE;
    }

  if (!swarm_cli_check_address ("--broker", options->broker, FALSE, &error) ||
      !swarm_cli_check_field (_("session id"), options->session_id, FALSE, &error))
    {
      swarm_cli_print_error ("%s", error->message);
      return SWARM_EXIT_USAGE;
    }

  target->broker = g_strdup (options->broker);
  target->session_id = g_strdup (options->session_id);
  target->expires_at_unix = SWARM_TICKET_NEVER_EXPIRES;

  return resolve_token (options, &target->token);
}

/* Returns the first option given together with --ticket, which the ticket
 * replaces, or NULL. */
static const char *
find_option_conflicting_with_ticket (const ProviderOptions *options)
{
  if (options->broker != NULL)
    return "--broker";
  if (options->session_id != NULL)
    return "--session-id";
  if (options->token != NULL)
    return "--token";
  if (options->token_file != NULL)
    return "--token-file";
  return NULL;
}

static void
print_start (const ProviderTarget *target,
             gboolean              json)
{
  if (json)
    swarm_cli_print_status ("starting provider",
                            "broker", target->broker,
                            "session_id", target->session_id,
                            NULL);
  else
    swarm_cli_print_line (_("starting provider for session %s via %s"),
                          target->session_id, target->broker);
}

int
swarm_cli_provider_main (int        argc,
                         char     **argv,
                         gboolean   json)
{
  g_auto(ProviderOptions) options = { NULL, };
  g_auto(ProviderTarget) target = { NULL, };
  const GOptionEntry entries[] = {
    { "broker", 0, 0, G_OPTION_ARG_STRING, &options.broker,
      N_("Broker to connect to"), N_("HOST:PORT") },
    { "session-id", 0, 0, G_OPTION_ARG_STRING, &options.session_id,
      N_("Session to register (printable ASCII, no spaces)"), N_("ID") },
    { "token", 0, 0, G_OPTION_ARG_STRING, &options.token,
      N_("Session token; visible to other users in the process list, so prefer "
         "--token-file or SWARM_PROXY_TOKEN"), N_("TOKEN") },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &options.token_file,
      N_("Read the token from the first line of PATH"), N_("PATH") },
    { "ticket", 0, 0, G_OPTION_ARG_FILENAME, &options.ticket,
      N_("Take broker, session id, token and expiry from a ticket file, instead of "
         "the four options above"), N_("PATH") },
    { "allow-private", 0, 0, G_OPTION_ARG_NONE, &options.allow_private,
      N_("Let workers reach loopback, private (RFC 1918), link-local and other "
         "non-public addresses through this machine"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SwarmDestinationPolicy) policy = NULL;
  g_autoptr(SwarmProvider) provider = NULL;
  const char *conflicting_option;
  int status;

  /* The summary below states these delays. */
  G_STATIC_ASSERT (SWARM_PROVIDER_RETRY_MIN_MS == 1000);
  G_STATIC_ASSERT (SWARM_PROVIDER_RETRY_MAX_MS == 30000);

  context = swarm_cli_option_context_new ("provider", NULL,
                                          _("Share this machine's egress: connect out to a\n"
                                            "broker, register a session and open the\n"
                                            "connections its workers request. Runs until\n"
                                            "SIGINT or SIGTERM. An unreachable broker is\n"
                                            "retried after 1 s, doubling up to 30 s."),
                                          entries, &json);
  if (!swarm_cli_parse_options (context, "provider", &argc, &argv, &json))
    return SWARM_EXIT_USAGE;

  conflicting_option = find_option_conflicting_with_ticket (&options);
  if (options.ticket != NULL && conflicting_option != NULL)
    {
      swarm_cli_print_error (_("%s cannot be combined with --ticket, which already "
                               "contains the broker, session id and token; give one "
                               "or the other"),
                             conflicting_option);
      return SWARM_EXIT_USAGE;
    }

  if (options.ticket != NULL)
    status = target_from_ticket (options.ticket, &target);
  else
    status = target_from_options (&options, &target);
  if (status != SWARM_EXIT_OK)
    return status;

  print_start (&target, json);

  policy = swarm_destination_policy_new (options.allow_private);
  provider = swarm_provider_new (target.broker, target.session_id, target.token, policy);
  swarm_provider_set_expires_at (provider, target.expires_at_unix);
  swarm_cli_watch_provider (provider, target.expires_at_unix);

  swarm_provider_start (provider);

  /* The ticket may run out between the check above and the start, in which
   * case the state is EXPIRED before any loop runs to see it change. */
  if (swarm_provider_get_state (provider) == SWARM_PROVIDER_STATE_EXPIRED)
    status = SWARM_EXIT_FAILURE;
  else
    status = swarm_cli_run ();

  swarm_provider_stop (provider);

  return status;
}
