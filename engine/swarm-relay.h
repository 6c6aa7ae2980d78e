/* swarm-relay.h: moving tunnel bytes between two sockets
 *
 * Private to the engine.  A SwarmCopy moves one direction: an optional
 * header first, then the source's already-buffered bytes, then live bytes
 * until the end of the source, a byte count, or the end of a chunked body.
 * On Linux it splices through a pipe, so bytes do not enter user space;
 * chunked bodies and other systems go through a buffer.
 *
 * A SwarmRelay pairs two copies into a full-duplex tunnel: when one side
 * shuts down its write direction, the relay passes the end of stream on
 * with shutdown(2) and keeps relaying the other direction until it ends too.
 */
#pragma once

#include <gio/gio.h>

#include "swarm-connection.h"
#include "swarm-poller.h"
#include "swarm-tunnel.h"

G_BEGIN_DECLS

typedef struct _SwarmCopy SwarmCopy;

/* Called with the number of bytes just written to the sink. */
typedef void (*SwarmCopyProgressFunc) (gsize     n_bytes,
                                       gpointer  user_data);
/* Called once, with NULL when the body or stream ended normally.  The
 * callback may free the copy. */
typedef void (*SwarmCopyDoneFunc)     (SwarmCopy    *copy,
                                       const GError *error,
                                       gpointer      user_data);

/* Copies from `source` to `sink`, waiting for them through their watches
 * in `poller`.  The source's `input` contains bytes already read.  The copy
 * takes the body's share from its front and leaves the rest there, and
 * after a chunked body it also puts back whatever it read past the end. */
SwarmCopy *swarm_copy_new          (SwarmPoller     *poller,
                                    SwarmConnection *source,
                                    SwarmConnection *sink);
/* Bytes written before the body; they count as progress. */
void       swarm_copy_set_header   (SwarmCopy  *self,
                                    GBytes     *header);
/* Copies exactly `length` bytes; an earlier end of stream is an error.
 * The default is to copy until the end of stream. */
void       swarm_copy_set_length   (SwarmCopy  *self,
                                    goffset     length);
/* Copies one chunked body; an end of stream before its end is an error. */
void       swarm_copy_set_chunked  (SwarmCopy  *self);
void       swarm_copy_start        (SwarmCopy             *self,
                                    SwarmCopyProgressFunc  progress,
                                    SwarmCopyDoneFunc      done,
                                    gpointer               user_data);
/* Whether the copy ended because the source reached its end of stream. */
gboolean   swarm_copy_reached_eof  (SwarmCopy  *self);
/* Stops the copy, if running, without calling back. */
void       swarm_copy_free         (SwarmCopy  *self);

typedef struct _SwarmRelay SwarmRelay;

typedef void (*SwarmRelayDoneFunc) (SwarmRelay   *relay,
                                    const GError *error,
                                    gpointer      user_data);

/* Relays between `near` (the worker's side) and `far` (the target's side).
 * Bytes near → far count as the tunnel's bytes up, far → near as bytes
 * down.  `header_to_near` is written to `near` first (e.g. a CONNECT
 * response).  Both connections are closed when the relay ends. */
SwarmRelay *swarm_relay_new   (SwarmPoller        *poller,
                               SwarmConnection    *near,
                               SwarmConnection    *far,
                               SwarmTunnel        *tunnel,
                               GBytes             *header_to_near);
void        swarm_relay_start (SwarmRelay         *self,
                               SwarmRelayDoneFunc  done,
                               gpointer            user_data);
/* Closes both connections and frees the relay without calling back.  The
 * done callback is expected to call this. */
void        swarm_relay_free  (SwarmRelay         *self);

G_END_DECLS
