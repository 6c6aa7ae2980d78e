/* swarm-poller.h: readiness of tunnel sockets, without GLib's poll set
 *
 * Private to the engine.  GLib's main loop polls every source's descriptors
 * on every iteration, so each idle tunnel made every wakeup of the process
 * slower.  On Linux the relay's sockets live in one epoll instance per main
 * context instead, registered once and edge-triggered, and the main loop
 * watches only the epoll descriptor.  Elsewhere each wait is a GSocket
 * source, as GLib does it.
 *
 * A watch is one socket as seen by the relay.  Its owner waits for one
 * condition at a time per direction: for G_IO_IN after a read returned
 * EAGAIN, for G_IO_OUT after a write did.  Waiting is only valid right
 * after EAGAIN, because an edge-triggered watch reports changes, not
 * levels.  A callback fires once per wait.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _SwarmPoller SwarmPoller;
typedef struct _SwarmWatch SwarmWatch;

typedef void (*SwarmWatchFunc) (gpointer user_data);

/* Creates a poller on the thread-default main context.  Its owner and every
 * watch hold a reference. */
SwarmPoller *swarm_poller_new   (void);
SwarmPoller *swarm_poller_ref   (SwarmPoller    *poller);
void         swarm_poller_unref (SwarmPoller    *poller);

/* Starts watching `socket`. */
SwarmWatch *swarm_watch_new    (SwarmPoller    *poller,
                                GSocket        *socket);
/* Stops watching; pending waits are dropped without a callback.  Call it
 * before the socket is closed. */
void        swarm_watch_free   (SwarmWatch     *watch);

/* Calls `callback` once when `condition` (G_IO_IN or G_IO_OUT) is ready, or
 * the socket failed or hung up.  Replaces an earlier wait for the same
 * condition. */
void        swarm_watch_wait   (SwarmWatch     *watch,
                                GIOCondition    condition,
                                SwarmWatchFunc  callback,
                                gpointer        user_data);
/* Drops every pending wait and deferral whose user data is `user_data`,
 * for an owner that goes away while the watch stays. */
void        swarm_watch_cancel (SwarmWatch     *watch,
                                gpointer        user_data);

/* Calls `callback` once on a later main loop iteration: for an owner that
 * yields with work left, where no new edge would wake it. */
void        swarm_watch_defer  (SwarmWatch     *watch,
                                SwarmWatchFunc  callback,
                                gpointer        user_data);

G_END_DECLS
