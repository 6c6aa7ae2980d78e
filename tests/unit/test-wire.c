/* test-wire.c: control line parsing and formatting
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "swarm-wire.h"

/* Parses a NUL-terminated line and asserts that it succeeds. */
static void
parse_ok (const char    *text,
          SwarmWireLine *line)
{
  g_autoptr(GError) error = NULL;
  gboolean parsed;

  parsed = swarm_wire_line_parse (text, strlen (text), line, &error);
  g_assert_no_error (error);
  g_assert_true (parsed);
}

static void
test_parse_provider (void)
{
  SwarmWireLine line;

  parse_ok ("PROVIDER ci-session AbC_-123\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_PROVIDER);
  g_assert_cmpstr (line.session_id, ==, "ci-session");
  g_assert_cmpstr (line.token, ==, "AbC_-123");
  g_assert_null (line.extensions);
  g_assert_null (line.nonce);
  swarm_wire_line_clear (&line);
}

static void
test_parse_provider_extensions (void)
{
  SwarmWireLine line;

  parse_ok ("PROVIDER s t heartbeat tls=1\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_PROVIDER);
  g_assert_cmpstr (line.session_id, ==, "s");
  g_assert_cmpstr (line.token, ==, "t");
  g_assert_nonnull (line.extensions);
  g_assert_cmpuint (g_strv_length (line.extensions), ==, 2);
  g_assert_cmpstr (line.extensions[0], ==, "heartbeat");
  g_assert_cmpstr (line.extensions[1], ==, "tls=1");
  swarm_wire_line_clear (&line);
}

static void
test_parse_data (void)
{
  SwarmWireLine line;

  parse_ok ("DATA ci-session tok 0123456789abcdef\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_DATA);
  g_assert_cmpstr (line.session_id, ==, "ci-session");
  g_assert_cmpstr (line.token, ==, "tok");
  g_assert_cmpstr (line.nonce, ==, "0123456789abcdef");
  g_assert_null (line.extensions);
  swarm_wire_line_clear (&line);
}

static void
test_parse_data_extensions (void)
{
  SwarmWireLine line;

  parse_ok ("DATA s t n future\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_DATA);
  g_assert_cmpstr (line.nonce, ==, "n");
  g_assert_nonnull (line.extensions);
  g_assert_cmpuint (g_strv_length (line.extensions), ==, 1);
  g_assert_cmpstr (line.extensions[0], ==, "future");
  swarm_wire_line_clear (&line);
}

static void
test_parse_ok (void)
{
  SwarmWireLine line;

  parse_ok ("OK\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OK);
  swarm_wire_line_clear (&line);
}

static void
test_parse_ok_with_fields (void)
{
  static const char *const lines[] = { "OK heartbeat\n", "OK \n", "OK extra fields\n" };

  /* A version-1 peer treats anything but a bare OK as a rejection. */
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      SwarmWireLine line;

      g_test_message ("line: %s", lines[i]);
      parse_ok (lines[i], &line);
      g_assert_cmpint (line.kind, ==, SWARM_WIRE_UNKNOWN);
      swarm_wire_line_clear (&line);
    }
}

static void
test_parse_err (void)
{
  SwarmWireLine line;

  parse_ok ("ERR unknown-session\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_ERR);
  g_assert_cmpstr (line.reason, ==, "unknown-session");
  swarm_wire_line_clear (&line);
}

static void
test_parse_err_with_spaces (void)
{
  SwarmWireLine line;

  parse_ok ("ERR session  is\ttaken \n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_ERR);
  /* The reason runs to the end of the line, and the tab becomes a space. */
  g_assert_cmpstr (line.reason, ==, "session  is taken ");
  swarm_wire_line_clear (&line);
}

static void
test_parse_open_dns_host (void)
{
  SwarmWireLine line;

  parse_ok ("OPEN n1 BROKER_HOST.example 443\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPEN);
  g_assert_cmpstr (line.nonce, ==, "n1");
  g_assert_cmpstr (line.host, ==, "BROKER_HOST.example");
  g_assert_cmpuint (line.port, ==, 443);
  swarm_wire_line_clear (&line);
}

static void
test_parse_open_ipv4_host (void)
{
  SwarmWireLine line;

  parse_ok ("OPEN n1 127.0.0.1 1\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPEN);
  g_assert_cmpstr (line.host, ==, "127.0.0.1");
  g_assert_cmpuint (line.port, ==, 1);
  swarm_wire_line_clear (&line);
}

static void
test_parse_open_ipv6_host (void)
{
  SwarmWireLine line;

  parse_ok ("OPEN n1 ::1 65535\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPEN);
  g_assert_cmpstr (line.host, ==, "::1");
  g_assert_cmpuint (line.port, ==, 65535);
  swarm_wire_line_clear (&line);
}

static void
test_parse_opened (void)
{
  SwarmWireLine line;

  parse_ok ("OPENED abc\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPENED);
  g_assert_cmpstr (line.nonce, ==, "abc");
  swarm_wire_line_clear (&line);
}

static void
test_parse_failed (void)
{
  SwarmWireLine line;

  parse_ok ("FAILED abc connection refused (os error 111)\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_FAILED);
  g_assert_cmpstr (line.nonce, ==, "abc");
  g_assert_cmpstr (line.reason, ==, "connection refused (os error 111)");
  swarm_wire_line_clear (&line);
}

static void
test_parse_unknown_keyword (void)
{
  static const char *const lines[] = { "PING\n", "HEARTBEAT 12 x\n", "provider s t\n" };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      SwarmWireLine line;

      g_test_message ("line: %s", lines[i]);
      parse_ok (lines[i], &line);
      g_assert_cmpint (line.kind, ==, SWARM_WIRE_UNKNOWN);
      g_assert_null (line.session_id);
      swarm_wire_line_clear (&line);
    }
}

static void
test_parse_crlf (void)
{
  SwarmWireLine line;

  parse_ok ("OPENED abc\r\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPENED);
  g_assert_cmpstr (line.nonce, ==, "abc");
  swarm_wire_line_clear (&line);

  parse_ok ("OK\r\n", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OK);
  swarm_wire_line_clear (&line);

  parse_ok ("ERR forbidden\r\n", &line);
  g_assert_cmpstr (line.reason, ==, "forbidden");
  swarm_wire_line_clear (&line);
}

static void
test_parse_no_terminator (void)
{
  SwarmWireLine line;

  parse_ok ("OPEN n 127.0.0.1 8080", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPEN);
  g_assert_cmpuint (line.port, ==, 8080);
  swarm_wire_line_clear (&line);

  parse_ok ("OK\r", &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OK);
  swarm_wire_line_clear (&line);
}

static void
test_parse_length_argument (void)
{
  const char buffer[] = "OPENED abc\nOPENED def\n";
  g_autoptr(GError) error = NULL;
  SwarmWireLine line;
  gboolean parsed;

  /* Only the first `length` bytes count, so a caller can pass a line that
   * sits inside a larger buffer. */
  parsed = swarm_wire_line_parse (buffer, 11, &line, &error);
  g_assert_no_error (error);
  g_assert_true (parsed);
  g_assert_cmpstr (line.nonce, ==, "abc");
  swarm_wire_line_clear (&line);
}

static void
test_parse_malformed (void)
{
  static const char *const lines[] = {
    "",
    "\n",
    "\r\n",
    " OK\n",
    "PROVIDER\n",
    "PROVIDER s\n",
    "PROVIDER s \n",
    "PROVIDER  s t\n",
    "PROVIDER s  t\n",
    "PROVIDER s t \n",
    "PROVIDER s t ext \n",
    "PROVIDER s t\tx\n",
    "DATA s t\n",
    "DATA s t  n\n",
    "ERR\n",
    "ERR \n",
    "OPEN n host\n",
    "OPEN n host 80 extra\n",
    "OPEN n host 0\n",
    "OPEN n host 65536\n",
    "OPEN n host 99999\n",
    "OPEN n host 123456\n",
    "OPEN n host +80\n",
    "OPEN n host -80\n",
    "OPEN n host 080\n",
    "OPEN n host 8o\n",
    "OPEN n host 80 \n",
    "OPEN n host  80\n",
    "OPEN n host 0x50\n",
    "OPENED\n",
    "OPENED a b\n",
    "FAILED\n",
    "FAILED abc\n",
    "FAILED abc \n",
    "OPENED a\rb\n",
    "OPENED abc\n\n",
    "DATA s t n\xc3\xa9\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr(GError) error = NULL;
      SwarmWireLine line;
      gboolean parsed;

      g_test_message ("line %u: \"%s\"", i, lines[i]);
      parsed = swarm_wire_line_parse (lines[i], strlen (lines[i]), &line, &error);
      g_assert_error (error, SWARM_WIRE_ERROR, SWARM_WIRE_ERROR_MALFORMED);
      g_assert_false (parsed);
      g_assert_null (line.session_id);
      g_assert_null (line.nonce);
    }
}

static void
test_parse_embedded_nul (void)
{
  const char text[] = "OPENED a\0b\n";
  g_autoptr(GError) error = NULL;
  SwarmWireLine line;
  gboolean parsed;

  parsed = swarm_wire_line_parse (text, sizeof text - 1, &line, &error);
  g_assert_error (error, SWARM_WIRE_ERROR, SWARM_WIRE_ERROR_MALFORMED);
  g_assert_false (parsed);
}

/* Builds "OPENED xxx…\n" (or without "\n") of exactly `total` bytes. */
static char *
make_opened_line (gsize    total,
                  gboolean terminated)
{
  gsize body = total - (terminated ? 1 : 0);
  char *text = g_malloc (total + 1);

  memcpy (text, "OPENED ", 7);
  memset (text + 7, 'x', body - 7);
  if (terminated)
    text[total - 1] = '\n';
  text[total] = '\0';

  return text;
}

static void
test_parse_max_length (void)
{
  g_autofree char *text = make_opened_line (SWARM_WIRE_MAX_LINE, TRUE);
  SwarmWireLine line;

  parse_ok (text, &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPENED);
  g_assert_cmpuint (strlen (line.nonce), ==, SWARM_WIRE_MAX_LINE - 8);
  swarm_wire_line_clear (&line);
}

static void
test_parse_too_long (void)
{
  g_autofree char *with_newline = make_opened_line (SWARM_WIRE_MAX_LINE + 1, TRUE);
  /* Without its "\n", a line of SWARM_WIRE_MAX_LINE bytes would need one more
   * for the terminator. */
  g_autofree char *without_newline = make_opened_line (SWARM_WIRE_MAX_LINE, FALSE);
  const char *const lines[] = { with_newline, without_newline };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr(GError) error = NULL;
      SwarmWireLine line;
      gboolean parsed;

      parsed = swarm_wire_line_parse (lines[i], strlen (lines[i]), &line, &error);
      g_assert_error (error, SWARM_WIRE_ERROR, SWARM_WIRE_ERROR_TOO_LONG);
      g_assert_false (parsed);
    }
}

static void
test_field_validity (void)
{
  g_assert_true (swarm_wire_field_is_valid ("abc-DEF_123"));
  g_assert_true (swarm_wire_field_is_valid ("!~"));
  g_assert_false (swarm_wire_field_is_valid (NULL));
  g_assert_false (swarm_wire_field_is_valid (""));
  g_assert_false (swarm_wire_field_is_valid ("a b"));
  g_assert_false (swarm_wire_field_is_valid ("a\tb"));
  g_assert_false (swarm_wire_field_is_valid ("a\r"));
  g_assert_false (swarm_wire_field_is_valid ("a\n"));
  g_assert_false (swarm_wire_field_is_valid ("a\x7f"));
  g_assert_false (swarm_wire_field_is_valid ("caf\xc3\xa9"));
}

static void
test_format_lines (void)
{
  g_autofree char *provider = swarm_wire_format_provider ("ci-session", "tok");
  g_autofree char *data = swarm_wire_format_data ("ci-session", "tok", "n1");
  g_autofree char *ok = swarm_wire_format_ok ();
  g_autofree char *err = swarm_wire_format_err ("no-pending-open");
  g_autofree char *open = swarm_wire_format_open ("n1", "::1", 443);
  g_autofree char *opened = swarm_wire_format_opened ("n1");
  g_autofree char *failed = swarm_wire_format_failed ("n1", "connection refused");

  g_assert_cmpstr (provider, ==, "PROVIDER ci-session tok\n");
  g_assert_cmpstr (data, ==, "DATA ci-session tok n1\n");
  g_assert_cmpstr (ok, ==, "OK\n");
  g_assert_cmpstr (err, ==, "ERR no-pending-open\n");
  g_assert_cmpstr (open, ==, "OPEN n1 ::1 443\n");
  g_assert_cmpstr (opened, ==, "OPENED n1\n");
  g_assert_cmpstr (failed, ==, "FAILED n1 connection refused\n");
}

static void
test_format_round_trip (void)
{
  g_autofree char *text = swarm_wire_format_open ("0f1e", "127.0.0.1", 8080);
  SwarmWireLine line;

  parse_ok (text, &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_OPEN);
  g_assert_cmpstr (line.nonce, ==, "0f1e");
  g_assert_cmpstr (line.host, ==, "127.0.0.1");
  g_assert_cmpuint (line.port, ==, 8080);
  swarm_wire_line_clear (&line);
}

static void
test_format_reason_control_chars (void)
{
  g_autofree char *err = swarm_wire_format_err ("line one\nline two\r\tend");
  g_autofree char *failed = swarm_wire_format_failed ("n", "caf\xc3\xa9 \x01");

  g_assert_cmpstr (err, ==, "ERR line one line two  end\n");
  g_assert_cmpstr (failed, ==, "FAILED n caf??  \n");
}

static void
test_format_reason_empty (void)
{
  g_autofree char *err = swarm_wire_format_err ("");
  SwarmWireLine line;

  /* An empty reason would make an unparsable line, so the formatter puts a word in. */
  parse_ok (err, &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_ERR);
  g_assert_cmpuint (strlen (line.reason), >, 0);
  swarm_wire_line_clear (&line);
}

static void
test_format_reason_cut (void)
{
  g_autofree char *reason = g_strnfill (3 * SWARM_WIRE_MAX_LINE, 'r');
  g_autofree char *err = swarm_wire_format_err (reason);
  g_autofree char *failed = swarm_wire_format_failed ("nonce", reason);
  SwarmWireLine line;

  g_assert_cmpuint (strlen (err), ==, SWARM_WIRE_MAX_LINE);
  g_assert_true (g_str_has_suffix (err, "r\n"));
  g_assert_cmpuint (strlen (failed), ==, SWARM_WIRE_MAX_LINE);
  g_assert_true (g_str_has_suffix (failed, "r\n"));

  parse_ok (failed, &line);
  g_assert_cmpint (line.kind, ==, SWARM_WIRE_FAILED);
  g_assert_cmpstr (line.nonce, ==, "nonce");
  swarm_wire_line_clear (&line);
}

static void
test_format_rejects_bad_field (void)
{
  g_autofree char *text = NULL;

  /* A field with a space would split into two on the wire. */
  g_test_expect_message ("swarm-wire", G_LOG_LEVEL_CRITICAL, "*swarm_wire_field_is_valid*");
  text = swarm_wire_format_provider ("two words", "tok");
  g_test_assert_expected_messages ();
  g_assert_null (text);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wire/parse/provider", test_parse_provider);
  g_test_add_func ("/wire/parse/provider-extensions", test_parse_provider_extensions);
  g_test_add_func ("/wire/parse/data", test_parse_data);
  g_test_add_func ("/wire/parse/data-extensions", test_parse_data_extensions);
  g_test_add_func ("/wire/parse/ok", test_parse_ok);
  g_test_add_func ("/wire/parse/ok-with-fields-unknown", test_parse_ok_with_fields);
  g_test_add_func ("/wire/parse/err", test_parse_err);
  g_test_add_func ("/wire/parse/err-reason-spaces", test_parse_err_with_spaces);
  g_test_add_func ("/wire/parse/open-dns-host", test_parse_open_dns_host);
  g_test_add_func ("/wire/parse/open-ipv4-host", test_parse_open_ipv4_host);
  g_test_add_func ("/wire/parse/open-ipv6-host", test_parse_open_ipv6_host);
  g_test_add_func ("/wire/parse/opened", test_parse_opened);
  g_test_add_func ("/wire/parse/failed", test_parse_failed);
  g_test_add_func ("/wire/parse/unknown-keyword", test_parse_unknown_keyword);
  g_test_add_func ("/wire/parse/crlf", test_parse_crlf);
  g_test_add_func ("/wire/parse/no-terminator", test_parse_no_terminator);
  g_test_add_func ("/wire/parse/length-argument", test_parse_length_argument);
  g_test_add_func ("/wire/parse/malformed", test_parse_malformed);
  g_test_add_func ("/wire/parse/embedded-nul", test_parse_embedded_nul);
  g_test_add_func ("/wire/parse/max-length", test_parse_max_length);
  g_test_add_func ("/wire/parse/too-long", test_parse_too_long);
  g_test_add_func ("/wire/field/validity", test_field_validity);
  g_test_add_func ("/wire/format/lines", test_format_lines);
  g_test_add_func ("/wire/format/round-trip", test_format_round_trip);
  g_test_add_func ("/wire/format/reason-control-chars", test_format_reason_control_chars);
  g_test_add_func ("/wire/format/reason-empty", test_format_reason_empty);
  g_test_add_func ("/wire/format/reason-cut-to-fit", test_format_reason_cut);
  g_test_add_func ("/wire/format/rejects-bad-field", test_format_rejects_bad_field);

  return g_test_run ();
}
