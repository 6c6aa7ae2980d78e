/* swarm-cli.h: the headless subcommands and what they share
 *
 * Each subcommand parses its own options from the argv left after the
 * global ones (argv[0] is the subcommand name) and returns the exit status.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "swarm-broker.h"
#include "swarm-provider.h"

G_BEGIN_DECLS

/* Exit statuses, as listed in every --help. */
typedef enum {
  SWARM_EXIT_OK = 0,       /* success, or stopped by SIGINT or SIGTERM */
  SWARM_EXIT_FAILURE = 1,  /* runtime failure: cannot listen, unreadable file, expired ticket */
  SWARM_EXIT_USAGE = 2,    /* unknown option, missing or conflicting options, invalid value */
} SwarmExitStatus;

int   swarm_cli_broker_main   (int        argc,
                               char     **argv,
                               gboolean   json);
int   swarm_cli_provider_main (int        argc,
                               char     **argv,
                               gboolean   json);
int   swarm_cli_ticket_main   (int        argc,
                               char     **argv,
                               gboolean   json);
int   swarm_cli_share_main    (int        argc,
                               char     **argv,
                               gboolean   json);

/* The exit status table and the environment, for the description part of
 * every --help. */
const char     *swarm_cli_get_help_footer (void);

/* Creates the option context of `subcommand` with --json added to `entries`
 * and the help footer set. */
GOptionContext *swarm_cli_option_context_new (const char         *subcommand,
                                              const char         *parameter_string,
                                              const char         *summary,
                                              const GOptionEntry *entries,
                                              gboolean           *json);
/* Parses the subcommand's options and rejects leftover arguments.  On
 * failure prints the error and returns FALSE; the exit status is then
 * SWARM_EXIT_USAGE. */
gboolean        swarm_cli_parse_options   (GOptionContext     *context,
                                           const char         *subcommand,
                                           int                *argc,
                                           char             ***argv,
                                           gboolean           *json);

/* Prints an error on stderr: "swarm-proxy: MESSAGE" in text mode, or
 * {"status":"error","message":MESSAGE} once swarm_log_set_json() is on. */
void            swarm_cli_print_error     (const char         *format,
                                           ...) G_GNUC_PRINTF (1, 2);
/* Prints `node` as one compact JSON line on stdout and flushes. */
void            swarm_cli_print_json      (JsonNode           *node);
/* Prints one line of text on stdout and flushes. */
void            swarm_cli_print_line      (const char         *format,
                                           ...) G_GNUC_PRINTF (1, 2);
/* Prints {"status":"ok","message":`message`, key: value, …} from
 * NULL-terminated string pairs. */
void            swarm_cli_print_status    (const char         *message,
                                           const char         *first_key,
                                           ...) G_GNUC_NULL_TERMINATED;

/* Checks a "host:port" address as a broker or listen address.  The port
 * must be written out; 0 is accepted only when `allow_port_zero`.  Errors
 * are G_IO_ERROR_INVALID_ARGUMENT naming `option` and the value. */
gboolean        swarm_cli_check_address   (const char         *option,
                                           const char         *address,
                                           gboolean            allow_port_zero,
                                           GError            **error);
/* Checks a session id or token with swarm_wire_field_is_valid().  The
 * message names `what` and, unless `secret`, the value. */
gboolean        swarm_cli_check_field     (const char         *what,
                                           const char         *value,
                                           gboolean            secret,
                                           GError            **error);

/* Runs the main loop until SIGINT, SIGTERM or swarm_cli_quit(); returns the
 * status given to swarm_cli_quit(), or SWARM_EXIT_OK after a signal. */
int             swarm_cli_run             (void);
void            swarm_cli_quit            (int                 exit_status);

/* Creates a broker and listens on `listen_address`, printing the start and
 * listening lines.  `bound_address` receives the address actually bound,
 * with the port chosen for port 0.  On failure prints the error, stores the
 * exit status in `exit_status` and returns NULL. */
SwarmBroker    *swarm_cli_start_broker    (const char         *listen_address,
                                           guint               open_timeout_ms,
                                           gboolean            json,
                                           char              **bound_address,
                                           int                *exit_status);

/* Logs each state change of `provider` in words.  When its ticket expires
 * at `expires_at_unix`, prints an error and quits the main loop with
 * SWARM_EXIT_FAILURE. */
void            swarm_cli_watch_provider  (SwarmProvider      *provider,
                                           gint64              expires_at_unix);

/* Formats a Unix time as "YYYY-MM-DD HH:MM:SS UTC". */
char           *swarm_cli_format_unix_time (gint64             unix_time);

G_END_DECLS
