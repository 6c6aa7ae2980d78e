/* swarm-broker.c: the rendezvous between workers and providers */

#define G_LOG_DOMAIN "swarm-broker"

#include "config.h"

#include "swarm-broker.h"

#include <string.h>

#include "swarm-connection.h"
#include "swarm-http.h"
#include "swarm-relay.h"
#include "swarm-token.h"
#include "swarm-tunnel-private.h"
#include "swarm-wire.h"

/* Time in milliseconds that a worker has to send a complete request head,
 * counted again for each request on a kept-alive connection.  When it runs
 * out the connection is closed without a response. */
#define HEAD_TIMEOUT_MS 30000

/* Time in milliseconds that a new connection has to show what it is: its
 * first control line, or the first bytes of a request head.  When it runs
 * out the connection is closed without a response. */
#define IDENTIFY_TIMEOUT_MS 10000

/* Connections from one address that have not yet shown what they are.
 * Further ones are closed at once, so one host cannot hold every
 * descriptor of the broker by opening connections and staying silent.  A
 * client that opens hundreds of tunnels at once briefly has that many
 * connections in this state before the broker reads them, so the limit
 * stays well above such bursts. */
#define MAX_UNIDENTIFIED_PER_ADDRESS 512

/* OPENs of one session waiting for their tunnel at once.  A worker beyond
 * this gets 503, which keeps one client from queueing unbounded work on
 * the broker and the provider. */
#define MAX_PENDING_OPENS_PER_SESSION 1024

/* Pending connections the kernel queues before accept(). */
#define LISTEN_BACKLOG 1024

/* Delays in milliseconds before accepting again after accept() failed,
 * typically for want of descriptors: doubling from the first to the last. */
#define ACCEPT_RETRY_MIN_MS 50
#define ACCEPT_RETRY_MAX_MS 2000

/* Rejected requests logged per window before the rest are only counted. */
#define REJECTION_LOG_BURST 20
#define REJECTION_LOG_WINDOW_US (10 * G_USEC_PER_SEC)

/* RFC 6585 status, which libsoup 3.2 has no constant for. */
#define STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE 431

static const char connect_established[] = "HTTP/1.1 200 Connection Established\r\n\r\n";

/* Sessions */

struct _SwarmBrokerSession {
  GObject parent_instance;

  char *session_id;
  char *token;
  char *provider_address;
  gint64 connected_since;
  GListStore *tunnels;
  SwarmConnection *control;   /* the provider's current control connection */
  guint n_pending;            /* OPENs waiting for their tunnel */
};

G_DEFINE_FINAL_TYPE (SwarmBrokerSession, swarm_broker_session, G_TYPE_OBJECT)

enum {
  SESSION_PROP_0,
  SESSION_PROP_SESSION_ID,
  SESSION_PROP_PROVIDER_ADDRESS,
  SESSION_PROP_CONNECTED_SINCE,
  SESSION_PROP_TUNNELS,
  SESSION_N_PROPS
};

static GParamSpec *session_properties[SESSION_N_PROPS];

static void
swarm_broker_session_finalize (GObject *object)
{
  SwarmBrokerSession *self = SWARM_BROKER_SESSION (object);

  g_clear_pointer (&self->control, swarm_connection_unref);
  g_clear_object (&self->tunnels);
  g_free (self->session_id);
  g_free (self->token);
  g_free (self->provider_address);

  G_OBJECT_CLASS (swarm_broker_session_parent_class)->finalize (object);
}

static void
swarm_broker_session_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  SwarmBrokerSession *self = SWARM_BROKER_SESSION (object);

  switch (prop_id)
    {
    case SESSION_PROP_SESSION_ID:
      g_value_set_string (value, self->session_id);
      break;
    case SESSION_PROP_PROVIDER_ADDRESS:
      g_value_set_string (value, self->provider_address);
      break;
    case SESSION_PROP_CONNECTED_SINCE:
      g_value_set_int64 (value, self->connected_since);
      break;
    case SESSION_PROP_TUNNELS:
      g_value_set_object (value, self->tunnels);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_broker_session_class_init (SwarmBrokerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = swarm_broker_session_finalize;
  object_class->get_property = swarm_broker_session_get_property;

  /**
   * SwarmBrokerSession:session-id:
   *
   * The session id the provider registered.
   */
  session_properties[SESSION_PROP_SESSION_ID] =
    g_param_spec_string ("session-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmBrokerSession:provider-address:
   *
   * The provider's address as seen by the broker.  Changes when a provider
   * with the same token reconnects.
   */
  session_properties[SESSION_PROP_PROVIDER_ADDRESS] =
    g_param_spec_string ("provider-address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmBrokerSession:connected-since:
   *
   * Wall-clock time of the latest registration, in microseconds since the
   * epoch.
   */
  session_properties[SESSION_PROP_CONNECTED_SINCE] =
    g_param_spec_int64 ("connected-since", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmBrokerSession:tunnels:
   *
   * The session's open tunnels, a #GListModel of #SwarmTunnel.
   */
  session_properties[SESSION_PROP_TUNNELS] =
    g_param_spec_object ("tunnels", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, SESSION_N_PROPS, session_properties);
}

static void
swarm_broker_session_init (SwarmBrokerSession *self)
{
  self->tunnels = g_list_store_new (SWARM_TYPE_TUNNEL);
}

const char *
swarm_broker_session_get_session_id (SwarmBrokerSession *self)
{
  g_return_val_if_fail (SWARM_IS_BROKER_SESSION (self), NULL);

  return self->session_id;
}

const char *
swarm_broker_session_get_provider_address (SwarmBrokerSession *self)
{
  g_return_val_if_fail (SWARM_IS_BROKER_SESSION (self), NULL);

  return self->provider_address;
}

gint64
swarm_broker_session_get_connected_since (SwarmBrokerSession *self)
{
  g_return_val_if_fail (SWARM_IS_BROKER_SESSION (self), 0);

  return self->connected_since;
}

GListModel *
swarm_broker_session_get_tunnels (SwarmBrokerSession *self)
{
  g_return_val_if_fail (SWARM_IS_BROKER_SESSION (self), NULL);

  return G_LIST_MODEL (self->tunnels);
}

static void
session_remove_tunnel (SwarmBrokerSession *session,
                       SwarmTunnel        *tunnel)
{
  guint position;

  if (g_list_store_find (session->tunnels, tunnel, &position))
    g_list_store_remove (session->tunnels, position);
}

/* The broker */

typedef struct _Worker Worker;
typedef struct _PendingOpen PendingOpen;

struct _SwarmBroker {
  GObject parent_instance;

  GSocketListener *listener;
  SwarmPoller *poller;           /* readiness of tunnel sockets, while listening */
  GCancellable *accept_cancellable;
  GSource *accept_retry_source;
  guint accept_retry_ms;
  GHashTable *unidentified;      /* peer address → number of connections not yet identified */
  char *listen_address;
  guint open_timeout_ms;

  GListStore *sessions;          /* SwarmBrokerSession */
  GHashTable *sessions_by_id;    /* session id → SwarmBrokerSession, borrowed from the list */
  GHashTable *pending;           /* nonce → PendingOpen */
  GHashTable *connections;       /* every open SwarmConnection, closed on stop */
  GHashTable *workers;           /* every live Worker, freed on dispose */

  gint64 rejection_window_start;
  guint rejections_in_window;
  guint rejections_suppressed;
};

G_DEFINE_FINAL_TYPE (SwarmBroker, swarm_broker, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_OPEN_TIMEOUT,
  PROP_SESSIONS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* A worker's OPEN that waits for its data connection. */
struct _PendingOpen {
  char *nonce;
  SwarmBrokerSession *session;
  SwarmConnection *control;   /* where the OPEN went; its loss fails the OPEN */
  Worker *worker;
  GSource *timeout_source;
  gboolean opened;            /* OPENED seen before the data connection */
};

/* One worker connection, across the requests it carries.  The broker's
 * worker table holds one reference and each pending read another, so a
 * read that completes after the worker ended finds `finished` set. */
struct _Worker {
  gatomicrefcount ref_count;
  gboolean finished;
  gboolean flushing;        /* an error response is on its way; close after it */
  SwarmBroker *broker;
  SwarmConnection *connection;
  SwarmHttpRequest *request;
  char *session_id;
  SwarmBrokerSession *session;
  PendingOpen *pending;

  /* The tunnel of the current request. */
  SwarmConnection *data;
  SwarmTunnel *tunnel;
  SwarmRelay *relay;                 /* CONNECT and upgraded connections */
  SwarmCopy *request_copy;           /* absolute-form requests */
  SwarmCopy *response_copy;
  gboolean request_done;
  gboolean response_done;
  gboolean response_keep_alive;
  guint response_status;
};

static void worker_read_head (Worker *worker);
static void worker_teardown (Worker *worker);

static Worker *
worker_ref (Worker *worker)
{
  g_atomic_ref_count_inc (&worker->ref_count);
  return worker;
}

static void
worker_unref (Worker *worker)
{
  if (!g_atomic_ref_count_dec (&worker->ref_count))
    return;

  g_clear_pointer (&worker->connection, swarm_connection_unref);
  g_clear_pointer (&worker->request, swarm_http_request_free);
  g_free (worker->session_id);
  g_free (worker);
}

static void
pending_open_free (PendingOpen *pending)
{
  swarm_clear_source (&pending->timeout_source);
  pending->session->n_pending--;
  g_clear_pointer (&pending->control, swarm_connection_unref);
  g_clear_object (&pending->session);
  g_free (pending->nonce);
  g_free (pending);
}

static void
broker_track_connection (SwarmBroker     *self,
                         SwarmConnection *connection)
{
  g_hash_table_add (self->connections, swarm_connection_ref (connection));
}

static void
broker_forget_connection (SwarmBroker     *self,
                          SwarmConnection *connection)
{
  g_hash_table_remove (self->connections, connection);
}

G_GNUC_PRINTF (2, 3)
static void
broker_log_rejection (SwarmBroker *self,
                      const char  *format,
                      ...)
{
  gint64 now = g_get_monotonic_time ();
  g_autofree char *message = NULL;
  va_list args;

  if (now - self->rejection_window_start > REJECTION_LOG_WINDOW_US)
    {
      if (self->rejections_suppressed > 0)
        g_message ("%u more rejected requests were not logged in the last %d s",
                   self->rejections_suppressed,
                   (int) (REJECTION_LOG_WINDOW_US / G_USEC_PER_SEC));
      self->rejection_window_start = now;
      self->rejections_in_window = 0;
      self->rejections_suppressed = 0;
    }

  if (++self->rejections_in_window > REJECTION_LOG_BURST)
    {
      self->rejections_suppressed++;
      return;
    }

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_message ("%s", message);
}

static SwarmBrokerSession *
broker_lookup_session (SwarmBroker *self,
                       const char  *session_id)
{
  return g_hash_table_lookup (self->sessions_by_id, session_id);
}

/* Worker: error responses and teardown */

static void
worker_release_tunnel (Worker *worker)
{
  g_clear_pointer (&worker->relay, swarm_relay_free);
  g_clear_pointer (&worker->request_copy, swarm_copy_free);
  g_clear_pointer (&worker->response_copy, swarm_copy_free);

  if (worker->data != NULL)
    {
      swarm_connection_close (worker->data);
      broker_forget_connection (worker->broker, worker->data);
      g_clear_pointer (&worker->data, swarm_connection_unref);
    }

  if (worker->tunnel != NULL)
    {
      swarm_tunnel_close (worker->tunnel);
      if (worker->session != NULL)
        session_remove_tunnel (worker->session, worker->tunnel);
      g_clear_object (&worker->tunnel);
    }
}

static void
worker_finish (Worker *worker)
{
  swarm_connection_close (worker->connection);
  g_hash_table_remove (worker->broker->workers, worker);
}

/* Sends an error response with Connection: close and ends the worker. */
static void
worker_fail (Worker     *worker,
             guint       status,
             const char *message)
{
  g_autoptr(GBytes) response = swarm_http_build_error_response (status, message);

  worker_release_tunnel (worker);
  swarm_connection_send (worker->connection, response);
  swarm_connection_close_after_flush (worker->connection);
  /* The write queue keeps the connection alive until the response is out;
   * the worker itself is done. */
  worker->flushing = TRUE;
  g_hash_table_remove (worker->broker->workers, worker);
}

/* Ends the worker: the destroy function of the broker's worker table. */
static void
worker_teardown (Worker *worker)
{
  worker->finished = TRUE;

  if (worker->pending != NULL)
    {
      g_hash_table_steal (worker->broker->pending, worker->pending->nonce);
      g_clear_pointer (&worker->pending, pending_open_free);
    }

  worker_release_tunnel (worker);
  if (!worker->flushing)
    swarm_connection_close (worker->connection);
  broker_forget_connection (worker->broker, worker->connection);
  g_clear_object (&worker->session);
  worker_unref (worker);
}

/* Worker: plain (absolute-form) requests */

static void
worker_request_cycle_done (Worker *worker)
{
  gboolean keep_alive;

  if (!worker->response_done)
    return;

  /* A response that came before the whole request body leaves unread body
   * bytes on the worker connection, so it cannot carry another request. */
  keep_alive = worker->request_done &&
               worker->response_keep_alive &&
               worker->request->keep_alive;

  worker_release_tunnel (worker);

  if (!keep_alive)
    {
      worker_finish (worker);
      return;
    }

  g_clear_pointer (&worker->request, swarm_http_request_free);
  worker_read_head (worker);
}

static void
progress_up_cb (gsize    n_bytes,
                gpointer user_data)
{
  Worker *worker = user_data;

  if (worker->tunnel != NULL)
    swarm_tunnel_add_bytes_up (worker->tunnel, n_bytes);
}

static void
progress_down_cb (gsize    n_bytes,
                  gpointer user_data)
{
  Worker *worker = user_data;

  if (worker->tunnel != NULL)
    swarm_tunnel_add_bytes_down (worker->tunnel, n_bytes);
}

static void
request_copy_done_cb (SwarmCopy    *copy,
                      const GError *error,
                      gpointer      user_data)
{
  Worker *worker = user_data;

  if (error != NULL)
    {
      /* A malformed chunked body still gets a 400 while no part of the
       * response has reached the worker. */
      if (g_error_matches (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST) &&
          worker->response_status == 0)
        {
          broker_log_rejection (worker->broker, "Rejected request from %s: %s",
                                worker->connection->peer, error->message);
          worker_fail (worker, SOUP_STATUS_BAD_REQUEST, error->message);
          return;
        }

      g_debug ("Request body from worker %s ended early: %s",
               worker->connection->peer, error->message);
      worker_finish (worker);
      return;
    }

  worker->request_done = TRUE;
  worker_request_cycle_done (worker);
}

static void response_read_head (Worker *worker);

static void
relay_done_cb (SwarmRelay   *relay,
               const GError *error,
               gpointer      user_data)
{
  Worker *worker = user_data;

  if (error != NULL)
    g_debug ("Tunnel of worker %s ended: %s", worker->connection->peer, error->message);

  worker_finish (worker);
}

static void
response_copy_done_cb (SwarmCopy    *copy,
                       const GError *error,
                       gpointer      user_data)
{
  Worker *worker = user_data;

  if (error != NULL)
    {
      /* The response is cut short; closing the worker connection is the
       * only way left to tell the worker. */
      g_debug ("Response to worker %s ended early: %s",
               worker->connection->peer, error->message);
      worker_finish (worker);
      return;
    }

  if (worker->response_status >= 100 && worker->response_status < 200)
    {
      /* An interim response (100 Continue): the final one follows. */
      g_clear_pointer (&worker->response_copy, swarm_copy_free);
      response_read_head (worker);
      return;
    }

  worker->response_done = TRUE;
  worker_request_cycle_done (worker);
}

static void
response_head_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Worker *worker = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) head = NULL;
  SwarmHttpResponseInfo info;
  gsize head_length;

  if (worker->finished || worker->data == NULL)
    {
      worker_unref (worker);
      return;
    }

  head_length = swarm_connection_read_unit_finish (worker->data, result, &error);
  /* The worker is not finished, so the broker's table still holds a
   * reference; every path below returns right after it ends the worker. */
  worker_unref (worker);
  if (head_length == 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (worker->response_status == 0)
        worker_fail (worker, SOUP_STATUS_BAD_GATEWAY,
                     "The target closed the connection without sending a response.");
      else
        worker_finish (worker);
      return;
    }

  if (!swarm_http_response_parse ((const char *) worker->data->input->data, head_length,
                                  worker->request->method, &info, &error))
    {
      g_message ("Target %s:%u sent an invalid response head to session %s: %s",
                 worker->request->host, worker->request->port, worker->session_id,
                 error->message);
      if (worker->response_status == 0)
        worker_fail (worker, SOUP_STATUS_BAD_GATEWAY,
                     "The target sent a response that is not valid HTTP/1.x.");
      else
        worker_finish (worker);
      return;
    }

  head = g_bytes_new (worker->data->input->data, head_length);
  swarm_connection_consume (worker->data, head_length);
  worker->response_status = info.status;
  worker->response_keep_alive = info.keep_alive;

  if (info.status == SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      /* The connection becomes a plain byte stream both ways, like CONNECT. */
      g_clear_pointer (&worker->request_copy, swarm_copy_free);
      worker->relay = swarm_relay_new (worker->broker->poller, worker->connection, worker->data,
                                       worker->tunnel, head);
      swarm_relay_start (worker->relay, relay_done_cb, worker);
      return;
    }

  worker->response_copy = swarm_copy_new (worker->broker->poller, worker->data,
                                          worker->connection);
  swarm_copy_set_header (worker->response_copy, head);
  switch (info.body_kind)
    {
    case SWARM_HTTP_BODY_NONE:
      swarm_copy_set_length (worker->response_copy, 0);
      break;
    case SWARM_HTTP_BODY_LENGTH:
      swarm_copy_set_length (worker->response_copy, info.content_length);
      break;
    case SWARM_HTTP_BODY_CHUNKED:
      swarm_copy_set_chunked (worker->response_copy);
      break;
    case SWARM_HTTP_BODY_UNTIL_CLOSE:
    default:
      break;
    }

  swarm_copy_start (worker->response_copy, progress_down_cb, response_copy_done_cb, worker);
}

static void
response_read_head (Worker *worker)
{
  swarm_connection_read_unit_async (worker->data, swarm_http_find_head_end,
                                    SWARM_HTTP_MAX_HEAD, 0, response_head_cb,
                                    worker_ref (worker));
}

static void
worker_forward_request (Worker *worker)
{
  SwarmHttpRequest *request = worker->request;
  g_autoptr(GBytes) upstream_head = swarm_http_request_build_upstream_head (request);

  worker->request_done = FALSE;
  worker->response_done = FALSE;
  worker->response_status = 0;

  worker->request_copy = swarm_copy_new (worker->broker->poller, worker->connection,
                                         worker->data);
  swarm_copy_set_header (worker->request_copy, upstream_head);
  switch (request->body_kind)
    {
    case SWARM_HTTP_BODY_LENGTH:
      swarm_copy_set_length (worker->request_copy, request->content_length);
      break;
    case SWARM_HTTP_BODY_CHUNKED:
      swarm_copy_set_chunked (worker->request_copy);
      break;
    case SWARM_HTTP_BODY_NONE:
    case SWARM_HTTP_BODY_UNTIL_CLOSE:
    default:
      swarm_copy_set_length (worker->request_copy, 0);
      break;
    }

  /* The response is read at the same time as the request body is sent: an
   * "Expect: 100-continue" client waits for the interim response first. */
  response_read_head (worker);
  swarm_copy_start (worker->request_copy, progress_up_cb, request_copy_done_cb, worker);
}

/* Worker: tunnels */

static void
worker_tunnel_attached (Worker          *worker,
                        SwarmConnection *data)
{
  SwarmHttpRequest *request = worker->request;

  worker->data = swarm_connection_ref (data);
  worker->tunnel = swarm_tunnel_new (worker->session_id, request->host, request->port,
                                     worker->connection->peer);
  if (worker->session != NULL)
    g_list_store_append (worker->session->tunnels, worker->tunnel);

  g_debug ("Tunnel for session %s to %s:%u attached", worker->session_id,
           request->host, request->port);

  if (request->is_connect)
    {
      g_autoptr(GBytes) established = g_bytes_new_static (connect_established,
                                                          strlen (connect_established));

      worker->relay = swarm_relay_new (worker->broker->poller, worker->connection, data,
                                       worker->tunnel, established);
      swarm_relay_start (worker->relay, relay_done_cb, worker);
      return;
    }

  worker_forward_request (worker);
}

static gboolean
pending_timeout_cb (gpointer user_data)
{
  PendingOpen *pending = user_data;
  Worker *worker = pending->worker;
  SwarmBroker *self = worker->broker;
  g_autofree char *message = NULL;

  swarm_clear_source (&pending->timeout_source);
  g_hash_table_steal (self->pending, pending->nonce);
  worker->pending = NULL;

  broker_log_rejection (self, "OPEN %s:%u for session %s timed out after %u ms",
                        worker->request->host, worker->request->port,
                        worker->session_id, self->open_timeout_ms);
  message = g_strdup_printf ("The provider of session %s did not open a tunnel to %s:%u "
                             "within %u s. Check that the provider is running and can "
                             "reach the broker.",
                             worker->session_id, worker->request->host,
                             worker->request->port, self->open_timeout_ms / 1000);
  pending_open_free (pending);
  worker_fail (worker, SOUP_STATUS_GATEWAY_TIMEOUT, message);

  return G_SOURCE_REMOVE;
}

/* Ends a pending OPEN with an error response to its worker. */
static void
pending_fail (SwarmBroker *self,
              PendingOpen *pending,
              guint        status,
              const char  *message)
{
  Worker *worker = pending->worker;

  g_hash_table_steal (self->pending, pending->nonce);
  worker->pending = NULL;
  pending_open_free (pending);
  worker_fail (worker, status, message);
}

static void
worker_open_tunnel (Worker *worker)
{
  SwarmBroker *self = worker->broker;
  SwarmBrokerSession *session = worker->session;
  g_autofree char *line = NULL;
  PendingOpen *pending;

  if (session->n_pending >= MAX_PENDING_OPENS_PER_SESSION)
    {
      g_autofree char *message = NULL;

      broker_log_rejection (self, "Rejected request from %s for session %s: %d tunnels are "
                            "already being opened", worker->connection->peer,
                            session->session_id, MAX_PENDING_OPENS_PER_SESSION);
      message = g_strdup_printf ("Session %s is already opening %d tunnels; retry when "
                                 "some have opened.", session->session_id,
                                 MAX_PENDING_OPENS_PER_SESSION);
      worker_fail (worker, SOUP_STATUS_SERVICE_UNAVAILABLE, message);
      return;
    }

  pending = g_new0 (PendingOpen, 1);
  pending->nonce = swarm_nonce_generate ();
  pending->session = g_object_ref (session);
  session->n_pending++;
  pending->control = swarm_connection_ref (session->control);
  pending->worker = worker;
  pending->timeout_source = swarm_timeout_source_add (self->open_timeout_ms, pending_timeout_cb, pending);
  worker->pending = pending;
  g_hash_table_insert (self->pending, pending->nonce, pending);

  line = swarm_wire_format_open (pending->nonce, worker->request->host, worker->request->port);
  swarm_connection_send_text (session->control, line);
}

/* Worker: request heads */

static guint
status_for_parse_error (const GError *error)
{
  if (g_error_matches (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_HEAD_TOO_LARGE))
    return STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE;
  if (g_error_matches (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_NOT_IMPLEMENTED))
    return SOUP_STATUS_NOT_IMPLEMENTED;

  return SOUP_STATUS_BAD_REQUEST;
}

static void
worker_handle_request (Worker *worker)
{
  SwarmBroker *self = worker->broker;
  SwarmHttpRequest *request = worker->request;
  g_autofree char *session_id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *message = NULL;
  SwarmBrokerSession *session;

  switch (swarm_http_request_get_credentials (request, &session_id, &token))
    {
    case SWARM_HTTP_CREDENTIALS_OK:
      break;
    case SWARM_HTTP_CREDENTIALS_MISSING:
      broker_log_rejection (self, "Rejected request from %s: no proxy credentials",
                            worker->connection->peer);
      worker_fail (worker, SOUP_STATUS_PROXY_AUTHENTICATION_REQUIRED,
                   "Proxy credentials are required. Use the ticket's session id and "
                   "token, e.g. curl --proxy-user SESSION_ID:TOKEN.");
      return;
    case SWARM_HTTP_CREDENTIALS_MALFORMED:
    default:
      broker_log_rejection (self, "Rejected request from %s: malformed proxy credentials",
                            worker->connection->peer);
      worker_fail (worker, SOUP_STATUS_PROXY_AUTHENTICATION_REQUIRED,
                   "The Proxy-Authorization header is not valid Basic credentials of the "
                   "form SESSION_ID:TOKEN.");
      return;
    }

  g_free (worker->session_id);
  worker->session_id = g_strdup (session_id);

  session = broker_lookup_session (self, session_id);
  if (session == NULL)
    {
      broker_log_rejection (self, "Rejected request from %s for session %s: "
                            "no provider is registered", worker->connection->peer, session_id);
      message = g_strdup_printf ("No provider is registered for session %s. Start the "
                                 "provider for this ticket, or check the session id.",
                                 session_id);
      worker_fail (worker, SOUP_STATUS_SERVICE_UNAVAILABLE, message);
      return;
    }

  if (!swarm_token_equal (token, session->token))
    {
      broker_log_rejection (self, "Rejected request from %s for session %s: wrong token",
                            worker->connection->peer, session_id);
      message = g_strdup_printf ("The token does not match session %s. Use the token from "
                                 "the session's current ticket.", session_id);
      worker_fail (worker, SOUP_STATUS_FORBIDDEN, message);
      return;
    }

  if (!swarm_wire_field_is_valid (request->host))
    {
      worker_fail (worker, SOUP_STATUS_BAD_REQUEST, "The target host is not valid.");
      return;
    }

  g_set_object (&worker->session, session);
  worker_open_tunnel (worker);
}

static void
worker_head_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Worker *worker = user_data;
  g_autoptr(GError) error = NULL;
  gsize head_length;

  if (worker->finished)
    {
      worker_unref (worker);
      return;
    }

  head_length = swarm_connection_read_unit_finish (worker->connection, result, &error);
  worker_unref (worker);
  if (head_length == 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
        {
          broker_log_rejection (worker->broker, "Rejected request from %s: head larger "
                                "than %d bytes", worker->connection->peer, SWARM_HTTP_MAX_HEAD);
          worker_fail (worker, STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE,
                       "The request head is larger than the broker accepts (32 KiB).");
          return;
        }

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_debug ("Closing worker connection %s: no complete request head within %d ms",
                 worker->connection->peer, HEAD_TIMEOUT_MS);
      worker_finish (worker);
      return;
    }

  worker->request = swarm_http_request_parse ((const char *) worker->connection->input->data,
                                              head_length, &error);
  swarm_connection_consume (worker->connection, head_length);
  if (worker->request == NULL)
    {
      guint status = status_for_parse_error (error);

      broker_log_rejection (worker->broker, "Rejected request from %s: %s",
                            worker->connection->peer, error->message);
      worker_fail (worker, status, error->message);
      return;
    }

  worker_handle_request (worker);
}

static void
worker_read_head (Worker *worker)
{
  swarm_connection_read_unit_async (worker->connection, swarm_http_find_head_end,
                                    SWARM_HTTP_MAX_HEAD, HEAD_TIMEOUT_MS,
                                    worker_head_cb, worker_ref (worker));
}

static void
broker_start_worker (SwarmBroker     *self,
                     SwarmConnection *connection)
{
  Worker *worker = g_new0 (Worker, 1);

  g_atomic_ref_count_init (&worker->ref_count);
  worker->broker = self;
  worker->connection = swarm_connection_ref (connection);
  g_hash_table_add (self->workers, worker);

  worker_read_head (worker);
}

/* Providers: data connections */

static void
broker_accept_data (SwarmBroker     *self,
                    SwarmConnection *connection,
                    SwarmWireLine   *line)
{
  SwarmBrokerSession *session = broker_lookup_session (self, line->session_id);
  PendingOpen *pending;
  Worker *worker;
  const char *reject = NULL;

  pending = g_hash_table_lookup (self->pending, line->nonce);

  if (session == NULL)
    reject = "ERR unknown-session\n";
  else if (!swarm_token_equal (line->token, session->token))
    reject = "ERR forbidden\n";
  else if (pending == NULL || pending->session != session)
    reject = "ERR no-pending-open\n";

  if (reject != NULL)
    {
      broker_log_rejection (self, "Rejected data connection from %s for session %s: %.*s",
                            connection->peer, line->session_id,
                            (int) strlen (reject) - 1, reject);
      swarm_connection_send_text (connection, reject);
      swarm_connection_close_after_flush (connection);
      broker_forget_connection (self, connection);
      return;
    }

  /* Written at once, not queued: the relay writes to this socket directly
   * from the next moment on, and a fresh socket always has room for 3 bytes. */
  if (g_socket_send (connection->socket, "OK\n", 3, NULL, NULL) != 3)
    {
      swarm_connection_close (connection);
      broker_forget_connection (self, connection);
      return;
    }

  g_hash_table_steal (self->pending, pending->nonce);
  worker = pending->worker;
  worker->pending = NULL;
  pending_open_free (pending);

  /* The worker owns the data connection now, and removes it from the
   * broker's table when the tunnel ends. */
  worker_tunnel_attached (worker, connection);
}

/* Providers: control connections */

typedef struct {
  SwarmBroker *broker;
  SwarmBrokerSession *session;
  SwarmConnection *connection;
} ControlReader;

static void
control_reader_free (ControlReader *reader)
{
  g_object_unref (reader->broker);
  g_object_unref (reader->session);
  swarm_connection_unref (reader->connection);
  g_free (reader);
}

static void control_read_next (ControlReader *reader);

/* Fails every pending OPEN that was sent over `control`. */
static void
broker_fail_pending_of (SwarmBroker     *self,
                        SwarmConnection *control,
                        const char      *message)
{
  GHashTableIter iter;
  gpointer value;
  GPtrArray *failed = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PendingOpen *pending = value;

      if (pending->control == control)
        g_ptr_array_add (failed, pending);
    }

  for (guint i = 0; i < failed->len; i++)
    pending_fail (self, g_ptr_array_index (failed, i), SOUP_STATUS_BAD_GATEWAY, message);

  g_ptr_array_unref (failed);
}

static void
broker_remove_session (SwarmBroker        *self,
                       SwarmBrokerSession *session)
{
  guint position;

  g_hash_table_remove (self->sessions_by_id, session->session_id);
  if (g_list_store_find (self->sessions, session, &position))
    g_list_store_remove (self->sessions, position);
}

static void
control_handle_line (ControlReader *reader,
                     SwarmWireLine *line)
{
  SwarmBroker *self = reader->broker;
  PendingOpen *pending = NULL;

  if (line->nonce != NULL)
    pending = g_hash_table_lookup (self->pending, line->nonce);
  if (pending != NULL && pending->session != reader->session)
    pending = NULL;

  switch (line->kind)
    {
    case SWARM_WIRE_OPENED:
      /* A version-1 provider attaches the data connection before it sends
       * OPENED, so usually there is nothing left to do.  Otherwise the data
       * connection gets a fresh timeout of its own. */
      if (pending != NULL && !pending->opened)
        {
          pending->opened = TRUE;
          swarm_clear_source (&pending->timeout_source);
          pending->timeout_source = swarm_timeout_source_add (self->open_timeout_ms, pending_timeout_cb, pending);
        }
      break;

    case SWARM_WIRE_FAILED:
      if (pending != NULL)
        {
          g_autofree char *message = NULL;

          g_message ("Provider of session %s could not open %s:%u: %s",
                     reader->session->session_id, pending->worker->request->host,
                     pending->worker->request->port, line->reason);
          message = g_strdup_printf ("The provider could not open a connection to %s:%u: %s",
                                     pending->worker->request->host,
                                     pending->worker->request->port, line->reason);
          pending_fail (self, pending, SOUP_STATUS_BAD_GATEWAY, message);
        }
      break;

    case SWARM_WIRE_UNKNOWN:
      /* Later protocol versions may add lines; version 1 ignores them. */
      break;

    case SWARM_WIRE_PROVIDER:
    case SWARM_WIRE_DATA:
    case SWARM_WIRE_OK:
    case SWARM_WIRE_ERR:
    case SWARM_WIRE_OPEN:
    default:
      g_debug ("Ignoring unexpected control line from the provider of session %s",
               reader->session->session_id);
      break;
    }
}

static void
control_line_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ControlReader *reader = user_data;
  SwarmBroker *self = reader->broker;
  SwarmBrokerSession *session = reader->session;
  SwarmConnection *connection = reader->connection;
  g_autoptr(GError) error = NULL;
  SwarmWireLine line = { 0 };
  gsize length;

  length = swarm_connection_read_unit_finish (connection, result, &error);
  if (length > 0 &&
      !swarm_wire_line_parse ((const char *) connection->input->data, length, &line, &error))
    {
      g_message ("Ignoring a malformed control line from the provider of session %s: %s",
                 session->session_id, error->message);
      swarm_connection_consume (connection, length);
      control_read_next (reader);
      return;
    }

  if (length == 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        g_message ("Closing control connection of session %s from %s: %s",
                   session->session_id, connection->peer, error->message);

      swarm_connection_close (connection);
      broker_forget_connection (self, connection);
      broker_fail_pending_of (self, connection,
                              "The provider disconnected before the tunnel was open.");

      /* A provider that reconnected has already replaced this connection. */
      if (session->control == connection)
        {
          g_message ("Provider of session %s at %s disconnected",
                     session->session_id, connection->peer);
          broker_remove_session (self, session);
        }

      control_reader_free (reader);
      return;
    }

  swarm_connection_consume (connection, length);
  control_handle_line (reader, &line);
  swarm_wire_line_clear (&line);

  control_read_next (reader);
}

static void
control_read_next (ControlReader *reader)
{
  swarm_connection_read_unit_async (reader->connection, swarm_frame_line,
                                    SWARM_WIRE_MAX_LINE, 0, control_line_cb, reader);
}

static void
broker_accept_provider (SwarmBroker     *self,
                        SwarmConnection *connection,
                        SwarmWireLine   *line)
{
  SwarmBrokerSession *session = broker_lookup_session (self, line->session_id);
  ControlReader *reader;

  if (session != NULL && !swarm_token_equal (line->token, session->token))
    {
      /* Knowing a session's name is not enough to take it over. */
      broker_log_rejection (self, "Rejected provider registration from %s for session %s: "
                            "the session is registered with another token",
                            connection->peer, line->session_id);
      swarm_connection_send_text (connection, "ERR forbidden\n");
      swarm_connection_close_after_flush (connection);
      broker_forget_connection (self, connection);
      return;
    }

  swarm_socket_tune (connection->socket, TRUE);

  if (session != NULL)
    {
      SwarmConnection *previous = session->control;

      /* Same token: the provider reconnected, perhaps before the broker
       * noticed that its old connection is gone. */
      g_message ("Provider of session %s reconnected from %s, replacing the connection from %s",
                 session->session_id, connection->peer, previous->peer);
      session->control = swarm_connection_ref (connection);
      /* A version-1 provider ignores this line; ours backs off, so two
       * providers started with one ticket do not take turns every second. */
      swarm_connection_send_text (previous, "ERR replaced\n");
      swarm_connection_close_after_flush (previous);
      broker_fail_pending_of (self, previous,
                              "The provider reconnected before the tunnel was open; retry.");
      swarm_connection_unref (previous);

      g_free (session->provider_address);
      session->provider_address = g_strdup (connection->peer);
      session->connected_since = g_get_real_time ();
      g_object_notify_by_pspec (G_OBJECT (session),
                                session_properties[SESSION_PROP_PROVIDER_ADDRESS]);
      g_object_notify_by_pspec (G_OBJECT (session),
                                session_properties[SESSION_PROP_CONNECTED_SINCE]);
    }
  else
    {
      session = g_object_new (SWARM_TYPE_BROKER_SESSION, NULL);
      session->session_id = g_strdup (line->session_id);
      session->token = g_strdup (line->token);
      session->provider_address = g_strdup (connection->peer);
      session->connected_since = g_get_real_time ();
      session->control = swarm_connection_ref (connection);

      g_hash_table_insert (self->sessions_by_id, session->session_id, session);
      g_list_store_append (self->sessions, session);
      g_object_unref (session);

      g_message ("Provider registered session %s from %s", session->session_id,
                 connection->peer);
    }

  swarm_connection_send_text (connection, "OK\n");

  reader = g_new0 (ControlReader, 1);
  reader->broker = g_object_ref (self);
  reader->session = g_object_ref (session);
  reader->connection = swarm_connection_ref (connection);
  control_read_next (reader);
}

/* Telling connections apart */

static const char provider_prefix[] = "PROVIDER ";
static const char data_prefix[] = "DATA ";

static gboolean
has_prefix_or_is_prefix (const char *buffer,
                         gsize       length,
                         const char *prefix)
{
  gsize prefix_length = strlen (prefix);

  return memcmp (buffer, prefix, MIN (length, prefix_length)) == 0;
}

/* Decides as soon as the first bytes tell: a control line is complete at
 * its newline (or once it is too long to be valid), anything else is a
 * worker and needs no more bytes here. */
static gsize
sniff_frame (const char *buffer,
             gsize       length)
{
  if (length == 0)
    return 0;

  if (has_prefix_or_is_prefix (buffer, length, provider_prefix) ||
      has_prefix_or_is_prefix (buffer, length, data_prefix))
    {
      gsize line_length = swarm_frame_line (buffer, length);

      if (line_length > 0)
        return line_length;
      if (length >= SWARM_WIRE_MAX_LINE)
        return length;
      /* An incomplete prefix, or an incomplete line. */
      return 0;
    }

  return length;
}

typedef struct {
  SwarmBroker *broker;
  SwarmConnection *connection;
  char *peer_host;
} Incoming;

static void
broker_count_unidentified (SwarmBroker *self,
                           const char  *peer_host,
                           int          change)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->unidentified, peer_host));

  count += change;
  if (count == 0)
    g_hash_table_remove (self->unidentified, peer_host);
  else
    g_hash_table_insert (self->unidentified, g_strdup (peer_host), GUINT_TO_POINTER (count));
}

static void
incoming_free (Incoming *incoming)
{
  broker_count_unidentified (incoming->broker, incoming->peer_host, -1);
  g_object_unref (incoming->broker);
  g_free (incoming->peer_host);
  g_free (incoming);
}

static void
sniff_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Incoming *incoming = user_data;
  g_autoptr(SwarmBroker) self = g_object_ref (incoming->broker);
  g_autoptr(SwarmConnection) connection = incoming->connection;
  g_autoptr(GError) error = NULL;
  SwarmWireLine line = { 0 };
  const char *buffer;
  gsize length;

  incoming_free (incoming);

  length = swarm_connection_read_unit_finish (connection, result, &error);
  if (length == 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
        {
          /* A worker whose head is too large: it still gets its 431. */
          broker_start_worker (self, connection);
          return;
        }
      g_debug ("Closing connection from %s before it identified itself: %s",
               connection->peer, error->message);
      swarm_connection_close (connection);
      broker_forget_connection (self, connection);
      return;
    }

  buffer = (const char *) connection->input->data;
  if (!(length >= strlen (provider_prefix) &&
        memcmp (buffer, provider_prefix, strlen (provider_prefix)) == 0) &&
      !(length >= strlen (data_prefix) && memcmp (buffer, data_prefix, strlen (data_prefix)) == 0))
    {
      broker_start_worker (self, connection);
      return;
    }

  if (!swarm_wire_line_parse (buffer, length, &line, &error) ||
      (line.kind != SWARM_WIRE_PROVIDER && line.kind != SWARM_WIRE_DATA))
    {
      broker_log_rejection (self, "Rejected control line from %s: %s", connection->peer,
                            error ? error->message : "not a PROVIDER or DATA line");
      swarm_connection_send_text (connection, "ERR malformed\n");
      swarm_connection_close_after_flush (connection);
      broker_forget_connection (self, connection);
      swarm_wire_line_clear (&line);
      return;
    }

  swarm_connection_consume (connection, length);

  if (line.kind == SWARM_WIRE_PROVIDER)
    broker_accept_provider (self, connection, &line);
  else
    broker_accept_data (self, connection, &line);

  swarm_wire_line_clear (&line);
}

static void
broker_handle_incoming (SwarmBroker       *self,
                        GSocketConnection *socket_connection)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (socket_connection,
                                                                            NULL);
  g_autofree char *peer_host = NULL;
  SwarmConnection *connection;
  Incoming *incoming;

  if (G_IS_INET_SOCKET_ADDRESS (remote))
    peer_host = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  else
    peer_host = g_strdup ("local");

  if (GPOINTER_TO_UINT (g_hash_table_lookup (self->unidentified, peer_host)) >=
      MAX_UNIDENTIFIED_PER_ADDRESS)
    {
      broker_log_rejection (self, "Closed a connection from %s: %d connections from this "
                            "address have not sent a request or control line yet",
                            peer_host, MAX_UNIDENTIFIED_PER_ADDRESS);
      g_io_stream_close (G_IO_STREAM (socket_connection), NULL, NULL);
      return;
    }

  connection = swarm_connection_new (socket_connection);
  swarm_socket_tune (connection->socket, TRUE);
  broker_track_connection (self, connection);

  incoming = g_new0 (Incoming, 1);
  incoming->broker = g_object_ref (self);
  incoming->connection = connection;
  incoming->peer_host = g_steal_pointer (&peer_host);
  broker_count_unidentified (self, incoming->peer_host, +1);

  swarm_connection_read_unit_async (connection, sniff_frame, SWARM_HTTP_MAX_HEAD,
                                    IDENTIFY_TIMEOUT_MS, sniff_cb, incoming);
}

static void broker_accept_next (SwarmBroker *self);

static gboolean
accept_retry_cb (gpointer user_data)
{
  SwarmBroker *self = user_data;

  swarm_clear_source (&self->accept_retry_source);
  broker_accept_next (self);

  return G_SOURCE_REMOVE;
}

static void
accept_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(SwarmBroker) self = user_data;
  g_autoptr(GSocketConnection) socket_connection = NULL;
  g_autoptr(GError) error = NULL;

  socket_connection = g_socket_listener_accept_finish (G_SOCKET_LISTENER (object), result,
                                                       NULL, &error);
  if (socket_connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->listener == NULL)
        return;

      /* Usually out of descriptors.  Accepting again at once would spin
       * on the same error, so wait, and log once per episode. */
      if (self->accept_retry_ms == 0)
        {
          g_warning ("Failed to accept a connection: %s; retrying with backoff",
                     error->message);
          self->accept_retry_ms = ACCEPT_RETRY_MIN_MS;
        }
      else
        {
          self->accept_retry_ms = MIN (self->accept_retry_ms * 2, ACCEPT_RETRY_MAX_MS);
        }

      self->accept_retry_source = swarm_timeout_source_add (self->accept_retry_ms,
                                                            accept_retry_cb, self);
      return;
    }

  if (self->accept_retry_ms != 0)
    {
      g_message ("Accepting connections again");
      self->accept_retry_ms = 0;
    }

  broker_handle_incoming (self, socket_connection);
  broker_accept_next (self);
}

static void
broker_accept_next (SwarmBroker *self)
{
  if (self->listener == NULL)
    return;

  g_socket_listener_accept_async (self->listener, self->accept_cancellable,
                                  accept_cb, g_object_ref (self));
}

/* GObject */

static void
swarm_broker_dispose (GObject *object)
{
  SwarmBroker *self = SWARM_BROKER (object);

  swarm_broker_stop (self);

  G_OBJECT_CLASS (swarm_broker_parent_class)->dispose (object);
}

static void
swarm_broker_finalize (GObject *object)
{
  SwarmBroker *self = SWARM_BROKER (object);

  g_clear_pointer (&self->workers, g_hash_table_unref);
  g_clear_pointer (&self->unidentified, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->connections, g_hash_table_unref);
  g_clear_pointer (&self->sessions_by_id, g_hash_table_unref);
  g_clear_object (&self->sessions);
  g_free (self->listen_address);

  G_OBJECT_CLASS (swarm_broker_parent_class)->finalize (object);
}

static void
swarm_broker_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  SwarmBroker *self = SWARM_BROKER (object);

  switch (prop_id)
    {
    case PROP_OPEN_TIMEOUT:
      g_value_set_uint (value, self->open_timeout_ms);
      break;
    case PROP_SESSIONS:
      g_value_set_object (value, self->sessions);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_broker_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  SwarmBroker *self = SWARM_BROKER (object);

  switch (prop_id)
    {
    case PROP_OPEN_TIMEOUT:
      swarm_broker_set_open_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_broker_class_init (SwarmBrokerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = swarm_broker_dispose;
  object_class->finalize = swarm_broker_finalize;
  object_class->get_property = swarm_broker_get_property;
  object_class->set_property = swarm_broker_set_property;

  /**
   * SwarmBroker:open-timeout:
   *
   * Milliseconds a worker waits for the provider to open its tunnel before
   * it gets 504.
   */
  properties[PROP_OPEN_TIMEOUT] =
    g_param_spec_uint ("open-timeout", NULL, NULL, 1, G_MAXUINT,
                       SWARM_BROKER_DEFAULT_OPEN_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * SwarmBroker:sessions:
   *
   * Registered sessions, a #GListModel of #SwarmBrokerSession.
   */
  properties[PROP_SESSIONS] =
    g_param_spec_object ("sessions", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
swarm_broker_init (SwarmBroker *self)
{
  self->open_timeout_ms = SWARM_BROKER_DEFAULT_OPEN_TIMEOUT_MS;
  self->sessions = g_list_store_new (SWARM_TYPE_BROKER_SESSION);
  self->sessions_by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->pending = g_hash_table_new (g_str_hash, g_str_equal);
  self->connections = g_hash_table_new_full (NULL, NULL,
                                             (GDestroyNotify) swarm_connection_unref, NULL);
  self->workers = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) worker_teardown, NULL);
  self->unidentified = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

SwarmBroker *
swarm_broker_new (void)
{
  return g_object_new (SWARM_TYPE_BROKER, NULL);
}

void
swarm_broker_set_open_timeout (SwarmBroker *self,
                               guint        timeout_ms)
{
  g_return_if_fail (SWARM_IS_BROKER (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->open_timeout_ms == timeout_ms)
    return;

  self->open_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPEN_TIMEOUT]);
}

guint
swarm_broker_get_open_timeout (SwarmBroker *self)
{
  g_return_val_if_fail (SWARM_IS_BROKER (self), 0);

  return self->open_timeout_ms;
}

GListModel *
swarm_broker_get_sessions (SwarmBroker *self)
{
  g_return_val_if_fail (SWARM_IS_BROKER (self), NULL);

  return G_LIST_MODEL (self->sessions);
}

static GInetAddress *
resolve_listen_host (const char  *host,
                     GError     **error)
{
  GInetAddress *address = g_inet_address_new_from_string (host);
  g_autolist(GInetAddress) addresses = NULL;

  if (address != NULL)
    return address;

  addresses = g_resolver_lookup_by_name (g_resolver_get_default (), host, NULL, error);
  if (addresses == NULL)
    return NULL;

  return g_object_ref (addresses->data);
}

gboolean
swarm_broker_listen (SwarmBroker  *self,
                     const char   *address,
                     GError      **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GInetAddress) inet_address = NULL;
  g_autoptr(GSocketAddress) socket_address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *host;
  guint16 port;

  g_return_val_if_fail (SWARM_IS_BROKER (self), FALSE);
  g_return_val_if_fail (self->listener == NULL, FALSE);

  connectable = g_network_address_parse (address, 0, &local_error);
  if (connectable == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid listen address “%s”: %s; expected HOST:PORT such as "
                   "127.0.0.1:8787 or [::1]:8787", address, local_error->message);
      return FALSE;
    }

  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));

  inet_address = resolve_listen_host (host, &local_error);
  if (inet_address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Cannot resolve listen host “%s”: %s", host, local_error->message);
      return FALSE;
    }

  swarm_raise_fd_limit ();

  socket_address = g_inet_socket_address_new (inet_address, port);
  self->listener = g_socket_listener_new ();
  g_socket_listener_set_backlog (self->listener, LISTEN_BACKLOG);

  if (!g_socket_listener_add_address (self->listener, socket_address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, &local_error))
    {
      g_clear_object (&self->listener);
      g_set_error (error, local_error->domain, local_error->code,
                   "Cannot listen on %s: %s", address, local_error->message);
      return FALSE;
    }

  g_free (self->listen_address);
  self->listen_address = swarm_socket_address_to_string (effective);

  self->poller = swarm_poller_new ();
  self->accept_cancellable = g_cancellable_new ();
  broker_accept_next (self);

  g_message ("Broker listening on %s", self->listen_address);

  return TRUE;
}

char *
swarm_broker_dup_listen_address (SwarmBroker *self)
{
  g_return_val_if_fail (SWARM_IS_BROKER (self), NULL);

  return g_strdup (self->listen_address);
}

void
swarm_broker_stop (SwarmBroker *self)
{
  g_autoptr(GPtrArray) connections = NULL;
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (SWARM_IS_BROKER (self));

  if (self->listener != NULL)
    {
      g_cancellable_cancel (self->accept_cancellable);
      g_clear_object (&self->accept_cancellable);
      swarm_clear_source (&self->accept_retry_source);
      g_socket_listener_close (self->listener);
      g_clear_object (&self->listener);
      g_message ("Broker stopped");
    }

  /* Workers first: they own pending OPENs and tunnels. */
  g_hash_table_remove_all (self->workers);

  connections = g_ptr_array_new_with_free_func ((GDestroyNotify) swarm_connection_unref);
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (connections, swarm_connection_ref (key));
  for (guint i = 0; i < connections->len; i++)
    swarm_connection_close (g_ptr_array_index (connections, i));

  g_hash_table_remove_all (self->sessions_by_id);
  g_list_store_remove_all (self->sessions);

  /* Last, after every relay that used it is gone. */
  g_clear_pointer (&self->poller, swarm_poller_unref);
}
