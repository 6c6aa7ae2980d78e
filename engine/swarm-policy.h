/* swarm-policy.h: which resolved addresses a provider may connect to */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SWARM_TYPE_DESTINATION_POLICY (swarm_destination_policy_get_type ())
G_DECLARE_FINAL_TYPE (SwarmDestinationPolicy, swarm_destination_policy,
                      SWARM, DESTINATION_POLICY, GObject)

#define SWARM_POLICY_ERROR (swarm_policy_error_quark ())

typedef enum {
  SWARM_POLICY_ERROR_FORBIDDEN,  /* the address is in a range the policy rejects */
} SwarmPolicyError;

/* The advice at the end of a rejection message unless a hint is set. */
#define SWARM_DESTINATION_POLICY_DEFAULT_HINT \
  "start the provider with --allow-private to allow it"

GQuark                  swarm_policy_error_quark                (void);

SwarmDestinationPolicy *swarm_destination_policy_new            (gboolean                allow_private);
gboolean                swarm_destination_policy_get_allow_private (SwarmDestinationPolicy *self);
void                    swarm_destination_policy_set_allow_private (SwarmDestinationPolicy *self,
                                                                    gboolean                allow_private);
/* The advice that ends a rejection message.  Setting NULL restores
 * SWARM_DESTINATION_POLICY_DEFAULT_HINT, and "" leaves the advice out. */
const char             *swarm_destination_policy_get_hint       (SwarmDestinationPolicy *self);
void                    swarm_destination_policy_set_hint       (SwarmDestinationPolicy *self,
                                                                 const char             *hint);

/* Returns TRUE when the provider may connect to `address`.  Otherwise sets
 * SWARM_POLICY_ERROR_FORBIDDEN with a message that names the address and
 * its range, followed by the hint, e.g. "destination 10.0.0.5 is a private
 * (RFC 1918) address; start the provider with --allow-private to allow
 * it". */
gboolean                swarm_destination_policy_check          (SwarmDestinationPolicy *self,
                                                                 GInetAddress           *address,
                                                                 GError                **error);

/* The name of the non-public range `address` is in ("loopback", "private
 * (RFC 1918)", "link-local", "carrier-grade NAT", "unique local",
 * "multicast", "unspecified", …), or NULL for a public address.  IPv4-mapped
 * and IPv4-compatible IPv6 addresses are classified by their IPv4 part. */
const char             *swarm_address_classify                  (GInetAddress           *address);

G_END_DECLS
