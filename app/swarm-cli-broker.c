/* swarm-cli-broker.c: `swarm-proxy broker`, the rendezvous of providers and workers */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-cli"

#include "config.h"

#include <glib/gi18n.h>

#include "swarm-broker.h"
#include "swarm-cli.h"

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
  guint open_timeout_ms;
  int status;

  /* The --open-timeout help states this default. */
  G_STATIC_ASSERT (SWARM_BROKER_DEFAULT_OPEN_TIMEOUT_MS == 20000);

  context = swarm_cli_option_context_new ("broker", NULL,
                                          _("Run a broker: providers register sessions with\n"
                                            "it, and workers use it as an HTTP proxy with\n"
                                            "SESSION:TOKEN as proxy credentials. Runs until\n"
                                            "SIGINT or SIGTERM."),
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

  status = swarm_cli_run ();

  swarm_broker_stop (broker);

  return status;
}
