/* test-application.c: the application's hold, close note and tray wiring */
#include "config.h"

#include "desktop-test-utils.h"

#include <signal.h>
#include <string.h>

#include "swarm-application.h"
#include "swarm-window-private.h"

#define WAIT_TIMEOUT_S 15

static void
spin (guint milliseconds)
{
  gboolean done = FALSE;

  g_timeout_add (milliseconds, swarm_test_set_flag_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
is_sharing (gpointer data)
{
  return swarm_share_get_state (SWARM_SHARE (data)) == SWARM_PROVIDER_STATE_SHARING;
}

static SwarmWindow *
find_window (SwarmApplication *application)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (application)); l; l = l->next)
    {
      if (SWARM_IS_WINDOW (l->data))
        return l->data;
    }
  return NULL;
}

/* The note is transient for the window but not part of the application,
 * so it is looked up among all toplevels. */
static AdwMessageDialog *
find_dialog (void)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    {
      if (ADW_IS_MESSAGE_DIALOG (l->data) && gtk_widget_get_visible (l->data))
        return l->data;
    }
  return NULL;
}

static gboolean
window_is_active (gpointer data)
{
  return gtk_window_is_active (GTK_WINDOW (data));
}

static gboolean
has_no_window (gpointer data)
{
  return find_window (SWARM_APPLICATION (data)) == NULL;
}

typedef struct {
  char *text;
  gboolean done;
} ClipboardRead;

static void
clipboard_read_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ClipboardRead *read = user_data;

  read->text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, NULL);
  read->done = TRUE;
}

static gboolean
clipboard_read_done (gpointer data)
{
  return ((ClipboardRead *) data)->done;
}

static void
test_application_close_keeps_sharing (void)
{
  g_autoptr(SwarmApplication) application = swarm_application_new ();
  g_autoptr(GSettings) settings = swarm_settings_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmTicket) expected_ticket = NULL;
  g_autofree char *expected = NULL;
  SwarmShare *share;
  SwarmWindow *window;
  AdwMessageDialog *dialog;
  ClipboardRead read = { NULL, FALSE };

  /* The memory settings backend is shared in the process, so this reaches
   * the application's settings too: a free port, and the note not shown. */
  g_settings_set_string (settings, "listen-address", "127.0.0.1:0");
  g_settings_set_string (settings, "public-address", "127.0.0.1:8787");
  g_settings_set_boolean (settings, "close-hint-shown", FALSE);

  g_assert_true (g_application_register (G_APPLICATION (application), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (application));
  window = find_window (application);
  g_assert_nonnull (window);
  share = swarm_application_get_share (application);

  swarm_application_set_sharing (application, TRUE);
  g_assert_true (swarm_share_get_running (share));
  g_assert_true (swarm_test_wait_until (is_sharing, share, WAIT_TIMEOUT_S));
  g_assert_true (swarm_tray_get_sharing (swarm_application_get_tray (application)));

  /* The first close while sharing shows the note instead of closing. */
  gtk_window_close (GTK_WINDOW (window));
  spin (200);
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  g_assert_true (g_settings_get_boolean (settings, "close-hint-shown"));
  g_assert_nonnull (find_window (application));

  adw_message_dialog_response (dialog, "ok");
  g_assert_true (swarm_test_wait_until (has_no_window, application, WAIT_TIMEOUT_S));
  g_assert_true (swarm_share_get_running (share));

  /* Copy Latest Ticket in the tray brings a window back and copies once the
   * window is active, which a new window becomes only after mapping. */
  g_signal_emit_by_name (swarm_application_get_tray (application), "copy-ticket", NULL);
  window = find_window (application);
  g_assert_nonnull (window);
  /* Wayland rejects a clipboard change from a window without focus, so
   * nothing may be copied before the window is active. */
  if (!gtk_window_is_active (GTK_WINDOW (window)))
    g_assert_null (gdk_clipboard_get_content (gtk_widget_get_clipboard (GTK_WIDGET (window))));
  g_assert_true (swarm_test_wait_until (window_is_active, window, WAIT_TIMEOUT_S));
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (GTK_WIDGET (window)), NULL,
                                 clipboard_read_cb, &read);
  g_assert_true (swarm_test_wait_until (clipboard_read_done, &read, WAIT_TIMEOUT_S));
  expected_ticket = swarm_stored_ticket_to_ticket (swarm_share_get_ticket (share));
  expected = swarm_ticket_to_json (expected_ticket, TRUE);
  g_assert_cmpstr (read.text, ==, expected);
  g_free (read.text);

  /* The second close while sharing closes at once. */
  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (swarm_test_wait_until (has_no_window, application, WAIT_TIMEOUT_S));
  g_assert_null (find_dialog ());
  g_assert_true (swarm_share_get_running (share));

  /* Share in the tray turns sharing off. */
  g_signal_emit_by_name (swarm_application_get_tray (application), "share-toggled", FALSE);
  g_assert_false (swarm_share_get_running (share));
  g_assert_false (swarm_tray_get_sharing (swarm_application_get_tray (application)));

  g_action_group_activate_action (G_ACTION_GROUP (application), "quit", NULL);
  spin (100);
}

typedef struct {
  GDataInputStream *lines;
  GString *output;
  gboolean found;
  gboolean ended;
} StderrScan;

#define NO_TRAY_MESSAGE "there is no tray icon"

static void
stderr_line_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  StderrScan *scan = user_data;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (scan->lines, result, NULL, NULL);
  if (line == NULL)
    {
      scan->ended = TRUE;
      return;
    }

  g_string_append_printf (scan->output, "%s\n", line);
  if (strstr (line, NO_TRAY_MESSAGE) != NULL)
    {
      scan->found = TRUE;
      return;
    }
  g_data_input_stream_read_line_async (scan->lines, G_PRIORITY_DEFAULT, NULL,
                                       stderr_line_cb, scan);
}

static gboolean
stderr_scan_done (gpointer data)
{
  StderrScan *scan = data;

  return scan->found || scan->ended;
}

/* Without a session bus the app keeps running and logs once why no tray
 * icon appears. */
static void
test_application_no_bus_message (void)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *missing_socket = NULL;
  StderrScan scan = { NULL, NULL, FALSE, FALSE };
  gboolean scanned;
  gboolean exited_early;

  if (g_getenv ("SWARM_PROXY_EXE") == NULL)
    {
      g_test_skip ("SWARM_PROXY_EXE is not set; run the test through meson");
      return;
    }

  /* A socket path that does not exist makes every bus connection fail,
   * without GLib falling back to autolaunching a bus. */
  missing_socket = g_build_filename (g_get_tmp_dir (), "swarm-test-no-bus", "socket", NULL);
  address = g_strdup_printf ("unix:path=%s", missing_socket);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", address, TRUE);
  g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", "", TRUE);
  process = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("SWARM_PROXY_EXE"), NULL);
  g_assert_no_error (error);

  scan.lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));
  scan.output = g_string_new (NULL);
  g_data_input_stream_read_line_async (scan.lines, G_PRIORITY_DEFAULT, NULL,
                                       stderr_line_cb, &scan);
  scanned = swarm_test_wait_until (stderr_scan_done, &scan, WAIT_TIMEOUT_S);
  g_test_message ("swarm-proxy output:\n%s", scan.output->str);

  /* The app keeps running after the message, so the test stops it before
   * any check can fail. It must not have exited on its own. */
  exited_early = scan.ended;
  g_subprocess_send_signal (process, SIGTERM);
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (scanned);
  g_assert_true (scan.found);
  g_assert_false (exited_early);

  g_object_unref (scan.lines);
  g_string_free (scan.output, TRUE);
}

int
main (int argc, char **argv)
{
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_unsetenv ("LANGUAGE");

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/desktop/application/close-keeps-sharing",
                   test_application_close_keeps_sharing);
  g_test_add_func ("/desktop/application/no-bus-message",
                   test_application_no_bus_message);

  return g_test_run ();
}
