/* swarm-tunnel.h: one open tunnel, on the broker's or the provider's side
 *
 * A tunnel is a read-only view for user interfaces and --json output: the
 * relay updates its byte counters, and it notifies "bytes-up" and
 * "bytes-down" at most every SWARM_TUNNEL_NOTIFY_INTERVAL_MS while bytes
 * move, so a window can bind to it without polling.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Interval in milliseconds between byte-counter notifications. */
#define SWARM_TUNNEL_NOTIFY_INTERVAL_MS 500

#define SWARM_TYPE_TUNNEL (swarm_tunnel_get_type ())
G_DECLARE_FINAL_TYPE (SwarmTunnel, swarm_tunnel, SWARM, TUNNEL, GObject)

const char *swarm_tunnel_get_host           (SwarmTunnel *self);
guint16     swarm_tunnel_get_port           (SwarmTunnel *self);
/* The session the tunnel belongs to. */
const char *swarm_tunnel_get_session_id     (SwarmTunnel *self);
/* The worker's address on the broker, the broker's on the provider. */
const char *swarm_tunnel_get_peer           (SwarmTunnel *self);
/* Wall-clock time when the tunnel opened, in microseconds since the epoch. */
gint64      swarm_tunnel_get_opened_at      (SwarmTunnel *self);
/* Bytes relayed towards the target ("up") and towards the worker ("down"). */
guint64     swarm_tunnel_get_bytes_up       (SwarmTunnel *self);
guint64     swarm_tunnel_get_bytes_down     (SwarmTunnel *self);
gboolean    swarm_tunnel_get_active         (SwarmTunnel *self);

G_END_DECLS
