/* swarm-poller.c: readiness of tunnel sockets, without GLib's poll set */

#define G_LOG_DOMAIN "swarm-poller"

#include "config.h"

#include "swarm-poller.h"

#ifdef __linux__
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>
#define HAVE_EPOLL 1
#endif

/* Events taken from the kernel per main loop dispatch.  More stay queued in
 * the epoll instance, which keeps its descriptor readable. */
#define MAX_EVENTS_PER_DISPATCH 256

typedef struct {
  SwarmWatchFunc callback;
  gpointer user_data;
} Waiter;

struct _SwarmPoller {
  GSource source;
  gatomicrefcount ref_count;
  GQueue deferred;        /* SwarmWatch with a deferred callback */
#ifdef HAVE_EPOLL
  int epoll_fd;
  GHashTable *watches;    /* fd → SwarmWatch, for events of sockets still watched */
#endif
};

struct _SwarmWatch {
  SwarmPoller *poller;
  GSocket *socket;
  int fd;
  Waiter in;
  Waiter out;
  Waiter deferred;
  GList deferred_link;    /* in poller->deferred while a deferred callback waits */
#ifndef HAVE_EPOLL
  GSource *in_source;
  GSource *out_source;
#endif
};

/* Calls a waiter once: it is cleared first, because the callback may wait
 * again or free the watch. */
static void
waiter_fire (Waiter *waiter)
{
  Waiter fired = *waiter;

  waiter->callback = NULL;
  waiter->user_data = NULL;
  if (fired.callback != NULL)
    fired.callback (fired.user_data);
}

/* The GSource */

static gboolean
poller_prepare (GSource *source,
                gint    *timeout)
{
  SwarmPoller *self = (SwarmPoller *) source;

  *timeout = -1;
  return self->deferred.length > 0;
}

static gboolean
poller_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  SwarmPoller *self = (SwarmPoller *) source;
  guint n_deferred = self->deferred.length;

  /* Only the deferrals queued before this dispatch run now, so an owner
   * that keeps deferring cannot hold the loop. */
  for (guint i = 0; i < n_deferred && self->deferred.length > 0; i++)
    {
      GList *link = g_queue_pop_head_link (&self->deferred);
      SwarmWatch *watch = link->data;

      waiter_fire (&watch->deferred);
    }

#ifdef HAVE_EPOLL
  {
    struct epoll_event events[MAX_EVENTS_PER_DISPATCH];
    int n_events;

    do
      n_events = epoll_wait (self->epoll_fd, events, G_N_ELEMENTS (events), 0);
    while (n_events < 0 && errno == EINTR);

    for (int i = 0; i < n_events; i++)
      {
        /* Looked up by descriptor, not by pointer: an earlier callback in
         * this batch may have freed the watch.  A descriptor reused since
         * then only causes a spurious wakeup, which owners tolerate. */
        SwarmWatch *watch = g_hash_table_lookup (self->watches, GINT_TO_POINTER (events[i].data.fd));
        guint32 ready = events[i].events;
        gboolean failed = (ready & (EPOLLERR | EPOLLHUP)) != 0;

        if (watch == NULL)
          continue;

        if ((ready & (EPOLLIN | EPOLLRDHUP)) || failed)
          waiter_fire (&watch->in);

        /* The first callback may have freed the watch. */
        watch = g_hash_table_lookup (self->watches, GINT_TO_POINTER (events[i].data.fd));
        if (watch != NULL && ((ready & EPOLLOUT) || failed))
          waiter_fire (&watch->out);
      }
  }
#endif

  return G_SOURCE_CONTINUE;
}

static void
poller_finalize (GSource *source)
{
#ifdef HAVE_EPOLL
  SwarmPoller *self = (SwarmPoller *) source;

  if (self->epoll_fd >= 0)
    close (self->epoll_fd);
  g_clear_pointer (&self->watches, g_hash_table_unref);
#endif
}

static GSourceFuncs poller_funcs = {
  .prepare = poller_prepare,
  .dispatch = poller_dispatch,
  .finalize = poller_finalize,
};

SwarmPoller *
swarm_poller_new (void)
{
  SwarmPoller *self = (SwarmPoller *) g_source_new (&poller_funcs, sizeof (SwarmPoller));

  g_atomic_ref_count_init (&self->ref_count);
  g_queue_init (&self->deferred);
  g_source_set_static_name (&self->source, "swarm-poller");

#ifdef HAVE_EPOLL
  self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epoll_fd < 0)
    g_error ("Failed to create an epoll instance: %s", g_strerror (errno));
  self->watches = g_hash_table_new (NULL, NULL);
  g_source_add_unix_fd (&self->source, self->epoll_fd, G_IO_IN);
#endif

  g_source_attach (&self->source, g_main_context_get_thread_default ());

  return self;
}

SwarmPoller *
swarm_poller_ref (SwarmPoller *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
swarm_poller_unref (SwarmPoller *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_source_destroy (&self->source);
  g_source_unref (&self->source);
}

/* Watches */

#ifndef HAVE_EPOLL
static gboolean
socket_in_ready_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  SwarmWatch *watch = user_data;

  g_clear_pointer (&watch->in_source, g_source_unref);
  waiter_fire (&watch->in);

  return G_SOURCE_REMOVE;
}

static gboolean
socket_out_ready_cb (GSocket      *socket,
                     GIOCondition  condition,
                     gpointer      user_data)
{
  SwarmWatch *watch = user_data;

  g_clear_pointer (&watch->out_source, g_source_unref);
  waiter_fire (&watch->out);

  return G_SOURCE_REMOVE;
}

static void
clear_socket_source (GSource **source)
{
  if (*source == NULL)
    return;

  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}
#endif

SwarmWatch *
swarm_watch_new (SwarmPoller *poller,
                 GSocket     *socket)
{
  SwarmWatch *watch = g_new0 (SwarmWatch, 1);

  watch->poller = swarm_poller_ref (poller);
  watch->socket = g_object_ref (socket);
  watch->fd = g_socket_get_fd (socket);
  watch->deferred_link.data = watch;

#ifdef HAVE_EPOLL
  {
    struct epoll_event event = { 0 };
    SwarmWatch *stale = g_hash_table_lookup (poller->watches, GINT_TO_POINTER (watch->fd));

    /* One socket has one watch, owned by its connection. */
    g_return_val_if_fail (stale == NULL || stale->socket != socket, watch);

    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.fd = watch->fd;
    if (epoll_ctl (poller->epoll_fd, EPOLL_CTL_ADD, watch->fd, &event) < 0)
      {
        /* The descriptor was closed and reused while a watch of the old
         * socket still existed; the kernel dropped it from the set. */
        if (errno == EEXIST)
          epoll_ctl (poller->epoll_fd, EPOLL_CTL_MOD, watch->fd, &event);
        else
          g_warning ("Failed to watch socket %d: %s", watch->fd, g_strerror (errno));
      }
    g_hash_table_insert (poller->watches, GINT_TO_POINTER (watch->fd), watch);
  }
#endif

  return watch;
}

void
swarm_watch_free (SwarmWatch *watch)
{
  SwarmPoller *poller;

  if (watch == NULL)
    return;

  poller = watch->poller;
  if (watch->deferred.callback != NULL)
    g_queue_unlink (&poller->deferred, &watch->deferred_link);

#ifdef HAVE_EPOLL
  if (g_hash_table_lookup (poller->watches, GINT_TO_POINTER (watch->fd)) == watch)
    {
      g_hash_table_remove (poller->watches, GINT_TO_POINTER (watch->fd));
      /* Fails with EBADF when the socket is closed already, which removed
       * it from the set anyway. */
      epoll_ctl (poller->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
    }
#else
  clear_socket_source (&watch->in_source);
  clear_socket_source (&watch->out_source);
#endif

  g_object_unref (watch->socket);
  swarm_poller_unref (poller);
  g_free (watch);
}

void
swarm_watch_wait (SwarmWatch     *watch,
                  GIOCondition    condition,
                  SwarmWatchFunc  callback,
                  gpointer        user_data)
{
  Waiter *waiter;

  g_return_if_fail (condition == G_IO_IN || condition == G_IO_OUT);

  waiter = condition == G_IO_IN ? &watch->in : &watch->out;
  waiter->callback = callback;
  waiter->user_data = user_data;

#ifndef HAVE_EPOLL
  {
    GSource **slot = condition == G_IO_IN ? &watch->in_source : &watch->out_source;

    clear_socket_source (slot);
    *slot = g_socket_create_source (watch->socket, condition, NULL);
    g_source_set_callback (*slot,
                           condition == G_IO_IN ? G_SOURCE_FUNC (socket_in_ready_cb)
                                                : G_SOURCE_FUNC (socket_out_ready_cb),
                           watch, NULL);
    g_source_attach (*slot, g_main_context_get_thread_default ());
  }
#endif
}

void
swarm_watch_cancel (SwarmWatch *watch,
                    gpointer    user_data)
{
  if (watch->in.callback != NULL && watch->in.user_data == user_data)
    {
      watch->in.callback = NULL;
#ifndef HAVE_EPOLL
      clear_socket_source (&watch->in_source);
#endif
    }

  if (watch->out.callback != NULL && watch->out.user_data == user_data)
    {
      watch->out.callback = NULL;
#ifndef HAVE_EPOLL
      clear_socket_source (&watch->out_source);
#endif
    }

  if (watch->deferred.callback != NULL && watch->deferred.user_data == user_data)
    {
      g_queue_unlink (&watch->poller->deferred, &watch->deferred_link);
      watch->deferred.callback = NULL;
    }
}

void
swarm_watch_defer (SwarmWatch     *watch,
                   SwarmWatchFunc  callback,
                   gpointer        user_data)
{
  if (watch->deferred.callback == NULL)
    g_queue_push_tail_link (&watch->poller->deferred, &watch->deferred_link);

  watch->deferred.callback = callback;
  watch->deferred.user_data = user_data;
}
