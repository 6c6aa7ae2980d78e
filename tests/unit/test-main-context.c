/* test-main-context.c: the engine on a thread's own main context
 *
 * An application may run the broker in a thread with a pushed
 * thread-default GMainContext.  Every timer must fire there, not on the
 * global default context, which no one iterates in that case.
 */

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "swarm-broker.h"

typedef struct {
  GMutex mutex;
  GCond cond;
  char *address;
  GMainLoop *loop;
  guint open_timeout_ms;
} BrokerThread;

static gpointer
broker_thread_main (gpointer user_data)
{
  BrokerThread *thread = user_data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(SwarmBroker) broker = NULL;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (context);

  broker = swarm_broker_new ();
  swarm_broker_set_open_timeout (broker, thread->open_timeout_ms);
  g_assert_true (swarm_broker_listen (broker, "127.0.0.1:0", &error));
  g_assert_no_error (error);

  g_mutex_lock (&thread->mutex);
  thread->address = swarm_broker_dup_listen_address (broker);
  thread->loop = g_main_loop_new (context, FALSE);
  g_cond_signal (&thread->cond);
  g_mutex_unlock (&thread->mutex);

  g_main_loop_run (thread->loop);

  swarm_broker_stop (broker);
  g_main_context_pop_thread_default (context);

  return NULL;
}

static gboolean
quit_loop_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

/* Connects with blocking calls, which wait at most 10 s each. */
static GSocketConnection *
connect_blocking (const char *address)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_parse (address, 0, NULL);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  GSocketConnection *connection;
  g_autoptr(GError) error = NULL;

  g_socket_client_set_enable_proxy (client, FALSE);
  connection = g_socket_client_connect (client, connectable, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (g_socket_connection_get_socket (connection), 10);

  return connection;
}

static void
send_text (GSocketConnection *connection,
           const char        *text)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_socket_send (socket, text, strlen (text), NULL, &error), ==, strlen (text));
  g_assert_no_error (error);
}

static char *
receive_text (GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  char buffer[512];
  g_autoptr(GError) error = NULL;
  gssize n_read = g_socket_receive (socket, buffer, sizeof buffer - 1, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (n_read, >, 0);

  return g_strndup (buffer, n_read);
}

static void
test_open_timeout_on_thread_context (void)
{
  BrokerThread thread = { 0 };
  g_autoptr(GThread) broker_thread = NULL;
  g_autoptr(GSocketConnection) control = NULL;
  g_autoptr(GSocketConnection) worker = NULL;
  g_autofree char *registration = NULL;
  g_autofree char *credentials = NULL;
  g_autofree char *request = NULL;
  g_autofree char *response = NULL;

  g_mutex_init (&thread.mutex);
  g_cond_init (&thread.cond);
  thread.open_timeout_ms = 500;

  broker_thread = g_thread_new ("broker", broker_thread_main, &thread);
  g_mutex_lock (&thread.mutex);
  while (thread.address == NULL)
    g_cond_wait (&thread.cond, &thread.mutex);
  g_mutex_unlock (&thread.mutex);

  /* A provider that registers and never replies to OPEN. */
  control = connect_blocking (thread.address);
  send_text (control, "PROVIDER context-session context-token\n");
  registration = receive_text (control);
  g_assert_cmpstr (registration, ==, "OK\n");

  credentials = g_base64_encode ((const guchar *) "context-session:context-token",
                                 strlen ("context-session:context-token"));
  request = g_strdup_printf ("CONNECT 127.0.0.1:9 HTTP/1.1\r\n"
                             "Proxy-Authorization: Basic %s\r\n\r\n", credentials);
  worker = connect_blocking (thread.address);
  send_text (worker, request);

  /* The 504 needs the OPEN timer, which only the broker's context runs. */
  response = receive_text (worker);
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 504 "));

  g_main_context_invoke (g_main_loop_get_context (thread.loop), quit_loop_cb, thread.loop);
  g_thread_join (g_steal_pointer (&broker_thread));

  g_main_loop_unref (thread.loop);
  g_free (thread.address);
  g_mutex_clear (&thread.mutex);
  g_cond_clear (&thread.cond);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/broker/main-context/open-timeout-fires", test_open_timeout_on_thread_context);

  return g_test_run ();
}
