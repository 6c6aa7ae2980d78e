/* test-headless.c: swarm-proxy --no-gui shares from saved settings */
#include "config.h"

#include "desktop-test-utils.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>

/* Upper bound for each wait on the child process and curl. */
#define WAIT_TIMEOUT_S 15
#define TARGET_BODY "hello through the headless share\n"

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

typedef struct {
  GSubprocess *process;
  GDataInputStream *stdout_lines;
  char *proxy_url;
  char *session_id;
  gboolean sharing;
  gboolean eof;
} Headless;

static void read_next_line (Headless *headless);

/* Handles one JSON line of --json output: the ticket line, state lines and
 * log lines. */
static void
line_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Headless *headless = user_data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *line = NULL;
  JsonObject *object;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                    NULL);
  if (line == NULL)
    {
      headless->eof = TRUE;
      return;
    }
  g_test_message ("swarm-proxy: %s", line);

  g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  object = json_node_get_object (json_parser_get_root (parser));

  if (json_object_has_member (object, "proxy_url"))
    {
      JsonObject *ticket = json_object_get_object_member (object, "ticket");

      headless->proxy_url = g_strdup (json_object_get_string_member (object, "proxy_url"));
      headless->session_id = g_strdup (json_object_get_string_member (ticket, "session_id"));
    }
  if (g_strcmp0 (json_object_get_string_member_with_default (object, "state", NULL),
                 "sharing") == 0)
    headless->sharing = TRUE;

  read_next_line (headless);
}

static void
read_next_line (Headless *headless)
{
  g_data_input_stream_read_line_async (headless->stdout_lines, G_PRIORITY_DEFAULT, NULL,
                                       line_read_cb, headless);
}

static gboolean
headless_sharing (gpointer data)
{
  Headless *headless = data;

  return (headless->sharing && headless->proxy_url != NULL) || headless->eof;
}

static gboolean
headless_eof (gpointer data)
{
  return ((Headless *) data)->eof;
}

static void
headless_start (Headless   *headless,
                const char *scratch,
                gboolean    allow_private)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree char *data_home = g_build_filename (scratch, "data", NULL);
  g_autofree char *config_home = g_build_filename (scratch, "config", NULL);
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "GSETTINGS_BACKEND", "keyfile", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  g_subprocess_launcher_unsetenv (launcher, "WAYLAND_DISPLAY");

  memset (headless, 0, sizeof *headless);
  headless->process = g_subprocess_launcher_spawn (launcher, &error,
                                                   g_getenv ("SWARM_PROXY_EXE"),
                                                   "--json", "--no-gui",
                                                   allow_private ? "--allow-private" : NULL,
                                                   NULL);
  g_assert_no_error (error);
  headless->stdout_lines =
    g_data_input_stream_new (g_subprocess_get_stdout_pipe (headless->process));
  read_next_line (headless);
}

static void
headless_stop (Headless *headless)
{
  g_subprocess_send_signal (headless->process, SIGTERM);
  g_assert_true (swarm_test_wait_until (headless_eof, headless, WAIT_TIMEOUT_S));
  g_assert_true (g_subprocess_wait (headless->process, NULL, NULL));
  g_assert_true (g_subprocess_get_if_exited (headless->process));
  g_assert_cmpint (g_subprocess_get_exit_status (headless->process), ==, 0);

  g_clear_object (&headless->stdout_lines);
  g_clear_object (&headless->process);
  g_clear_pointer (&headless->proxy_url, g_free);
  g_clear_pointer (&headless->session_id, g_free);
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

/* Writes settings for the child: a free port, and loopback targets allowed
 * or not. */
static void
write_settings (const char *scratch,
                gboolean    allow_private)
{
  g_autofree char *dir = g_build_filename (scratch, "config", "glib-2.0", "settings", NULL);
  g_autofree char *path = g_build_filename (dir, "keyfile", NULL);
  g_autofree char *text = g_strdup_printf ("[io/github/swarmproxy/SwarmProxy]\n"
                                           "listen-address='127.0.0.1:0'\n"
                                           "allow-private=%s\n",
                                           allow_private ? "true" : "false");

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
test_headless_shares_and_reuses_ticket (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *scratch = g_dir_make_tmp ("swarm-headless-XXXXXX", &error);
  g_autofree char *curl_path = g_find_program_in_path ("curl");
  g_autofree char *target_url = NULL;
  g_autofree char *first_session = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GSocketService) target = g_threaded_socket_service_new (2);
  g_autoptr(GSubprocess) curl = NULL;
  guint16 port;
  Headless headless;

  g_assert_no_error (error);
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

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (target), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (target, "run", G_CALLBACK (serve_cb), NULL);
  g_socket_service_start (target);
  target_url = g_strdup_printf ("http://127.0.0.1:%u/", port);

  write_settings (scratch, TRUE);
  headless_start (&headless, scratch, FALSE);
  g_assert_true (swarm_test_wait_until (headless_sharing, &headless, WAIT_TIMEOUT_S));
  g_assert_false (headless.eof);
  g_assert_nonnull (headless.proxy_url);
  /* The ticket names the bound port, not the 0 of the settings. */
  g_assert_null (strstr (headless.proxy_url, "127.0.0.1:0"));

  curl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, curl_path, "--silent",
                           "--show-error", "--fail", "--max-time", "20", "--noproxy", "",
                           "--proxy", headless.proxy_url, target_url, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (curl, NULL, NULL, curl_done_cb, &body);
  g_assert_true (swarm_test_wait_until (string_set, &body, WAIT_TIMEOUT_S + 10));
  g_assert_cmpstr (body, ==, TARGET_BODY);

  first_session = g_strdup (headless.session_id);
  headless_stop (&headless);

  /* A second start shares the stored ticket again, token from the keyring. */
  headless_start (&headless, scratch, FALSE);
  g_assert_true (swarm_test_wait_until (headless_sharing, &headless, WAIT_TIMEOUT_S));
  g_assert_cmpstr (headless.session_id, ==, first_session);
  headless_stop (&headless);

  g_socket_service_stop (target);
}

/* Fetches `target_url` through the share and returns curl's output, with
 * the response head so that an error status can be checked. */
static char *
fetch_through (Headless   *headless,
               const char *curl_path,
               const char *target_url)
{
  g_autoptr(GSubprocess) curl = NULL;
  g_autoptr(GError) error = NULL;
  char *body = NULL;

  curl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, curl_path, "--silent",
                           "--show-error", "--include", "--max-time", "20", "--noproxy", "",
                           "--proxy", headless->proxy_url, target_url, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (curl, NULL, NULL, curl_done_cb, &body);
  g_assert_true (swarm_test_wait_until (string_set, &body, WAIT_TIMEOUT_S + 10));

  return body;
}

static void
test_headless_allow_private_flag (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *scratch = g_dir_make_tmp ("swarm-headless-XXXXXX", &error);
  g_autofree char *second_scratch = NULL;
  g_autofree char *curl_path = g_find_program_in_path ("curl");
  g_autofree char *target_url = NULL;
  g_autofree char *rejected = NULL;
  g_autofree char *allowed = NULL;
  g_autoptr(GSocketService) target = g_threaded_socket_service_new (2);
  guint16 port;
  Headless headless;

  g_assert_no_error (error);
  if (curl_path == NULL || g_getenv ("SWARM_PROXY_EXE") == NULL)
    {
      g_test_skip ("curl or SWARM_PROXY_EXE is missing");
      return;
    }

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (target), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (target, "run", G_CALLBACK (serve_cb), NULL);
  g_socket_service_start (target);
  target_url = g_strdup_printf ("http://127.0.0.1:%u/", port);

  /* The saved settings keep local destinations closed. */
  write_settings (scratch, FALSE);

  headless_start (&headless, scratch, FALSE);
  g_assert_true (swarm_test_wait_until (headless_sharing, &headless, WAIT_TIMEOUT_S));
  rejected = fetch_through (&headless, curl_path, target_url);
  headless_stop (&headless);

  g_assert_true (g_str_has_prefix (rejected, "HTTP/1.1 502 "));
  /* Headless, the advice is the flag, not a preference nobody can open. */
  g_assert_nonnull (strstr (rejected, "--allow-private"));
  g_assert_null (strstr (rejected, "preferences"));

  /* A fresh folder with the same settings, so that the new ticket names
   * this run's broker port. */
  second_scratch = g_dir_make_tmp ("swarm-headless-XXXXXX", &error);
  g_assert_no_error (error);
  write_settings (second_scratch, FALSE);

  headless_start (&headless, second_scratch, TRUE);
  g_assert_true (swarm_test_wait_until (headless_sharing, &headless, WAIT_TIMEOUT_S));
  allowed = fetch_through (&headless, curl_path, target_url);
  headless_stop (&headless);

  g_test_message ("response with --allow-private: %s", allowed);
  g_assert_true (g_str_has_prefix (allowed, "HTTP/1.1 200 "));
  g_assert_nonnull (strstr (allowed, TARGET_BODY));

  g_socket_service_stop (target);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/desktop/headless/shares-and-reuses-ticket",
                   test_headless_shares_and_reuses_ticket);
  g_test_add_func ("/desktop/headless/allow-private-flag",
                   test_headless_allow_private_flag);

  return g_test_run ();
}
