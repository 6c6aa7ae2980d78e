/* swarm-ticket.h: what a sharer hands to a worker
 *
 * JSON compatible with the original swarm-proxy:
 *   {"schema_version": "agent_swarm-net-cap-proxy-v1", "mode": "proxy",
 *    "session_id": …, "token": …, "broker_addr": "host:port",
 *    "issued_at_unix": N, "expires_at_unix": N or null}
 * Readers ignore fields they do not know.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define SWARM_TICKET_SCHEMA_VERSION "agent_swarm-net-cap-proxy-v1"
#define SWARM_TICKET_MODE "proxy"
/* Value of expires_at_unix for a ticket that never expires (JSON null). */
#define SWARM_TICKET_NEVER_EXPIRES G_GINT64_CONSTANT (0)

#define SWARM_TICKET_ERROR (swarm_ticket_error_quark ())

typedef enum {
  SWARM_TICKET_ERROR_INVALID,   /* not JSON, wrong schema_version or mode, missing or bad field */
  SWARM_TICKET_ERROR_EXPIRED,
} SwarmTicketError;

GQuark swarm_ticket_error_quark (void);

#define SWARM_TYPE_TICKET (swarm_ticket_get_type ())
G_DECLARE_FINAL_TYPE (SwarmTicket, swarm_ticket, SWARM, TICKET, GObject)

/* expires_at_unix is SWARM_TICKET_NEVER_EXPIRES or a Unix time in seconds. */
SwarmTicket *swarm_ticket_new            (const char   *session_id,
                                          const char   *token,
                                          const char   *broker_addr,
                                          gint64        issued_at_unix,
                                          gint64        expires_at_unix);
/* Issues a ticket with a fresh token and issued_at_unix set to now.  Fails on
 * a session id that cannot travel as a wire field. */
SwarmTicket *swarm_ticket_issue          (const char   *session_id,
                                          const char   *broker_addr,
                                          gint64        expires_at_unix,
                                          GError      **error);
SwarmTicket *swarm_ticket_new_from_json  (const char   *json,
                                          gssize        length,
                                          GError      **error);
SwarmTicket *swarm_ticket_load           (const char   *path,
                                          GError      **error);

JsonNode    *swarm_ticket_to_json_node   (SwarmTicket  *self);
char        *swarm_ticket_to_json        (SwarmTicket  *self,
                                          gboolean      pretty);
/* Writes the ticket to `path` atomically (a temporary file renamed into
 * place) with mode 0600, since it contains the token. */
gboolean     swarm_ticket_save           (SwarmTicket  *self,
                                          const char   *path,
                                          GError      **error);

const char  *swarm_ticket_get_session_id     (SwarmTicket *self);
const char  *swarm_ticket_get_token          (SwarmTicket *self);
const char  *swarm_ticket_get_broker_addr    (SwarmTicket *self);
gint64       swarm_ticket_get_issued_at_unix (SwarmTicket *self);
gint64       swarm_ticket_get_expires_at_unix (SwarmTicket *self);
gboolean     swarm_ticket_is_expired         (SwarmTicket *self,
                                              gint64       now_unix);

/* Parses a duration for --ttl: a whole number of seconds, or a number with
 * one of the suffixes s, m, h, d, w ("90m", "12h", "7d").  Rejects zero,
 * negative and overflowing values. */
gboolean     swarm_parse_duration            (const char  *text,
                                              gint64      *seconds,
                                              GError     **error);

G_END_DECLS
