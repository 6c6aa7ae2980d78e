/* test-background-start.c: swarm-proxy --background and a later launch
 *
 * Runs the real binary on the private session bus and the Xvfb display of
 * run-desktop-test.sh.  Sharing is checked through the tray item's tooltip
 * and a request through the stored ticket, the window through the X server:
 * a mapped top-level window whose _NET_WM_PID is the background process.
 */
#include "config.h"

#include "desktop-test-utils.h"

#include <glib/gstdio.h>
#include <X11/Xlib.h>
#include <X11/Xatom.h>

#include "swarm-ticket-store.h"
#include "swarm-tray.h"

/* Upper bound for each wait on a process, the bus or the X server. */
#define WAIT_TIMEOUT_S 15
#define POLL_INTERVAL_MS 200
#define TARGET_BODY "hello through the background share\n"

static void
spin (guint milliseconds)
{
  gboolean done = FALSE;

  g_timeout_add (milliseconds, swarm_test_set_flag_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* Polls `condition` every POLL_INTERVAL_MS, for conditions that no event
 * in this process signals. */
static gboolean
poll_until (SwarmTestCondition condition,
            gpointer  data,
            guint     seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (!condition (data))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      spin (POLL_INTERVAL_MS);
    }
  return TRUE;
}

static gboolean
serve_cb (GThreadedSocketService *service,
          GSocketConnection      *connection,
          GObject                *source,
          gpointer                user_data)
{
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autoptr(GDataInputStream) lines =
    g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_autofree char *response = NULL;

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (lines), FALSE);
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (lines, NULL, NULL, NULL);

      if (line == NULL || line[0] == '\0' || g_str_equal (line, "\r"))
        break;
    }

  response = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n%s",
                              strlen (TARGET_BODY), TARGET_BODY);
  g_output_stream_write_all (output, response, strlen (response), NULL, NULL, NULL);
  return TRUE;
}

/* Starts an HTTP server on a free loopback port and returns the port. */
static guint16
start_target (GSocketService *target)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_add_address (G_SOCKET_LISTENER (target), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  g_signal_connect (target, "run", G_CALLBACK (serve_cb), NULL);
  g_socket_service_start (target);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Writes the settings that the child reads through the keyfile backend: the
 * in-app broker on a free loopback port, and loopback targets allowed. */
static void
write_settings (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings",
                                           NULL);
  g_autofree char *path = g_build_filename (dir, "keyfile", NULL);
  const char *text = "[io/github/swarmproxy/SwarmProxy]\n"
                     "broker-mode='local'\n"
                     "listen-address='127.0.0.1:0'\n"
                     "allow-private=true\n";

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static GSubprocess *
spawn_swarm_proxy (const char *option)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "GSETTINGS_BACKEND", "keyfile", TRUE);
  /* The tooltip text is checked in English. */
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "LANGUAGE");
  g_subprocess_launcher_unsetenv (launcher, "WAYLAND_DISPLAY");

  process = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("SWARM_PROXY_EXE"),
                                         option, NULL);
  g_assert_no_error (error);
  return process;
}

typedef struct {
  GDBusConnection *bus;
  char *status_text;        /* the tray tooltip's text, NULL until read */
} Tray;

/* Reads the status text of the tray item that the running app exports
 * under its application id.  Fails while the app has not registered yet. */
static gboolean
tray_read_status (gpointer data)
{
  Tray *tray = data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) tooltip = NULL;
  const char *text = NULL;

  reply = g_dbus_connection_call_sync (tray->bus, APP_ID, SWARM_TRAY_ITEM_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", "org.kde.StatusNotifierItem",
                                                      "ToolTip"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 1000,
                                       NULL, NULL);
  if (reply == NULL)
    return FALSE;

  g_variant_get (reply, "(v)", &tooltip);
  g_variant_get (tooltip, "(&sa(iiay)&s&s)", NULL, NULL, NULL, &text);
  g_free (tray->status_text);
  tray->status_text = g_strdup (text);
  return TRUE;
}

static gboolean
tray_shows_sharing (gpointer data)
{
  Tray *tray = data;

  return tray_read_status (tray) && g_str_has_prefix (tray->status_text, "Sharing,");
}

static int
ignore_x_error (Display     *display,
                XErrorEvent *event)
{
  /* A window may go away between XQueryTree and the calls on it. */
  return 0;
}

typedef struct {
  Display *display;
  unsigned long pid;
} WindowQuery;

/* Tells whether a mapped top-level window belongs to the process.  With no
 * window manager under Xvfb, top-level windows are children of the root. */
static gboolean
process_has_mapped_window (gpointer data)
{
  WindowQuery *query = data;
  Atom pid_atom = XInternAtom (query->display, "_NET_WM_PID", False);
  Window root, parent, *children = NULL;
  unsigned int n_children = 0;
  gboolean found = FALSE;

  if (!XQueryTree (query->display, DefaultRootWindow (query->display), &root, &parent,
                   &children, &n_children))
    return FALSE;

  for (unsigned int i = 0; i < n_children && !found; i++)
    {
      XWindowAttributes attributes;
      Atom type = None;
      int format = 0;
      unsigned long n_items = 0, bytes_after = 0;
      unsigned char *value = NULL;

      if (!XGetWindowAttributes (query->display, children[i], &attributes)
          || attributes.map_state != IsViewable)
        continue;

      if (XGetWindowProperty (query->display, children[i], pid_atom, 0, 1, False, XA_CARDINAL,
                              &type, &format, &n_items, &bytes_after, &value) == Success
          && type == XA_CARDINAL && format == 32 && n_items == 1)
        found = *(unsigned long *) value == query->pid;
      if (value != NULL)
        XFree (value);
    }

  if (children != NULL)
    XFree (children);
  return found;
}

typedef struct {
  gboolean done;
} Exit;

static void
exit_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Exit *exit_wait = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  exit_wait->done = TRUE;
}

static gboolean
exit_done (gpointer data)
{
  return ((Exit *) data)->done;
}

/* Waits for the process to exit and returns its exit status, or -1 when it
 * did not exit normally in time. */
static int
wait_for_exit (GSubprocess *process)
{
  Exit exit_wait = { FALSE };

  g_subprocess_wait_async (process, NULL, exit_cb, &exit_wait);
  if (!swarm_test_wait_until (exit_done, &exit_wait, WAIT_TIMEOUT_S))
    {
      g_subprocess_force_exit (process);
      swarm_test_wait_until (exit_done, &exit_wait, WAIT_TIMEOUT_S);
      return -1;
    }
  if (!g_subprocess_get_if_exited (process))
    return -1;
  return g_subprocess_get_exit_status (process);
}

static void
curl_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  char **body = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, body, NULL, &error);
  g_assert_no_error (error);
  if (*body == NULL)
    *body = g_strdup ("");
}

static gboolean
string_set (gpointer data)
{
  return *(char **) data != NULL;
}

/* Fetches the target through the proxy URL of the latest stored ticket,
 * which the background instance issued when it started sharing. */
static void
assert_fetch_through_stored_ticket (const char *curl_path,
                                    guint16     target_port)
{
  g_autoptr(SwarmTicketStore) store = swarm_ticket_store_new (NULL);
  g_autoptr(GSubprocess) curl = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *proxy_url = NULL;
  g_autofree char *target_url = g_strdup_printf ("http://127.0.0.1:%u/", target_port);
  g_autofree char *body = NULL;
  SwarmStoredTicket *ticket = swarm_ticket_store_get_latest_usable (store);

  g_assert_nonnull (ticket);
  proxy_url = swarm_stored_ticket_dup_proxy_url (ticket);
  g_assert_nonnull (proxy_url);
  g_assert_null (strstr (proxy_url, "127.0.0.1:0"));

  curl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, curl_path, "--silent",
                           "--show-error", "--fail", "--max-time", "20", "--noproxy", "",
                           "--proxy", proxy_url, target_url, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (curl, NULL, NULL, curl_done_cb, &body);
  g_assert_true (swarm_test_wait_until (string_set, &body, WAIT_TIMEOUT_S + 10));
  g_assert_cmpstr (body, ==, TARGET_BODY);
}

/* Quits the app through its exported "app.quit" action, as the tray does. */
static void
quit_app (GDBusConnection *bus)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strconcat ("/", APP_ID, NULL);

  g_strdelimit (path, ".", '/');
  reply = g_dbus_connection_call_sync (bus, APP_ID, path, "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", "quit", NULL, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, WAIT_TIMEOUT_S * 1000,
                                       NULL, &error);
  g_assert_no_error (error);
}

static void
test_background_start_shares_then_shows_window (void)
{
  g_autofree char *curl_path = g_find_program_in_path ("curl");
  g_autoptr(GSocketService) target = g_threaded_socket_service_new (2);
  g_autoptr(GSubprocess) background = NULL;
  g_autoptr(GSubprocess) second_background = NULL;
  g_autoptr(GSubprocess) launch = NULL;
  g_autoptr(GError) error = NULL;
  Tray tray = { NULL, NULL };
  WindowQuery query = { NULL, 0 };
  guint16 target_port;

  if (curl_path == NULL)
    {
      g_test_skip ("curl is not installed");
      return;
    }
  if (g_getenv ("SWARM_PROXY_EXE") == NULL)
    {
      g_test_skip ("SWARM_PROXY_EXE is not set; run the test through meson");
      return;
    }

  query.display = XOpenDisplay (NULL);
  if (query.display == NULL)
    {
      g_test_skip ("no X display; run the test through run-desktop-test.sh --xvfb");
      return;
    }
  XSetErrorHandler (ignore_x_error);
  tray.bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);

  target_port = start_target (target);
  write_settings ();

  /* The background start shares and exports the tray item, with no window. */
  background = spawn_swarm_proxy ("--background");
  query.pid = g_ascii_strtoull (g_subprocess_get_identifier (background), NULL, 10);
  g_assert_true (poll_until (tray_shows_sharing, &tray, WAIT_TIMEOUT_S));
  assert_fetch_through_stored_ticket (curl_path, target_port);
  g_assert_false (process_has_mapped_window (&query));

  /* A second --background start hands over to the running instance, which
   * keeps sharing and still shows no window. */
  second_background = spawn_swarm_proxy ("--background");
  g_assert_cmpint (wait_for_exit (second_background), ==, 0);
  spin (500);
  g_assert_false (process_has_mapped_window (&query));
  g_assert_true (tray_shows_sharing (&tray));

  /* A plain launch activates the running instance, which shows its window. */
  launch = spawn_swarm_proxy (NULL);
  g_assert_cmpint (wait_for_exit (launch), ==, 0);
  g_assert_true (poll_until (process_has_mapped_window, &query, WAIT_TIMEOUT_S));
  g_assert_true (tray_shows_sharing (&tray));

  quit_app (tray.bus);
  g_assert_cmpint (wait_for_exit (background), ==, 0);

  g_socket_service_stop (target);
  g_clear_pointer (&tray.status_text, g_free);
  g_clear_object (&tray.bus);
  XCloseDisplay (query.display);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL)
    {
      g_test_message ("needs a private session bus; run it through run-desktop-test.sh");
      return 77;
    }

  g_test_add_func ("/desktop/background-start/shares-then-shows-window",
                   test_background_start_shares_then_shows_window);

  return g_test_run ();
}
