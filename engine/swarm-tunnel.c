/* swarm-tunnel.c: one open tunnel, on the broker's or the provider's side */

#include "config.h"

#include "swarm-tunnel-private.h"

#include "swarm-connection.h"

struct _SwarmTunnel {
  GObject parent_instance;

  char *session_id;
  char *host;
  guint16 port;
  char *peer;
  gint64 opened_at;
  guint64 bytes_up;
  guint64 bytes_down;
  gboolean active;

  GSource *notify_source;   /* pending throttled notification of the byte counters */
};

G_DEFINE_FINAL_TYPE (SwarmTunnel, swarm_tunnel, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SESSION_ID,
  PROP_HOST,
  PROP_PORT,
  PROP_PEER,
  PROP_OPENED_AT,
  PROP_BYTES_UP,
  PROP_BYTES_DOWN,
  PROP_ACTIVE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
swarm_tunnel_finalize (GObject *object)
{
  SwarmTunnel *self = SWARM_TUNNEL (object);

  swarm_clear_source (&self->notify_source);
  g_free (self->session_id);
  g_free (self->host);
  g_free (self->peer);

  G_OBJECT_CLASS (swarm_tunnel_parent_class)->finalize (object);
}

static void
swarm_tunnel_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  SwarmTunnel *self = SWARM_TUNNEL (object);

  switch (prop_id)
    {
    case PROP_SESSION_ID:
      g_value_set_string (value, self->session_id);
      break;
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_PEER:
      g_value_set_string (value, self->peer);
      break;
    case PROP_OPENED_AT:
      g_value_set_int64 (value, self->opened_at);
      break;
    case PROP_BYTES_UP:
      g_value_set_uint64 (value, self->bytes_up);
      break;
    case PROP_BYTES_DOWN:
      g_value_set_uint64 (value, self->bytes_down);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->active);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_tunnel_class_init (SwarmTunnelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = swarm_tunnel_finalize;
  object_class->get_property = swarm_tunnel_get_property;

  /**
   * SwarmTunnel:session-id:
   *
   * The session the tunnel belongs to.
   */
  properties[PROP_SESSION_ID] =
    g_param_spec_string ("session-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmTunnel:host:
   *
   * The target's host name or address, IPv6 without brackets.
   */
  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmTunnel:port:
   *
   * The target's port.
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmTunnel:peer:
   *
   * The other end, as seen from this side: the worker's address on the broker,
   * the broker's address on the provider.
   */
  properties[PROP_PEER] =
    g_param_spec_string ("peer", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmTunnel:opened-at:
   *
   * Wall-clock time of opening, in microseconds since the epoch.
   */
  properties[PROP_OPENED_AT] =
    g_param_spec_int64 ("opened-at", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmTunnel:bytes-up:
   *
   * Bytes relayed towards the target.  Notified at most every
   * SWARM_TUNNEL_NOTIFY_INTERVAL_MS.
   */
  properties[PROP_BYTES_UP] =
    g_param_spec_uint64 ("bytes-up", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmTunnel:bytes-down:
   *
   * Bytes relayed towards the worker.  Notified at most every
   * SWARM_TUNNEL_NOTIFY_INTERVAL_MS.
   */
  properties[PROP_BYTES_DOWN] =
    g_param_spec_uint64 ("bytes-down", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmTunnel:active:
   *
   * Whether the tunnel still relays; FALSE once either end has gone.
   */
  properties[PROP_ACTIVE] =
    g_param_spec_boolean ("active", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
swarm_tunnel_init (SwarmTunnel *self)
{
}

SwarmTunnel *
swarm_tunnel_new (const char *session_id,
                  const char *host,
                  guint16     port,
                  const char *peer)
{
  SwarmTunnel *self = g_object_new (SWARM_TYPE_TUNNEL, NULL);

  self->session_id = g_strdup (session_id);
  self->host = g_strdup (host);
  self->port = port;
  self->peer = g_strdup (peer);
  self->opened_at = g_get_real_time ();
  self->active = TRUE;

  return self;
}

static gboolean
notify_counters_cb (gpointer user_data)
{
  SwarmTunnel *self = user_data;

  swarm_clear_source (&self->notify_source);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_UP]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_DOWN]);

  return G_SOURCE_REMOVE;
}

static void
schedule_notify (SwarmTunnel *self)
{
  if (self->notify_source == NULL)
    self->notify_source = swarm_timeout_source_add (SWARM_TUNNEL_NOTIFY_INTERVAL_MS, notify_counters_cb, self);
}

void
swarm_tunnel_add_bytes_up (SwarmTunnel *self,
                           gsize        n_bytes)
{
  self->bytes_up += n_bytes;
  schedule_notify (self);
}

void
swarm_tunnel_add_bytes_down (SwarmTunnel *self,
                             gsize        n_bytes)
{
  self->bytes_down += n_bytes;
  schedule_notify (self);
}

void
swarm_tunnel_close (SwarmTunnel *self)
{
  if (!self->active)
    return;

  self->active = FALSE;
  if (self->notify_source != NULL)
    {
      swarm_clear_source (&self->notify_source);
      notify_counters_cb (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
}

const char *
swarm_tunnel_get_session_id (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), NULL);

  return self->session_id;
}

const char *
swarm_tunnel_get_host (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), NULL);

  return self->host;
}

guint16
swarm_tunnel_get_port (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), 0);

  return self->port;
}

const char *
swarm_tunnel_get_peer (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), NULL);

  return self->peer;
}

gint64
swarm_tunnel_get_opened_at (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), 0);

  return self->opened_at;
}

guint64
swarm_tunnel_get_bytes_up (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), 0);

  return self->bytes_up;
}

guint64
swarm_tunnel_get_bytes_down (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), 0);

  return self->bytes_down;
}

gboolean
swarm_tunnel_get_active (SwarmTunnel *self)
{
  g_return_val_if_fail (SWARM_IS_TUNNEL (self), FALSE);

  return self->active;
}
