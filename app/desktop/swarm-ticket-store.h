/* swarm-ticket-store.h: the tickets this computer has issued
 *
 * Metadata (session id, broker address, issue and expiry times, revocation,
 * last use) is kept in a JSON file under the user data folder.  Tokens are
 * kept in the keyring through libsecret.  Without a Secret Service the tokens go to a
 * file readable only by the user, and the store says so.
 */
#pragma once

#include <gio/gio.h>

#include "swarm-ticket.h"

G_BEGIN_DECLS

/* libsecret schema name of stored tokens; the one attribute is "session_id". */
#define SWARM_TOKEN_SECRET_SCHEMA "io.github.swarmproxy.SwarmProxy.Token"

typedef enum {
  SWARM_TICKET_STATUS_IDLE,     /* valid, not being shared */
  SWARM_TICKET_STATUS_ACTIVE,   /* shared now, no tunnel open */
  SWARM_TICKET_STATUS_IN_USE,   /* shared now with open tunnels */
  SWARM_TICKET_STATUS_EXPIRED,
  SWARM_TICKET_STATUS_REVOKED,
} SwarmTicketStatus;

#define SWARM_TYPE_STORED_TICKET (swarm_stored_ticket_get_type ())
G_DECLARE_FINAL_TYPE (SwarmStoredTicket, swarm_stored_ticket, SWARM, STORED_TICKET, GObject)

const char        *swarm_stored_ticket_get_session_id   (SwarmStoredTicket *self);
const char        *swarm_stored_ticket_get_broker_addr  (SwarmStoredTicket *self);
/* NULL when the token could not be read back from the keyring. */
const char        *swarm_stored_ticket_get_token        (SwarmStoredTicket *self);
gint64             swarm_stored_ticket_get_issued_at    (SwarmStoredTicket *self);
/* Unix seconds, or SWARM_TICKET_NEVER_EXPIRES. */
gint64             swarm_stored_ticket_get_expires_at   (SwarmStoredTicket *self);
gboolean           swarm_stored_ticket_get_revoked      (SwarmStoredTicket *self);
/* Unix seconds of the last tunnel opened with this ticket, or 0 for never. */
gint64             swarm_stored_ticket_get_last_used    (SwarmStoredTicket *self);
/* Open tunnels using the ticket now, set by the SwarmShare that shares it. */
guint              swarm_stored_ticket_get_tunnel_count (SwarmStoredTicket *self);
void               swarm_stored_ticket_set_tunnel_count (SwarmStoredTicket *self,
                                                         guint              count);
gboolean           swarm_stored_ticket_get_shared       (SwarmStoredTicket *self);
void               swarm_stored_ticket_set_shared       (SwarmStoredTicket *self,
                                                         gboolean           shared);
SwarmTicketStatus  swarm_stored_ticket_get_status       (SwarmStoredTicket *self,
                                                         gint64             now_unix);
/* The ticket as a worker gets it, or NULL without a token. */
SwarmTicket       *swarm_stored_ticket_to_ticket        (SwarmStoredTicket *self);
/* "http://session_id:token@broker_addr", or NULL without a token. */
char              *swarm_stored_ticket_dup_proxy_url    (SwarmStoredTicket *self);

#define SWARM_TYPE_TICKET_STORE (swarm_ticket_store_get_type ())
G_DECLARE_FINAL_TYPE (SwarmTicketStore, swarm_ticket_store, SWARM, TICKET_STORE, GObject)

/* `data_dir` is the folder for tickets.json (and tokens.json without a
 * keyring); NULL means g_get_user_data_dir()/swarm-proxy.  Loads what is
 * there; a missing file is an empty store. */
SwarmTicketStore  *swarm_ticket_store_new              (const char        *data_dir);

/* TRUE when tokens go to the Secret Service, FALSE when they go to the
 * fallback file. */
gboolean           swarm_ticket_store_get_uses_keyring (SwarmTicketStore  *self);
/* Why the keyring is not used, in plain words, or NULL when it is. */
const char        *swarm_ticket_store_get_keyring_problem (SwarmTicketStore *self);
const char        *swarm_ticket_store_get_data_dir     (SwarmTicketStore  *self);

/* Issues a ticket with a fresh token, stores it and adds it at the front of
 * the list.  An empty or NULL session id gets a generated one. */
SwarmStoredTicket *swarm_ticket_store_create           (SwarmTicketStore  *self,
                                                        const char        *session_id,
                                                        const char        *broker_addr,
                                                        gint64             expires_at_unix,
                                                        GError           **error);
SwarmStoredTicket *swarm_ticket_store_lookup           (SwarmTicketStore  *self,
                                                        const char        *session_id);
/* The most recently issued ticket that is neither expired nor revoked. */
SwarmStoredTicket *swarm_ticket_store_get_latest_usable (SwarmTicketStore *self);
gboolean           swarm_ticket_store_revoke           (SwarmTicketStore  *self,
                                                        SwarmStoredTicket *ticket,
                                                        GError           **error);
gboolean           swarm_ticket_store_remove           (SwarmTicketStore  *self,
                                                        SwarmStoredTicket *ticket,
                                                        GError           **error);
/* Records a tunnel opened with the ticket at `now_unix`. */
void               swarm_ticket_store_mark_used        (SwarmTicketStore  *self,
                                                        SwarmStoredTicket *ticket,
                                                        gint64             now_unix);

G_END_DECLS
