/* swarm-provider.h: the side that shares its egress
 *
 * Connects out to a broker, registers a session over a control connection and
 * handles each OPEN by connecting to the target, attaching a data connection
 * and relaying.  Reconnects with exponential backoff and jitter when the
 * broker goes away.
 */
#pragma once

#include <gio/gio.h>

#include "swarm-policy.h"

G_BEGIN_DECLS

/* Time in milliseconds that the provider gives a target to accept a
 * connection before it replies FAILED. */
#define SWARM_PROVIDER_CONNECT_TIMEOUT_MS 10000
/* Reconnect delays in milliseconds: the first retry, and the ceiling the
 * doubling stops at.  Each delay gets up to 25 % random jitter. */
#define SWARM_PROVIDER_RETRY_MIN_MS 1000
#define SWARM_PROVIDER_RETRY_MAX_MS 30000

typedef enum {
  SWARM_PROVIDER_STATE_OFF,         /* not started, or stopped */
  SWARM_PROVIDER_STATE_CONNECTING,  /* connecting to the broker or waiting for OK */
  SWARM_PROVIDER_STATE_SHARING,     /* registered; OPENs are served */
  SWARM_PROVIDER_STATE_RETRYING,    /* lost or rejected; see retry-seconds and last-error */
  SWARM_PROVIDER_STATE_EXPIRED,     /* stopped because its ticket expired */
} SwarmProviderState;

#define SWARM_TYPE_PROVIDER (swarm_provider_get_type ())
G_DECLARE_FINAL_TYPE (SwarmProvider, swarm_provider, SWARM, PROVIDER, GObject)

/* `policy` may be NULL for the default policy, which rejects private
 * destinations. */
SwarmProvider      *swarm_provider_new              (const char             *broker_address,
                                                     const char             *session_id,
                                                     const char             *token,
                                                     SwarmDestinationPolicy *policy);

/* A Unix time in seconds after which the provider unregisters and moves to
 * SWARM_PROVIDER_STATE_EXPIRED, or 0 for none. */
void                swarm_provider_set_expires_at   (SwarmProvider *self,
                                                     gint64         expires_at_unix);

void                swarm_provider_start            (SwarmProvider *self);
/* Closes the control connection and every tunnel; the state becomes OFF. */
void                swarm_provider_stop             (SwarmProvider *self);

SwarmProviderState  swarm_provider_get_state        (SwarmProvider *self);
/* Seconds until the next reconnect attempt while RETRYING, else 0. */
guint               swarm_provider_get_retry_seconds (SwarmProvider *self);
/* The last connection error in plain words, or NULL. */
const char         *swarm_provider_get_last_error   (SwarmProvider *self);
const char         *swarm_provider_get_session_id   (SwarmProvider *self);
const char         *swarm_provider_get_broker_address (SwarmProvider *self);
/* Open tunnels, SwarmTunnel items with the target as host and port. */
GListModel         *swarm_provider_get_tunnels      (SwarmProvider *self);
SwarmDestinationPolicy *swarm_provider_get_policy   (SwarmProvider *self);

G_END_DECLS
