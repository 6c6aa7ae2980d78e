/* test-window.c: the window against a real broker, provider and curl */
#include "config.h"

#include "desktop-test-utils.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "swarm-preferences.h"
#include "swarm-share.h"
#include "swarm-window-private.h"

/* Upper bound for each wait on the broker, the provider or curl. */
#define WAIT_TIMEOUT_S 15
/* The target sends its body slowly, so the tunnel stays open long enough to
 * watch the byte counters grow: CHUNKS chunks of CHUNK_BYTES every
 * CHUNK_INTERVAL_MS, about 5 s in all. */
#define CHUNK_BYTES (32 * 1024)
#define CHUNKS 100
#define CHUNK_INTERVAL_MS 50

typedef struct {
  char *data_dir;
  GSettings *settings;
  SwarmTicketStore *store;
  SwarmShare *share;
  SwarmWindow *window;
} Fixture;

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

static gboolean
is_expired_and_stopped (gpointer data)
{
  SwarmShare *share = SWARM_SHARE (data);

  return swarm_share_get_state (share) == SWARM_PROVIDER_STATE_EXPIRED
         && !swarm_share_get_running (share);
}

static gboolean
has_no_tunnel (gpointer data)
{
  return g_list_model_get_n_items (swarm_share_get_tunnels (SWARM_SHARE (data))) == 0;
}

static gboolean
has_tunnel (gpointer data)
{
  return g_list_model_get_n_items (swarm_share_get_tunnels (SWARM_SHARE (data))) > 0;
}

/* ---- screenshots ---- */

/* Renders the window to PNG in the build folder and checks that it is not
 * blank: the variance of the grey values must be clearly above zero. */
static void
save_widget_screenshot (GtkWidget  *widget,
                        const char *name)
{
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree guchar *pixels = NULL;
  g_autofree char *file_name = g_strdup_printf ("screenshot-%s.png", name);
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, file_name, NULL);
  GskRenderer *renderer;
  int width, height;
  double sum = 0, sum_squares = 0, variance;
  gsize count;

  /* Let pending layout, toasts and row updates settle. */
  spin (600);

  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);

  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);

  renderer = gtk_native_get_renderer (GTK_NATIVE (widget));
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));

  width = gdk_texture_get_width (texture);
  height = gdk_texture_get_height (texture);
  pixels = g_malloc ((gsize) width * height * 4);
  gdk_texture_download (texture, pixels, (gsize) width * 4);
  count = (gsize) width * height;
  for (gsize i = 0; i < count; i++)
    {
      /* Cairo order on little-endian: B, G, R, A. */
      double grey = (pixels[i * 4] + pixels[i * 4 + 1] + pixels[i * 4 + 2]) / 3.0;

      sum += grey;
      sum_squares += grey * grey;
    }
  variance = sum_squares / count - (sum / count) * (sum / count);
  g_test_message ("Saved %s (%dx%d, grey variance %.1f)", path, width, height, variance);
  g_assert_cmpfloat (variance, >, 20.0);
}

static void
save_screenshot (Fixture    *fixture,
                 const char *name)
{
  save_widget_screenshot (GTK_WIDGET (fixture->window), name);
}

/* ---- a slow HTTP target on loopback ---- */

static gboolean
serve_slowly_cb (GThreadedSocketService *service,
                 GSocketConnection      *connection,
                 GObject                *source,
                 gpointer                user_data)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new (input);
  g_autofree char *head = NULL;
  g_autofree guint8 *chunk = g_malloc (CHUNK_BYTES);

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (lines), FALSE);

  /* Read the request head up to the empty line. */
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (lines, NULL, NULL, NULL);

      if (line == NULL || line[0] == '\0' || g_str_equal (line, "\r"))
        break;
    }

  head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %d\r\nConnection: close\r\n\r\n",
                          CHUNK_BYTES * CHUNKS);
  if (!g_output_stream_write_all (output, head, strlen (head), NULL, NULL, NULL))
    return TRUE;

  memset (chunk, 'x', CHUNK_BYTES);
  for (int i = 0; i < CHUNKS; i++)
    {
      if (!g_output_stream_write_all (output, chunk, CHUNK_BYTES, NULL, NULL, NULL))
        break;
      g_usleep (CHUNK_INTERVAL_MS * 1000);
    }
  return TRUE;
}

static GSocketService *
start_slow_target (guint16 *port)
{
  GSocketService *service = g_threaded_socket_service_new (4);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_add_address (G_SOCKET_LISTENER (service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (service, "run", G_CALLBACK (serve_slowly_cb), NULL);
  g_socket_service_start (service);
  return service;
}

/* ---- fixture ---- */

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->data_dir = g_dir_make_tmp ("swarm-window-XXXXXX", &error);
  g_assert_no_error (error);

  fixture->settings = swarm_settings_new ();
  g_assert_nonnull (fixture->settings);
  /* The memory backend keeps values for the whole process, so every test
   * starts from the defaults. */
  {
    g_autoptr(GSettingsSchema) schema = NULL;
    g_auto(GStrv) keys = NULL;

    g_object_get (fixture->settings, "settings-schema", &schema, NULL);
    keys = g_settings_schema_list_keys (schema);
    for (guint i = 0; keys[i] != NULL; i++)
      g_settings_reset (fixture->settings, keys[i]);
  }
  /* Port 0: a free port, so tests never collide with a running broker. */
  g_settings_set_string (fixture->settings, "listen-address", "127.0.0.1:0");
  g_settings_set_string (fixture->settings, "broker-mode", "local");
  /* The target of the tunnel test is on loopback, a private destination. */
  g_settings_set_boolean (fixture->settings, "allow-private", TRUE);

  fixture->store = swarm_ticket_store_new (fixture->data_dir);
  g_assert_true (swarm_ticket_store_get_uses_keyring (fixture->store));
  fixture->share = swarm_share_new (fixture->settings, fixture->store);
  fixture->window = swarm_window_new (NULL, fixture->share);
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 860, 600);
  gtk_window_present (GTK_WINDOW (fixture->window));
  spin (300);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      g_remove (child);
    }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  swarm_share_stop (fixture->share);
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  g_clear_object (&fixture->share);
  g_clear_object (&fixture->store);
  g_clear_object (&fixture->settings);
  remove_tree (fixture->data_dir);
  g_clear_pointer (&fixture->data_dir, g_free);
  spin (100);
}

/* ---- tests ---- */

static void
test_window_toggle_shares (Fixture       *fixture,
                           gconstpointer  data)
{
  GtkSwitch *share_switch = swarm_window_get_share_switch (fixture->window);

  g_assert_cmpstr (gtk_label_get_label (swarm_window_get_state_label (fixture->window)), ==,
                   _("Off"));
  save_screenshot (fixture, "off");

  /* Screen readers find the switch by its role and name. */
  gtk_test_accessible_assert_role (GTK_ACCESSIBLE (share_switch), GTK_ACCESSIBLE_ROLE_SWITCH);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (share_switch),
                                       GTK_ACCESSIBLE_PROPERTY_LABEL, "Share");

  gtk_switch_set_active (share_switch, TRUE);

  g_assert_true (swarm_share_get_running (fixture->share));
  g_assert_nonnull (swarm_share_get_broker (fixture->share));
  g_assert_true (swarm_test_wait_until (is_sharing, fixture->share, WAIT_TIMEOUT_S));
  g_assert_cmpstr (gtk_label_get_label (swarm_window_get_state_label (fixture->window)), ==,
                   _("Sharing"));
  gtk_test_accessible_assert_state (GTK_ACCESSIBLE (share_switch),
                                    GTK_ACCESSIBLE_STATE_CHECKED, GTK_ACCESSIBLE_TRISTATE_TRUE);
  /* The new ticket is the one being shared, and the list shows it. */
  g_assert_nonnull (swarm_share_get_ticket (fixture->share));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->store)), ==, 1);
  save_screenshot (fixture, "sharing");

  /* The broker on this computer lists the session on the Sessions page. */
  {
    GtkListBoxRow *row = gtk_list_box_get_row_at_index (
      swarm_window_get_sessions_list (fixture->window), 0);

    g_assert_nonnull (row);
    g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==,
                     swarm_stored_ticket_get_session_id (swarm_share_get_ticket (fixture->share)));
    swarm_window_show_page (fixture->window, "sessions");
    save_screenshot (fixture, "sessions");
    swarm_window_show_page (fixture->window, "share");
  }

  gtk_switch_set_active (share_switch, FALSE);
  g_assert_false (swarm_share_get_running (fixture->share));
  g_assert_cmpint (swarm_share_get_state (fixture->share), ==, SWARM_PROVIDER_STATE_OFF);
  g_assert_cmpstr (gtk_label_get_label (swarm_window_get_state_label (fixture->window)), ==,
                   _("Off"));
}

static void
curl_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError **error = user_data;

  if (!g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, error) && *error == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "curl failed");
  g_object_set_data (source, "done", GINT_TO_POINTER (TRUE));
}

static gboolean
subprocess_done (gpointer data)
{
  return g_object_get_data (G_OBJECT (data), "done") != NULL;
}

static void
curl_output_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  char **output = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, output, NULL, &error);
  g_assert_no_error (error);
  if (*output == NULL)
    *output = g_strdup ("");
}

static gboolean
string_set (gpointer data)
{
  return *(char **) data != NULL;
}

typedef struct {
  SwarmTunnel *tunnel;
  guint64 above;
} BytesAbove;

static gboolean
bytes_down_above (gpointer data)
{
  BytesAbove *check = data;

  return swarm_tunnel_get_bytes_down (check->tunnel) > check->above;
}

/* Returns the first action row below `widget` whose title starts with
 * `prefix`, searching the widget tree depth first. */
static AdwActionRow *
find_action_row (GtkWidget  *widget,
                 const char *prefix)
{
  if (ADW_IS_ACTION_ROW (widget)
      && g_str_has_prefix (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), prefix))
    return ADW_ACTION_ROW (widget);

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwActionRow *found = find_action_row (child, prefix);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct {
  GtkWidget *root;
  const char *prefix;
} RowSearch;

static gboolean
has_action_row (gpointer data)
{
  RowSearch *search = data;

  return find_action_row (search->root, search->prefix) != NULL;
}

static void
test_window_curl_tunnel (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GSocketService) target = NULL;
  g_autoptr(GSubprocess) curl = NULL;
  g_autoptr(SwarmTunnel) tunnel = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) curl_error = NULL;
  g_autofree char *broker_address = NULL;
  g_autofree char *proxy_url = NULL;
  g_autofree char *target_url = NULL;
  g_autofree char *expected_title = NULL;
  g_autofree char *curl_path = g_find_program_in_path ("curl");
  g_autofree char *rejection = NULL;
  SwarmStoredTicket *ticket;
  GtkListBoxRow *row;
  BytesAbove check;
  guint16 port;

  if (curl_path == NULL)
    {
      g_test_skip ("curl is not installed");
      return;
    }

  target = start_slow_target (&port);
  gtk_switch_set_active (swarm_window_get_share_switch (fixture->window), TRUE);
  g_assert_true (swarm_test_wait_until (is_sharing, fixture->share, WAIT_TIMEOUT_S));

  ticket = swarm_share_get_ticket (fixture->share);
  broker_address = swarm_broker_dup_listen_address (swarm_share_get_broker (fixture->share));
  proxy_url = g_strdup_printf ("http://%s:%s@%s", swarm_stored_ticket_get_session_id (ticket),
                               swarm_stored_ticket_get_token (ticket), broker_address);
  target_url = g_strdup_printf ("http://127.0.0.1:%u/download", port);

  curl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                           curl_path, "--silent", "--show-error", "--fail",
                           "--max-time", "30", "--noproxy", "", "--proxy", proxy_url,
                           "--output", "/dev/null", target_url, NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check_async (curl, NULL, curl_done_cb, &curl_error);

  g_assert_true (swarm_test_wait_until (has_tunnel, fixture->share, WAIT_TIMEOUT_S));
  tunnel = g_list_model_get_item (swarm_share_get_tunnels (fixture->share), 0);
  g_assert_cmpstr (swarm_tunnel_get_host (tunnel), ==, "127.0.0.1");
  g_assert_cmpuint (swarm_tunnel_get_port (tunnel), ==, port);

  /* The in-app broker lists curl's tunnel under the session on the
   * Sessions page, as a "Worker" row that names the target. */
  {
    GtkWidget *session_row = GTK_WIDGET (gtk_list_box_get_row_at_index (
      swarm_window_get_sessions_list (fixture->window), 0));
    g_autofree char *worker_prefix = g_strdup_printf (_("Worker %s"), "127.0.0.1");
    g_autofree char *expected_target = g_strdup_printf ("→ 127.0.0.1:%u", port);
    RowSearch search = { session_row, worker_prefix };
    AdwActionRow *worker_row;

    g_assert_nonnull (session_row);
    g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (session_row)), ==,
                     swarm_stored_ticket_get_session_id (ticket));
    g_assert_true (swarm_test_wait_until (has_action_row, &search, WAIT_TIMEOUT_S));
    worker_row = find_action_row (session_row, worker_prefix);
    g_assert_nonnull (worker_row);
    g_assert_cmpstr (adw_action_row_get_subtitle (worker_row), ==, expected_target);
  }

  /* The row shows the target and follows the byte counter upwards. */
  row = gtk_list_box_get_row_at_index (swarm_window_get_tunnels_list (fixture->window), 0);
  g_assert_nonnull (row);
  expected_title = g_strdup_printf ("127.0.0.1:%u", port);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==,
                   expected_title);

  check.tunnel = tunnel;
  check.above = 0;
  g_assert_true (swarm_test_wait_until (bytes_down_above, &check, WAIT_TIMEOUT_S));
  check.above = swarm_tunnel_get_bytes_down (tunnel);
  g_assert_true (swarm_test_wait_until (bytes_down_above, &check, WAIT_TIMEOUT_S));
  g_assert_cmpuint (swarm_tunnel_get_bytes_down (tunnel), >, check.above);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "↓"));

  /* The ticket counts as in use while the tunnel is open. */
  g_assert_cmpint (swarm_stored_ticket_get_status (ticket, g_get_real_time () / G_USEC_PER_SEC),
                   ==, SWARM_TICKET_STATUS_IN_USE);
  g_assert_cmpint (swarm_stored_ticket_get_last_used (ticket), >, 0);

  /* Two refresh ticks give the rate column a measured value. */
  swarm_window_show_page (fixture->window, "tunnels");
  spin (2100);
  save_screenshot (fixture, "tunnels");

  g_assert_true (swarm_test_wait_until (subprocess_done, curl, 40));
  g_assert_no_error (curl_error);

  /* The totals keep the bytes of the closed tunnel: the whole body. */
  {
    guint64 up = 0, down = 0;

    g_assert_true (swarm_test_wait_until (has_no_tunnel, fixture->share, WAIT_TIMEOUT_S));
    swarm_share_get_total_bytes (fixture->share, &up, &down);
    g_assert_cmpuint (down, >=, (guint64) CHUNK_BYTES * CHUNKS);
    g_assert_cmpuint (up, >, 0);
  }

  /* Turning local network access off applies to the running provider: the
   * same request now fails with 502, and the body names the preference
   * rather than the command line's --allow-private.  The hint may be
   * translated, but the product name stays, and the transliteration leaves
   * no "?" in place of non-ASCII characters. */
  g_settings_set_boolean (fixture->settings, "allow-private", FALSE);
  g_clear_object (&curl);
  curl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, curl_path, "--silent",
                           "--max-time", "30", "--noproxy", "", "--proxy", proxy_url,
                           "--write-out", "\n%{http_code}", target_url, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (curl, NULL, NULL, curl_output_cb, &rejection);
  g_assert_true (swarm_test_wait_until (string_set, &rejection, 40));
  g_test_message ("rejection: %s", rejection);
  g_assert_true (g_str_has_suffix (rejection, "\n502"));
  g_assert_nonnull (strstr (rejection, "destination 127.0.0.1 is a loopback address; "));
  g_assert_nonnull (strstr (rejection, "Swarm Proxy"));
  g_assert_null (strstr (rejection, "--allow-private"));
  g_assert_null (strchr (rejection, '?'));

  g_socket_service_stop (target);
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
  g_autoptr(GError) error = NULL;

  read->text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);
  g_assert_no_error (error);
  read->done = TRUE;
}

static gboolean
clipboard_read_done (gpointer data)
{
  return ((ClipboardRead *) data)->done;
}

static char *
read_clipboard (Fixture *fixture)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (fixture->window));
  ClipboardRead read = { NULL, FALSE };

  gdk_clipboard_read_text_async (clipboard, NULL, clipboard_read_cb, &read);
  g_assert_true (swarm_test_wait_until (clipboard_read_done, &read, WAIT_TIMEOUT_S));
  return read.text;
}

static void
test_window_copy_ticket_json (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(SwarmTicket) parsed = NULL;
  g_autoptr(SwarmTicket) expected = NULL;
  g_autofree char *expected_json = NULL;
  g_autofree char *copied = NULL;
  g_autofree char *shell = NULL;
  g_autofree char *url = NULL;
  g_autofree char *script = NULL;
  g_autofree char *shell_output = NULL;
  g_autofree char *expected_output = NULL;
  char *shell_argv[] = { "sh", "-c", NULL, NULL };
  int shell_status = 0;
  g_autoptr(GError) error = NULL;
  SwarmStoredTicket *ticket;
  GtkListBoxRow *row;

  /* Tickets name the address workers use; with listen port 0 and no broker
   * running yet there is none, so the test sets it. */
  g_settings_set_string (fixture->settings, "public-address", "127.0.0.1:8787");
  gtk_editable_set_text (GTK_EDITABLE (swarm_window_get_session_entry (fixture->window)),
                         "copy-test");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window),
                                             "win.create-ticket", NULL));
  ticket = swarm_ticket_store_lookup (fixture->store, "copy-test");
  g_assert_nonnull (ticket);

  row = gtk_list_box_get_row_at_index (swarm_window_get_tickets_list (fixture->window), 0);
  g_assert_nonnull (row);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, "copy-test");
  /* The token stays masked until asked for. */
  g_assert_null (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                         swarm_stored_ticket_get_token (ticket)));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window), "win.copy-json",
                                             "s", "copy-test"));
  copied = read_clipboard (fixture);
  expected = swarm_stored_ticket_to_ticket (ticket);
  expected_json = swarm_ticket_to_json (expected, TRUE);
  g_assert_cmpstr (copied, ==, expected_json);

  parsed = swarm_ticket_new_from_json (copied, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (swarm_ticket_get_session_id (parsed), ==, "copy-test");
  g_assert_cmpstr (swarm_ticket_get_token (parsed), ==, swarm_stored_ticket_get_token (ticket));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window), "win.copy-shell",
                                             "s", "copy-test"));
  g_free (copied);
  copied = read_clipboard (fixture);
  url = swarm_stored_ticket_dup_proxy_url (ticket);
  shell = g_strdup_printf ("export http_proxy='%s'\nexport https_proxy='%s'\n"
                           "export HTTP_PROXY='%s'\nexport HTTPS_PROXY='%s'\n",
                           url, url, url, url);
  g_assert_cmpstr (copied, ==, shell);

  /* A shell that runs the lines gets the URL back unchanged in all four. */
  script = g_strconcat (copied, "printf '%s\\n' \"$http_proxy\" \"$https_proxy\" "
                        "\"$HTTP_PROXY\" \"$HTTPS_PROXY\"", NULL);
  shell_argv[2] = script;
  g_assert_true (g_spawn_sync (NULL, shell_argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &shell_output, NULL, &shell_status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (shell_status, &error));
  g_assert_no_error (error);
  expected_output = g_strdup_printf ("%s\n%s\n%s\n%s\n", url, url, url, url);
  g_assert_cmpstr (shell_output, ==, expected_output);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window),
                                             "win.reveal-token", "s", "copy-test"));
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                            swarm_stored_ticket_get_token (ticket)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window),
                                             "win.reveal-token", "s", "copy-test"));

  swarm_window_show_page (fixture->window, "tickets");
  save_screenshot (fixture, "tickets");
}

static void
test_window_revoke_while_sharing (Fixture       *fixture,
                                  gconstpointer  data)
{
  GtkSwitch *share_switch = swarm_window_get_share_switch (fixture->window);
  g_autoptr(SwarmStoredTicket) ticket = NULL;
  g_autofree char *session_id = NULL;
  GtkListBoxRow *row;

  gtk_switch_set_active (share_switch, TRUE);
  g_assert_true (swarm_test_wait_until (is_sharing, fixture->share, WAIT_TIMEOUT_S));
  ticket = g_object_ref (swarm_share_get_ticket (fixture->share));
  session_id = g_strdup (swarm_stored_ticket_get_session_id (ticket));
  g_assert_true (swarm_stored_ticket_get_shared (ticket));

  /* Revoking the shared ticket stops the provider at once, because its
   * token must not open tunnels any more. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window),
                                             "win.revoke-ticket", "s", session_id));
  g_assert_false (swarm_share_get_running (fixture->share));
  g_assert_cmpint (swarm_share_get_state (fixture->share), ==, SWARM_PROVIDER_STATE_OFF);
  g_assert_null (swarm_share_get_ticket (fixture->share));
  g_assert_null (swarm_share_get_broker (fixture->share));
  g_assert_false (gtk_switch_get_active (share_switch));
  g_assert_false (swarm_stored_ticket_get_shared (ticket));
  g_assert_true (swarm_stored_ticket_get_revoked (ticket));
  g_assert_null (swarm_stored_ticket_get_token (ticket));

  /* The row stays listed with the status "Revoked". */
  row = gtk_list_box_get_row_at_index (swarm_window_get_tickets_list (fixture->window), 0);
  g_assert_nonnull (row);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, session_id);
  g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                                   _("Revoked")));
}

static void
test_window_ticket_expires (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  SwarmStoredTicket *ticket;
  GtkListBoxRow *row;

  g_settings_set_string (fixture->settings, "public-address", "127.0.0.1:8787");
  address = swarm_share_dup_worker_address (fixture->share);
  ticket = swarm_ticket_store_create (fixture->store, "short-lived", address, now + 3, &error);
  g_assert_no_error (error);
  g_assert_true (swarm_share_start (fixture->share, ticket, &error));
  g_assert_no_error (error);
  g_assert_true (gtk_switch_get_active (swarm_window_get_share_switch (fixture->window)));
  g_assert_true (swarm_test_wait_until (is_sharing, fixture->share, WAIT_TIMEOUT_S));

  g_assert_true (swarm_test_wait_until (is_expired_and_stopped, fixture->share, WAIT_TIMEOUT_S));
  g_assert_null (swarm_share_get_provider (fixture->share));
  g_assert_false (gtk_switch_get_active (swarm_window_get_share_switch (fixture->window)));
  g_assert_cmpstr (gtk_label_get_label (swarm_window_get_state_label (fixture->window)), ==,
                   _("Stopped Because the Ticket Expired"));

  swarm_window_refresh (fixture->window);
  row = gtk_list_box_get_row_at_index (swarm_window_get_tickets_list (fixture->window), 0);
  g_assert_nonnull (row);
  g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                                   _("Expired")));

  /* An expired ticket cannot be shared again. */
  g_assert_false (swarm_share_start (fixture->share, ticket, &error));
  g_assert_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_EXPIRED);
  save_screenshot (fixture, "expired");
}

static gboolean
is_retrying (gpointer data)
{
  return swarm_share_get_state (SWARM_SHARE (data)) == SWARM_PROVIDER_STATE_RETRYING;
}

static void
test_window_retrying_shows_error (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GError) error = NULL;
  g_autofree char *remote = NULL;
  const char *title;
  const char *detail;

  /* A port that was just free and is now closed: nothing listens there. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  address = g_inet_socket_address_new (loopback, 0);
  g_assert_true (g_socket_bind (socket, address, FALSE, &error));
  g_clear_object (&address);
  address = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  remote = g_strdup_printf ("127.0.0.1:%u",
                            g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
  g_socket_close (socket, NULL);

  g_settings_set_string (fixture->settings, "broker-mode", "remote");
  g_settings_set_string (fixture->settings, "remote-broker-address", remote);

  gtk_switch_set_active (swarm_window_get_share_switch (fixture->window), TRUE);
  g_assert_true (swarm_share_get_running (fixture->share));
  g_assert_null (swarm_share_get_broker (fixture->share));
  g_assert_true (swarm_test_wait_until (is_retrying, fixture->share, WAIT_TIMEOUT_S));

  title = gtk_label_get_label (swarm_window_get_state_label (fixture->window));
  detail = gtk_label_get_label (swarm_window_get_state_detail_label (fixture->window));
  g_assert_true (g_str_has_prefix (title, "Retrying in "));
  g_assert_true (g_str_has_suffix (title, " s"));
  g_assert_true (g_str_has_prefix (detail, "The broker cannot be reached: "));
  g_assert_nonnull (swarm_share_get_last_error (fixture->share));
  g_assert_nonnull (strstr (detail, swarm_share_get_last_error (fixture->share)));
  save_screenshot (fixture, "retrying");

  /* The switch stays on while retrying, and turning it off stops. */
  g_assert_true (gtk_switch_get_active (swarm_window_get_share_switch (fixture->window)));
  gtk_switch_set_active (swarm_window_get_share_switch (fixture->window), FALSE);
  g_assert_cmpint (swarm_share_get_state (fixture->share), ==, SWARM_PROVIDER_STATE_OFF);
}

static GtkWidget *
find_widget_of_type (GtkWidget *root,
                     GType      type,
                     guint      index)
{
  guint seen = 0;
  GtkWidget *found = NULL;
  GPtrArray *stack = g_ptr_array_new ();

  g_ptr_array_add (stack, root);
  while (stack->len > 0 && found == NULL)
    {
      GtkWidget *widget = g_ptr_array_steal_index (stack, 0);

      if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type) && seen++ == index)
        found = widget;
      for (GtkWidget *child = gtk_widget_get_last_child (widget);
           child != NULL;
           child = gtk_widget_get_prev_sibling (child))
        g_ptr_array_insert (stack, 0, child);
    }
  g_ptr_array_unref (stack);
  return found;
}

static void
test_window_preferences_bind_settings (Fixture       *fixture,
                                       gconstpointer  data)
{
  SwarmPreferences *preferences = swarm_preferences_new (fixture->settings);
  GtkSwitch *local_broker;
  GtkSwitch *allow_private;
  AdwEntryRow *listen;
  g_autofree char *mode = NULL;
  g_autofree char *listen_address = NULL;

  gtk_window_set_transient_for (GTK_WINDOW (preferences), GTK_WINDOW (fixture->window));
  gtk_window_present (GTK_WINDOW (preferences));

  /* The switches in UI order: local broker, local network, start at login. */
  local_broker = GTK_SWITCH (find_widget_of_type (GTK_WIDGET (preferences), GTK_TYPE_SWITCH, 0));
  allow_private = GTK_SWITCH (find_widget_of_type (GTK_WIDGET (preferences), GTK_TYPE_SWITCH,
                                                   1));
  listen = ADW_ENTRY_ROW (find_widget_of_type (GTK_WIDGET (preferences), ADW_TYPE_ENTRY_ROW, 0));
  g_assert_nonnull (local_broker);
  g_assert_nonnull (allow_private);
  g_assert_nonnull (listen);

  g_assert_true (gtk_switch_get_active (local_broker));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (listen)), ==, "127.0.0.1:0");
  /* allow-private is on in this fixture. */
  g_assert_true (gtk_switch_get_active (allow_private));

  gtk_switch_set_active (local_broker, FALSE);
  mode = g_settings_get_string (fixture->settings, "broker-mode");
  g_assert_cmpstr (mode, ==, "remote");
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (listen)));

  gtk_switch_set_active (allow_private, FALSE);
  g_assert_false (g_settings_get_boolean (fixture->settings, "allow-private"));

  gtk_switch_set_active (local_broker, TRUE);
  gtk_editable_set_text (GTK_EDITABLE (listen), "127.0.0.1:18787");
  listen_address = g_settings_get_string (fixture->settings, "listen-address");
  g_assert_cmpstr (listen_address, ==, "127.0.0.1:18787");

  save_widget_screenshot (GTK_WIDGET (preferences), "preferences");
  gtk_window_destroy (GTK_WINDOW (preferences));
}

int
main (int argc, char **argv)
{
  /* The expected texts below are the English ones. */
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_unsetenv ("LANGUAGE");
  /* GTK's test backend records accessible roles and states without an
   * AT-SPI bus. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  setlocale (LC_ALL, "");
  textdomain (GETTEXT_PACKAGE);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add ("/desktop/window/toggle-shares", Fixture, NULL,
              fixture_set_up, test_window_toggle_shares, fixture_tear_down);
  g_test_add ("/desktop/window/curl-tunnel", Fixture, NULL,
              fixture_set_up, test_window_curl_tunnel, fixture_tear_down);
  g_test_add ("/desktop/window/copy-ticket-json", Fixture, NULL,
              fixture_set_up, test_window_copy_ticket_json, fixture_tear_down);
  g_test_add ("/desktop/window/revoke-while-sharing", Fixture, NULL,
              fixture_set_up, test_window_revoke_while_sharing, fixture_tear_down);
  g_test_add ("/desktop/window/ticket-expires", Fixture, NULL,
              fixture_set_up, test_window_ticket_expires, fixture_tear_down);
  g_test_add ("/desktop/window/preferences-bind-settings", Fixture, NULL,
              fixture_set_up, test_window_preferences_bind_settings, fixture_tear_down);
  g_test_add ("/desktop/window/retrying-shows-error", Fixture, NULL,
              fixture_set_up, test_window_retrying_shows_error, fixture_tear_down);

  return g_test_run ();
}
