/* swarm-tunnel-private.h: what the engine changes on a tunnel */
#pragma once

#include "swarm-tunnel.h"

G_BEGIN_DECLS

SwarmTunnel *swarm_tunnel_new            (const char  *session_id,
                                          const char  *host,
                                          guint16      port,
                                          const char  *peer);
void         swarm_tunnel_add_bytes_up   (SwarmTunnel *self,
                                          gsize        n_bytes);
void         swarm_tunnel_add_bytes_down (SwarmTunnel *self,
                                          gsize        n_bytes);
/* Marks the tunnel closed and sends the final byte counts at once. */
void         swarm_tunnel_close          (SwarmTunnel *self);

G_END_DECLS
