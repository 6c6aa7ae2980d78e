/* test-ticket.c: ticket JSON, files and durations
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "swarm-ticket.h"

/* A ticket as the original tool prints it with `--json ticket`. */
static const char original_ticket[] =
  "{\n"
  "  \"schema_version\": \"agent_swarm-net-cap-proxy-v1\",\n"
  "  \"mode\": \"proxy\",\n"
  "  \"session_id\": \"ci-session\",\n"
  "  \"token\": \"q3J0Xy1vZ2lfZXhhbXBsZV90b2tlbl8w\",\n"
  "  \"broker_addr\": \"127.0.0.1:18787\",\n"
  "  \"issued_at_unix\": 1772279637,\n"
  "  \"expires_at_unix\": null\n"
  "}";

static SwarmTicket *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  SwarmTicket *ticket;

  ticket = swarm_ticket_new_from_json (json, -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ticket);

  return ticket;
}

static void
test_json_original_tool (void)
{
  g_autoptr(SwarmTicket) ticket = parse_ok (original_ticket);

  g_assert_cmpstr (swarm_ticket_get_session_id (ticket), ==, "ci-session");
  g_assert_cmpstr (swarm_ticket_get_token (ticket), ==, "q3J0Xy1vZ2lfZXhhbXBsZV90b2tlbl8w");
  g_assert_cmpstr (swarm_ticket_get_broker_addr (ticket), ==, "127.0.0.1:18787");
  g_assert_cmpint (swarm_ticket_get_issued_at_unix (ticket), ==, 1772279637);
  g_assert_cmpint (swarm_ticket_get_expires_at_unix (ticket), ==, SWARM_TICKET_NEVER_EXPIRES);
}

static void
test_json_pretty_matches_original (void)
{
  g_autoptr(SwarmTicket) ticket = parse_ok (original_ticket);
  g_autofree char *json = swarm_ticket_to_json (ticket, TRUE);

  g_assert_cmpstr (json, ==, original_ticket);
}

static void
test_json_compact_field_order (void)
{
  g_autoptr(SwarmTicket) ticket = swarm_ticket_new ("s1", "tok", "[::1]:18787", 100, 200);
  g_autofree char *json = swarm_ticket_to_json (ticket, FALSE);

  g_assert_cmpstr (json, ==,
                   "{\"schema_version\":\"agent_swarm-net-cap-proxy-v1\","
                   "\"mode\":\"proxy\",\"session_id\":\"s1\",\"token\":\"tok\","
                   "\"broker_addr\":\"[::1]:18787\",\"issued_at_unix\":100,"
                   "\"expires_at_unix\":200}");
}

static void
test_json_round_trip (void)
{
  g_autoptr(SwarmTicket) ticket = swarm_ticket_new ("s1", "tok", "127.0.0.1:1", 100, 200);
  g_autofree char *json = swarm_ticket_to_json (ticket, FALSE);
  g_autoptr(SwarmTicket) copy = parse_ok (json);

  g_assert_cmpstr (swarm_ticket_get_session_id (copy), ==, "s1");
  g_assert_cmpstr (swarm_ticket_get_token (copy), ==, "tok");
  g_assert_cmpstr (swarm_ticket_get_broker_addr (copy), ==, "127.0.0.1:1");
  g_assert_cmpint (swarm_ticket_get_issued_at_unix (copy), ==, 100);
  g_assert_cmpint (swarm_ticket_get_expires_at_unix (copy), ==, 200);
}

static void
test_json_node (void)
{
  g_autoptr(SwarmTicket) ticket = swarm_ticket_new ("s1", "tok", "127.0.0.1:1", 100, 0);
  g_autoptr(JsonNode) node = swarm_ticket_to_json_node (ticket);
  JsonObject *object;

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "schema_version"), ==,
                   SWARM_TICKET_SCHEMA_VERSION);
  g_assert_cmpstr (json_object_get_string_member (object, "mode"), ==, SWARM_TICKET_MODE);
  g_assert_cmpint (json_object_get_int_member (object, "issued_at_unix"), ==, 100);
  g_assert_true (json_object_get_null_member (object, "expires_at_unix"));
}

static void
test_json_other_field_order (void)
{
  g_autoptr(SwarmTicket) ticket =
    parse_ok ("{\"expires_at_unix\": 1772283237, \"token\": \"t\","
              " \"issued_at_unix\": 1772279637, \"broker_addr\": \"127.0.0.1:9\","
              " \"session_id\": \"s\", \"mode\": \"proxy\","
              " \"schema_version\": \"agent_swarm-net-cap-proxy-v1\"}");

  g_assert_cmpstr (swarm_ticket_get_session_id (ticket), ==, "s");
  g_assert_cmpstr (swarm_ticket_get_token (ticket), ==, "t");
  g_assert_cmpint (swarm_ticket_get_expires_at_unix (ticket), ==, 1772283237);
}

static void
test_json_unknown_fields (void)
{
  g_autoptr(SwarmTicket) ticket =
    parse_ok ("{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
              " \"comment\": \"added by a newer writer\", \"tls\": {\"pin\": [1, 2]},"
              " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
              " \"issued_at_unix\": 5, \"expires_at_unix\": null, \"flag\": true}");

  g_assert_cmpstr (swarm_ticket_get_session_id (ticket), ==, "s");
  g_assert_cmpint (swarm_ticket_get_issued_at_unix (ticket), ==, 5);
}

static void
test_json_missing_expiry (void)
{
  g_autoptr(SwarmTicket) ticket =
    parse_ok ("{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
              " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
              " \"issued_at_unix\": 5}");

  g_assert_cmpint (swarm_ticket_get_expires_at_unix (ticket), ==, SWARM_TICKET_NEVER_EXPIRES);
}

typedef struct {
  const char *json;
  const char *message_part;  /* a substring the error message must contain */
} InvalidCase;

static void
test_json_invalid (void)
{
  static const InvalidCase cases[] = {
    { "not json", "JSON" },
    { "[1, 2]", "object" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v2\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5}", "\"schema_version\"" },
    { "{\"mode\": \"proxy\", \"session_id\": \"s\", \"token\": \"t\","
      " \"broker_addr\": \"127.0.0.1:9\", \"issued_at_unix\": 5}", "\"schema_version\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"socks\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5}", "\"mode\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\", \"issued_at_unix\": 5}",
      "\"session_id\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"two words\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5}", "\"session_id\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5}", "\"token\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": 7, \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5}", "\"token\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1\","
      " \"issued_at_unix\": 5}", "\"broker_addr\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\"}",
      "\"issued_at_unix\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": \"5\"}", "\"issued_at_unix\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5.5}", "\"issued_at_unix\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": -5}", "\"issued_at_unix\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5, \"expires_at_unix\": \"never\"}", "\"expires_at_unix\"" },
    { "{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\", \"mode\": \"proxy\","
      " \"session_id\": \"s\", \"token\": \"t\", \"broker_addr\": \"127.0.0.1:9\","
      " \"issued_at_unix\": 5, \"expires_at_unix\": 0}", "\"expires_at_unix\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwarmTicket) ticket = NULL;

      g_test_message ("case %u: %s", i, cases[i].json);
      ticket = swarm_ticket_new_from_json (cases[i].json, -1, &error);
      g_assert_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID);
      g_assert_null (ticket);
      g_assert_nonnull (strstr (error->message, cases[i].message_part));
    }
}

static void
test_json_error_hides_token (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmTicket) ticket = NULL;

  ticket = swarm_ticket_new_from_json ("{\"schema_version\": \"agent_swarm-net-cap-proxy-v1\","
                                       " \"mode\": \"proxy\", \"session_id\": \"s\","
                                       " \"token\": \"secret value\","
                                       " \"broker_addr\": \"127.0.0.1:9\","
                                       " \"issued_at_unix\": 5}", -1, &error);
  g_assert_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID);
  g_assert_null (ticket);
  g_assert_null (strstr (error->message, "secret"));
}

static void
test_expired (void)
{
  g_autoptr(SwarmTicket) ticket = swarm_ticket_new ("s", "t", "127.0.0.1:9", 100, 200);

  g_assert_false (swarm_ticket_is_expired (ticket, 100));
  g_assert_false (swarm_ticket_is_expired (ticket, 199));
  g_assert_true (swarm_ticket_is_expired (ticket, 200));
  g_assert_true (swarm_ticket_is_expired (ticket, 10000));
}

static void
test_never_expires (void)
{
  g_autoptr(SwarmTicket) ticket =
    swarm_ticket_new ("s", "t", "127.0.0.1:9", 100, SWARM_TICKET_NEVER_EXPIRES);

  g_assert_false (swarm_ticket_is_expired (ticket, 100));
  g_assert_false (swarm_ticket_is_expired (ticket, G_MAXINT64));
}

static void
test_properties (void)
{
  g_autoptr(SwarmTicket) ticket = swarm_ticket_new ("s", "t", "127.0.0.1:9", 100, 200);
  g_autofree char *session_id = NULL;
  g_autofree char *broker_addr = NULL;
  gint64 issued_at_unix = 0;
  gint64 expires_at_unix = 0;

  g_object_get (ticket,
                "session-id", &session_id,
                "broker-addr", &broker_addr,
                "issued-at-unix", &issued_at_unix,
                "expires-at-unix", &expires_at_unix,
                NULL);
  g_assert_cmpstr (session_id, ==, "s");
  g_assert_cmpstr (broker_addr, ==, "127.0.0.1:9");
  g_assert_cmpint (issued_at_unix, ==, 100);
  g_assert_cmpint (expires_at_unix, ==, 200);
}

static void
test_issue (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmTicket) ticket = NULL;
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;

  ticket = swarm_ticket_issue ("ci-session", "127.0.0.1:18787", 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ticket);
  g_assert_cmpstr (swarm_ticket_get_session_id (ticket), ==, "ci-session");
  g_assert_cmpuint (strlen (swarm_ticket_get_token (ticket)), ==, 32);
  g_assert_cmpint (swarm_ticket_get_issued_at_unix (ticket), >=, before);
  g_assert_cmpint (swarm_ticket_get_issued_at_unix (ticket), <=, before + 60);
}

static void
test_issue_bad_session_id (void)
{
  static const char *const session_ids[] = { "", "two words", "tab\there" };

  for (guint i = 0; i < G_N_ELEMENTS (session_ids); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwarmTicket) ticket = NULL;

      ticket = swarm_ticket_issue (session_ids[i], "127.0.0.1:18787", 0, &error);
      g_assert_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID);
      g_assert_null (ticket);
    }
}

static void
test_issue_bad_broker_addr (void)
{
  static const char *const addrs[] = { "", "127.0.0.1", "127.0.0.1:0", "host:port", "a b:1" };

  for (guint i = 0; i < G_N_ELEMENTS (addrs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwarmTicket) ticket = NULL;

      g_test_message ("broker address: \"%s\"", addrs[i]);
      ticket = swarm_ticket_issue ("s", addrs[i], 0, &error);
      g_assert_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID);
      g_assert_null (ticket);
    }
}

/* A fresh temporary directory, removed with its contents by the caller. */
static char *
make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("swarm-ticket-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_nonnull (dir);

  return dir;
}

static void
remove_temp_dir (const char *dir)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_assert_cmpint (g_remove (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_save_mode_and_content (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "ticket.json", NULL);
  g_autoptr(SwarmTicket) ticket = swarm_ticket_new ("s", "t", "127.0.0.1:9", 100, 200);
  g_autoptr(SwarmTicket) loaded = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;
  gboolean saved;

  saved = swarm_ticket_save (ticket, path, &error);
  g_assert_no_error (error);
  g_assert_true (saved);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  loaded = swarm_ticket_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_cmpstr (swarm_ticket_get_session_id (loaded), ==, "s");
  g_assert_cmpstr (swarm_ticket_get_token (loaded), ==, "t");
  g_assert_cmpstr (swarm_ticket_get_broker_addr (loaded), ==, "127.0.0.1:9");
  g_assert_cmpint (swarm_ticket_get_issued_at_unix (loaded), ==, 100);
  g_assert_cmpint (swarm_ticket_get_expires_at_unix (loaded), ==, 200);

  remove_temp_dir (dir);
}

static void
test_save_replaces_readable (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "ticket.json", NULL);
  g_autoptr(SwarmTicket) ticket = swarm_ticket_new ("s", "t", "127.0.0.1:9", 100, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *json = NULL;
  g_autofree char *expected = NULL;
  GStatBuf st;
  gboolean saved;

  /* A world-readable file already at the path must not keep its mode. */
  g_assert_true (g_file_set_contents (path, "old", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);

  saved = swarm_ticket_save (ticket, path, &error);
  g_assert_no_error (error);
  g_assert_true (saved);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  json = swarm_ticket_to_json (ticket, TRUE);
  expected = g_strconcat (json, "\n", NULL);
  g_assert_cmpstr (contents, ==, expected);

  remove_temp_dir (dir);
}

static void
test_load_missing_file (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "absent.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmTicket) ticket = NULL;

  ticket = swarm_ticket_load (path, &error);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_null (ticket);

  remove_temp_dir (dir);
}

typedef struct {
  const char *text;
  gint64 seconds;  /* 0 when the text is invalid */
} DurationCase;

static void
test_parse_duration (void)
{
  static const DurationCase cases[] = {
    { "1", 1 },
    { "90", 90 },
    { "45s", 45 },
    { "90m", 90 * 60 },
    { "12h", 12 * 3600 },
    { "7d", 7 * 86400 },
    { "2w", 2 * 7 * 86400 },
    { "0090m", 90 * 60 },
    { "5200w", G_GINT64_CONSTANT (5200) * 7 * 86400 },
    { "", 0 },
    { "0", 0 },
    { "0s", 0 },
    { "0h", 0 },
    { "-5", 0 },
    { "-5m", 0 },
    { "+5", 0 },
    { " 5", 0 },
    { "5 ", 0 },
    { "5 m", 0 },
    { "1.5h", 0 },
    { "5x", 0 },
    { "5M", 0 },
    { "5mm", 0 },
    { "m", 0 },
    { "h5", 0 },
    { "0x10", 0 },
    { "9223372036854775807", 0 },
    { "99999999999999999999999", 0 },
    { "9999999999999w", 0 },
    { "5300w", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 seconds = -1;
      gboolean parsed;

      g_test_message ("duration: \"%s\"", cases[i].text);
      parsed = swarm_parse_duration (cases[i].text, &seconds, &error);

      if (cases[i].seconds > 0)
        {
          g_assert_no_error (error);
          g_assert_true (parsed);
          g_assert_cmpint (seconds, ==, cases[i].seconds);
        }
      else
        {
          g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
          g_assert_false (parsed);
          g_assert_cmpint (seconds, ==, -1);
        }
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ticket/json/original-tool-output", test_json_original_tool);
  g_test_add_func ("/ticket/json/pretty-matches-original", test_json_pretty_matches_original);
  g_test_add_func ("/ticket/json/compact-field-order", test_json_compact_field_order);
  g_test_add_func ("/ticket/json/round-trip", test_json_round_trip);
  g_test_add_func ("/ticket/json/node", test_json_node);
  g_test_add_func ("/ticket/json/other-field-order", test_json_other_field_order);
  g_test_add_func ("/ticket/json/unknown-fields-ignored", test_json_unknown_fields);
  g_test_add_func ("/ticket/json/missing-expiry-never", test_json_missing_expiry);
  g_test_add_func ("/ticket/json/invalid-names-field", test_json_invalid);
  g_test_add_func ("/ticket/json/error-hides-token", test_json_error_hides_token);
  g_test_add_func ("/ticket/expiry/expired", test_expired);
  g_test_add_func ("/ticket/expiry/never", test_never_expires);
  g_test_add_func ("/ticket/object/properties", test_properties);
  g_test_add_func ("/ticket/issue/fresh-token", test_issue);
  g_test_add_func ("/ticket/issue/bad-session-id", test_issue_bad_session_id);
  g_test_add_func ("/ticket/issue/bad-broker-addr", test_issue_bad_broker_addr);
  g_test_add_func ("/ticket/file/save-mode-0600", test_save_mode_and_content);
  g_test_add_func ("/ticket/file/save-replaces-readable", test_save_replaces_readable);
  g_test_add_func ("/ticket/file/load-missing", test_load_missing_file);
  g_test_add_func ("/ticket/duration/table", test_parse_duration);

  return g_test_run ();
}
