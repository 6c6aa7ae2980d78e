/* swarm-connection.h: a socket connection with an input buffer and a write queue
 *
 * Private to the engine.  Heads and control lines are read into `input`
 * until a framing function finds a complete unit.  Whatever arrives after
 * it stays in `input`, because it belongs to the stream: a request body,
 * the next request, or early tunnel bytes.  Writes of lines and error responses are
 * queued, so several callers may send without waiting for each other.
 */
#pragma once

#include <gio/gio.h>

#include "swarm-poller.h"

G_BEGIN_DECLS

typedef struct _SwarmConnection SwarmConnection;

struct _SwarmConnection {
  GSocketConnection *connection;
  GSocket           *socket;
  GByteArray        *input;   /* bytes received but not yet consumed */
  char              *peer;    /* "host:port" of the remote end, for logs */

  /*< private >*/
  gatomicrefcount    ref_count;
  GQueue             write_queue;  /* GBytes */
  gboolean           writing;
  gboolean           close_after_flush;
  gboolean           closed;
  gboolean           reading;
  GCancellable      *cancellable;  /* cancels pending reads and writes on close */
  GCancellable      *read_cancellable;  /* the pending read's; its timeout cancels only it */
  GError            *close_error;  /* why the connection closed, if not on purpose */
  SwarmWatch        *watch;        /* readiness for the relay, freed on close */
};

/* Returns the length of the complete unit (head or line) at the start of
 * `buffer`, or 0 when more bytes are needed. */
typedef gsize (*SwarmFrameFunc) (const char *buffer,
                                 gsize       length);

SwarmConnection *swarm_connection_new          (GSocketConnection *connection);
SwarmConnection *swarm_connection_ref          (SwarmConnection   *self);
void             swarm_connection_unref        (SwarmConnection   *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SwarmConnection, swarm_connection_unref)

/* Reads until `frame` finds a complete unit in `input` and returns its
 * length.  Fails with G_IO_ERROR_MESSAGE_TOO_LARGE when `max_length` bytes
 * hold no complete unit, G_IO_ERROR_TIMED_OUT after `timeout_ms` (0 for no
 * limit), G_IO_ERROR_CONNECTION_CLOSED on end of stream, the write error
 * when a write failed meanwhile, or G_IO_ERROR_CANCELLED only when
 * swarm_connection_close() was called on purpose. */
void             swarm_connection_read_unit_async  (SwarmConnection     *self,
                                                    SwarmFrameFunc       frame,
                                                    gsize                max_length,
                                                    guint                timeout_ms,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gsize            swarm_connection_read_unit_finish (SwarmConnection     *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);

/* Returns the connection's watch in `poller`, creating it on first use, or
 * NULL once the connection is closed.  Closing frees it. */
SwarmWatch      *swarm_connection_get_watch    (SwarmConnection   *self,
                                                SwarmPoller       *poller);

/* Removes `length` bytes from the front of `input`. */
void             swarm_connection_consume      (SwarmConnection   *self,
                                                gsize              length);

/* Queues `bytes` for writing.  Write errors close the connection. */
void             swarm_connection_send         (SwarmConnection   *self,
                                                GBytes            *bytes);
void             swarm_connection_send_text    (SwarmConnection   *self,
                                                const char        *text);
/* Closes the connection once the write queue is empty, first shutting down
 * its write side and discarding late input for a moment, so the peer
 * receives the last bytes and not a reset. */
void             swarm_connection_close_after_flush (SwarmConnection *self);
/* Closes the connection now; queued writes are dropped. */
void             swarm_connection_close        (SwarmConnection   *self);
gboolean         swarm_connection_is_closed    (SwarmConnection   *self);

/* Frame functions for swarm_connection_read_unit_async(). */
gsize            swarm_frame_line              (const char *buffer,
                                                gsize       length);

/* Sets the socket options every connection here wants: TCP_NODELAY, since
 * tunnels carry interactive traffic, and with `keepalive` TCP keepalive
 * probes that detect a vanished peer within about a minute. */
void             swarm_socket_tune             (GSocket    *socket,
                                                gboolean    keepalive);

char            *swarm_socket_address_to_string (GSocketAddress *address);

/* Adds a timeout to the thread-default main context, where the engine's
 * sockets are watched too, and returns it for swarm_clear_source().  The
 * source is destroyed after `callback` returns G_SOURCE_REMOVE, but the
 * caller's reference stays until it clears it. */
GSource         *swarm_timeout_source_add      (guint        interval_ms,
                                                GSourceFunc  callback,
                                                gpointer     user_data);
/* Destroys and releases `*source`, if any, and sets it to NULL. */
void             swarm_clear_source            (GSource    **source);

/* Raises the soft limit on open file descriptors to the hard limit, once
 * per process.  Each tunnel costs two sockets and, while bytes move, two
 * pipes on each side, so the usual soft limit of 1024 caps a broker at a
 * few hundred tunnels. */
void             swarm_raise_fd_limit          (void);

G_END_DECLS
