/* test-http.c: request and response heads of the worker's HTTP proxy */
#include <string.h>

#include "swarm-http.h"

static SwarmHttpRequest *
parse_request (const char  *head,
               GError     **error)
{
  return swarm_http_request_parse (head, strlen (head), error);
}

static SwarmHttpRequest *
parse_request_ok (const char *head)
{
  g_autoptr(GError) error = NULL;
  SwarmHttpRequest *request = parse_request (head, &error);

  g_assert_no_error (error);
  g_assert_nonnull (request);
  return request;
}

/* Head end */

static void
test_head_end_crlf (void)
{
  const char *buffer = "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\nBODY";

  g_assert_cmpuint (swarm_http_find_head_end (buffer, strlen (buffer)), ==,
                    strlen (buffer) - strlen ("BODY"));
}

static void
test_head_end_lf (void)
{
  const char *buffer = "GET http://example.com/ HTTP/1.1\nHost: example.com\n\nBODY";

  g_assert_cmpuint (swarm_http_find_head_end (buffer, strlen (buffer)), ==,
                    strlen (buffer) - strlen ("BODY"));
}

static void
test_head_end_incomplete (void)
{
  const char *buffer = "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r";

  g_assert_cmpuint (swarm_http_find_head_end (buffer, strlen (buffer)), ==, 0);
  g_assert_cmpuint (swarm_http_find_head_end (buffer, 0), ==, 0);
}

static void
test_head_end_first_of_two (void)
{
  const char *buffer = "GET http://a/ HTTP/1.1\r\n\r\nGET http://b/ HTTP/1.1\r\n\r\n";

  g_assert_cmpuint (swarm_http_find_head_end (buffer, strlen (buffer)), ==,
                    strlen ("GET http://a/ HTTP/1.1\r\n\r\n"));
}

/* Request targets */

static void
test_request_absolute_form (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET http://Example.COM:8080/a/b?x=1&y=2 HTTP/1.1\r\n"
                      "Host: example.com:8080\r\n"
                      "\r\n");

  g_assert_false (request->is_connect);
  g_assert_cmpstr (request->method, ==, "GET");
  g_assert_cmpint (request->version, ==, SOUP_HTTP_1_1);
  g_assert_cmpstr (request->host, ==, "example.com");
  g_assert_cmpuint (request->port, ==, 8080);
  g_assert_cmpstr (request->path_and_query, ==, "/a/b?x=1&y=2");
  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_NONE);
  g_assert_true (request->keep_alive);
  g_assert_false (request->expect_continue);
}

static void
test_request_default_port (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET http://example.com/index.html HTTP/1.1\r\n\r\n");

  g_assert_cmpstr (request->host, ==, "example.com");
  g_assert_cmpuint (request->port, ==, 80);
  g_assert_cmpstr (request->path_and_query, ==, "/index.html");
}

static void
test_request_ipv6 (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET http://[::1]:8080/status HTTP/1.1\r\n\r\n");

  g_assert_cmpstr (request->host, ==, "::1");
  g_assert_cmpuint (request->port, ==, 8080);
  g_assert_cmpstr (request->path_and_query, ==, "/status");
}

static void
test_request_ipv6_default_port (void)
{
  g_autoptr(SwarmHttpRequest) request = parse_request_ok ("GET http://[::1]/ HTTP/1.1\r\n\r\n");

  g_assert_cmpstr (request->host, ==, "::1");
  g_assert_cmpuint (request->port, ==, 80);
}

static void
test_request_scheme_case (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET HTTP://127.0.0.1:8000/x HTTP/1.1\r\n\r\n");

  g_assert_cmpstr (request->host, ==, "127.0.0.1");
  g_assert_cmpuint (request->port, ==, 8000);
  g_assert_cmpstr (request->path_and_query, ==, "/x");
}

static void
test_request_empty_path (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET http://example.com HTTP/1.1\r\n\r\n");

  g_assert_cmpstr (request->path_and_query, ==, "/");
}

static void
test_request_query_without_path (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET http://example.com:81?q=1 HTTP/1.1\r\n\r\n");

  g_assert_cmpuint (request->port, ==, 81);
  g_assert_cmpstr (request->path_and_query, ==, "/?q=1");
}

static void
test_request_lf_line_ends (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET http://example.com/ HTTP/1.1\nAccept: */*\n\n");

  g_assert_cmpstr (soup_message_headers_get_one (request->headers, "Accept"), ==, "*/*");
}

static void
test_request_connect (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");

  g_assert_true (request->is_connect);
  g_assert_cmpstr (request->method, ==, "CONNECT");
  g_assert_cmpstr (request->host, ==, "example.com");
  g_assert_cmpuint (request->port, ==, 443);
  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_NONE);
}

static void
test_request_connect_ipv6 (void)
{
  g_autoptr(SwarmHttpRequest) request = parse_request_ok ("CONNECT [::1]:443 HTTP/1.1\r\n\r\n");

  g_assert_true (request->is_connect);
  g_assert_cmpstr (request->host, ==, "::1");
  g_assert_cmpuint (request->port, ==, 443);
}

static void
test_request_connect_ignores_length (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("CONNECT 127.0.0.1:443 HTTP/1.1\r\nContent-Length: 10\r\n\r\n");

  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_NONE);
  g_assert_cmpint (request->content_length, ==, 0);
}

/* Rejected requests */

typedef struct {
  const char *name;
  const char *head;
  int         code;
} RejectCase;

static const RejectCase reject_cases[] = {
  { "origin-form-501", "GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n",
    SWARM_HTTP_ERROR_NOT_IMPLEMENTED },
  { "asterisk-501", "OPTIONS * HTTP/1.1\r\n\r\n", SWARM_HTTP_ERROR_NOT_IMPLEMENTED },
  { "https-absolute-501", "GET https://example.com/ HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_NOT_IMPLEMENTED },
  { "ftp-501", "GET ftp://example.com/file HTTP/1.1\r\n\r\n", SWARM_HTTP_ERROR_NOT_IMPLEMENTED },
  { "userinfo-400", "GET http://user:secret@example.com/ HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "fragment-400", "GET http://example.com/a#top HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "empty-host-400", "GET http:///a HTTP/1.1\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
  { "invalid-host-400", "GET http://exa$mple.com/ HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "port-zero-400", "GET http://example.com:0/ HTTP/1.1\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
  { "empty-port-400", "GET http://example.com:/ HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "missing-slashes-400", "GET http:example.com/ HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "authority-form-get-400", "GET example.com:80 HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connect-without-port-400", "CONNECT example.com HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connect-port-zero-400", "CONNECT example.com:0 HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connect-port-65536-400", "CONNECT example.com:65536 HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connect-port-junk-400", "CONNECT example.com:443x HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connect-unbracketed-ipv6-400", "CONNECT ::1:443 HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connect-absolute-form-400", "CONNECT http://example.com:443/ HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connect-with-path-400", "CONNECT example.com:443/x HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "length-and-chunked-400",
    "POST http://example.com/ HTTP/1.1\r\nContent-Length: 5\r\n"
    "Transfer-Encoding: chunked\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
  { "conflicting-length-400",
    "POST http://example.com/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "conflicting-length-list-400",
    "POST http://example.com/ HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "invalid-length-400", "POST http://example.com/ HTTP/1.1\r\nContent-Length: 5x\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "negative-length-400", "POST http://example.com/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "plus-sign-length-400", "POST http://example.com/ HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "empty-length-400", "POST http://example.com/ HTTP/1.1\r\nContent-Length:\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "length-overflow-400",
    "POST http://example.com/ HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "gzip-coding-400",
    "POST http://example.com/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "identity-coding-400",
    "POST http://example.com/ HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "chunked-twice-400",
    "POST http://example.com/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
    "Transfer-Encoding: chunked\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
  { "chunked-in-http10-400",
    "POST http://example.com/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "space-before-colon-400",
    "POST http://example.com/ HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "line-without-colon-400", "GET http://example.com/ HTTP/1.1\r\nGarbage\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "empty-header-name-400", "GET http://example.com/ HTTP/1.1\r\n: value\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "folded-line-400", "GET http://example.com/ HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "control-character-400", "GET http://example.com/ HTTP/1.1\r\nX-A: 1\0012\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "bare-cr-400", "GET http://example.com/ HTTP/1.1\r\nX-A: 1\r2\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "http2-version-400", "GET http://example.com/ HTTP/2.0\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "http09-request-400", "GET http://example.com/\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
  { "extra-request-line-field-400", "GET http://example.com/ HTTP/1.1 x\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "unknown-expect-400", "GET http://example.com/ HTTP/1.1\r\nExpect: tea\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "two-hosts-400",
    "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nHost: example.org\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "connection-names-length-400",
    "POST http://example.com/ HTTP/1.1\r\nConnection: Content-Length\r\n"
    "Content-Length: 5\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
  { "http10-connection-names-length-400",
    "POST http://example.com/ HTTP/1.0\r\nConnection: keep-alive, content-length\r\n"
    "Content-Length: 5\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
  { "invalid-method-400", "G(T http://example.com/ HTTP/1.1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "data-after-head-400", "GET http://example.com/ HTTP/1.1\r\n\r\nX-A: 1\r\n\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "missing-empty-line-400", "GET http://example.com/ HTTP/1.1\r\nX-A: 1\r\n",
    SWARM_HTTP_ERROR_BAD_REQUEST },
  { "empty-head-400", "\r\n\r\n", SWARM_HTTP_ERROR_BAD_REQUEST },
};

static void
test_request_reject (gconstpointer data)
{
  const RejectCase *reject = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmHttpRequest) request = parse_request (reject->head, &error);

  g_assert_null (request);
  g_assert_error (error, SWARM_HTTP_ERROR, reject->code);
  g_test_message ("%s", error->message);
}

/* A NUL byte cannot be part of a string literal used with strlen(). */
static void
test_request_reject_nul (void)
{
  const char head[] = "GET http://example.com/ HTTP/1.1\r\nX-A: 1\0002\r\n\r\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmHttpRequest) request = swarm_http_request_parse (head, sizeof head - 1, &error);

  g_assert_null (request);
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
}

static void
test_request_head_too_large (void)
{
  g_autoptr(GString) head = g_string_new ("GET http://example.com/ HTTP/1.1\r\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmHttpRequest) request = NULL;

  while (head->len <= SWARM_HTTP_MAX_HEAD)
    g_string_append (head, "X-Filler: 0123456789abcdef0123456789abcdef\r\n");
  g_string_append (head, "\r\n");

  request = swarm_http_request_parse (head->str, head->len, &error);

  g_assert_null (request);
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_HEAD_TOO_LARGE);
}

static void
test_request_error_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmHttpRequest) request =
    parse_request ("GET https://example.com/ HTTP/1.1\r\n\r\n", &error);

  g_assert_null (request);
  g_assert_nonnull (strstr (error->message, "CONNECT"));
}

static void
test_request_error_hides_credentials (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwarmHttpRequest) request =
    parse_request ("GET http://example.com/ HTTP/1.1\r\n"
                   "Proxy-Authorization Basic c2Vzc2lvbi0xOnNlY3JldA==\r\n"
                   "\r\n", &error);

  g_assert_null (request);
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
  g_assert_null (strstr (error->message, "c2Vzc2lvbi0x"));
}

/* Request body framing */

static void
test_request_framing_length (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("POST http://example.com/ HTTP/1.1\r\nContent-Length: 42\r\n\r\n");

  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_LENGTH);
  g_assert_cmpint (request->content_length, ==, 42);
}

static void
test_request_framing_repeated_length (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("POST http://example.com/ HTTP/1.1\r\n"
                      "Content-Length: 7\r\n"
                      "Content-Length: 7\r\n"
                      "\r\n");

  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_LENGTH);
  g_assert_cmpint (request->content_length, ==, 7);
}

static void
test_request_framing_zero_length (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("POST http://example.com/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n");

  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_NONE);
  g_assert_cmpint (request->content_length, ==, 0);
}

static void
test_request_framing_chunked (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("POST http://example.com/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n");

  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_CHUNKED);
}

static void
test_request_framing_none (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("GET http://example.com/ HTTP/1.1\r\n\r\n");

  g_assert_cmpint (request->body_kind, ==, SWARM_HTTP_BODY_NONE);
}

/* Persistence and expectations */

typedef struct {
  const char *name;
  const char *version;
  const char *headers;
  gboolean    keep_alive;
} KeepAliveCase;

static const KeepAliveCase keep_alive_cases[] = {
  { "1.1-default", "1.1", "", TRUE },
  { "1.1-close", "1.1", "Connection: close\r\n", FALSE },
  { "1.1-close-mixed-case", "1.1", "Connection: Close\r\n", FALSE },
  { "1.1-proxy-close", "1.1", "Proxy-Connection: close\r\n", FALSE },
  { "1.1-keep-alive", "1.1", "Connection: keep-alive\r\n", TRUE },
  { "1.0-default", "1.0", "", FALSE },
  { "1.0-keep-alive", "1.0", "Connection: keep-alive\r\n", TRUE },
  { "1.0-proxy-keep-alive", "1.0", "Proxy-Connection: Keep-Alive\r\n", TRUE },
  { "1.0-keep-alive-and-close", "1.0",
    "Connection: keep-alive\r\nProxy-Connection: close\r\n", FALSE },
};

static void
test_request_keep_alive (gconstpointer data)
{
  const KeepAliveCase *keep_alive = data;
  g_autofree char *head = g_strdup_printf ("GET http://example.com/ HTTP/%s\r\n%s\r\n",
                                           keep_alive->version, keep_alive->headers);
  g_autoptr(SwarmHttpRequest) request = parse_request_ok (head);

  g_assert_cmpint (request->keep_alive, ==, keep_alive->keep_alive);
}

static void
test_request_expect_continue (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("PUT http://example.com/ HTTP/1.1\r\n"
                      "Content-Length: 3\r\n"
                      "Expect: 100-continue\r\n"
                      "\r\n");

  g_assert_true (request->expect_continue);
}

static void
test_request_expect_continue_http10 (void)
{
  g_autoptr(SwarmHttpRequest) request =
    parse_request_ok ("PUT http://example.com/ HTTP/1.0\r\n"
                      "Content-Length: 3\r\n"
                      "Expect: 100-continue\r\n"
                      "\r\n");

  g_assert_false (request->expect_continue);
}

/* Credentials */

static SwarmHttpCredentialsResult
get_credentials_for (const char  *header_line,
                     char       **session_id,
                     char       **token)
{
  g_autofree char *head = g_strdup_printf ("GET http://example.com/ HTTP/1.1\r\n%s\r\n",
                                           header_line);
  g_autoptr(SwarmHttpRequest) request = parse_request_ok (head);

  return swarm_http_request_get_credentials (request, session_id, token);
}

static void
test_credentials_ok (void)
{
  g_autofree char *session_id = NULL;
  g_autofree char *token = NULL;
  /* base64 of "session-1:secret" */
  SwarmHttpCredentialsResult result =
    get_credentials_for ("Proxy-Authorization: Basic c2Vzc2lvbi0xOnNlY3JldA==\r\n",
                         &session_id, &token);

  g_assert_cmpint (result, ==, SWARM_HTTP_CREDENTIALS_OK);
  g_assert_cmpstr (session_id, ==, "session-1");
  g_assert_cmpstr (token, ==, "secret");
}

static void
test_credentials_token_with_colons (void)
{
  g_autofree char *session_id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *encoded = g_base64_encode ((const guchar *) "s1:a:b:c!@#", 11);
  g_autofree char *line = g_strdup_printf ("Proxy-Authorization: Basic %s\r\n", encoded);
  SwarmHttpCredentialsResult result = get_credentials_for (line, &session_id, &token);

  g_assert_cmpint (result, ==, SWARM_HTTP_CREDENTIALS_OK);
  g_assert_cmpstr (session_id, ==, "s1");
  g_assert_cmpstr (token, ==, "a:b:c!@#");
}

static void
test_credentials_lowercase_scheme (void)
{
  g_autofree char *session_id = NULL;
  g_autofree char *token = NULL;
  SwarmHttpCredentialsResult result =
    get_credentials_for ("Proxy-Authorization: basic c2Vzc2lvbi0xOnNlY3JldA==\r\n",
                         &session_id, &token);

  g_assert_cmpint (result, ==, SWARM_HTTP_CREDENTIALS_OK);
  g_assert_cmpstr (session_id, ==, "session-1");
}

static void
test_credentials_extra_spaces (void)
{
  g_autofree char *session_id = NULL;
  g_autofree char *token = NULL;
  SwarmHttpCredentialsResult result =
    get_credentials_for ("Proxy-Authorization:   BASIC    c2Vzc2lvbi0xOnNlY3JldA==   \r\n",
                         &session_id, &token);

  g_assert_cmpint (result, ==, SWARM_HTTP_CREDENTIALS_OK);
  g_assert_cmpstr (token, ==, "secret");
}

static void
test_credentials_missing (void)
{
  g_autofree char *session_id = NULL;
  g_autofree char *token = NULL;
  SwarmHttpCredentialsResult result =
    get_credentials_for ("Authorization: Basic c2Vzc2lvbi0xOnNlY3JldA==\r\n",
                         &session_id, &token);

  g_assert_cmpint (result, ==, SWARM_HTTP_CREDENTIALS_MISSING);
  g_assert_null (session_id);
  g_assert_null (token);
}

typedef struct {
  const char *name;
  const char *header_line;
} MalformedCase;

/* The comments give the decoded values. */
static const MalformedCase malformed_cases[] = {
  { "bad-base64", "Proxy-Authorization: Basic c2Vzc2lvbi0x!OnNlY3JldA==\r\n" },
  { "bad-padding", "Proxy-Authorization: Basic c2Vzc2lvbi0xOnNlY3JldA=\r\n" },
  /* "session-1" */
  { "no-colon", "Proxy-Authorization: Basic c2Vzc2lvbi0x\r\n" },
  /* ":secret" */
  { "empty-session", "Proxy-Authorization: Basic OnNlY3JldA==\r\n" },
  /* "session-1:" */
  { "empty-token", "Proxy-Authorization: Basic c2Vzc2lvbi0xOg==\r\n" },
  /* "s1:a\nb" */
  { "control-character", "Proxy-Authorization: Basic czE6YQpi\r\n" },
  /* "s1:a\0b" */
  { "nul-byte", "Proxy-Authorization: Basic czE6YQBi\r\n" },
  { "bearer-scheme", "Proxy-Authorization: Bearer c2Vzc2lvbi0xOnNlY3JldA==\r\n" },
  { "scheme-only", "Proxy-Authorization: Basic\r\n" },
  { "scheme-prefix", "Proxy-Authorization: Basicc2Vzc2lvbi0xOnNlY3JldA==\r\n" },
  { "two-headers",
    "Proxy-Authorization: Basic c2Vzc2lvbi0xOnNlY3JldA==\r\n"
    "Proxy-Authorization: Basic c2Vzc2lvbi0xOnNlY3JldA==\r\n" },
};

static void
test_credentials_malformed (gconstpointer data)
{
  const MalformedCase *malformed = data;
  g_autofree char *session_id = NULL;
  g_autofree char *token = NULL;
  SwarmHttpCredentialsResult result =
    get_credentials_for (malformed->header_line, &session_id, &token);

  g_assert_cmpint (result, ==, SWARM_HTTP_CREDENTIALS_MALFORMED);
  g_assert_null (session_id);
  g_assert_null (token);
}

/* Authorities */

static void
test_authority_host_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_assert_true (swarm_http_parse_authority ("Example.com:443", 0, &host, &port, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host, ==, "example.com");
  g_assert_cmpuint (port, ==, 443);
}

static void
test_authority_ipv6 (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_assert_true (swarm_http_parse_authority ("[::1]:65535", 0, &host, &port, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host, ==, "::1");
  g_assert_cmpuint (port, ==, 65535);
}

static void
test_authority_default_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  g_autofree char *host6 = NULL;
  guint16 port = 0;
  guint16 port6 = 0;

  g_assert_true (swarm_http_parse_authority ("127.0.0.1", 80, &host, &port, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host, ==, "127.0.0.1");
  g_assert_cmpuint (port, ==, 80);

  g_assert_true (swarm_http_parse_authority ("[::1]", 8080, &host6, &port6, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host6, ==, "::1");
  g_assert_cmpuint (port6, ==, 8080);
}

typedef struct {
  const char *name;
  const char *authority;
  guint16     default_port;
} BadAuthorityCase;

static const BadAuthorityCase bad_authority_cases[] = {
  { "empty", "", 80 },
  { "missing-port", "example.com", 0 },
  { "missing-port-ipv6", "[::1]", 0 },
  { "empty-port", "example.com:", 80 },
  { "port-zero", "example.com:0", 0 },
  { "port-65536", "example.com:65536", 0 },
  { "port-six-digits", "example.com:000080", 0 },
  { "port-junk", "example.com:80a", 0 },
  { "port-sign", "example.com:+80", 0 },
  { "port-space", "example.com: 80", 0 },
  { "host-junk", "exa mple.com:80", 0 },
  { "host-slash", "example.com/x:80", 0 },
  { "unterminated-bracket", "[::1:443", 0 },
  { "text-after-bracket", "[::1]x:443", 0 },
  { "ipv4-in-brackets", "[127.0.0.1]:443", 0 },
  { "not-ipv6-in-brackets", "[example.com]:443", 0 },
  { "ipv6-zone", "[fe80::1%eth0]:443", 0 },
  { "unbracketed-ipv6", "::1:443", 0 },
};

static void
test_authority_reject (gconstpointer data)
{
  const BadAuthorityCase *bad = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_assert_false (swarm_http_parse_authority (bad->authority, bad->default_port,
                                              &host, &port, &error));
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
  g_assert_null (host);
  g_test_message ("%s", error->message);
}

/* Upstream head */

static char *
build_upstream (const char *head)
{
  g_autoptr(SwarmHttpRequest) request = parse_request_ok (head);
  g_autoptr(GBytes) bytes = swarm_http_request_build_upstream_head (request);
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);

  return g_strndup (data, size);
}

static void
test_upstream_strips_proxy_headers (void)
{
  g_autofree char *upstream =
    build_upstream ("POST http://example.com/submit?x=1 HTTP/1.1\r\n"
                    "X-First: 1\r\n"
                    "Host: example.com\r\n"
                    "Proxy-Authorization: Basic c2Vzc2lvbi0xOnNlY3JldA==\r\n"
                    "User-Agent: test/1.0\r\n"
                    "Proxy-Connection: keep-alive\r\n"
                    "Keep-Alive: timeout=5\r\n"
                    "Accept: */*\r\n"
                    "Proxy-Authenticate: Basic\r\n"
                    "Content-Length: 3\r\n"
                    "X-Last: 2\r\n"
                    "\r\n");

  g_assert_cmpstr (upstream, ==,
                   "POST /submit?x=1 HTTP/1.1\r\n"
                   "X-First: 1\r\n"
                   "Host: example.com\r\n"
                   "User-Agent: test/1.0\r\n"
                   "Accept: */*\r\n"
                   "Content-Length: 3\r\n"
                   "X-Last: 2\r\n"
                   "\r\n");
}

static void
test_upstream_connection_named_headers (void)
{
  g_autofree char *upstream =
    build_upstream ("GET http://example.com/ HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "Connection: close, X-Hop\r\n"
                    "X-Hop: 1\r\n"
                    "Proxy-Connection: X-Other\r\n"
                    "X-Other: 2\r\n"
                    "X-End: 3\r\n"
                    "\r\n");

  g_assert_cmpstr (upstream, ==,
                   "GET / HTTP/1.1\r\n"
                   "Host: example.com\r\n"
                   "Connection: close, X-Hop\r\n"
                   "X-End: 3\r\n"
                   "\r\n");
}

static void
test_upstream_drops_upgrade (void)
{
  g_autofree char *upstream =
    build_upstream ("GET http://example.com/chat HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "Connection: Upgrade\r\n"
                    "Upgrade: websocket\r\n"
                    "\r\n");

  g_assert_null (strstr (upstream, "websocket"));
}

static void
test_upstream_repeated_headers_in_order (void)
{
  g_autofree char *upstream =
    build_upstream ("GET http://example.com/ HTTP/1.1\r\n"
                    "x-a: 1\r\n"
                    "Cookie: c=1\r\n"
                    "X-A: 2\r\n"
                    "Accept: text/html\r\n"
                    "Cookie: d=2\r\n"
                    "\r\n");

  g_assert_cmpstr (upstream, ==,
                   "GET / HTTP/1.1\r\n"
                   "Host: example.com\r\n"
                   "x-a: 1\r\n"
                   "Cookie: c=1\r\n"
                   "X-A: 2\r\n"
                   "Accept: text/html\r\n"
                   "Cookie: d=2\r\n"
                   "\r\n");
}

static void
test_upstream_adds_host_with_port (void)
{
  g_autofree char *upstream = build_upstream ("GET http://example.com:8080/a HTTP/1.1\r\n"
                                              "Accept: */*\r\n"
                                              "\r\n");

  g_assert_cmpstr (upstream, ==,
                   "GET /a HTTP/1.1\r\n"
                   "Host: example.com:8080\r\n"
                   "Accept: */*\r\n"
                   "\r\n");
}

static void
test_upstream_adds_ipv6_host (void)
{
  g_autofree char *upstream = build_upstream ("GET http://[::1]:8080/ HTTP/1.1\r\n\r\n");
  g_autofree char *upstream_default = build_upstream ("GET http://[::1]/ HTTP/1.1\r\n\r\n");

  g_assert_cmpstr (upstream, ==, "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  g_assert_cmpstr (upstream_default, ==, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n");
}

static void
test_upstream_replaces_host (void)
{
  g_autofree char *upstream = build_upstream ("GET http://example.com/ HTTP/1.1\r\n"
                                              "Accept: */*\r\n"
                                              "host: other.example\r\n"
                                              "X-A: 1\r\n"
                                              "\r\n");

  g_assert_cmpstr (upstream, ==,
                   "GET / HTTP/1.1\r\n"
                   "Accept: */*\r\n"
                   "host: example.com\r\n"
                   "X-A: 1\r\n"
                   "\r\n");
}

static void
test_upstream_http10 (void)
{
  g_autofree char *upstream = build_upstream ("GET http://example.com/ HTTP/1.0\r\n"
                                              "Connection: keep-alive\r\n"
                                              "Keep-Alive: timeout=5\r\n"
                                              "\r\n");

  g_assert_cmpstr (upstream, ==,
                   "GET / HTTP/1.0\r\n"
                   "Host: example.com\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");
}

/* A request filled in by hand has no field_names, so libsoup's order applies. */
static void
test_upstream_without_field_names (void)
{
  g_autoptr(SwarmHttpRequest) request = g_new0 (SwarmHttpRequest, 1);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *upstream = NULL;

  request->method = g_strdup ("GET");
  request->version = SOUP_HTTP_1_1;
  request->host = g_strdup ("example.com");
  request->port = 80;
  request->path_and_query = g_strdup ("/");
  request->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_append (request->headers, "Host", "other.example");
  soup_message_headers_append (request->headers, "Proxy-Authorization", "Basic eDp5");
  soup_message_headers_append (request->headers, "X-A", "1");

  bytes = swarm_http_request_build_upstream_head (request);
  upstream = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

  g_assert_cmpstr (upstream, ==, "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n\r\n");
}

/* Responses */

typedef struct {
  const char       *name;
  const char       *method;
  const char       *head;
  guint             status;
  SwarmHttpBodyKind body_kind;
  goffset           content_length;
  gboolean          keep_alive;
} ResponseCase;

static const ResponseCase response_cases[] = {
  { "length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
    200, SWARM_HTTP_BODY_LENGTH, 12, TRUE },
  { "zero-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    200, SWARM_HTTP_BODY_NONE, 0, TRUE },
  { "repeated-length", "GET",
    "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n",
    200, SWARM_HTTP_BODY_LENGTH, 4, TRUE },
  { "chunked", "POST", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n",
    201, SWARM_HTTP_BODY_CHUNKED, 0, TRUE },
  { "gzip-then-chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    200, SWARM_HTTP_BODY_CHUNKED, 0, TRUE },
  { "chunked-and-length", "GET",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    200, SWARM_HTTP_BODY_CHUNKED, 0, FALSE },
  { "gzip-only-until-close", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    200, SWARM_HTTP_BODY_UNTIL_CLOSE, 0, FALSE },
  { "no-framing-until-close", "GET", "HTTP/1.1 200 OK\r\n\r\n",
    200, SWARM_HTTP_BODY_UNTIL_CLOSE, 0, FALSE },
  { "head-ignores-length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
    200, SWARM_HTTP_BODY_NONE, 0, TRUE },
  { "head-ignores-chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    200, SWARM_HTTP_BODY_NONE, 0, TRUE },
  { "no-content-204", "DELETE", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
    204, SWARM_HTTP_BODY_NONE, 0, TRUE },
  { "not-modified-304", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    304, SWARM_HTTP_BODY_NONE, 0, TRUE },
  { "continue-100", "PUT", "HTTP/1.1 100 Continue\r\n\r\n",
    100, SWARM_HTTP_BODY_NONE, 0, TRUE },
  { "early-hints-103", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
    103, SWARM_HTTP_BODY_NONE, 0, TRUE },
  { "close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
    200, SWARM_HTTP_BODY_LENGTH, 1, FALSE },
  { "http10-length", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n",
    200, SWARM_HTTP_BODY_LENGTH, 3, FALSE },
  { "http10-keep-alive", "GET",
    "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\n",
    200, SWARM_HTTP_BODY_LENGTH, 3, TRUE },
  { "http10-chunked-until-close", "GET",
    "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    200, SWARM_HTTP_BODY_UNTIL_CLOSE, 0, FALSE },
  { "lf-line-ends", "GET", "HTTP/1.1 404 Not Found\nContent-Length: 9\n\n",
    404, SWARM_HTTP_BODY_LENGTH, 9, TRUE },
  { "no-method", NULL, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
    200, SWARM_HTTP_BODY_LENGTH, 2, TRUE },
};

static void
test_response_framing (gconstpointer data)
{
  const ResponseCase *expected = data;
  SwarmHttpResponseInfo info = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (swarm_http_response_parse (expected->head, strlen (expected->head),
                                            expected->method, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (info.status, ==, expected->status);
  g_assert_cmpint (info.body_kind, ==, expected->body_kind);
  g_assert_cmpint (info.content_length, ==, expected->content_length);
  g_assert_cmpint (info.keep_alive, ==, expected->keep_alive);
}

static void
test_response_version (void)
{
  const char *head = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  SwarmHttpResponseInfo info = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (swarm_http_response_parse (head, strlen (head), "GET", &info, &error));
  g_assert_no_error (error);
  g_assert_cmpint (info.version, ==, SOUP_HTTP_1_0);
}

typedef struct {
  const char *name;
  const char *head;
} BadResponseCase;

static const BadResponseCase bad_response_cases[] = {
  { "icy", "ICY 200 OK\r\n\r\n" },
  { "http2", "HTTP/2 200 OK\r\n\r\n" },
  { "garbage", "hello\r\n\r\n" },
  { "status-600", "HTTP/1.1 600 Odd\r\n\r\n" },
  { "status-two-digits", "HTTP/1.1 99 Odd\r\n\r\n" },
  { "conflicting-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n" },
  { "invalid-length", "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n" },
  { "space-before-colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n" },
  { "folded-line", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n" },
  { "missing-empty-line", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n" },
};

static void
test_response_reject (gconstpointer data)
{
  const BadResponseCase *bad = data;
  SwarmHttpResponseInfo info = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_false (swarm_http_response_parse (bad->head, strlen (bad->head), "GET",
                                             &info, &error));
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_RESPONSE);
  g_test_message ("%s", error->message);
}

/* Error responses */

static char *
build_error (guint       status,
             const char *message)
{
  g_autoptr(GBytes) bytes = swarm_http_build_error_response (status, message);

  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
test_error_response_407 (void)
{
  g_autofree char *response = build_error (407, "Send Proxy-Authorization");

  g_assert_cmpstr (response, ==,
                   "HTTP/1.1 407 Proxy Authentication Required\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Length: 25\r\n"
                   "Connection: close\r\n"
                   "Proxy-Authenticate: Basic realm=\"swarm-proxy\"\r\n"
                   "\r\n"
                   "Send Proxy-Authorization\n");
}

static void
test_error_response_400 (void)
{
  g_autofree char *response = build_error (400, "Bad line");

  g_assert_cmpstr (response, ==,
                   "HTTP/1.1 400 Bad Request\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Length: 9\r\n"
                   "Connection: close\r\n"
                   "\r\n"
                   "Bad line\n");
}

static void
test_error_response_431 (void)
{
  g_autofree char *response = build_error (431, "Head too large");

  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

static void
test_error_response_parses (void)
{
  g_autoptr(GBytes) bytes = swarm_http_build_error_response (502, "Target unreachable");
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);
  gsize head_length = swarm_http_find_head_end (data, size);
  SwarmHttpResponseInfo info = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (head_length, >, 0);
  g_assert_true (swarm_http_response_parse (data, head_length, "GET", &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (info.status, ==, 502);
  g_assert_cmpint (info.body_kind, ==, SWARM_HTTP_BODY_LENGTH);
  g_assert_cmpint (info.content_length, ==, size - head_length);
  g_assert_false (info.keep_alive);
}

/* Chunked scanner */

static const char chunked_body[] =
  "4;name=value\r\nwiki\r\n"
  "5 ; x\r\npedia\r\n"
  "E\r\n in\r\n\r\nchunks.\r\n"
  "0\r\n"
  "Expires: never\r\n"
  "X-Trailer: 1\r\n"
  "\r\n";

static void
test_chunked_one_piece (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) error = NULL;
  gboolean finished = FALSE;
  gssize consumed;

  consumed = swarm_chunked_scanner_feed (scanner, chunked_body, strlen (chunked_body),
                                         &finished, &error);

  g_assert_no_error (error);
  g_assert_cmpint (consumed, ==, strlen (chunked_body));
  g_assert_true (finished);
}

static void
test_chunked_byte_by_byte (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  gsize length = strlen (chunked_body);
  gboolean finished = FALSE;

  for (gsize i = 0; i < length; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize consumed;

      g_assert_false (finished);
      consumed = swarm_chunked_scanner_feed (scanner, chunked_body + i, 1, &finished, &error);
      g_assert_no_error (error);
      g_assert_cmpint (consumed, ==, 1);
    }

  g_assert_true (finished);
}

static void
test_chunked_every_split (void)
{
  gsize length = strlen (chunked_body);

  for (gsize split = 0; split <= length; split++)
    {
      g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
      g_autoptr(GError) error = NULL;
      gboolean finished = FALSE;
      gssize first;
      gssize second;

      first = swarm_chunked_scanner_feed (scanner, chunked_body, split, &finished, &error);
      g_assert_no_error (error);
      g_assert_cmpint (first, ==, split);
      g_assert_cmpint (finished, ==, split == length);

      second = swarm_chunked_scanner_feed (scanner, chunked_body + split, length - split,
                                           &finished, &error);
      g_assert_no_error (error);
      g_assert_cmpint (second, ==, length - split);
      g_assert_true (finished);
    }
}

static void
test_chunked_data_after_end (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) error = NULL;
  const char *body = "3\r\nabc\r\n0\r\n\r\n";
  g_autofree char *input = g_strconcat (body, "GET http://example.com/ HTTP/1.1\r\n\r\n", NULL);
  gboolean finished = FALSE;
  gssize consumed;

  consumed = swarm_chunked_scanner_feed (scanner, input, strlen (input), &finished, &error);

  g_assert_no_error (error);
  g_assert_cmpint (consumed, ==, strlen (body));
  g_assert_true (finished);
}

static void
test_chunked_after_finish (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) error = NULL;
  const char *body = "0\r\n\r\n";
  gboolean finished = FALSE;
  gssize consumed;

  swarm_chunked_scanner_feed (scanner, body, strlen (body), &finished, &error);
  g_assert_no_error (error);
  consumed = swarm_chunked_scanner_feed (scanner, "XYZ", 3, &finished, &error);

  g_assert_no_error (error);
  g_assert_cmpint (consumed, ==, 0);
  g_assert_true (finished);
}

static void
test_chunked_bare_lf (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) error = NULL;
  const char *body = "a\n0123456789\n0\nX-T: 1\n\n";
  gboolean finished = FALSE;
  gssize consumed;

  consumed = swarm_chunked_scanner_feed (scanner, body, strlen (body), &finished, &error);

  g_assert_no_error (error);
  g_assert_cmpint (consumed, ==, strlen (body));
  g_assert_true (finished);
}

static void
test_chunked_incomplete (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) error = NULL;
  const char *body = "3\r\nabc\r\n0\r\nX-T: 1\r\n";
  gboolean finished = TRUE;
  gssize consumed;

  consumed = swarm_chunked_scanner_feed (scanner, body, strlen (body), &finished, &error);

  g_assert_no_error (error);
  g_assert_cmpint (consumed, ==, strlen (body));
  g_assert_false (finished);
}

static void
test_chunked_large_size (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) error = NULL;
  const char *line = "7fffffffffffffff\r\n";
  gboolean finished = FALSE;
  gssize consumed;

  consumed = swarm_chunked_scanner_feed (scanner, line, strlen (line), &finished, &error);

  g_assert_no_error (error);
  g_assert_cmpint (consumed, ==, strlen (line));
  g_assert_false (finished);
}

typedef struct {
  const char *name;
  const char *body;
} BadChunkedCase;

static const BadChunkedCase bad_chunked_cases[] = {
  { "non-hex-size", "zz\r\nabc\r\n0\r\n\r\n" },
  { "hex-prefix", "0x3\r\nabc\r\n0\r\n\r\n" },
  { "empty-size", "\r\nabc\r\n0\r\n\r\n" },
  { "space-before-size", " 3\r\nabc\r\n0\r\n\r\n" },
  { "negative-size", "-3\r\nabc\r\n0\r\n\r\n" },
  { "junk-after-size", "3 x\r\nabc\r\n0\r\n\r\n" },
  { "size-overflow", "10000000000000000\r\n" },
  { "size-cr-without-lf", "3\rabc\r\n0\r\n\r\n" },
  { "data-longer-than-size", "3\r\nabcd\r\n0\r\n\r\n" },
  { "data-cr-without-lf", "3\r\nabc\rx0\r\n\r\n" },
  { "final-cr-without-lf", "0\r\n\rx" },
  { "control-in-extension", "3;a\001b\r\nabc\r\n0\r\n\r\n" },
};

static void
test_chunked_reject (gconstpointer data)
{
  const BadChunkedCase *bad = data;
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) error = NULL;
  gboolean finished = FALSE;
  gssize consumed;

  consumed = swarm_chunked_scanner_feed (scanner, bad->body, strlen (bad->body),
                                         &finished, &error);

  g_assert_cmpint (consumed, ==, -1);
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
  g_assert_false (finished);
  g_test_message ("%s", error->message);
}

static void
test_chunked_reject_byte_by_byte (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  const char *body = "3\r\nabcd";
  gboolean finished = FALSE;
  gssize consumed = 0;
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < strlen (body) && consumed >= 0; i++)
    consumed = swarm_chunked_scanner_feed (scanner, body + i, 1, &finished, &error);

  g_assert_cmpint (consumed, ==, -1);
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
}

static void
test_chunked_long_extension (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GString) line = g_string_new ("3;");
  g_autoptr(GError) error = NULL;
  gboolean finished = FALSE;
  gssize consumed;

  while (line->len <= SWARM_HTTP_MAX_HEAD)
    g_string_append (line, "x=yyyyyyyyyyyyyyyyyyyyyyyyyyyy;");

  consumed = swarm_chunked_scanner_feed (scanner, line->str, line->len, &finished, &error);

  g_assert_cmpint (consumed, ==, -1);
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
}

static void
test_chunked_long_trailer (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GString) body = g_string_new ("0\r\nX-Long: ");
  g_autoptr(GError) error = NULL;
  gboolean finished = FALSE;
  gssize consumed;

  while (body->len <= SWARM_HTTP_MAX_HEAD + 8)
    g_string_append (body, "0123456789abcdef");

  consumed = swarm_chunked_scanner_feed (scanner, body->str, body->len, &finished, &error);

  g_assert_cmpint (consumed, ==, -1);
  g_assert_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
}

static void
test_chunked_fails_again (void)
{
  g_autoptr(SwarmChunkedScanner) scanner = swarm_chunked_scanner_new ();
  g_autoptr(GError) first_error = NULL;
  g_autoptr(GError) second_error = NULL;
  gboolean finished = FALSE;
  gssize consumed;

  swarm_chunked_scanner_feed (scanner, "z\r\n", 3, &finished, &first_error);
  g_assert_error (first_error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);

  consumed = swarm_chunked_scanner_feed (scanner, "0\r\n\r\n", 5, &finished, &second_error);

  g_assert_cmpint (consumed, ==, -1);
  g_assert_error (second_error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST);
}

/* Adds one test per table row, named after the row. */
#define ADD_TABLE_TESTS(prefix, table, func)                                  \
  G_STMT_START {                                                              \
    for (guint i_ = 0; i_ < G_N_ELEMENTS (table); i_++)                       \
      {                                                                       \
        g_autofree char *path_ = g_strconcat (prefix, table[i_].name, NULL);  \
        g_test_add_data_func (path_, &table[i_], func);                       \
      }                                                                       \
  } G_STMT_END

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/http/head-end/crlf", test_head_end_crlf);
  g_test_add_func ("/http/head-end/lf", test_head_end_lf);
  g_test_add_func ("/http/head-end/incomplete", test_head_end_incomplete);
  g_test_add_func ("/http/head-end/first-of-two", test_head_end_first_of_two);

  g_test_add_func ("/http/request/absolute-form", test_request_absolute_form);
  g_test_add_func ("/http/request/default-port-80", test_request_default_port);
  g_test_add_func ("/http/request/ipv6", test_request_ipv6);
  g_test_add_func ("/http/request/ipv6-default-port", test_request_ipv6_default_port);
  g_test_add_func ("/http/request/scheme-case-insensitive", test_request_scheme_case);
  g_test_add_func ("/http/request/empty-path-slash", test_request_empty_path);
  g_test_add_func ("/http/request/query-without-path", test_request_query_without_path);
  g_test_add_func ("/http/request/lf-line-ends", test_request_lf_line_ends);
  g_test_add_func ("/http/request/connect", test_request_connect);
  g_test_add_func ("/http/request/connect-ipv6", test_request_connect_ipv6);
  g_test_add_func ("/http/request/connect-ignores-length", test_request_connect_ignores_length);
  ADD_TABLE_TESTS ("/http/request/", reject_cases, test_request_reject);
  g_test_add_func ("/http/request/nul-byte-400", test_request_reject_nul);
  g_test_add_func ("/http/request/head-too-large-431", test_request_head_too_large);
  g_test_add_func ("/http/request/https-message-names-connect", test_request_error_message);
  g_test_add_func ("/http/request/error-hides-credentials", test_request_error_hides_credentials);

  g_test_add_func ("/http/request/framing/length", test_request_framing_length);
  g_test_add_func ("/http/request/framing/repeated-length", test_request_framing_repeated_length);
  g_test_add_func ("/http/request/framing/zero-length-none", test_request_framing_zero_length);
  g_test_add_func ("/http/request/framing/chunked", test_request_framing_chunked);
  g_test_add_func ("/http/request/framing/none", test_request_framing_none);

  ADD_TABLE_TESTS ("/http/request/keep-alive/", keep_alive_cases, test_request_keep_alive);
  g_test_add_func ("/http/request/expect-continue", test_request_expect_continue);
  g_test_add_func ("/http/request/expect-continue-http10-ignored",
                   test_request_expect_continue_http10);

  g_test_add_func ("/http/credentials/ok", test_credentials_ok);
  g_test_add_func ("/http/credentials/token-with-colons", test_credentials_token_with_colons);
  g_test_add_func ("/http/credentials/lowercase-scheme", test_credentials_lowercase_scheme);
  g_test_add_func ("/http/credentials/extra-spaces", test_credentials_extra_spaces);
  g_test_add_func ("/http/credentials/missing", test_credentials_missing);
  ADD_TABLE_TESTS ("/http/credentials/malformed/", malformed_cases, test_credentials_malformed);

  g_test_add_func ("/http/authority/host-port", test_authority_host_port);
  g_test_add_func ("/http/authority/ipv6", test_authority_ipv6);
  g_test_add_func ("/http/authority/default-port", test_authority_default_port);
  ADD_TABLE_TESTS ("/http/authority/reject/", bad_authority_cases, test_authority_reject);

  g_test_add_func ("/http/upstream/strips-proxy-headers", test_upstream_strips_proxy_headers);
  g_test_add_func ("/http/upstream/connection-named-headers",
                   test_upstream_connection_named_headers);
  g_test_add_func ("/http/upstream/drops-upgrade", test_upstream_drops_upgrade);
  g_test_add_func ("/http/upstream/repeated-headers-in-order",
                   test_upstream_repeated_headers_in_order);
  g_test_add_func ("/http/upstream/adds-host-with-port", test_upstream_adds_host_with_port);
  g_test_add_func ("/http/upstream/adds-ipv6-host", test_upstream_adds_ipv6_host);
  g_test_add_func ("/http/upstream/replaces-host", test_upstream_replaces_host);
  g_test_add_func ("/http/upstream/http10", test_upstream_http10);
  g_test_add_func ("/http/upstream/without-field-names", test_upstream_without_field_names);

  ADD_TABLE_TESTS ("/http/response/framing/", response_cases, test_response_framing);
  g_test_add_func ("/http/response/version", test_response_version);
  ADD_TABLE_TESTS ("/http/response/reject/", bad_response_cases, test_response_reject);

  g_test_add_func ("/http/error-response/407", test_error_response_407);
  g_test_add_func ("/http/error-response/400", test_error_response_400);
  g_test_add_func ("/http/error-response/431-phrase", test_error_response_431);
  g_test_add_func ("/http/error-response/parses", test_error_response_parses);

  g_test_add_func ("/http/chunked/one-piece", test_chunked_one_piece);
  g_test_add_func ("/http/chunked/byte-by-byte", test_chunked_byte_by_byte);
  g_test_add_func ("/http/chunked/every-split", test_chunked_every_split);
  g_test_add_func ("/http/chunked/data-after-end", test_chunked_data_after_end);
  g_test_add_func ("/http/chunked/after-finish", test_chunked_after_finish);
  g_test_add_func ("/http/chunked/bare-lf", test_chunked_bare_lf);
  g_test_add_func ("/http/chunked/incomplete", test_chunked_incomplete);
  g_test_add_func ("/http/chunked/large-size", test_chunked_large_size);
  ADD_TABLE_TESTS ("/http/chunked/reject/", bad_chunked_cases, test_chunked_reject);
  g_test_add_func ("/http/chunked/reject-byte-by-byte", test_chunked_reject_byte_by_byte);
  g_test_add_func ("/http/chunked/long-extension", test_chunked_long_extension);
  g_test_add_func ("/http/chunked/long-trailer", test_chunked_long_trailer);
  g_test_add_func ("/http/chunked/fails-again", test_chunked_fails_again);

  return g_test_run ();
}
