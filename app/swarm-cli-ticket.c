/* swarm-cli-ticket.c: `swarm-proxy ticket`, which issues a ticket */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-cli"

#include "config.h"

#include <errno.h>
#include <inttypes.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "swarm-cli.h"
#include "swarm-ticket.h"

typedef struct {
  char *session_id;
  char *broker;
  char *expires_at_unix;
  char *ttl;
  char *out;
} TicketOptions;

static void
ticket_options_clear (TicketOptions *options)
{
  g_clear_pointer (&options->session_id, g_free);
  g_clear_pointer (&options->broker, g_free);
  g_clear_pointer (&options->expires_at_unix, g_free);
  g_clear_pointer (&options->ttl, g_free);
  g_clear_pointer (&options->out, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TicketOptions, ticket_options_clear)

/* Works out expires_at_unix from --expires-at-unix, or 0 for none.  A --ttl
 * is applied later, to the ticket's own issued_at_unix.  Returns FALSE
 * after printing a usage error. */
static gboolean
parse_expires_at (const TicketOptions *options,
                  gint64              *expires_at_unix)
{
  g_autoptr(GError) error = NULL;
  gint64 now_unix = g_get_real_time () / G_USEC_PER_SEC;
  gint64 value;

  *expires_at_unix = SWARM_TICKET_NEVER_EXPIRES;

  if (options->expires_at_unix == NULL)
    return TRUE;

  if (!g_ascii_string_to_signed (options->expires_at_unix, 10, G_MININT64, G_MAXINT64,
                                 &value, &error))
    {
      swarm_cli_print_error (_("invalid --expires-at-unix value “%s”: expected a Unix time "
                               "in seconds, such as %" PRId64),
                             options->expires_at_unix, now_unix + 3600);
      return FALSE;
    }

  if (value <= now_unix)
    {
      swarm_cli_print_error (_("--expires-at-unix %" PRId64 " is not in the future "
                               "(the time now is %" PRId64 "); give a later time "
                               "or a duration with --ttl"),
                             value, now_unix);
      return FALSE;
    }

  *expires_at_unix = value;
  return TRUE;
}

/* Replaces `ticket` by one that expires `ttl_seconds` after it was issued,
 * so that expires_at_unix - issued_at_unix is exactly the duration given. */
static SwarmTicket *
apply_ttl (SwarmTicket *ticket,
           gint64       ttl_seconds)
{
  gint64 issued_at_unix = swarm_ticket_get_issued_at_unix (ticket);

  return swarm_ticket_new (swarm_ticket_get_session_id (ticket),
                           swarm_ticket_get_token (ticket),
                           swarm_ticket_get_broker_addr (ticket),
                           issued_at_unix,
                           issued_at_unix + ttl_seconds);
}

static gboolean
save_ticket (SwarmTicket *ticket,
             const char  *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *folder = g_path_get_dirname (path);

  /* The folder gets 0700, like the file's 0600, because it is made only to
   * hold the ticket and its token. */
  if (g_mkdir_with_parents (folder, 0700) != 0)
    {
      int saved_errno = errno;

      swarm_cli_print_error (_("cannot create folder %s for the ticket: %s; "
                               "choose another --out path"),
                             folder, g_strerror (saved_errno));
      return FALSE;
    }

  if (!swarm_ticket_save (ticket, path, &error))
    {
      swarm_cli_print_error (_("cannot write the ticket to %s: %s; "
                               "choose another --out path"),
                             path, error->message);
      return FALSE;
    }

  return TRUE;
}

static void
print_ticket (SwarmTicket *ticket,
              const char  *path,
              gboolean     json)
{
  if (path == NULL && json)
    {
      g_autoptr(JsonNode) node = swarm_ticket_to_json_node (ticket);

      swarm_cli_print_json (node);
    }
  else if (path == NULL)
    {
      g_autofree char *text = swarm_ticket_to_json (ticket, TRUE);

      swarm_cli_print_line ("%s", text);
    }
  else if (json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      /* JSON strings are UTF-8, and a file name need not be. */
      g_autofree char *display_path = g_filename_display_name (path);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, "ok");
      json_builder_set_member_name (builder, "ticket_path");
      json_builder_add_string_value (builder, display_path);
      json_builder_set_member_name (builder, "ticket");
      json_builder_add_value (builder, swarm_ticket_to_json_node (ticket));
      json_builder_end_object (builder);

      root = json_builder_get_root (builder);
      swarm_cli_print_json (root);
    }
  else
    {
      swarm_cli_print_line (_("ticket written: %s"), path);
    }
}

int
swarm_cli_ticket_main (int        argc,
                       char     **argv,
                       gboolean   json)
{
  g_auto(TicketOptions) options = { NULL, };
  const GOptionEntry entries[] = {
    { "session-id", 0, 0, G_OPTION_ARG_STRING, &options.session_id,
      N_("Session the ticket is for (required; printable ASCII, no spaces)"), N_("ID") },
    { "broker", 0, 0, G_OPTION_ARG_STRING, &options.broker,
      N_("Broker address that workers and the provider connect to (required)"),
      N_("HOST:PORT") },
    { "expires-at-unix", 0, 0, G_OPTION_ARG_STRING, &options.expires_at_unix,
      N_("Expiry as a Unix time in seconds, in the future (default: never)"), N_("N") },
    { "ttl", 0, 0, G_OPTION_ARG_STRING, &options.ttl,
      N_("Expiry as a duration after issue: seconds, or a number with s, m, h, d or w "
         "(90m, 12h, 7d)"), N_("DURATION") },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &options.out,
      N_("Write the ticket to PATH with mode 0600, creating missing folders, instead of "
         "printing it"), N_("PATH") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SwarmTicket) ticket = NULL;
  g_autoptr(GError) error = NULL;
  gint64 expires_at_unix;
  gint64 ttl_seconds = 0;

  context = swarm_cli_option_context_new ("ticket", NULL,
                                          _("Issue a ticket: a session id, a fresh token and\n"
                                            "the broker address, for a provider and its\n"
                                            "workers. The ticket is printed as JSON unless\n"
                                            "--out is given."),
                                          entries, &json);
  if (!swarm_cli_parse_options (context, "ticket", &argc, &argv, &json))
    return SWARM_EXIT_USAGE;

  if (options.session_id == NULL || options.broker == NULL)
    {
      swarm_cli_print_error (_("missing %s; a ticket needs --session-id ID and "
                               "--broker HOST:PORT (see swarm-proxy ticket --help)"),
                             options.session_id == NULL ? "--session-id" : "--broker");
      return SWARM_EXIT_USAGE;
    }

  if (!swarm_cli_check_field (_("session id"), options.session_id, FALSE, &error) ||
      !swarm_cli_check_address ("--broker", options.broker, FALSE, &error))
    {
      swarm_cli_print_error ("%s", error->message);
      return SWARM_EXIT_USAGE;
    }

  if (options.expires_at_unix != NULL && options.ttl != NULL)
    {
      swarm_cli_print_error (_("--expires-at-unix and --ttl both set the expiry; give only "
                               "one of them"));
      return SWARM_EXIT_USAGE;
    }

  if (!parse_expires_at (&options, &expires_at_unix))
    return SWARM_EXIT_USAGE;

  if (options.ttl != NULL && !swarm_parse_duration (options.ttl, &ttl_seconds, &error))
    {
      swarm_cli_print_error (_("--ttl: %s"), error->message);
      return SWARM_EXIT_USAGE;
    }

  ticket = swarm_ticket_issue (options.session_id, options.broker, expires_at_unix, &error);
  if (ticket == NULL)
    {
      swarm_cli_print_error (_("cannot issue a ticket for session %s: %s"),
                             options.session_id, error->message);
      return SWARM_EXIT_FAILURE;
    }

  if (ttl_seconds > 0)
    {
      SwarmTicket *expiring;

      if (ttl_seconds > G_MAXINT64 - swarm_ticket_get_issued_at_unix (ticket))
        {
          swarm_cli_print_error (_("--ttl %s is too long; give a shorter duration"),
                                 options.ttl);
          return SWARM_EXIT_USAGE;
        }

      expiring = apply_ttl (ticket, ttl_seconds);
      g_set_object (&ticket, expiring);
      g_object_unref (expiring);
    }

  if (options.out != NULL && !save_ticket (ticket, options.out))
    return SWARM_EXIT_FAILURE;

  print_ticket (ticket, options.out, json);

  return SWARM_EXIT_OK;
}
