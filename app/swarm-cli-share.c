/* swarm-cli-share.c: `swarm-proxy share`, a provider and its ticket in one step */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-cli"

#include "config.h"

#include <glib/gi18n.h>

#include "swarm-broker.h"
#include "swarm-cli.h"
#include "swarm-policy.h"
#include "swarm-provider.h"
#include "swarm-ticket.h"
#include "swarm-token.h"

/* Loopback by default: sharing through a local broker is for workers on
 * this machine, and reaching it from elsewhere is a deliberate --listen. */
#define DEFAULT_SHARE_LISTEN_ADDRESS "127.0.0.1:8787"

/* Random bytes in the generated session id, printed as hex after "share-". */
#define SHARE_SESSION_ID_BYTES 4

typedef struct {
  char *broker;
  char *listen;
  gboolean allow_private;
} ShareOptions;

static void
share_options_clear (ShareOptions *options)
{
  g_clear_pointer (&options->broker, g_free);
  g_clear_pointer (&options->listen, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ShareOptions, share_options_clear)

static char *
generate_session_id (GError **error)
{
  guint8 bytes[SHARE_SESSION_ID_BYTES];
  GString *session_id;

  if (!swarm_random_bytes (bytes, sizeof bytes, error))
    return NULL;

  session_id = g_string_new ("share-");
  for (gsize i = 0; i < sizeof bytes; i++)
    g_string_append_printf (session_id, "%02x", bytes[i]);

  return g_string_free (session_id, FALSE);
}

/* Returns the address the provider should connect to for a broker bound to
 * `bound_address`.  A wildcard address such as 0.0.0.0 accepts connections
 * but is no destination, so the provider uses loopback with the same port. */
static char *
dup_provider_connect_address (const char *bound_address)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GInetAddress) host = NULL;
  guint16 port;

  connectable = g_network_address_parse (bound_address, 0, NULL);
  if (connectable == NULL)
    return g_strdup (bound_address);

  host = g_inet_address_new_from_string (
    g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)));
  if (host == NULL || !g_inet_address_get_is_any (host))
    return g_strdup (bound_address);

  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  if (g_inet_address_get_family (host) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[::1]:%u", port);

  return g_strdup_printf ("127.0.0.1:%u", port);
}

static void
print_sharing (SwarmTicket *ticket,
               gboolean     json)
{
  const char *session_id = swarm_ticket_get_session_id (ticket);
  const char *token = swarm_ticket_get_token (ticket);
  const char *broker = swarm_ticket_get_broker_addr (ticket);
  g_autofree char *proxy_url = NULL;
  g_autofree char *curl = NULL;

  /* Session ids from generate_session_id() and tokens are base64url or hex,
   * so single quotes are enough to keep them one shell word.  $URL stays a
   * placeholder for the user to fill in. */
  proxy_url = g_strdup_printf ("http://%s:%s@%s", session_id, token, broker);
  curl = g_strdup_printf ("curl --proxy http://%s --proxy-user '%s:%s' \"$URL\"",
                          broker, session_id, token);

  if (json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, "ok");
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, "sharing");
      json_builder_set_member_name (builder, "ticket");
      json_builder_add_value (builder, swarm_ticket_to_json_node (ticket));
      json_builder_set_member_name (builder, "proxy_url");
      json_builder_add_string_value (builder, proxy_url);
      json_builder_set_member_name (builder, "curl");
      json_builder_add_string_value (builder, curl);
      json_builder_end_object (builder);

      root = json_builder_get_root (builder);
      swarm_cli_print_json (root);
    }
  else
    {
      g_autofree char *ticket_json = swarm_ticket_to_json (ticket, TRUE);

      swarm_cli_print_line (_("sharing session %s through broker %s"), session_id, broker);
      swarm_cli_print_line (_("ticket:"));
      swarm_cli_print_line ("%s", ticket_json);
      swarm_cli_print_line (_("worker command (set URL to the address to fetch):"));
      swarm_cli_print_line ("  %s", curl);
    }
}

int
swarm_cli_share_main (int        argc,
                      char     **argv,
                      gboolean   json)
{
  g_auto(ShareOptions) options = { NULL, };
  const GOptionEntry entries[] = {
    { "broker", 0, 0, G_OPTION_ARG_STRING, &options.broker,
      N_("Share through this remote broker instead of starting one here"),
      N_("HOST:PORT") },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &options.listen,
      N_("Address of the broker started here; port 0 picks a free port (default: "
         DEFAULT_SHARE_LISTEN_ADDRESS ")"), N_("HOST:PORT") },
    { "allow-private", 0, 0, G_OPTION_ARG_NONE, &options.allow_private,
      N_("Let workers reach loopback, private (RFC 1918), link-local and other "
         "non-public addresses through this machine"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SwarmBroker) broker = NULL;
  g_autoptr(SwarmDestinationPolicy) policy = NULL;
  g_autoptr(SwarmProvider) provider = NULL;
  g_autoptr(SwarmTicket) ticket = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *broker_address = NULL;
  g_autofree char *connect_address = NULL;
  g_autofree char *session_id = NULL;
  int status;

  context = swarm_cli_option_context_new ("share", NULL,
                                          _("Share this machine's egress in one step: start\n"
                                            "a broker here (or use --broker), issue a ticket\n"
                                            "that never expires, start a provider for it, and\n"
                                            "print the ticket and a curl command for workers.\n"
                                            "Runs until SIGINT or SIGTERM."),
                                          entries, &json);
  if (!swarm_cli_parse_options (context, "share", &argc, &argv, &json))
    return SWARM_EXIT_USAGE;

  if (options.broker != NULL && options.listen != NULL)
    {
      swarm_cli_print_error (_("--listen sets the address of a broker started here, and "
                               "--broker uses a remote one instead; give only one of them"));
      return SWARM_EXIT_USAGE;
    }

  if (options.broker == NULL && options.listen == NULL)
    options.listen = g_strdup (DEFAULT_SHARE_LISTEN_ADDRESS);

  if ((options.broker != NULL &&
       !swarm_cli_check_address ("--broker", options.broker, FALSE, &error)) ||
      (options.listen != NULL &&
       !swarm_cli_check_address ("--listen", options.listen, TRUE, &error)))
    {
      swarm_cli_print_error ("%s", error->message);
      return SWARM_EXIT_USAGE;
    }

  session_id = generate_session_id (&error);
  if (session_id == NULL)
    {
      swarm_cli_print_error (_("cannot generate a session id: %s"), error->message);
      return SWARM_EXIT_FAILURE;
    }

  if (options.listen != NULL)
    {
      broker = swarm_cli_start_broker (options.listen, SWARM_BROKER_DEFAULT_OPEN_TIMEOUT_MS,
                                       json, &broker_address, &status);
      if (broker == NULL)
        return status;

      connect_address = dup_provider_connect_address (broker_address);
      if (g_strcmp0 (connect_address, broker_address) != 0)
        g_warning ("the ticket names broker %s, a wildcard address that workers cannot "
                   "connect to; give them this machine's address with the same port",
                   broker_address);
    }
  else
    {
      broker_address = g_strdup (options.broker);
      connect_address = g_strdup (options.broker);
    }

  ticket = swarm_ticket_issue (session_id, broker_address, SWARM_TICKET_NEVER_EXPIRES,
                               &error);
  if (ticket == NULL)
    {
      swarm_cli_print_error (_("cannot issue a ticket for session %s: %s"),
                             session_id, error->message);
      if (broker != NULL)
        swarm_broker_stop (broker);
      return SWARM_EXIT_FAILURE;
    }

  if (json)
    swarm_cli_print_status ("starting provider",
                            "broker", connect_address,
                            "session_id", session_id,
                            NULL);
  else
    swarm_cli_print_line (_("starting provider for session %s via %s"),
                          session_id, connect_address);

  policy = swarm_destination_policy_new (options.allow_private);
  provider = swarm_provider_new (connect_address, session_id,
                                 swarm_ticket_get_token (ticket), policy);
  swarm_cli_watch_provider (provider, SWARM_TICKET_NEVER_EXPIRES);
  swarm_provider_start (provider);

  print_sharing (ticket, json);

  status = swarm_cli_run ();

  swarm_provider_stop (provider);
  if (broker != NULL)
    swarm_broker_stop (broker);

  return status;
}
