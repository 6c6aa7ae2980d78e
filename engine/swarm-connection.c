/* swarm-connection.c: a socket connection with an input buffer and a write queue */

#define G_LOG_DOMAIN "swarm-connection"

#include "config.h"

#include "swarm-connection.h"

#include <string.h>

#ifdef G_OS_UNIX
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#else
/* On Windows this pulls in winsock2.h and ws2tcpip.h, which define
 * IPPROTO_TCP and TCP_NODELAY for swarm_socket_tune(). */
#include <gio/gnetworking.h>
#endif

/* Bytes requested from the kernel per read while looking for a head or a
 * line.  Heads are small; bulk data never passes through here. */
#define READ_CHUNK 4096

/* TCP keepalive for control connections: first probe after this many
 * seconds of silence, then one every KEEPALIVE_INTERVAL_S, and the peer is
 * declared gone after KEEPALIVE_COUNT unanswered probes. */
#define KEEPALIVE_IDLE_S 30
#define KEEPALIVE_INTERVAL_S 10
#define KEEPALIVE_COUNT 3

/* After a response that ends the connection, the peer may still be sending
 * its request body.  Closing with unread input makes the kernel send a
 * reset, which can destroy the response before the peer reads it.  So the
 * connection first shuts down its write side and discards input, for up to
 * LINGER_TIMEOUT_MS or LINGER_MAX_BYTES, whichever comes first. */
#define LINGER_TIMEOUT_MS 2000
#define LINGER_MAX_BYTES (1024 * 1024)

SwarmConnection *
swarm_connection_new (GSocketConnection *connection)
{
  SwarmConnection *self = g_new0 (SwarmConnection, 1);
  g_autoptr(GSocketAddress) remote = NULL;

  g_atomic_ref_count_init (&self->ref_count);
  self->connection = g_object_ref (connection);
  self->socket = g_object_ref (g_socket_connection_get_socket (connection));
  self->input = g_byte_array_new ();
  self->cancellable = g_cancellable_new ();
  g_queue_init (&self->write_queue);

  remote = g_socket_connection_get_remote_address (connection, NULL);
  self->peer = remote ? swarm_socket_address_to_string (remote) : g_strdup ("unknown");

  return self;
}

SwarmConnection *
swarm_connection_ref (SwarmConnection *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
swarm_connection_unref (SwarmConnection *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  swarm_connection_close (self);
  g_queue_clear_full (&self->write_queue, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&self->close_error);
  g_clear_object (&self->read_cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->socket);
  g_clear_object (&self->connection);
  g_byte_array_unref (self->input);
  g_free (self->peer);
  g_free (self);
}

gboolean
swarm_connection_is_closed (SwarmConnection *self)
{
  return self->closed;
}

void
swarm_connection_close (SwarmConnection *self)
{
  if (self->closed)
    return;

  self->closed = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->read_cancellable != NULL)
    g_cancellable_cancel (self->read_cancellable);

  /* A write in flight still points into the queue's head, so that one
   * stays until its callback runs. */
  while (g_queue_get_length (&self->write_queue) > (self->writing ? 1u : 0u))
    g_bytes_unref (g_queue_pop_tail (&self->write_queue));
  /* The watch goes before the descriptor, which the kernel may reuse. */
  g_clear_pointer (&self->watch, swarm_watch_free);

  /* Closing the GSocket directly, not the GIOStream, because a stream close
   * with a read still pending would fail with G_IO_ERROR_PENDING. */
  g_socket_close (self->socket, NULL);
}

SwarmWatch *
swarm_connection_get_watch (SwarmConnection *self,
                            SwarmPoller     *poller)
{
  if (self->closed)
    return NULL;

  if (self->watch == NULL)
    self->watch = swarm_watch_new (poller, self->socket);

  return self->watch;
}

void
swarm_connection_consume (SwarmConnection *self,
                          gsize            length)
{
  g_return_if_fail (length <= self->input->len);

  g_byte_array_remove_range (self->input, 0, length);
}

/* Reading units */

typedef struct {
  SwarmConnection *connection;
  SwarmFrameFunc frame;
  gsize max_length;
  gsize read_offset;   /* where the pending read writes into input */
  GSource *timeout_source;
  gboolean timed_out;
} ReadUnitData;

static void
read_unit_stop_timer (ReadUnitData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_clear_pointer (&data->timeout_source, g_source_unref);
    }
}

static void
read_unit_data_free (ReadUnitData *data)
{
  read_unit_stop_timer (data);
  swarm_connection_unref (data->connection);
  g_free (data);
}

static void read_unit_step (GTask *task);

static gboolean
read_unit_timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  ReadUnitData *data = g_task_get_task_data (task);
  SwarmConnection *self = data->connection;

  data->timed_out = TRUE;
  g_clear_pointer (&data->timeout_source, g_source_unref);
  /* The pending read fails with a cancellation and reports the timeout. */
  if (self->read_cancellable != NULL)
    g_cancellable_cancel (self->read_cancellable);

  return G_SOURCE_REMOVE;
}

static void
read_unit_read_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ReadUnitData *data = g_task_get_task_data (task);
  SwarmConnection *self = data->connection;
  g_autoptr(GError) error = NULL;
  gssize n_read;

  n_read = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  self->reading = FALSE;
  g_clear_object (&self->read_cancellable);

  if (n_read < 0)
    {
      read_unit_stop_timer (data);
      g_byte_array_set_size (self->input, data->read_offset);
      if (data->timed_out && !self->closed)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 "Timed out waiting for a complete message");
      else if (self->close_error != NULL)
        g_task_return_error (task, g_error_copy (self->close_error));
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_byte_array_set_size (self->input, data->read_offset + n_read);

  if (n_read == 0)
    {
      read_unit_stop_timer (data);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               "Connection closed by the peer");
      return;
    }

  read_unit_step (g_steal_pointer (&task));
}

/* Takes ownership of `task`. */
static void
read_unit_step (GTask *task)
{
  ReadUnitData *data = g_task_get_task_data (task);
  SwarmConnection *self = data->connection;
  GInputStream *input_stream;
  gsize unit_length;
  gsize room;

  /* An empty GByteArray has no data pointer at all. */
  unit_length = self->input->len > 0
    ? data->frame ((const char *) self->input->data, self->input->len)
    : 0;
  if (unit_length > 0 || self->input->len >= data->max_length || self->closed)
    read_unit_stop_timer (data);

  if (unit_length > 0)
    {
      g_task_return_int (task, unit_length);
      g_object_unref (task);
      return;
    }

  if (self->input->len >= data->max_length)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                               "No complete message within %" G_GSIZE_FORMAT " bytes",
                               data->max_length);
      g_object_unref (task);
      return;
    }

  if (self->closed)
    {
      if (self->close_error != NULL)
        g_task_return_error (task, g_error_copy (self->close_error));
      else
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 "Connection closed");
      g_object_unref (task);
      return;
    }

  /* Never read more than the limit allows, so a peer cannot make the buffer
   * grow past it. */
  room = MIN (READ_CHUNK, data->max_length - self->input->len);
  data->read_offset = self->input->len;
  g_byte_array_set_size (self->input, data->read_offset + room);

  self->reading = TRUE;
  g_clear_object (&self->read_cancellable);
  self->read_cancellable = g_cancellable_new ();
  input_stream = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));
  g_input_stream_read_async (input_stream,
                             self->input->data + data->read_offset, room,
                             G_PRIORITY_DEFAULT, self->read_cancellable,
                             read_unit_read_cb, task);
}

void
swarm_connection_read_unit_async (SwarmConnection     *self,
                                  SwarmFrameFunc       frame,
                                  gsize                max_length,
                                  guint                timeout_ms,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task;
  ReadUnitData *data;

  g_return_if_fail (!self->reading);

  /* The task data holds a reference on the connection, so the buffer the
   * pending read writes into stays valid even if the owner lets go. */
  task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, swarm_connection_read_unit_async);
  g_task_set_check_cancellable (task, FALSE);

  data = g_new0 (ReadUnitData, 1);
  data->connection = swarm_connection_ref (self);
  data->frame = frame;
  data->max_length = max_length;
  g_task_set_task_data (task, data, (GDestroyNotify) read_unit_data_free);

  if (timeout_ms > 0)
    {
      data->timeout_source = swarm_timeout_source_add (timeout_ms, read_unit_timeout_cb, task);
    }

  read_unit_step (task);
}

gsize
swarm_connection_read_unit_finish (SwarmConnection  *self,
                                   GAsyncResult     *result,
                                   GError          **error)
{
  gssize length = g_task_propagate_int (G_TASK (result), error);

  return length < 0 ? 0 : (gsize) length;
}

/* Writing */

static void write_next (SwarmConnection *self);

typedef struct {
  SwarmConnection *connection;
  GSource *watch;
  GSource *timeout;
  gsize discarded;
} Linger;

static void
linger_finish (Linger *linger)
{
  swarm_clear_source (&linger->watch);
  swarm_clear_source (&linger->timeout);
  swarm_connection_close (linger->connection);
  swarm_connection_unref (linger->connection);
  g_free (linger);
}

static gboolean
linger_timeout_cb (gpointer user_data)
{
  linger_finish (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
linger_readable_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  Linger *linger = user_data;
  char buffer[16384];

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n_read = g_socket_receive_with_blocking (socket, buffer, sizeof buffer, FALSE,
                                                      NULL, &error);

      if (n_read < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;

      if (n_read <= 0)
        break;

      linger->discarded += n_read;
      if (linger->discarded >= LINGER_MAX_BYTES)
        break;
    }

  /* End of stream, an error or enough discarded: close.  The watch is the
   * source being dispatched, so it is released here and removed by the
   * return value. */
  g_clear_pointer (&linger->watch, g_source_unref);
  linger_finish (linger);

  return G_SOURCE_REMOVE;
}

/* Ends the connection after its last write without a reset: see
 * LINGER_TIMEOUT_MS. */
static void
linger_and_close (SwarmConnection *self)
{
  Linger *linger;

  if (self->reading || !g_socket_shutdown (self->socket, FALSE, TRUE, NULL))
    {
      /* Someone else reads this connection, or it is gone already. */
      swarm_connection_close (self);
      return;
    }

  linger = g_new0 (Linger, 1);
  linger->connection = swarm_connection_ref (self);
  linger->watch = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (linger->watch, G_SOURCE_FUNC (linger_readable_cb), linger, NULL);
  g_source_attach (linger->watch, g_main_context_get_thread_default ());
  linger->timeout = swarm_timeout_source_add (LINGER_TIMEOUT_MS, linger_timeout_cb, linger);
}

static void
write_all_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  SwarmConnection *self = user_data;
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_debug ("Failed to write to %s: %s", self->peer, error->message);
          /* Readers of this connection learn the real reason, not a
           * cancellation that would look deliberate. */
          if (self->close_error == NULL && !self->closed)
            self->close_error = g_error_copy (error);
        }
      g_bytes_unref (g_queue_pop_head (&self->write_queue));
      swarm_connection_close (self);
    }
  else
    {
      g_bytes_unref (g_queue_pop_head (&self->write_queue));
      write_next (self);
    }

  swarm_connection_unref (self);
}

static void
write_next (SwarmConnection *self)
{
  GBytes *bytes;
  GOutputStream *output_stream;
  gsize size;
  gconstpointer data;

  if (self->writing || self->closed)
    return;

  bytes = g_queue_peek_head (&self->write_queue);
  if (bytes == NULL)
    {
      if (self->close_after_flush)
        linger_and_close (self);
      return;
    }

  self->writing = TRUE;
  data = g_bytes_get_data (bytes, &size);
  output_stream = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  g_output_stream_write_all_async (output_stream, data, size, G_PRIORITY_DEFAULT,
                                   self->cancellable, write_all_cb,
                                   swarm_connection_ref (self));
}

void
swarm_connection_send (SwarmConnection *self,
                       GBytes          *bytes)
{
  if (self->closed)
    return;

  g_queue_push_tail (&self->write_queue, g_bytes_ref (bytes));
  write_next (self);
}

void
swarm_connection_send_text (SwarmConnection *self,
                            const char      *text)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));

  swarm_connection_send (self, bytes);
}

void
swarm_connection_close_after_flush (SwarmConnection *self)
{
  self->close_after_flush = TRUE;
  write_next (self);
}

/* Frames and sockets */

gsize
swarm_frame_line (const char *buffer,
                  gsize       length)
{
  const char *newline = memchr (buffer, '\n', length);

  return newline ? (gsize) (newline - buffer) + 1 : 0;
}

void
swarm_socket_tune (GSocket  *socket,
                   gboolean  keepalive)
{
  g_autoptr(GError) error = NULL;

  if (g_socket_get_family (socket) != G_SOCKET_FAMILY_IPV4 &&
      g_socket_get_family (socket) != G_SOCKET_FAMILY_IPV6)
    return;

  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
    g_debug ("Failed to set TCP_NODELAY: %s", error->message);

  if (!keepalive)
    return;

  g_socket_set_keepalive (socket, TRUE);
#if defined(TCP_KEEPIDLE)
  g_socket_set_option (socket, IPPROTO_TCP, TCP_KEEPIDLE, KEEPALIVE_IDLE_S, NULL);
#elif defined(TCP_KEEPALIVE)
  /* macOS names the idle time TCP_KEEPALIVE. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_KEEPALIVE, KEEPALIVE_IDLE_S, NULL);
#endif
#if defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
  g_socket_set_option (socket, IPPROTO_TCP, TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S, NULL);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_KEEPCNT, KEEPALIVE_COUNT, NULL);
#endif
}

char *
swarm_socket_address_to_string (GSocketAddress *address)
{
  GInetAddress *inet;
  g_autofree char *host = NULL;
  guint16 port;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("local");

  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
  host = g_inet_address_to_string (inet);

  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", host, port);

  return g_strdup_printf ("%s:%u", host, port);
}

void
swarm_raise_fd_limit (void)
{
#ifdef G_OS_UNIX
  static gsize raised = 0;
  struct rlimit limit;

  if (!g_once_init_enter (&raised))
    return;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      rlim_t previous = limit.rlim_cur;

      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
        g_debug ("Raised the open file limit from %lu to %lu",
                 (unsigned long) previous, (unsigned long) limit.rlim_cur);
    }

  g_once_init_leave (&raised, 1);
#endif
}

GSource *
swarm_timeout_source_add (guint       interval_ms,
                          GSourceFunc callback,
                          gpointer    user_data)
{
  GSource *source = g_timeout_source_new (interval_ms);

  g_source_set_callback (source, callback, user_data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());

  return source;
}

void
swarm_clear_source (GSource **source)
{
  if (*source == NULL)
    return;

  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}
