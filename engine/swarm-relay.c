/* swarm-relay.c: moving tunnel bytes between two sockets */

/* splice(2), pipe2(2) and SPLICE_F_* are GNU extensions. */
#define _GNU_SOURCE

#include "config.h"

#include "swarm-relay.h"

#include <errno.h>
#include <string.h>

#ifdef G_OS_UNIX
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

/* Older macOS SDKs lack the flag.  Passing 0 is safe because
 * ignore_sigpipe_once() ignores SIGPIPE for the whole process before any
 * send(). */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#endif

#include "swarm-http.h"
#include "swarm-tunnel-private.h"

#if defined(__linux__) && defined(SPLICE_F_MOVE)
#define HAVE_SPLICE 1
#endif

/* Largest read into user space, in bytes, and the pipe capacity assumed
 * when the kernel refuses BULK_PIPE_SIZE: 64 KiB is Linux's default. */
#define COPY_CHUNK (64 * 1024)

/* Pipe capacity in bytes asked for once a copy has become a bulk transfer,
 * and so the largest splice: fewer, larger splices cost fewer system calls
 * and wakeups.  Unprivileged processes get it only within the kernel's
 * per-user pipe budget (fs.pipe-user-pages-soft); past that the pipe
 * keeps its default 64 KiB, which is merely slower. */
#define BULK_PIPE_SIZE (256 * 1024)

/* Rounds of read and write before the copy yields to the main loop, so one
 * busy tunnel cannot starve the others. */
#define MAX_ROUNDS_PER_DISPATCH 8

struct _SwarmCopy {
  SwarmPoller *poller;
  SwarmConnection *source_connection;
  SwarmConnection *sink_connection;
  GSocket *source;
  GSocket *sink;
  int source_fd;
  int sink_fd;

  GByteArray *buffered;   /* the source's read-ahead, shared with its connection */
  GByteArray *out;        /* bytes waiting to be written from user space */
  gsize out_offset;

  goffset remaining;      /* body bytes still to read, or -1 until end of stream */
  SwarmChunkedScanner *scanner;
  gboolean chunked_finished;
  gboolean eof;
  gboolean started;

  gboolean can_splice;     /* splice(2) works here and no scanner needs the bytes */
  gboolean use_splice;     /* the copy moved on to splice(2) */
  int pipe_fds[2];
  gsize pipe_size;
  gsize in_pipe;

  SwarmCopyProgressFunc progress;
  SwarmCopyDoneFunc done;
  gpointer user_data;
};

static void
ignore_sigpipe_once (void)
{
#ifdef G_OS_UNIX
  static gsize initialized = 0;

  /* splice(2) to a socket whose peer is gone raises SIGPIPE, and unlike
   * send(2) it has no MSG_NOSIGNAL flag. */
  if (g_once_init_enter (&initialized))
    {
      signal (SIGPIPE, SIG_IGN);
      g_once_init_leave (&initialized, 1);
    }
#endif
}

SwarmCopy *
swarm_copy_new (SwarmPoller     *poller,
                SwarmConnection *source,
                SwarmConnection *sink)
{
  SwarmCopy *self = g_new0 (SwarmCopy, 1);

  ignore_sigpipe_once ();

  self->poller = swarm_poller_ref (poller);
  self->source_connection = swarm_connection_ref (source);
  self->sink_connection = swarm_connection_ref (sink);
  self->source = g_object_ref (source->socket);
  self->sink = g_object_ref (sink->socket);
  self->source_fd = g_socket_get_fd (self->source);
  self->sink_fd = g_socket_get_fd (self->sink);
  self->buffered = g_byte_array_ref (source->input);
  self->out = g_byte_array_new ();
  self->remaining = -1;
  self->pipe_fds[0] = self->pipe_fds[1] = -1;
#ifdef HAVE_SPLICE
  self->can_splice = TRUE;
#endif

  return self;
}

void
swarm_copy_set_header (SwarmCopy *self,
                       GBytes    *header)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (header, &size);

  g_return_if_fail (!self->started);

  g_byte_array_append (self->out, data, size);
}

void
swarm_copy_set_length (SwarmCopy *self,
                       goffset    length)
{
  g_return_if_fail (!self->started);

  self->remaining = length;
}

void
swarm_copy_set_chunked (SwarmCopy *self)
{
  g_return_if_fail (!self->started);

  self->scanner = swarm_chunked_scanner_new ();
  /* The scanner has to see every byte. */
  self->can_splice = FALSE;
}

gboolean
swarm_copy_reached_eof (SwarmCopy *self)
{
  return self->eof;
}

static void
close_pipe (SwarmCopy *self)
{
#ifdef G_OS_UNIX
  if (self->pipe_fds[0] >= 0)
    close (self->pipe_fds[0]);
  if (self->pipe_fds[1] >= 0)
    close (self->pipe_fds[1]);
#endif
  self->pipe_fds[0] = self->pipe_fds[1] = -1;
  self->in_pipe = 0;
}

static void
cancel_waits (SwarmCopy *self)
{
  if (self->source_connection->watch != NULL)
    swarm_watch_cancel (self->source_connection->watch, self);
  if (self->sink_connection->watch != NULL)
    swarm_watch_cancel (self->sink_connection->watch, self);
}

void
swarm_copy_free (SwarmCopy *self)
{
  if (self == NULL)
    return;

  cancel_waits (self);
  close_pipe (self);
  g_clear_pointer (&self->scanner, swarm_chunked_scanner_free);
  g_byte_array_unref (self->buffered);
  g_byte_array_unref (self->out);
  g_clear_object (&self->source);
  g_clear_object (&self->sink);
  swarm_connection_unref (self->source_connection);
  swarm_connection_unref (self->sink_connection);
  swarm_poller_unref (self->poller);
  g_free (self);
}

static gboolean body_complete (SwarmCopy *self);
static void pump (SwarmCopy *self);

static void
ready_cb (gpointer user_data)
{
  pump (user_data);
}

static void finish_closed (SwarmCopy *self);

/* Waits until `connection` is ready for `condition`.  Only valid right
 * after an operation on it returned EAGAIN. */
static void
wait_for (SwarmCopy       *self,
          SwarmConnection *connection,
          GIOCondition     condition)
{
  SwarmWatch *watch = swarm_connection_get_watch (connection, self->poller);

  if (watch == NULL)
    {
      finish_closed (self);
      return;
    }

  swarm_watch_wait (watch, condition, ready_cb, self);
}

/* Calls back last: the callback may free the copy. */
static void
finish (SwarmCopy    *self,
        const GError *error)
{
  close_pipe (self);
  self->done (self, error, self->user_data);
}

static void
finish_closed (SwarmCopy *self)
{
  g_autoptr(GError) error = NULL;

  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "The connection was closed");
  finish (self, error);
}

static void
finish_errno (SwarmCopy  *self,
              int         errsv,
              const char *what)
{
  g_autoptr(GError) error = NULL;

  error = g_error_new (G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Failed to %s: %s", what, g_strerror (errsv));
  finish (self, error);
}

static gboolean
body_complete (SwarmCopy *self)
{
  if (self->scanner != NULL)
    return self->chunked_finished;

  return self->remaining == 0;
}

/* Moves the body's share of `data` to the output buffer and returns how
 * many bytes that was; the rest does not belong to this body. */
static gssize
take_body_bytes (SwarmCopy   *self,
                 const guint8 *data,
                 gsize         length,
                 GError      **error)
{
  gsize take = length;

  if (self->scanner != NULL)
    {
      gssize scanned;

      if (self->chunked_finished)
        return 0;

      scanned = swarm_chunked_scanner_feed (self->scanner, (const char *) data, length,
                                            &self->chunked_finished, error);
      if (scanned < 0)
        return -1;
      take = scanned;
    }
  else if (self->remaining >= 0)
    {
      take = MIN ((goffset) length, self->remaining);
      self->remaining -= take;
    }

  g_byte_array_append (self->out, data, take);

  return take;
}

/* Writes from the output buffer.  Returns FALSE when the copy must wait or
 * has finished. */
static gboolean
flush_out (SwarmCopy *self)
{
  while (self->out_offset < self->out->len)
    {
      gssize n_sent;

#ifdef G_OS_UNIX
      n_sent = send (self->sink_fd, self->out->data + self->out_offset,
                     self->out->len - self->out_offset, MSG_NOSIGNAL);
      if (n_sent < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN || errsv == EWOULDBLOCK)
            {
              wait_for (self, self->sink_connection, G_IO_OUT);
              return FALSE;
            }
          finish_errno (self, errsv, "send tunnel bytes");
          return FALSE;
        }
#else
      g_autoptr(GError) error = NULL;

      n_sent = g_socket_send_with_blocking (self->sink,
                                            (const char *) self->out->data + self->out_offset,
                                            self->out->len - self->out_offset, FALSE,
                                            NULL, &error);
      if (n_sent < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              wait_for (self, self->sink_connection, G_IO_OUT);
              return FALSE;
            }
          finish (self, error);
          return FALSE;
        }
#endif

      self->out_offset += n_sent;
      self->progress (n_sent, self->user_data);
    }

  g_byte_array_set_size (self->out, 0);
  self->out_offset = 0;

  return TRUE;
}

#ifdef HAVE_SPLICE
static gboolean
flush_pipe (SwarmCopy *self)
{
  while (self->in_pipe > 0)
    {
      gssize n_moved = splice (self->pipe_fds[0], NULL, self->sink_fd, NULL,
                               self->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

      if (n_moved < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN)
            {
              wait_for (self, self->sink_connection, G_IO_OUT);
              return FALSE;
            }
          finish_errno (self, errsv, "send tunnel bytes");
          return FALSE;
        }

      self->in_pipe -= n_moved;
      self->progress (n_moved, self->user_data);
    }

  return TRUE;
}

/* Returns 1 when bytes moved into the pipe, 0 when the copy must wait or
 * has finished, and -1 when splice cannot be used on these sockets. */
static int
fill_pipe (SwarmCopy *self)
{
  gsize want;
  gssize n_moved;

  if (self->pipe_fds[0] < 0)
    {
      int size;

      if (pipe2 (self->pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
        {
          self->pipe_fds[0] = self->pipe_fds[1] = -1;
          return -1;
        }

      size = fcntl (self->pipe_fds[1], F_SETPIPE_SZ, BULK_PIPE_SIZE);
      self->pipe_size = size > 0 ? (gsize) size : COPY_CHUNK;
    }

  /* pump() fills the pipe only after draining it, and a splice of at most
   * the capacity into an empty pipe cannot stop halfway for want of room. */
  g_assert (self->in_pipe == 0);
  want = self->pipe_size;

  if (self->remaining >= 0)
    want = MIN ((goffset) want, self->remaining);

  do
    n_moved = splice (self->source_fd, NULL, self->pipe_fds[1], NULL, want,
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  while (n_moved < 0 && errno == EINTR);

  if (n_moved < 0)
    {
      int errsv = errno;

      if (errsv == EAGAIN)
        {
          /* An idle tunnel keeps no pipe, which saves two descriptors and
           * the pipe's kernel memory per tunnel. */
          close_pipe (self);
          wait_for (self, self->source_connection, G_IO_IN);
          return 0;
        }
      if (errsv == EINVAL || errsv == ENOSYS)
        {
          close_pipe (self);
          return -1;
        }
      finish_errno (self, errsv, "receive tunnel bytes");
      return 0;
    }

  if (n_moved == 0)
    {
      self->eof = TRUE;
      return 1;
    }

  self->in_pipe += n_moved;
  if (self->remaining >= 0)
    self->remaining -= n_moved;

  return 1;
}
#endif

/* Reads one chunk into user space.  Returns FALSE when the copy must wait
 * or has finished. */
static gboolean
read_into_buffer (SwarmCopy *self)
{
  guint8 chunk[COPY_CHUNK];
  gsize want = sizeof chunk;
  gssize n_read;
  gssize taken;
  g_autoptr(GError) error = NULL;

  if (self->remaining >= 0)
    want = MIN ((goffset) want, self->remaining);

  /* GSocket emulates blocking calls by default; this one must not wait. */
  n_read = g_socket_receive_with_blocking (self->source, (char *) chunk, want, FALSE,
                                           NULL, &error);
  if (n_read < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          wait_for (self, self->source_connection, G_IO_IN);
          return FALSE;
        }
      finish (self, error);
      return FALSE;
    }

  if (n_read == 0)
    {
      self->eof = TRUE;
      return TRUE;
    }

  /* A full buffer means a bulk transfer: from now on the bytes go through
   * a pipe.  Small exchanges stay here, which saves creating the pipe. */
  if (self->can_splice && n_read == (gssize) sizeof chunk)
    self->use_splice = TRUE;

  taken = take_body_bytes (self, chunk, n_read, &error);
  if (taken < 0)
    {
      finish (self, error);
      return FALSE;
    }

  /* Bytes past the end of a chunked body belong to whatever follows. */
  if (taken < n_read)
    g_byte_array_append (self->buffered, chunk + taken, n_read - taken);

  return TRUE;
}

static void
pump (SwarmCopy *self)
{
  for (guint round = 0; round < MAX_ROUNDS_PER_DISPATCH; round++)
    {
      if (!flush_out (self))
        return;

#ifdef HAVE_SPLICE
      if (!flush_pipe (self))
        return;
#endif

      if (body_complete (self))
        {
          finish (self, NULL);
          return;
        }

      if (self->eof)
        {
          g_autoptr(GError) error = NULL;

          if (self->remaining < 0 && self->scanner == NULL)
            {
              finish (self, NULL);
              return;
            }

          error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                       "The connection closed before the end of the body");
          finish (self, error);
          return;
        }

#ifdef HAVE_SPLICE
      if (self->use_splice)
        {
          int filled = fill_pipe (self);

          if (filled == 0)
            return;
          if (filled > 0)
            continue;
          self->can_splice = FALSE;
          self->use_splice = FALSE;
        }
#endif

      if (!read_into_buffer (self))
        return;
    }

  /* Still busy: let other sources run, then carry on.  A wait would not
   * do, since an edge-triggered watch reports no readiness that is
   * already there. */
  {
    SwarmWatch *watch = swarm_connection_get_watch (self->source_connection, self->poller);

    if (watch == NULL)
      finish_closed (self);
    else
      swarm_watch_defer (watch, ready_cb, self);
  }
}

void
swarm_copy_start (SwarmCopy             *self,
                  SwarmCopyProgressFunc  progress,
                  SwarmCopyDoneFunc      done,
                  gpointer               user_data)
{
  g_autoptr(GError) error = NULL;
  gssize taken;

  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->progress = progress;
  self->done = done;
  self->user_data = user_data;

  /* The body may have begun in the bytes read along with the head. */
  if (self->buffered->len > 0)
    {
      taken = take_body_bytes (self, self->buffered->data, self->buffered->len, &error);
      if (taken < 0)
        {
          finish (self, error);
          return;
        }
      g_byte_array_remove_range (self->buffered, 0, taken);
    }

  pump (self);
}

/* The bidirectional relay */

struct _SwarmRelay {
  SwarmConnection *near;
  SwarmConnection *far;
  SwarmTunnel *tunnel;
  SwarmCopy *up;     /* near → far */
  SwarmCopy *down;   /* far → near */
  gboolean up_done;
  gboolean down_done;
  gboolean starting;
  gboolean finished;
  GError *error;
  SwarmRelayDoneFunc done;
  gpointer user_data;
};

SwarmRelay *
swarm_relay_new (SwarmPoller     *poller,
                 SwarmConnection *near,
                 SwarmConnection *far,
                 SwarmTunnel     *tunnel,
                 GBytes          *header_to_near)
{
  SwarmRelay *self = g_new0 (SwarmRelay, 1);

  self->near = swarm_connection_ref (near);
  self->far = swarm_connection_ref (far);
  self->tunnel = tunnel ? g_object_ref (tunnel) : NULL;
  self->up = swarm_copy_new (poller, near, far);
  self->down = swarm_copy_new (poller, far, near);
  if (header_to_near != NULL)
    swarm_copy_set_header (self->down, header_to_near);

  return self;
}

void
swarm_relay_free (SwarmRelay *self)
{
  if (self == NULL)
    return;

  g_clear_pointer (&self->up, swarm_copy_free);
  g_clear_pointer (&self->down, swarm_copy_free);
  g_clear_error (&self->error);
  swarm_connection_close (self->near);
  swarm_connection_close (self->far);
  if (self->tunnel != NULL)
    swarm_tunnel_close (self->tunnel);
  g_clear_object (&self->tunnel);
  swarm_connection_unref (self->near);
  swarm_connection_unref (self->far);
  g_free (self);
}

static void
up_progress_cb (gsize    n_bytes,
                gpointer user_data)
{
  SwarmRelay *self = user_data;

  if (self->tunnel != NULL)
    swarm_tunnel_add_bytes_up (self->tunnel, n_bytes);
}

static void
down_progress_cb (gsize    n_bytes,
                  gpointer user_data)
{
  SwarmRelay *self = user_data;

  if (self->tunnel != NULL)
    swarm_tunnel_add_bytes_down (self->tunnel, n_bytes);
}

/* Calls back once the tunnel has ended, but not from inside
 * swarm_relay_start(), whose caller still uses the relay afterwards. */
static void
relay_maybe_finish (SwarmRelay *self)
{
  if (self->starting || self->finished)
    return;

  if (self->error == NULL && !(self->up_done && self->down_done))
    return;

  self->finished = TRUE;
  swarm_connection_close (self->near);
  swarm_connection_close (self->far);
  self->done (self, self->error, self->user_data);
}

static void
relay_copy_done_cb (SwarmCopy    *copy,
                    const GError *error,
                    gpointer      user_data)
{
  SwarmRelay *self = user_data;
  gboolean is_up = copy == self->up;
  SwarmConnection *sink = is_up ? self->far : self->near;

  if (error != NULL)
    {
      /* One direction failed (a reset, a vanished peer): the tunnel is
       * broken, so both ends are closed and their peers notice. */
      if (self->error == NULL)
        self->error = g_error_copy (error);
      relay_maybe_finish (self);
      return;
    }

  /* End of stream in this direction: pass the FIN on and keep the other
   * direction running. */
  g_socket_shutdown (sink->socket, FALSE, TRUE, NULL);

  if (is_up)
    self->up_done = TRUE;
  else
    self->down_done = TRUE;

  relay_maybe_finish (self);
}

void
swarm_relay_start (SwarmRelay         *self,
                   SwarmRelayDoneFunc  done,
                   gpointer            user_data)
{
  self->done = done;
  self->user_data = user_data;

  self->starting = TRUE;
  swarm_copy_start (self->down, down_progress_cb, relay_copy_done_cb, self);
  swarm_copy_start (self->up, up_progress_cb, relay_copy_done_cb, self);
  self->starting = FALSE;

  relay_maybe_finish (self);
}
