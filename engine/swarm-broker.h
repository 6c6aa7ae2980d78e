/* swarm-broker.h: the rendezvous between workers and providers
 *
 * One listening port.  Connections are told apart by their first bytes: a
 * provider's control connection ("PROVIDER "), a provider's data connection
 * ("DATA "), or a worker speaking HTTP/1.x proxy requests.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Default time in milliseconds that a worker waits for the provider to
 * reply to OPEN and attach a data connection before it gets 504. */
#define SWARM_BROKER_DEFAULT_OPEN_TIMEOUT_MS 20000

#define SWARM_TYPE_BROKER_SESSION (swarm_broker_session_get_type ())
G_DECLARE_FINAL_TYPE (SwarmBrokerSession, swarm_broker_session, SWARM, BROKER_SESSION, GObject)

const char *swarm_broker_session_get_session_id       (SwarmBrokerSession *self);
/* The provider's address as seen by the broker, "host:port". */
const char *swarm_broker_session_get_provider_address (SwarmBrokerSession *self);
/* Wall-clock time of registration, in microseconds since the epoch. */
gint64      swarm_broker_session_get_connected_since  (SwarmBrokerSession *self);
/* Open tunnels of the session, SwarmTunnel items, worker addresses as peers. */
GListModel *swarm_broker_session_get_tunnels          (SwarmBrokerSession *self);

#define SWARM_TYPE_BROKER (swarm_broker_get_type ())
G_DECLARE_FINAL_TYPE (SwarmBroker, swarm_broker, SWARM, BROKER, GObject)

SwarmBroker    *swarm_broker_new               (void);

void            swarm_broker_set_open_timeout  (SwarmBroker  *self,
                                                guint         timeout_ms);
guint           swarm_broker_get_open_timeout  (SwarmBroker  *self);

/* Binds and starts accepting on `address` ("host:port", "[v6]:port"; port 0
 * picks a free port).  Fails with a GIOError such as ADDRESS_IN_USE. */
gboolean        swarm_broker_listen            (SwarmBroker  *self,
                                                const char   *address,
                                                GError      **error);
/* The bound address, "host:port", after a successful listen. */
char           *swarm_broker_dup_listen_address (SwarmBroker *self);
/* Closes the listening socket and every connection. */
void            swarm_broker_stop              (SwarmBroker  *self);

/* Registered sessions, SwarmBrokerSession items. */
GListModel     *swarm_broker_get_sessions      (SwarmBroker  *self);

G_END_DECLS
