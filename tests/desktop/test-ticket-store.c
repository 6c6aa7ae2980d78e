/* test-ticket-store.c: metadata on disk, tokens in the keyring or a 0600 file */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#include "swarm-ticket-store.h"

static char *
make_data_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("swarm-store-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_data_dir (const char *dir)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_remove (path);
    }
  g_rmdir (dir);
}

static guint
file_mode (const char *path)
{
  GStatBuf info;

  g_assert_cmpint (g_stat (path, &info), ==, 0);
  return info.st_mode & 0777;
}

static char *
secret_tool_lookup (const char *session_id)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  const char *argv[] = { "secret-tool", "lookup", "session_id", session_id, NULL };
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &output, NULL,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    return NULL;
  return g_steal_pointer (&output);
}

static void
test_store_keyring (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autofree char *tool = g_find_program_in_path ("secret-tool");
  g_autofree char *found = NULL;
  g_autofree char *tokens_path = NULL;
  g_autofree char *metadata_path = NULL;
  g_autofree char *metadata = NULL;
  g_autofree char *token = NULL;
  g_autoptr(SwarmTicketStore) store = NULL;
  g_autoptr(SwarmTicketStore) reloaded = NULL;
  g_autoptr(GError) error = NULL;
  SwarmStoredTicket *ticket;
  SwarmStoredTicket *again;

  if (tool == NULL)
    {
      g_test_skip ("secret-tool is not installed");
      return;
    }

  store = swarm_ticket_store_new (dir);
  if (!swarm_ticket_store_get_uses_keyring (store))
    {
      g_test_skip ("no Secret Service in this session; run it through run-desktop-test.sh");
      return;
    }

  ticket = swarm_ticket_store_create (store, "keyring-test", "127.0.0.1:8787",
                                      SWARM_TICKET_NEVER_EXPIRES, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ticket);
  token = g_strdup (swarm_stored_ticket_get_token (ticket));

  /* Another program reading the keyring finds exactly that token. */
  found = secret_tool_lookup ("keyring-test");
  g_assert_cmpstr (found, ==, token);

  /* The token never lands on disk, only the metadata does. */
  tokens_path = g_build_filename (dir, "tokens.json", NULL);
  g_assert_false (g_file_test (tokens_path, G_FILE_TEST_EXISTS));
  metadata_path = g_build_filename (dir, "tickets.json", NULL);
  g_assert_true (g_file_get_contents (metadata_path, &metadata, NULL, NULL));
  g_assert_null (strstr (metadata, token));
  g_assert_nonnull (strstr (metadata, "keyring-test"));
  g_assert_cmpuint (file_mode (metadata_path), ==, 0600);

  /* A new store reads the token back from the keyring. */
  reloaded = swarm_ticket_store_new (dir);
  again = swarm_ticket_store_lookup (reloaded, "keyring-test");
  g_assert_nonnull (again);
  g_assert_cmpstr (swarm_stored_ticket_get_token (again), ==, token);

  /* Revoking removes the token from the keyring for good. */
  g_assert_true (swarm_ticket_store_revoke (reloaded, again, &error));
  g_assert_no_error (error);
  g_clear_pointer (&found, g_free);
  found = secret_tool_lookup ("keyring-test");
  g_assert_null (found);
  g_assert_null (swarm_stored_ticket_get_token (again));

  remove_data_dir (dir);
}

static void
test_store_metadata_roundtrip (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autoptr(SwarmTicketStore) store = swarm_ticket_store_new (dir);
  g_autoptr(SwarmTicketStore) reloaded = NULL;
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  SwarmStoredTicket *hour, *never, *deleted, *loaded;

  hour = swarm_ticket_store_create (store, "hour", "127.0.0.1:8787", now + 3600, &error);
  g_assert_no_error (error);
  never = swarm_ticket_store_create (store, "never", "127.0.0.1:8787",
                                     SWARM_TICKET_NEVER_EXPIRES, &error);
  g_assert_no_error (error);
  deleted = swarm_ticket_store_create (store, "gone", "127.0.0.1:8787", now + 60, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 3);

  /* Duplicate session ids are rejected. */
  g_assert_null (swarm_ticket_store_create (store, "hour", "127.0.0.1:8787", 0, &error));
  g_assert_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID);
  g_clear_error (&error);

  swarm_ticket_store_mark_used (store, hour, now - 5);
  g_assert_true (swarm_ticket_store_revoke (store, never, &error));
  g_assert_no_error (error);
  g_assert_true (swarm_ticket_store_remove (store, deleted, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 2);

  reloaded = swarm_ticket_store_new (dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (reloaded)), ==, 2);
  g_assert_null (swarm_ticket_store_lookup (reloaded, "gone"));

  loaded = swarm_ticket_store_lookup (reloaded, "hour");
  g_assert_nonnull (loaded);
  g_assert_cmpint (swarm_stored_ticket_get_expires_at (loaded), ==, now + 3600);
  g_assert_cmpint (swarm_stored_ticket_get_last_used (loaded), ==, now - 5);
  g_assert_cmpint (swarm_stored_ticket_get_status (loaded, now), ==, SWARM_TICKET_STATUS_IDLE);
  g_assert_cmpint (swarm_stored_ticket_get_status (loaded, now + 3600), ==,
                   SWARM_TICKET_STATUS_EXPIRED);
  g_assert_nonnull (swarm_stored_ticket_get_token (loaded));
  g_assert_true (swarm_ticket_store_get_latest_usable (reloaded) == loaded);

  loaded = swarm_ticket_store_lookup (reloaded, "never");
  g_assert_nonnull (loaded);
  g_assert_true (swarm_stored_ticket_get_revoked (loaded));
  g_assert_cmpint (swarm_stored_ticket_get_expires_at (loaded), ==, SWARM_TICKET_NEVER_EXPIRES);
  g_assert_cmpint (swarm_stored_ticket_get_status (loaded, now), ==,
                   SWARM_TICKET_STATUS_REVOKED);
  g_assert_null (swarm_stored_ticket_get_token (loaded));

  remove_data_dir (dir);
}

/* Runs in a child process, whose environment has no session bus. */
static void
fallback_child (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autofree char *runtime = g_build_filename (dir, "runtime", NULL);
  g_autofree char *tokens_path = g_build_filename (dir, "tokens.json", NULL);
  g_autofree char *tokens = NULL;
  g_autoptr(SwarmTicketStore) store = NULL;
  g_autoptr(SwarmTicketStore) reloaded = NULL;
  g_autoptr(GError) error = NULL;
  SwarmStoredTicket *ticket;
  SwarmStoredTicket *again;

  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  g_mkdir (runtime, 0700);
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);

  /* The parent checks the fallback warning on stderr.  GLib's
   * g_test_expect_message() works only with unstructured g_log() calls, and
   * this project logs structured, so warnings are made non-fatal here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  store = swarm_ticket_store_new (dir);

  g_assert_false (swarm_ticket_store_get_uses_keyring (store));
  g_assert_cmpstr (swarm_ticket_store_get_keyring_problem (store), ==,
                   "there is no D-Bus session bus");

  ticket = swarm_ticket_store_create (store, "fallback-test", "127.0.0.1:8787",
                                      SWARM_TICKET_NEVER_EXPIRES, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (tokens_path, &tokens, NULL, NULL));
  g_assert_nonnull (strstr (tokens, swarm_stored_ticket_get_token (ticket)));
  g_assert_cmpuint (file_mode (tokens_path), ==, 0600);

  reloaded = swarm_ticket_store_new (dir);
  again = swarm_ticket_store_lookup (reloaded, "fallback-test");
  g_assert_nonnull (again);
  g_assert_cmpstr (swarm_stored_ticket_get_token (again), ==,
                   swarm_stored_ticket_get_token (ticket));

  g_assert_true (swarm_ticket_store_remove (reloaded, again, &error));
  g_assert_no_error (error);
  g_clear_pointer (&tokens, g_free);
  g_assert_true (g_file_get_contents (tokens_path, &tokens, NULL, NULL));
  g_assert_null (strstr (tokens, swarm_stored_ticket_get_token (ticket)));

  remove_data_dir (runtime);
  remove_data_dir (dir);
}

static void
test_store_fallback_file (void)
{
  if (g_test_subprocess ())
    {
      fallback_child ();
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*Tokens are not kept in a keyring because there is no D-Bus "
                             "session bus; they are stored in *tokens.json, readable only "
                             "by you*");
}

/* Runs in a child process on a private bus that offers no services. */
static void
no_secret_service_child (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autoptr(SwarmTicketStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tokens_path = g_build_filename (dir, "tokens.json", NULL);
  SwarmStoredTicket *ticket;

  g_test_dbus_up (bus);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  store = swarm_ticket_store_new (dir);
  g_assert_false (swarm_ticket_store_get_uses_keyring (store));
  g_assert_cmpstr (swarm_ticket_store_get_keyring_problem (store), ==,
                   "no Secret Service (org.freedesktop.secrets) runs on the session bus");

  ticket = swarm_ticket_store_create (store, "no-service", "127.0.0.1:8787",
                                      SWARM_TICKET_NEVER_EXPIRES, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ticket);
  g_assert_cmpuint (file_mode (tokens_path), ==, 0600);

  g_clear_object (&store);
  g_test_dbus_down (bus);
  remove_data_dir (dir);
}

static void
test_store_no_secret_service (void)
{
  if (g_test_subprocess ())
    {
      no_secret_service_child ();
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*Tokens are not kept in a keyring because no Secret Service "
                             "(org.freedesktop.secrets) runs on the session bus*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/desktop/store/keyring", test_store_keyring);
  g_test_add_func ("/desktop/store/metadata-roundtrip", test_store_metadata_roundtrip);
  g_test_add_func ("/desktop/store/fallback-file", test_store_fallback_file);
  g_test_add_func ("/desktop/store/no-secret-service", test_store_no_secret_service);

  return g_test_run ();
}
