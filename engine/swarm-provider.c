/* swarm-provider.c: the side that shares its egress */

#define G_LOG_DOMAIN "swarm-provider"

#include "config.h"

#include "swarm-provider.h"

#include <string.h>

#include "swarm-connection.h"
#include "swarm-enums.h"
#include "swarm-relay.h"
#include "swarm-tunnel-private.h"
#include "swarm-wire.h"

/* Time in milliseconds to connect to the broker and receive its reply to
 * a PROVIDER or DATA line.  When it runs out the attempt counts as failed. */
#define BROKER_HANDSHAKE_TIMEOUT_MS 10000

/* Maximum single wait for a ticket's expiry, in seconds. */
#define EXPIRY_STEP_S (24 * 60 * 60)

typedef struct _Open Open;
typedef struct _ProviderTunnel ProviderTunnel;

struct _SwarmProvider {
  GObject parent_instance;

  char *broker_address;
  char *session_id;
  char *token;
  SwarmDestinationPolicy *policy;
  gint64 expires_at;

  SwarmProviderState state;
  guint retry_seconds;
  char *last_error;
  GListStore *tunnels;             /* SwarmTunnel */

  GSocketClient *client;
  SwarmPoller *poller;             /* readiness of tunnel sockets */
  GCancellable *cancellable;       /* cancels the control connection attempt */
  SwarmConnection *control;
  guint attempt;                   /* failed attempts since the last registration */
  GSource *retry_source;
  GSource *countdown_source;
  GSource *expiry_source;
  GSource *connect_timeout_source;

  GHashTable *opens;               /* Open, being connected */
  GHashTable *relays;              /* ProviderTunnel, relaying */
};

G_DEFINE_FINAL_TYPE (SwarmProvider, swarm_provider, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BROKER_ADDRESS,
  PROP_SESSION_ID,
  PROP_STATE,
  PROP_RETRY_SECONDS,
  PROP_LAST_ERROR,
  PROP_TUNNELS,
  PROP_EXPIRES_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* One OPEN from the broker, from resolving the target to the relay. */
struct _Open {
  SwarmProvider *provider;
  SwarmConnection *control;     /* the control connection the OPEN came on */
  char *nonce;
  char *host;
  guint16 port;
  GCancellable *cancellable;
  GList *addresses;             /* GInetAddress, in resolver order */
  GList *next_address;
  GSource *timeout_source;
  GSocketConnection *target;
  SwarmConnection *data;
};

struct _ProviderTunnel {
  SwarmProvider *provider;
  SwarmTunnel *tunnel;
  SwarmRelay *relay;
};

static void provider_connect (SwarmProvider *self);
static void provider_read_control (SwarmProvider *self);

static void
set_state (SwarmProvider      *self,
           SwarmProviderState  state)
{
  if (self->state == state)
    return;

  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_last_error (SwarmProvider *self,
                const char    *message)
{
  if (g_strcmp0 (self->last_error, message) == 0)
    return;

  g_free (self->last_error);
  self->last_error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

static void
set_retry_seconds (SwarmProvider *self,
                   guint          seconds)
{
  if (self->retry_seconds == seconds)
    return;

  self->retry_seconds = seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRY_SECONDS]);
}

/* Tunnels */

static void
provider_tunnel_free (ProviderTunnel *tunnel)
{
  guint position;

  if (g_list_store_find (tunnel->provider->tunnels, tunnel->tunnel, &position))
    g_list_store_remove (tunnel->provider->tunnels, position);

  g_clear_pointer (&tunnel->relay, swarm_relay_free);
  g_clear_object (&tunnel->tunnel);
  g_free (tunnel);
}

static void
tunnel_relay_done_cb (SwarmRelay   *relay,
                      const GError *error,
                      gpointer      user_data)
{
  ProviderTunnel *tunnel = user_data;

  if (error != NULL)
    g_debug ("Tunnel to %s:%u ended: %s", swarm_tunnel_get_host (tunnel->tunnel),
             swarm_tunnel_get_port (tunnel->tunnel), error->message);

  g_hash_table_remove (tunnel->provider->relays, tunnel);
}

/* Opens */

static void
open_free (Open *open)
{
  swarm_clear_source (&open->timeout_source);
  g_cancellable_cancel (open->cancellable);
  g_clear_object (&open->cancellable);
  g_list_free_full (open->addresses, g_object_unref);
  if (open->target != NULL)
    g_io_stream_close (G_IO_STREAM (open->target), NULL, NULL);
  g_clear_object (&open->target);
  if (open->data != NULL)
    swarm_connection_close (open->data);
  g_clear_pointer (&open->data, swarm_connection_unref);
  g_clear_pointer (&open->control, swarm_connection_unref);
  g_free (open->nonce);
  g_free (open->host);
  g_free (open);
}

/* Replies FAILED to the OPEN and removes it. */
static void
open_fail (Open       *open,
           const char *reason)
{
  g_autofree char *line = swarm_wire_format_failed (open->nonce, reason);

  g_message ("Could not open %s:%u for session %s: %s", open->host, open->port,
             open->provider->session_id, reason);
  swarm_connection_send_text (open->control, line);
  g_hash_table_remove (open->provider->opens, open);
}

static void
open_start_relay (Open *open)
{
  SwarmProvider *self = open->provider;
  g_autoptr(SwarmConnection) target = swarm_connection_new (open->target);
  g_autofree char *opened = swarm_wire_format_opened (open->nonce);
  ProviderTunnel *tunnel;

  swarm_connection_send_text (open->control, opened);

  tunnel = g_new0 (ProviderTunnel, 1);
  tunnel->provider = self;
  tunnel->tunnel = swarm_tunnel_new (self->session_id, open->host, open->port,
                                     self->broker_address);
  tunnel->relay = swarm_relay_new (self->poller, open->data, target, tunnel->tunnel, NULL);
  g_list_store_append (self->tunnels, tunnel->tunnel);
  g_hash_table_add (self->relays, tunnel);

  g_debug ("Tunnel for session %s to %s:%u open", self->session_id, open->host, open->port);

  /* Both connections now belong to the relay. */
  g_clear_object (&open->target);
  g_clear_pointer (&open->data, swarm_connection_unref);
  g_hash_table_remove (self->opens, open);

  swarm_relay_start (tunnel->relay, tunnel_relay_done_cb, tunnel);
}

static void
data_reply_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Open *open;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *reason = NULL;
  gsize length;

  /* A cancelled read means the open is gone: look at nothing else. */
  length = swarm_connection_read_unit_finish (NULL, result, &error);
  if (length == 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  open = user_data;
  if (length == 0)
    {
      reason = g_strdup_printf ("could not attach the data connection: %s", error->message);
      open_fail (open, reason);
      return;
    }

  reply = g_strndup ((const char *) open->data->input->data, length);
  g_strchomp (reply);
  swarm_connection_consume (open->data, length);

  if (g_strcmp0 (reply, "OK") != 0)
    {
      reason = g_strdup_printf ("the broker rejected the data connection: %s", reply);
      open_fail (open, reason);
      return;
    }

  swarm_clear_source (&open->timeout_source);
  open_start_relay (open);
}

static void
data_connect_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *reason = NULL;
  Open *open;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (object), result, &error);
  if (connection == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  open = user_data;
  if (connection == NULL)
    {
      reason = g_strdup_printf ("could not connect the data connection to the broker: %s",
                                error->message);
      open_fail (open, reason);
      return;
    }

  open->data = swarm_connection_new (connection);
  swarm_socket_tune (open->data->socket, TRUE);

  line = swarm_wire_format_data (open->provider->session_id, open->provider->token, open->nonce);
  swarm_connection_send_text (open->data, line);
  swarm_connection_read_unit_async (open->data, swarm_frame_line, SWARM_WIRE_MAX_LINE,
                                    BROKER_HANDSHAKE_TIMEOUT_MS, data_reply_cb, open);
}

static void open_try_next_address (Open *open);

/* Returns the cause of a failed connect in a few words.  GIO's own message
 * repeats "Could not connect to ADDRESS", which the caller's text contains. */
static const char *
describe_connect_error (const GError *error)
{
  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_CONNECTION_REFUSED:
          return "connection refused";
        case G_IO_ERROR_HOST_UNREACHABLE:
          return "host unreachable";
        case G_IO_ERROR_NETWORK_UNREACHABLE:
          return "network unreachable";
        case G_IO_ERROR_TIMED_OUT:
          return "timed out";
        default:
          break;
        }
    }

  return error->message;
}

static gboolean
data_timeout_cb (gpointer user_data)
{
  Open *open = user_data;
  g_autofree char *reason = NULL;

  swarm_clear_source (&open->timeout_source);
  reason = g_strdup_printf ("attaching the data connection to broker %s timed out after %d s",
                            open->provider->broker_address, BROKER_HANDSHAKE_TIMEOUT_MS / 1000);
  open_fail (open, reason);

  return G_SOURCE_REMOVE;
}

static void
target_connect_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  Open *open;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, &error);
  if (connection == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Cancelled by the connect timeout, which replies to the OPEN itself, or
       * by stop, after which the open is gone. */
      return;
    }

  open = user_data;
  if (connection == NULL)
    {
      if (open->next_address != NULL)
        {
          g_debug ("Could not connect to %s:%u, trying the next address: %s",
                   open->host, open->port, error->message);
          open_try_next_address (open);
          return;
        }

      {
        /* The broker's response names the target already, so the reason
         * gives only what went wrong. */
        g_autofree char *reason = g_strdup_printf ("could not connect: %s",
                                                   describe_connect_error (error));
        open_fail (open, reason);
      }
      return;
    }

  swarm_clear_source (&open->timeout_source);
  swarm_socket_tune (g_socket_connection_get_socket (connection), TRUE);
  open->target = g_steal_pointer (&connection);

  /* A fresh timeout for attaching the data connection to the broker. */
  open->timeout_source = swarm_timeout_source_add (BROKER_HANDSHAKE_TIMEOUT_MS, data_timeout_cb, open);

  g_socket_client_connect_to_host_async (open->provider->client, open->provider->broker_address,
                                         0, open->cancellable, data_connect_cb, open);
}

static void
open_try_next_address (Open *open)
{
  GInetAddress *address = open->next_address->data;
  g_autoptr(GSocketAddress) socket_address = g_inet_socket_address_new (address, open->port);

  open->next_address = open->next_address->next;
  g_socket_client_connect_async (open->provider->client, G_SOCKET_CONNECTABLE (socket_address),
                                 open->cancellable, target_connect_cb, open);
}

static gboolean
open_timeout_cb (gpointer user_data)
{
  Open *open = user_data;
  g_autofree char *reason = NULL;

  swarm_clear_source (&open->timeout_source);
  reason = g_strdup_printf ("the connection timed out after %d s",
                            SWARM_PROVIDER_CONNECT_TIMEOUT_MS / 1000);
  open_fail (open, reason);

  return G_SOURCE_REMOVE;
}

/* Checks every address the target resolved to: a name that resolves to a
 * private address is a private destination, whatever else it resolves to. */
static void
open_check_and_connect (Open *open)
{
  for (GList *l = open->addresses; l != NULL; l = l->next)
    {
      g_autoptr(GError) error = NULL;

      if (!swarm_destination_policy_check (open->provider->policy, l->data, &error))
        {
          open_fail (open, error->message);
          return;
        }
    }

  open->next_address = open->addresses;
  open->timeout_source = swarm_timeout_source_add (SWARM_PROVIDER_CONNECT_TIMEOUT_MS, open_timeout_cb, open);
  open_try_next_address (open);
}

static void
resolve_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  GList *addresses;
  Open *open;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);
  if (addresses == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  open = user_data;
  if (addresses == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("could not resolve %s: %s",
                                                 open->host, error->message);
      open_fail (open, reason);
      return;
    }

  open->addresses = addresses;
  open_check_and_connect (open);
}

static void
provider_handle_open (SwarmProvider *self,
                      SwarmWireLine *line)
{
  Open *open = g_new0 (Open, 1);
  GInetAddress *literal;

  open->provider = self;
  open->control = swarm_connection_ref (self->control);
  open->nonce = g_strdup (line->nonce);
  open->host = g_strdup (line->host);
  open->port = line->port;
  open->cancellable = g_cancellable_new ();
  g_hash_table_add (self->opens, open);

  literal = g_inet_address_new_from_string (open->host);
  if (literal != NULL)
    {
      open->addresses = g_list_prepend (NULL, literal);
      open_check_and_connect (open);
      return;
    }

  g_resolver_lookup_by_name_async (g_resolver_get_default (), open->host, open->cancellable,
                                   resolve_cb, open);
}

/* Opens that have not reached their relay belong to one control
 * connection, and the broker drops them when that connection closes. */
static void
provider_drop_opens (SwarmProvider *self)
{
  g_hash_table_remove_all (self->opens);
}

/* The control connection */

static guint
next_retry_delay_ms (SwarmProvider *self)
{
  guint delay = SWARM_PROVIDER_RETRY_MIN_MS;

  for (guint i = 0; i < self->attempt && delay < SWARM_PROVIDER_RETRY_MAX_MS; i++)
    delay *= 2;
  delay = MIN (delay, SWARM_PROVIDER_RETRY_MAX_MS);

  /* Jitter keeps many providers that lost the same broker from coming back
   * at the same instant.  It needs no cryptographic randomness. */
  return delay + g_random_int_range (0, delay / 4 + 1);
}

static gboolean
retry_cb (gpointer user_data)
{
  SwarmProvider *self = user_data;

  swarm_clear_source (&self->retry_source);
  swarm_clear_source (&self->countdown_source);
  set_retry_seconds (self, 0);
  provider_connect (self);

  return G_SOURCE_REMOVE;
}

static gboolean
countdown_cb (gpointer user_data)
{
  SwarmProvider *self = user_data;

  if (self->retry_seconds > 1)
    set_retry_seconds (self, self->retry_seconds - 1);

  return G_SOURCE_CONTINUE;
}

static void
provider_close_control (SwarmProvider *self)
{
  swarm_clear_source (&self->connect_timeout_source);
  if (self->cancellable != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
    }
  if (self->control != NULL)
    {
      swarm_connection_close (self->control);
      g_clear_pointer (&self->control, swarm_connection_unref);
    }
  provider_drop_opens (self);
}

static void
provider_schedule_retry (SwarmProvider *self,
                         const char    *message)
{
  guint delay_ms;
  guint retry_seconds;

  provider_close_control (self);

  delay_ms = next_retry_delay_ms (self);
  self->attempt++;

  /* Info, not message: front ends report the state change in their own
   * words from notify::state. */
  /* Rounded to the nearest second, at least 1, so that the message
   * matches the wait it announces. */
  retry_seconds = MAX (1, (delay_ms + 500) / 1000);
  g_info ("%s; retrying in %u s", message, retry_seconds);

  set_last_error (self, message);
  set_retry_seconds (self, retry_seconds);
  set_state (self, SWARM_PROVIDER_STATE_RETRYING);

  swarm_clear_source (&self->retry_source);
  swarm_clear_source (&self->countdown_source);
  self->retry_source = swarm_timeout_source_add (delay_ms, retry_cb, self);
  self->countdown_source = swarm_timeout_source_add (1000, countdown_cb, self);
}

static void
control_line_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(SwarmProvider) self = user_data;
  g_autoptr(GError) error = NULL;
  SwarmWireLine line = { 0 };
  gsize length;

  /* Cancelled means this control connection was closed on purpose, and
   * self->control may already be another one. */
  length = swarm_connection_read_unit_finish (NULL, result, &error);
  if (length == 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (length == 0)
    {
      g_autofree char *message = NULL;

      message = g_strdup_printf ("Lost the control connection to broker %s: %s",
                                 self->broker_address, error->message);
      provider_schedule_retry (self, message);
      return;
    }

  if (!swarm_wire_line_parse ((const char *) self->control->input->data, length, &line, &error))
    {
      g_message ("Ignoring a malformed control line from broker %s: %s",
                 self->broker_address, error->message);
    }
  else if (line.kind == SWARM_WIRE_OPEN)
    {
      provider_handle_open (self, &line);
    }
  else if (line.kind == SWARM_WIRE_ERR)
    {
      g_autofree char *message = NULL;

      if (g_strcmp0 (line.reason, "replaced") == 0)
        message = g_strdup_printf ("Another provider registered session %s with broker %s "
                                   "using the same ticket and replaced this one",
                                   self->session_id, self->broker_address);
      else
        message = g_strdup_printf ("Broker %s closed session %s: %s",
                                   self->broker_address, self->session_id, line.reason);

      /* Coming straight back would replace the other provider in turn;
       * the longest delay keeps this one as a slow standby instead. */
      self->attempt = G_MAXUINT16;
      provider_schedule_retry (self, message);
      swarm_wire_line_clear (&line);
      return;
    }
  else if (line.kind != SWARM_WIRE_UNKNOWN)
    {
      g_debug ("Ignoring an unexpected control line from broker %s", self->broker_address);
    }

  swarm_wire_line_clear (&line);
  swarm_connection_consume (self->control, length);
  provider_read_control (self);
}

static void
provider_read_control (SwarmProvider *self)
{
  swarm_connection_read_unit_async (self->control, swarm_frame_line, SWARM_WIRE_MAX_LINE, 0,
                                    control_line_cb, g_object_ref (self));
}

static void
register_reply_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(SwarmProvider) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *message = NULL;
  gsize length;

  length = swarm_connection_read_unit_finish (NULL, result, &error);
  if (length == 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (length == 0)
    {
      message = g_strdup_printf ("Broker %s did not reply to the registration: %s",
                                 self->broker_address, error->message);
      provider_schedule_retry (self, message);
      return;
    }

  reply = g_strndup ((const char *) self->control->input->data, length);
  g_strchomp (reply);
  swarm_connection_consume (self->control, length);

  if (g_strcmp0 (reply, "OK") != 0)
    {
      /* Not a network error: retrying soon rarely helps, but the session
       * may be freed when the other provider goes away, so the provider
       * keeps trying at the longest delay. */
      self->attempt = G_MAXUINT16;
      message = g_strdup_printf ("Broker %s rejected session %s (%s); another provider may "
                                 "hold it with a different token",
                                 self->broker_address, self->session_id, reply);
      provider_schedule_retry (self, message);
      return;
    }

  self->attempt = 0;
  set_last_error (self, NULL);
  set_state (self, SWARM_PROVIDER_STATE_SHARING);
  g_info ("Registered session %s with broker %s", self->session_id, self->broker_address);

  provider_read_control (self);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  SwarmProvider *self = user_data;
  g_autofree char *message = NULL;

  swarm_clear_source (&self->connect_timeout_source);
  message = g_strdup_printf ("Connecting to broker %s timed out after %d s",
                             self->broker_address, BROKER_HANDSHAKE_TIMEOUT_MS / 1000);
  provider_schedule_retry (self, message);

  return G_SOURCE_REMOVE;
}

static void
broker_connect_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(SwarmProvider) self = user_data;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (object), result, &error);
  if (connection == NULL)
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = g_strdup_printf ("Could not connect to broker %s: %s",
                                 self->broker_address, error->message);
      provider_schedule_retry (self, message);
      return;
    }

  swarm_clear_source (&self->connect_timeout_source);

  self->control = swarm_connection_new (connection);
  swarm_socket_tune (self->control->socket, TRUE);

  line = swarm_wire_format_provider (self->session_id, self->token);
  swarm_connection_send_text (self->control, line);
  swarm_connection_read_unit_async (self->control, swarm_frame_line, SWARM_WIRE_MAX_LINE,
                                    BROKER_HANDSHAKE_TIMEOUT_MS, register_reply_cb,
                                    g_object_ref (self));
}

static void
provider_connect (SwarmProvider *self)
{
  set_state (self, SWARM_PROVIDER_STATE_CONNECTING);

  self->cancellable = g_cancellable_new ();
  self->connect_timeout_source = swarm_timeout_source_add (BROKER_HANDSHAKE_TIMEOUT_MS, connect_timeout_cb, self);
  g_socket_client_connect_to_host_async (self->client, self->broker_address, 0,
                                         self->cancellable, broker_connect_cb,
                                         g_object_ref (self));
}

/* Expiry */

static void
provider_shut_down (SwarmProvider *self)
{
  swarm_clear_source (&self->retry_source);
  swarm_clear_source (&self->countdown_source);
  swarm_clear_source (&self->expiry_source);
  provider_close_control (self);
  g_hash_table_remove_all (self->relays);
  set_retry_seconds (self, 0);
}

static gboolean
expiry_cb (gpointer user_data)
{
  SwarmProvider *self = user_data;

  swarm_clear_source (&self->expiry_source);
  if (g_get_real_time () / G_USEC_PER_SEC < self->expires_at)
    {
      /* Long expiries are waited for in steps; see swarm_provider_start(). */
      swarm_provider_start (self);
      return G_SOURCE_REMOVE;
    }

  g_message ("The ticket of session %s expired; unregistering from broker %s",
             self->session_id, self->broker_address);
  provider_shut_down (self);
  set_state (self, SWARM_PROVIDER_STATE_EXPIRED);

  return G_SOURCE_REMOVE;
}

/* GObject */

static void
swarm_provider_dispose (GObject *object)
{
  SwarmProvider *self = SWARM_PROVIDER (object);

  provider_shut_down (self);

  G_OBJECT_CLASS (swarm_provider_parent_class)->dispose (object);
}

static void
swarm_provider_finalize (GObject *object)
{
  SwarmProvider *self = SWARM_PROVIDER (object);

  g_clear_pointer (&self->opens, g_hash_table_unref);
  g_clear_pointer (&self->relays, g_hash_table_unref);
  g_clear_object (&self->tunnels);
  g_clear_object (&self->client);
  g_clear_pointer (&self->poller, swarm_poller_unref);
  g_clear_object (&self->policy);
  g_free (self->broker_address);
  g_free (self->session_id);
  /* The token is a secret: wipe it before the memory goes back. */
  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_free (self->token);
  g_free (self->last_error);

  G_OBJECT_CLASS (swarm_provider_parent_class)->finalize (object);
}

static void
swarm_provider_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  SwarmProvider *self = SWARM_PROVIDER (object);

  switch (prop_id)
    {
    case PROP_BROKER_ADDRESS:
      g_value_set_string (value, self->broker_address);
      break;
    case PROP_SESSION_ID:
      g_value_set_string (value, self->session_id);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_RETRY_SECONDS:
      g_value_set_uint (value, self->retry_seconds);
      break;
    case PROP_LAST_ERROR:
      g_value_set_string (value, self->last_error);
      break;
    case PROP_TUNNELS:
      g_value_set_object (value, self->tunnels);
      break;
    case PROP_EXPIRES_AT:
      g_value_set_int64 (value, self->expires_at);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_provider_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  SwarmProvider *self = SWARM_PROVIDER (object);

  switch (prop_id)
    {
    case PROP_EXPIRES_AT:
      swarm_provider_set_expires_at (self, g_value_get_int64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_provider_class_init (SwarmProviderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = swarm_provider_dispose;
  object_class->finalize = swarm_provider_finalize;
  object_class->get_property = swarm_provider_get_property;
  object_class->set_property = swarm_provider_set_property;

  /**
   * SwarmProvider:broker-address:
   *
   * The broker's "host:port".
   */
  properties[PROP_BROKER_ADDRESS] =
    g_param_spec_string ("broker-address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmProvider:session-id:
   *
   * The session this provider registers.
   */
  properties[PROP_SESSION_ID] =
    g_param_spec_string ("session-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmProvider:state:
   *
   * Where the provider is: off, connecting, sharing, retrying or expired.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, SWARM_TYPE_PROVIDER_STATE,
                       SWARM_PROVIDER_STATE_OFF,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmProvider:retry-seconds:
   *
   * Seconds until the next attempt to reach the broker while retrying,
   * counting down once a second; 0 otherwise.
   */
  properties[PROP_RETRY_SECONDS] =
    g_param_spec_uint ("retry-seconds", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmProvider:last-error:
   *
   * Why the last attempt to reach the broker failed, in plain words, or
   * %NULL since the last registration.
   */
  properties[PROP_LAST_ERROR] =
    g_param_spec_string ("last-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmProvider:tunnels:
   *
   * Open tunnels, a #GListModel of #SwarmTunnel.
   */
  properties[PROP_TUNNELS] =
    g_param_spec_object ("tunnels", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmProvider:expires-at:
   *
   * Unix time in seconds at which the provider stops sharing, or 0.
   */
  properties[PROP_EXPIRES_AT] =
    g_param_spec_int64 ("expires-at", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
swarm_provider_init (SwarmProvider *self)
{
  self->tunnels = g_list_store_new (SWARM_TYPE_TUNNEL);
  self->opens = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) open_free, NULL);
  self->relays = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) provider_tunnel_free, NULL);

  self->client = g_socket_client_new ();
  /* Targets and the broker are reached directly: a system proxy setting
   * must not reroute the egress being shared.  No GSocketClient timeout
   * either, since it would also time out idle tunnels; connects have
   * timers of their own. */
  g_socket_client_set_enable_proxy (self->client, FALSE);
}

SwarmProvider *
swarm_provider_new (const char             *broker_address,
                    const char             *session_id,
                    const char             *token,
                    SwarmDestinationPolicy *policy)
{
  SwarmProvider *self;

  g_return_val_if_fail (broker_address != NULL, NULL);
  g_return_val_if_fail (swarm_wire_field_is_valid (session_id), NULL);
  g_return_val_if_fail (swarm_wire_field_is_valid (token), NULL);

  self = g_object_new (SWARM_TYPE_PROVIDER, NULL);
  self->broker_address = g_strdup (broker_address);
  self->session_id = g_strdup (session_id);
  self->token = g_strdup (token);
  self->policy = policy ? g_object_ref (policy) : swarm_destination_policy_new (FALSE);

  return self;
}

void
swarm_provider_set_expires_at (SwarmProvider *self,
                               gint64         expires_at_unix)
{
  g_return_if_fail (SWARM_IS_PROVIDER (self));

  if (self->expires_at == expires_at_unix)
    return;

  self->expires_at = expires_at_unix;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXPIRES_AT]);
}

void
swarm_provider_start (SwarmProvider *self)
{
  gint64 now;

  g_return_if_fail (SWARM_IS_PROVIDER (self));

  swarm_raise_fd_limit ();

  /* On the context the provider is started on, like its sockets. */
  if (self->poller == NULL)
    self->poller = swarm_poller_new ();

  now = g_get_real_time () / G_USEC_PER_SEC;
  swarm_clear_source (&self->expiry_source);

  if (self->expires_at > 0)
    {
      if (now >= self->expires_at)
        {
          g_message ("The ticket of session %s has expired; not sharing", self->session_id);
          provider_shut_down (self);
          set_state (self, SWARM_PROVIDER_STATE_EXPIRED);
          return;
        }

      guint wait_s = (guint) MIN (self->expires_at - now, EXPIRY_STEP_S);

      /* A far expiry is waited for in steps of a day, since a timer counts
       * in guint milliseconds; expiry_cb() re-arms until the time comes. */
      self->expiry_source = swarm_timeout_source_add (wait_s * 1000, expiry_cb, self);
    }

  if (self->state == SWARM_PROVIDER_STATE_OFF ||
      self->state == SWARM_PROVIDER_STATE_EXPIRED)
    {
      self->attempt = 0;
      provider_connect (self);
    }
}

void
swarm_provider_stop (SwarmProvider *self)
{
  g_return_if_fail (SWARM_IS_PROVIDER (self));

  if (self->state == SWARM_PROVIDER_STATE_OFF)
    return;

  provider_shut_down (self);
  set_last_error (self, NULL);
  set_state (self, SWARM_PROVIDER_STATE_OFF);
  g_message ("Stopped sharing session %s", self->session_id);
}

SwarmProviderState
swarm_provider_get_state (SwarmProvider *self)
{
  g_return_val_if_fail (SWARM_IS_PROVIDER (self), SWARM_PROVIDER_STATE_OFF);

  return self->state;
}

guint
swarm_provider_get_retry_seconds (SwarmProvider *self)
{
  g_return_val_if_fail (SWARM_IS_PROVIDER (self), 0);

  return self->retry_seconds;
}

const char *
swarm_provider_get_last_error (SwarmProvider *self)
{
  g_return_val_if_fail (SWARM_IS_PROVIDER (self), NULL);

  return self->last_error;
}

const char *
swarm_provider_get_session_id (SwarmProvider *self)
{
  g_return_val_if_fail (SWARM_IS_PROVIDER (self), NULL);

  return self->session_id;
}

const char *
swarm_provider_get_broker_address (SwarmProvider *self)
{
  g_return_val_if_fail (SWARM_IS_PROVIDER (self), NULL);

  return self->broker_address;
}

GListModel *
swarm_provider_get_tunnels (SwarmProvider *self)
{
  g_return_val_if_fail (SWARM_IS_PROVIDER (self), NULL);

  return G_LIST_MODEL (self->tunnels);
}

SwarmDestinationPolicy *
swarm_provider_get_policy (SwarmProvider *self)
{
  g_return_val_if_fail (SWARM_IS_PROVIDER (self), NULL);

  return self->policy;
}
