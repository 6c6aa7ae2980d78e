/* swarm-http.c: request and response heads of the worker's HTTP proxy
 *
 * libsoup parses the heads.  This file adds what a forward proxy needs on
 * top: a strict check of every line before libsoup parses it, because
 * libsoup skips lines it cannot parse and a proxy must reject them.  Then
 * the request target, body framing that rejects request smuggling, the head
 * that goes upstream, proxy credentials and the broker's own error responses.
 */
#include <string.h>

#include "swarm-http.h"

/* Status 431 is newer than libsoup 3.2's phrase table. */
#define PHRASE_HEAD_TOO_LARGE "Request Header Fields Too Large"

/* Maximum length of a host name or address in a target, in bytes. */
#define MAX_HOST_LENGTH 255

/* Advice for clients, appended to the error messages of rejected targets. */
#define TARGET_HINT "send an absolute-form http:// target or use CONNECT host:port"

G_DEFINE_QUARK (swarm-http-error-quark, swarm_http_error)

gsize
swarm_http_find_head_end (const char *buffer,
                          gsize       length)
{
  for (gsize i = 0; i < length; i++)
    {
      if (buffer[i] != '\n')
        continue;

      if (i + 1 < length && buffer[i + 1] == '\n')
        return i + 2;

      if (i + 2 < length && buffer[i + 1] == '\r' && buffer[i + 2] == '\n')
        return i + 3;
    }

  return 0;
}

/* The characters of an RFC 9110 token: header names and methods. */
static gboolean
is_tchar (guchar c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static gboolean
is_token (const char *text,
          gsize       length)
{
  if (length == 0)
    return FALSE;

  for (gsize i = 0; i < length; i++)
    {
      if (!is_tchar (text[i]))
        return FALSE;
    }

  return TRUE;
}

/* A control character other than horizontal tab, or DEL. */
static gboolean
is_forbidden_control (guchar c)
{
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Finds the end of the line that starts at `line`.  Stores its length
 * without "\n" or "\r\n", and where the next line starts.  Fails on a bare
 * CR or a missing line end. */
static gboolean
split_line (const char  *line,
            const char  *end,
            gsize       *line_length,
            const char **next)
{
  const char *newline = memchr (line, '\n', end - line);
  const char *content_end;
  const char *carriage_return;

  if (newline == NULL)
    return FALSE;

  content_end = newline;
  if (content_end > line && content_end[-1] == '\r')
    content_end--;

  carriage_return = memchr (line, '\r', content_end - line);
  if (carriage_return != NULL)
    return FALSE;

  *line_length = content_end - line;
  *next = newline + 1;
  return TRUE;
}

/* Checks every line of a head before libsoup parses it, because libsoup
 * skips a header line without a colon or with whitespace before the colon,
 * removes control characters and joins folded lines.  A proxy that forwards
 * the head rebuilt from libsoup's result, or whose framing decision differs
 * from the target's, must reject such heads instead (RFC 9112 section 5).
 * Also stores the header names in the order they arrived, because
 * SoupMessageHeaders keeps common headers apart from the others. */
static gboolean
validate_head (const char  *head,
               gsize        length,
               int          error_code,
               GPtrArray   *names,
               GError     **error)
{
  const char *end = head + length;
  const char *line = head;
  gsize line_length;
  const char *next;
  gboolean first_line = TRUE;

  /* libsoup ignores empty lines before the first line, as RFC 9112 section
   * 2.2 allows, so this check does too. */
  while (line < end && (*line == '\r' || *line == '\n'))
    line++;

  while (line < end)
    {
      const char *colon;

      if (!split_line (line, end, &line_length, &next))
        {
          g_set_error (error, SWARM_HTTP_ERROR, error_code,
                       "Invalid line end in the head: lines must end with CRLF or LF");
          return FALSE;
        }

      if (line_length == 0)
        {
          if (first_line || next != end)
            {
              g_set_error (error, SWARM_HTTP_ERROR, error_code,
                           "The head must end with its first empty line");
              return FALSE;
            }
          return TRUE;
        }

      for (gsize i = 0; i < line_length; i++)
        {
          if (is_forbidden_control (line[i]))
            {
              g_set_error (error, SWARM_HTTP_ERROR, error_code,
                           "Invalid control character 0x%02x in the head",
                           (guchar) line[i]);
              return FALSE;
            }
        }

      if (first_line)
        {
          first_line = FALSE;
          line = next;
          continue;
        }

      if (line[0] == ' ' || line[0] == '\t')
        {
          g_set_error (error, SWARM_HTTP_ERROR, error_code,
                       "Header lines folded onto several lines are not supported");
          return FALSE;
        }

      colon = memchr (line, ':', line_length);
      if (colon == NULL || !is_token (line, colon - line))
        {
          /* Only the first word goes into the message, because the rest of
           * a malformed Proxy-Authorization line is a secret. */
          gsize word_length = strcspn (line, " \t:\r\n");
          g_autofree char *word = g_strndup (line, MIN (MIN (word_length, line_length), 40));
          g_autofree char *escaped = g_strescape (word, NULL);

          g_set_error (error, SWARM_HTTP_ERROR, error_code,
                       "Invalid header line starting with \"%s\": expected a name, a colon "
                       "and a value", escaped);
          return FALSE;
        }

      if (names != NULL)
        g_ptr_array_add (names, g_strndup (line, colon - line));

      line = next;
    }

  g_set_error (error, SWARM_HTTP_ERROR, error_code, "The head has no terminating empty line");
  return FALSE;
}

/* Accepts 1 to 5 decimal digits with a value from 1 to 65535. */
static gboolean
parse_port (const char *text,
            gsize       length,
            guint16    *port)
{
  guint value = 0;

  if (length == 0 || length > 5)
    return FALSE;

  for (gsize i = 0; i < length; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      value = value * 10 + (text[i] - '0');
    }

  if (value == 0 || value > G_MAXUINT16)
    return FALSE;

  *port = value;
  return TRUE;
}

/* A DNS name or an IPv4 address: letters, digits, '-', '.' and '_'. */
static gboolean
is_valid_host_name (const char *text,
                    gsize       length)
{
  if (length == 0 || length > MAX_HOST_LENGTH)
    return FALSE;

  for (gsize i = 0; i < length; i++)
    {
      guchar c = text[i];

      if (!g_ascii_isalnum (c) && c != '-' && c != '.' && c != '_')
        return FALSE;
    }

  return TRUE;
}

/* An IPv6 address without brackets.  Zone identifiers ("%eth0") name an
 * interface of the sender's machine, so they are rejected. */
static gboolean
is_valid_ipv6 (const char *text,
               gsize       length)
{
  g_autofree char *address = NULL;

  if (length == 0 || length > MAX_HOST_LENGTH)
    return FALSE;

  if (memchr (text, ':', length) == NULL || memchr (text, '%', length) != NULL)
    return FALSE;

  address = g_strndup (text, length);
  return g_hostname_is_ip_address (address);
}

gboolean
swarm_http_parse_authority (const char  *authority,
                            guint16      default_port,
                            char       **host,
                            guint16     *port,
                            GError     **error)
{
  gsize length;
  const char *host_start;
  gsize host_length;
  const char *port_text = NULL;
  gsize port_length = 0;
  gboolean is_ipv6;
  guint16 parsed_port = default_port;
  g_autofree char *shown = NULL;

  g_return_val_if_fail (authority != NULL, FALSE);
  g_return_val_if_fail (host != NULL, FALSE);
  g_return_val_if_fail (port != NULL, FALSE);

  length = strlen (authority);

  /* Error messages must be UTF-8, and the target may contain any byte. */
  shown = g_utf8_make_valid (authority, -1);

  if (authority[0] == '[')
    {
      const char *close = memchr (authority, ']', length);

      if (close == NULL)
        {
          g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                       "Invalid authority \"%s\": missing \"]\" after the IPv6 address",
                       shown);
          return FALSE;
        }

      is_ipv6 = TRUE;
      host_start = authority + 1;
      host_length = close - host_start;

      if (close[1] == ':')
        {
          port_text = close + 2;
          port_length = length - (port_text - authority);
        }
      else if (close[1] != '\0')
        {
          g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                       "Invalid authority \"%s\": unexpected text after \"]\"", shown);
          return FALSE;
        }
    }
  else
    {
      const char *colon = memchr (authority, ':', length);

      is_ipv6 = FALSE;
      host_start = authority;
      host_length = colon != NULL ? (gsize) (colon - authority) : length;

      if (colon != NULL)
        {
          port_text = colon + 1;
          port_length = length - (port_text - authority);
        }
    }

  if (is_ipv6 ? !is_valid_ipv6 (host_start, host_length)
              : !is_valid_host_name (host_start, host_length))
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Invalid host in \"%s\": expected a host name, an IPv4 address "
                   "or an IPv6 address in brackets", shown);
      return FALSE;
    }

  if (port_text != NULL)
    {
      if (!parse_port (port_text, port_length, &parsed_port))
        {
          g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                       "Invalid port in \"%s\": expected a number from 1 to 65535", shown);
          return FALSE;
        }
    }
  else if (default_port == 0)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Missing port in \"%s\": expected host:port", shown);
      return FALSE;
    }

  /* Host names are case-insensitive, and access rules compare them. */
  *host = g_ascii_strdown (host_start, host_length);
  *port = parsed_port;
  return TRUE;
}

/* Returns the length of the URI scheme at the start of `target` when a ':'
 * follows it, else 0. */
static gsize
get_scheme_length (const char *target)
{
  gsize i;

  if (!g_ascii_isalpha (target[0]))
    return 0;

  for (i = 1; target[i] != '\0' && target[i] != ':'; i++)
    {
      if (!g_ascii_isalnum (target[i]) && strchr ("+-.", target[i]) == NULL)
        return 0;
    }

  return target[i] == ':' ? i : 0;
}

static gboolean
parse_absolute_target (SwarmHttpRequest  *request,
                       const char        *target,
                       GError           **error)
{
  gsize scheme_length = get_scheme_length (target);
  const char *authority_start;
  gsize authority_length;
  g_autofree char *authority = NULL;
  const char *rest;
  g_autofree char *shown = g_utf8_make_valid (target, -1);

  if (target[0] == '/' || strcmp (target, "*") == 0)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_NOT_IMPLEMENTED,
                   "This is a proxy and \"%s\" names no host: " TARGET_HINT, shown);
      return FALSE;
    }

  if (scheme_length == 0 || strncmp (target + scheme_length, "://", 3) != 0)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Invalid request target \"%s\": " TARGET_HINT, shown);
      return FALSE;
    }

  if (scheme_length == 5 && g_ascii_strncasecmp (target, "https", 5) == 0)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_NOT_IMPLEMENTED,
                   "https:// targets are not forwarded: use CONNECT host:443 "
                   "and TLS through the tunnel");
      return FALSE;
    }

  if (scheme_length != 4 || g_ascii_strncasecmp (target, "http", 4) != 0)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_NOT_IMPLEMENTED,
                   "Unsupported URI scheme in \"%s\": only http:// targets and CONNECT "
                   "are supported", shown);
      return FALSE;
    }

  authority_start = target + scheme_length + 3;
  authority_length = strcspn (authority_start, "/?#");
  rest = authority_start + authority_length;

  if (memchr (authority_start, '@', authority_length) != NULL)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "User information in the request target is not allowed: send proxy "
                   "credentials in the Proxy-Authorization header");
      return FALSE;
    }

  if (strchr (rest, '#') != NULL)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Invalid request target \"%s\": a fragment (#) is not sent in requests",
                   shown);
      return FALSE;
    }

  authority = g_strndup (authority_start, authority_length);
  if (!swarm_http_parse_authority (authority, 80, &request->host, &request->port, error))
    return FALSE;

  /* An empty path becomes "/" (RFC 9112 section 3.2.1), also before a query. */
  if (rest[0] == '/')
    request->path_and_query = g_strdup (rest);
  else
    request->path_and_query = g_strconcat ("/", rest, NULL);

  return TRUE;
}

static gboolean
parse_target (SwarmHttpRequest  *request,
              const char        *target,
              GError           **error)
{
  for (const char *p = target; *p != '\0'; p++)
    {
      if (is_forbidden_control (*p))
        {
          g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                       "Invalid control character in the request target");
          return FALSE;
        }
    }

  if (!request->is_connect)
    return parse_absolute_target (request, target, error);

  if (!swarm_http_parse_authority (target, 0, &request->host, &request->port, error))
    {
      g_prefix_error (error, "CONNECT target: ");
      return FALSE;
    }

  /* A tunnel has no path, so "/" keeps the field valid for callers that log it. */
  request->path_and_query = g_strdup ("/");
  return TRUE;
}

/* Parses a Content-Length value, which libsoup hands over as a list when the
 * header is repeated.  Accepts the list only when all values are equal. */
static gboolean
parse_content_length (const char  *list,
                      int          error_code,
                      goffset     *content_length,
                      GError     **error)
{
  g_auto(GStrv) values = g_strsplit (list, ",", -1);
  gint64 first = -1;

  /* g_strsplit() returns no elements at all for an empty value. */
  if (values[0] == NULL)
    {
      g_set_error (error, SWARM_HTTP_ERROR, error_code, "Invalid Content-Length: empty value");
      return FALSE;
    }

  for (guint i = 0; values[i] != NULL; i++)
    {
      const char *value = g_strstrip (values[i]);
      gint64 parsed = 0;

      if (value[0] == '\0')
        {
          g_set_error (error, SWARM_HTTP_ERROR, error_code,
                       "Invalid Content-Length \"%s\": empty value", list);
          return FALSE;
        }

      for (const char *p = value; *p != '\0'; p++)
        {
          if (!g_ascii_isdigit (*p) || parsed > (G_MAXINT64 - (*p - '0')) / 10)
            {
              g_set_error (error, SWARM_HTTP_ERROR, error_code,
                           "Invalid Content-Length \"%s\": expected a decimal number of bytes",
                           list);
              return FALSE;
            }
          parsed = parsed * 10 + (*p - '0');
        }

      if (first >= 0 && parsed != first)
        {
          g_set_error (error, SWARM_HTTP_ERROR, error_code,
                       "Conflicting Content-Length values \"%s\"", list);
          return FALSE;
        }
      first = parsed;
    }

  *content_length = first;
  return TRUE;
}

/* Checks that Connection and Proxy-Connection name no header that frames the
 * body or names the target.  Those headers are removed before forwarding
 * (libsoup already removes them from HTTP/1.0 heads), so the target would
 * frame the body differently from the broker. */
static gboolean
check_connection_tokens (SoupMessageHeaders  *headers,
                         int                  error_code,
                         GError             **error)
{
  static const char * const connection_headers[] = { "Connection", "Proxy-Connection" };
  static const char * const protected_headers[] = {
    "Content-Length", "Transfer-Encoding", "Host",
  };

  for (guint i = 0; i < G_N_ELEMENTS (connection_headers); i++)
    {
      for (guint j = 0; j < G_N_ELEMENTS (protected_headers); j++)
        {
          if (soup_message_headers_header_contains (headers, connection_headers[i],
                                                    protected_headers[j]))
            {
              g_set_error (error, SWARM_HTTP_ERROR, error_code,
                           "The %s header must not name %s",
                           connection_headers[i], protected_headers[j]);
              return FALSE;
            }
        }
    }

  return TRUE;
}

static gboolean
set_request_framing (SwarmHttpRequest  *request,
                     GError           **error)
{
  const char *length_list;
  const char *coding_list;

  if (!check_connection_tokens (request->headers, SWARM_HTTP_ERROR_BAD_REQUEST, error))
    return FALSE;

  length_list = soup_message_headers_get_list (request->headers, "Content-Length");
  coding_list = soup_message_headers_get_list (request->headers, "Transfer-Encoding");

  /* A request with both is how request smuggling starts: the broker and the
   * target could each pick a different one (RFC 9112 section 6.3). */
  if (length_list != NULL && coding_list != NULL)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Content-Length and Transfer-Encoding must not both be sent");
      return FALSE;
    }

  if (coding_list != NULL)
    {
      g_autofree char *coding = g_strstrip (g_strdup (coding_list));

      if (g_ascii_strcasecmp (coding, "chunked") != 0)
        {
          g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                       "Unsupported Transfer-Encoding \"%s\": only chunked is accepted",
                       coding_list);
          return FALSE;
        }

      /* HTTP/1.0 has no transfer codings, so RFC 9112 section 6.1 treats one
       * in an HTTP/1.0 message as faulty framing. */
      if (request->version == SOUP_HTTP_1_0)
        {
          g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                       "Transfer-Encoding is not allowed in an HTTP/1.0 request");
          return FALSE;
        }

      request->body_kind = SWARM_HTTP_BODY_CHUNKED;
    }
  else if (length_list != NULL)
    {
      if (!parse_content_length (length_list, SWARM_HTTP_ERROR_BAD_REQUEST,
                                 &request->content_length, error))
        return FALSE;

      if (request->content_length > 0)
        request->body_kind = SWARM_HTTP_BODY_LENGTH;
    }

  /* A CONNECT request has no content (RFC 9110 section 9.3.6): whatever
   * follows its head already belongs to the tunnel. */
  if (request->is_connect)
    {
      request->body_kind = SWARM_HTTP_BODY_NONE;
      request->content_length = 0;
    }

  return TRUE;
}

static gboolean
headers_contain_token (SoupMessageHeaders *headers,
                       const char         *token)
{
  return soup_message_headers_header_contains (headers, "Connection", token) ||
         soup_message_headers_header_contains (headers, "Proxy-Connection", token);
}

static void
set_request_persistence (SwarmHttpRequest *request)
{
  SoupExpectation expectations;

  if (headers_contain_token (request->headers, "close"))
    request->keep_alive = FALSE;
  else if (request->version == SOUP_HTTP_1_0)
    request->keep_alive = headers_contain_token (request->headers, "keep-alive");
  else
    request->keep_alive = TRUE;

  /* HTTP/1.0 has no 100 Continue, so RFC 9110 section 10.1.1 requires
   * ignoring the expectation in an HTTP/1.0 request. */
  expectations = soup_message_headers_get_expectations (request->headers);
  request->expect_continue = request->version != SOUP_HTTP_1_0 &&
                             (expectations & SOUP_EXPECTATION_CONTINUE) != 0;
}

static gboolean
parse_request_line (SwarmHttpRequest  *request,
                    const char        *head,
                    gsize              length,
                    char             **target,
                    GError           **error)
{
  guint status;

  status = soup_headers_parse_request (head, length, request->headers,
                                       &request->method, target, &request->version);

  switch (status)
    {
    case SOUP_STATUS_OK:
      break;

    case SOUP_STATUS_HTTP_VERSION_NOT_SUPPORTED:
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Unsupported HTTP version: send HTTP/1.0 or HTTP/1.1");
      return FALSE;

    case SOUP_STATUS_EXPECTATION_FAILED:
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Unsupported Expect header: only 100-continue is accepted");
      return FALSE;

    default:
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Invalid request line: expected METHOD TARGET HTTP/1.x");
      return FALSE;
    }

  if (!is_token (request->method, strlen (request->method)))
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "Invalid method in the request line");
      return FALSE;
    }

  return TRUE;
}

SwarmHttpRequest *
swarm_http_request_parse (const char  *head,
                          gsize        length,
                          GError     **error)
{
  g_autoptr(SwarmHttpRequest) request = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *target = NULL;
  const char *hosts;

  g_return_val_if_fail (head != NULL, NULL);

  if (length > SWARM_HTTP_MAX_HEAD)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_HEAD_TOO_LARGE,
                   "The request head is larger than %d bytes", SWARM_HTTP_MAX_HEAD);
      return NULL;
    }

  names = g_ptr_array_new_with_free_func (g_free);
  if (!validate_head (head, length, SWARM_HTTP_ERROR_BAD_REQUEST, names, error))
    return NULL;
  g_ptr_array_add (names, NULL);

  request = g_new0 (SwarmHttpRequest, 1);
  request->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  request->field_names = (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);

  if (!parse_request_line (request, head, length, &target, error))
    return NULL;

  request->is_connect = strcmp (request->method, "CONNECT") == 0;

  if (!parse_target (request, target, error))
    return NULL;

  /* RFC 9112 section 3.2 requires 400 for several Host lines. */
  hosts = soup_message_headers_get_list (request->headers, "Host");
  if (hosts != NULL && strchr (hosts, ',') != NULL)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST,
                   "More than one Host header");
      return NULL;
    }

  if (!set_request_framing (request, error))
    return NULL;

  set_request_persistence (request);

  return g_steal_pointer (&request);
}

void
swarm_http_request_free (SwarmHttpRequest *request)
{
  if (request == NULL)
    return;

  g_free (request->method);
  g_free (request->host);
  g_free (request->path_and_query);
  g_clear_pointer (&request->headers, soup_message_headers_unref);
  g_strfreev (request->field_names);
  g_free (request);
}

static void
append_host_value (GString          *out,
                   SwarmHttpRequest *request)
{
  if (strchr (request->host, ':') != NULL)
    g_string_append_printf (out, "[%s]", request->host);
  else
    g_string_append (out, request->host);

  if (request->port != 80)
    g_string_append_printf (out, ":%u", request->port);
}

/* Adds the tokens of a Connection-like header to the set of header names
 * that stay behind. */
static void
add_named_headers (GHashTable         *dropped,
                   SoupMessageHeaders *headers,
                   const char         *name)
{
  const char *list = soup_message_headers_get_list (headers, name);
  GSList *tokens;

  if (list == NULL)
    return;

  tokens = soup_header_parse_list (list);
  for (GSList *l = tokens; l != NULL; l = l->next)
    g_hash_table_add (dropped, g_ascii_strdown (l->data, -1));
  soup_header_free_list (tokens);
}

/* The head for the target while it is being written. */
typedef struct {
  SwarmHttpRequest *request;
  GString          *out;
  GHashTable       *dropped;       /* lowercase names of headers that stay behind */
  gboolean          host_written;
} UpstreamHead;

static void
append_host_field (UpstreamHead *head,
                   const char   *name)
{
  g_string_append_printf (head->out, "%s: ", name);
  append_host_value (head->out, head->request);
  g_string_append (head->out, "\r\n");
  head->host_written = TRUE;
}

static void
append_upstream_field (UpstreamHead *head,
                       const char   *name,
                       const char   *value)
{
  g_autofree char *key = g_ascii_strdown (name, -1);

  if (strcmp (key, "host") == 0)
    {
      if (!head->host_written)
        append_host_field (head, name);
      return;
    }

  if (!g_hash_table_contains (head->dropped, key))
    g_string_append_printf (head->out, "%s: %s\r\n", name, value);
}

static GHashTable *
collect_dropped_headers (SoupMessageHeaders *headers)
{
  GHashTable *dropped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* The worker's credentials are a secret of the session, and the other
   * proxy headers describe the worker's hop only.  Headers named in
   * Connection are hop-by-hop too (RFC 9110 section 7.6.1).  Upgrade goes
   * as well, because the broker relays one response per request and does
   * not follow a switch to another protocol. */
  g_hash_table_add (dropped, g_strdup ("proxy-authorization"));
  g_hash_table_add (dropped, g_strdup ("proxy-authenticate"));
  g_hash_table_add (dropped, g_strdup ("proxy-connection"));
  g_hash_table_add (dropped, g_strdup ("keep-alive"));
  g_hash_table_add (dropped, g_strdup ("upgrade"));
  add_named_headers (dropped, headers, "Connection");
  add_named_headers (dropped, headers, "Proxy-Connection");

  /* The Connection header itself is forwarded as the worker sent it, unlike
   * at an ordinary proxy, because the broker relays the target's response
   * unchanged.  The target's decision about persistence (Connection: close,
   * or keep-alive for HTTP/1.0) reaches the worker, so the target must make
   * it for the worker's own request. */
  g_hash_table_remove (dropped, "connection");

  return dropped;
}

/* Queues the values of each header, under its lowercase name, in libsoup's
 * order, which is the arrival order among headers of the same name. */
static GHashTable *
collect_header_values (SoupMessageHeaders *headers)
{
  GHashTable *values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_queue_free);
  SoupMessageHeadersIter iter;
  const char *name;
  const char *value;

  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      g_autofree char *key = g_ascii_strdown (name, -1);
      GQueue *queue = g_hash_table_lookup (values, key);

      if (queue == NULL)
        {
          queue = g_queue_new ();
          g_hash_table_insert (values, g_steal_pointer (&key), queue);
        }
      g_queue_push_tail (queue, (gpointer) value);
    }

  return values;
}

GBytes *
swarm_http_request_build_upstream_head (SwarmHttpRequest *request)
{
  g_autoptr(GHashTable) dropped = NULL;
  g_autoptr(GHashTable) values = NULL;
  UpstreamHead head = { 0 };
  SoupMessageHeadersIter iter;
  const char *name;
  const char *value;

  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (!request->is_connect, NULL);

  dropped = collect_dropped_headers (request->headers);
  values = collect_header_values (request->headers);

  head.request = request;
  head.dropped = dropped;
  head.out = g_string_new (NULL);
  g_string_append_printf (head.out, "%s %s HTTP/1.%d\r\n", request->method,
                          request->path_and_query,
                          request->version == SOUP_HTTP_1_0 ? 0 : 1);

  /* A proxy replaces Host with the host of the absolute-form target (RFC
   * 9112 section 3.2.2).  Forwarding the worker's Host would let a request
   * that the access rules allowed for one host reach another virtual host
   * on the same server.  A missing Host goes first, where clients put it. */
  if (soup_message_headers_get_one (request->headers, "Host") == NULL)
    append_host_field (&head, "Host");

  for (guint i = 0; request->field_names != NULL && request->field_names[i] != NULL; i++)
    {
      g_autofree char *key = g_ascii_strdown (request->field_names[i], -1);
      GQueue *queue = g_hash_table_lookup (values, key);

      /* libsoup drops the headers that an HTTP/1.0 Connection header names. */
      if (queue == NULL || g_queue_is_empty (queue))
        continue;

      append_upstream_field (&head, request->field_names[i], g_queue_pop_head (queue));
    }

  /* Headers that field_names does not list, all of them for a request built
   * without swarm_http_request_parse(), follow in libsoup's order. */
  soup_message_headers_iter_init (&iter, request->headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      g_autofree char *key = g_ascii_strdown (name, -1);
      GQueue *queue = g_hash_table_lookup (values, key);

      if (g_queue_remove (queue, value))
        append_upstream_field (&head, name, value);
    }

  g_string_append (head.out, "\r\n");
  return g_string_free_to_bytes (head.out);
}

/* Standard base64 with padding (RFC 4648 section 4), as RFC 7617 uses.
 * g_base64_decode() skips invalid characters instead of failing. */
static gboolean
is_valid_base64 (const char *text,
                 gsize       length)
{
  gsize padding = 0;

  if (length == 0 || length % 4 != 0)
    return FALSE;

  while (padding < 2 && text[length - 1 - padding] == '=')
    padding++;

  for (gsize i = 0; i < length - padding; i++)
    {
      if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/')
        return FALSE;
    }

  return TRUE;
}

SwarmHttpCredentialsResult
swarm_http_request_get_credentials (SwarmHttpRequest  *request,
                                    char             **session_id,
                                    char             **token)
{
  const char *value;
  const char *encoded;
  gsize encoded_length;
  g_autofree guchar *decoded = NULL;
  gsize decoded_length = 0;
  const char *colon;

  g_return_val_if_fail (request != NULL, SWARM_HTTP_CREDENTIALS_MALFORMED);
  g_return_val_if_fail (session_id != NULL, SWARM_HTTP_CREDENTIALS_MALFORMED);
  g_return_val_if_fail (token != NULL, SWARM_HTTP_CREDENTIALS_MALFORMED);

  *session_id = NULL;
  *token = NULL;

  /* Several Proxy-Authorization headers come back as one list, which fails
   * below as invalid base64 instead of picking one of them. */
  value = soup_message_headers_get_list (request->headers, "Proxy-Authorization");
  if (value == NULL)
    return SWARM_HTTP_CREDENTIALS_MISSING;

  while (*value == ' ' || *value == '\t')
    value++;

  if (g_ascii_strncasecmp (value, "Basic", 5) != 0 || (value[5] != ' ' && value[5] != '\t'))
    return SWARM_HTTP_CREDENTIALS_MALFORMED;

  encoded = value + 5;
  while (*encoded == ' ' || *encoded == '\t')
    encoded++;

  encoded_length = strlen (encoded);
  while (encoded_length > 0 &&
         (encoded[encoded_length - 1] == ' ' || encoded[encoded_length - 1] == '\t'))
    encoded_length--;

  if (!is_valid_base64 (encoded, encoded_length))
    return SWARM_HTTP_CREDENTIALS_MALFORMED;

  {
    g_autofree char *copy = g_strndup (encoded, encoded_length);

    decoded = g_base64_decode (copy, &decoded_length);
  }

  for (gsize i = 0; i < decoded_length; i++)
    {
      if (decoded[i] == '\0' || is_forbidden_control (decoded[i]) || decoded[i] == '\t')
        return SWARM_HTTP_CREDENTIALS_MALFORMED;
    }

  colon = memchr (decoded, ':', decoded_length);
  if (colon == NULL || colon == (const char *) decoded ||
      colon == (const char *) decoded + decoded_length - 1)
    return SWARM_HTTP_CREDENTIALS_MALFORMED;

  *session_id = g_strndup ((const char *) decoded, colon - (const char *) decoded);
  *token = g_strndup (colon + 1, (const char *) decoded + decoded_length - (colon + 1));
  return SWARM_HTTP_CREDENTIALS_OK;
}

static gboolean
set_response_framing (SwarmHttpResponseInfo  *info,
                      SoupMessageHeaders     *headers,
                      const char             *request_method,
                      GError                **error)
{
  const char *length_list = soup_message_headers_get_list (headers, "Content-Length");
  const char *coding_list = soup_message_headers_get_list (headers, "Transfer-Encoding");

  info->body_kind = SWARM_HTTP_BODY_NONE;
  info->content_length = 0;

  if (g_strcmp0 (request_method, "HEAD") == 0 ||
      (info->status >= 100 && info->status < 200) ||
      info->status == SOUP_STATUS_NO_CONTENT ||
      info->status == SOUP_STATUS_NOT_MODIFIED)
    return TRUE;

  if (coding_list != NULL)
    {
      GSList *codings = soup_header_parse_list (coding_list);
      GSList *last = g_slist_last (codings);
      gboolean chunked_last = last != NULL && g_ascii_strcasecmp (last->data, "chunked") == 0;

      soup_header_free_list (codings);

      /* A body whose final coding is not chunked, or any transfer coding
       * in HTTP/1.0, ends when the target closes (RFC 9112 section 6). */
      if (chunked_last && info->version != SOUP_HTTP_1_0)
        info->body_kind = SWARM_HTTP_BODY_CHUNKED;
      else
        info->body_kind = SWARM_HTTP_BODY_UNTIL_CLOSE;

      return TRUE;
    }

  if (length_list != NULL)
    {
      if (!parse_content_length (length_list, SWARM_HTTP_ERROR_BAD_RESPONSE,
                                 &info->content_length, error))
        return FALSE;

      if (info->content_length > 0)
        info->body_kind = SWARM_HTTP_BODY_LENGTH;

      return TRUE;
    }

  info->body_kind = SWARM_HTTP_BODY_UNTIL_CLOSE;
  return TRUE;
}

gboolean
swarm_http_response_parse (const char            *head,
                           gsize                  length,
                           const char            *request_method,
                           SwarmHttpResponseInfo *info,
                           GError               **error)
{
  g_autoptr(SoupMessageHeaders) headers = NULL;
  const char *start = head;
  guint status = 0;
  SoupHTTPVersion version = SOUP_HTTP_1_1;

  g_return_val_if_fail (head != NULL, FALSE);
  g_return_val_if_fail (info != NULL, FALSE);

  if (length > SWARM_HTTP_MAX_HEAD)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_RESPONSE,
                   "The response head is larger than %d bytes", SWARM_HTTP_MAX_HEAD);
      return FALSE;
    }

  if (!validate_head (head, length, SWARM_HTTP_ERROR_BAD_RESPONSE, NULL, error))
    return FALSE;

  /* libsoup also accepts the "ICY" status line of old streaming servers,
   * which is not HTTP/1.x. */
  while (start < head + length && (*start == '\r' || *start == '\n'))
    start++;
  if (head + length - start < 7 || strncmp (start, "HTTP/1.", 7) != 0)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_RESPONSE,
                   "The target did not send an HTTP/1.x status line");
      return FALSE;
    }

  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  if (!soup_headers_parse_response (head, length, headers, &version, &status, NULL) ||
      status > 599)
    {
      g_set_error (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_RESPONSE,
                   "The target sent an invalid status line or header");
      return FALSE;
    }

  info->status = status;
  info->version = version;

  if (!check_connection_tokens (headers, SWARM_HTTP_ERROR_BAD_RESPONSE, error))
    return FALSE;

  if (!set_response_framing (info, headers, request_method, error))
    return FALSE;

  if (info->body_kind == SWARM_HTTP_BODY_UNTIL_CLOSE)
    info->keep_alive = FALSE;
  else if (soup_message_headers_header_contains (headers, "Connection", "close"))
    info->keep_alive = FALSE;
  else if (version == SOUP_HTTP_1_0)
    info->keep_alive = soup_message_headers_header_contains (headers, "Connection", "keep-alive");
  else
    info->keep_alive = TRUE;

  /* A chunked response that also carries Content-Length can be framed
   * differently by the worker's client, and the broker forwards it
   * unchanged, so the connection ends with this response. */
  if (info->body_kind == SWARM_HTTP_BODY_CHUNKED &&
      soup_message_headers_get_list (headers, "Content-Length") != NULL)
    info->keep_alive = FALSE;

  return TRUE;
}

GBytes *
swarm_http_build_error_response (guint       status,
                                 const char *message)
{
  const char *phrase;
  g_autofree char *body = NULL;
  GString *out;

  g_return_val_if_fail (status >= 100 && status <= 599, NULL);

  if (status == 431)
    phrase = PHRASE_HEAD_TOO_LARGE;
  else
    phrase = soup_status_get_phrase (status);

  body = g_strconcat (message != NULL ? message : phrase, "\n", NULL);

  out = g_string_new (NULL);
  g_string_append_printf (out, "HTTP/1.1 %u %s\r\n", status, phrase);
  g_string_append (out, "Content-Type: text/plain; charset=utf-8\r\n");
  g_string_append_printf (out, "Content-Length: %" G_GSIZE_FORMAT "\r\n", strlen (body));
  g_string_append (out, "Connection: close\r\n");

  /* RFC 9110 section 15.5.8 requires a challenge in every 407.  Without one
   * a client cannot tell that proxy credentials are required, and may give up. */
  if (status == SOUP_STATUS_PROXY_AUTHENTICATION_REQUIRED)
    g_string_append (out, "Proxy-Authenticate: Basic realm=\"swarm-proxy\"\r\n");

  g_string_append (out, "\r\n");
  g_string_append (out, body);
  return g_string_free_to_bytes (out);
}

typedef enum {
  CHUNK_SIZE,           /* hex digits of a chunk size */
  CHUNK_SIZE_SPACE,     /* whitespace after the size, before ';' or the line end */
  CHUNK_EXTENSION,      /* ";name=value" up to the line end */
  CHUNK_SIZE_LF,        /* after the CR that ends a size line, so LF must follow */
  CHUNK_DATA,
  CHUNK_DATA_END,       /* the CRLF after chunk data */
  CHUNK_DATA_LF,
  CHUNK_TRAILER_START,  /* start of a trailer line or of the final empty line */
  CHUNK_TRAILER,
  CHUNK_FINAL_LF,
  CHUNK_DONE,
  CHUNK_FAILED,
} ChunkState;

struct _SwarmChunkedScanner {
  ChunkState state;
  gboolean   size_has_digit;
  guint64    size;          /* the chunk size being read, then the bytes left of its data */
  gsize      line_length;   /* length of the current size or trailer line, in bytes */
};

SwarmChunkedScanner *
swarm_chunked_scanner_new (void)
{
  return g_new0 (SwarmChunkedScanner, 1);
}

void
swarm_chunked_scanner_free (SwarmChunkedScanner *scanner)
{
  g_free (scanner);
}

static gssize
fail_chunk (SwarmChunkedScanner  *scanner,
            GError              **error,
            const char           *message)
{
  scanner->state = CHUNK_FAILED;
  g_set_error_literal (error, SWARM_HTTP_ERROR, SWARM_HTTP_ERROR_BAD_REQUEST, message);
  return -1;
}

/* Starts reading the size line of the next chunk. */
static void
begin_size_line (SwarmChunkedScanner *scanner)
{
  scanner->state = CHUNK_SIZE;
  scanner->size = 0;
  scanner->size_has_digit = FALSE;
  scanner->line_length = 0;
}

/* Ends a chunk size line: data follows, or the trailers after the last chunk. */
static void
end_size_line (SwarmChunkedScanner *scanner)
{
  scanner->line_length = 0;
  scanner->state = scanner->size == 0 ? CHUNK_TRAILER_START : CHUNK_DATA;
}

gssize
swarm_chunked_scanner_feed (SwarmChunkedScanner  *scanner,
                            const char           *data,
                            gsize                 length,
                            gboolean             *finished,
                            GError              **error)
{
  gsize i = 0;

  g_return_val_if_fail (scanner != NULL, -1);
  g_return_val_if_fail (data != NULL || length == 0, -1);
  g_return_val_if_fail (finished != NULL, -1);

  *finished = scanner->state == CHUNK_DONE;

  if (scanner->state == CHUNK_FAILED)
    return fail_chunk (scanner, error, "Chunked body already failed to parse");

  while (i < length && scanner->state != CHUNK_DONE)
    {
      guchar c = data[i];

      if (scanner->state == CHUNK_DATA)
        {
          gsize take = MIN ((guint64) (length - i), scanner->size);

          i += take;
          scanner->size -= take;
          if (scanner->size == 0)
            scanner->state = CHUNK_DATA_END;
          continue;
        }

      /* Size, extension and trailer lines are bounded like a head. */
      if (scanner->state != CHUNK_DATA_END && scanner->state != CHUNK_DATA_LF &&
          ++scanner->line_length > SWARM_HTTP_MAX_HEAD)
        return fail_chunk (scanner, error, "Chunk size or trailer line is too long");

      switch (scanner->state)
        {
        case CHUNK_SIZE:
          if (g_ascii_isxdigit (c))
            {
              /* The size is a goffset for callers, so it stays below 2^63. */
              if (scanner->size > (guint64) G_MAXINT64 >> 4)
                return fail_chunk (scanner, error, "Chunk size is too large");
              scanner->size = (scanner->size << 4) | g_ascii_xdigit_value (c);
              scanner->size_has_digit = TRUE;
              break;
            }

          if (!scanner->size_has_digit)
            return fail_chunk (scanner, error, "Invalid chunk size: expected hex digits");

          if (c == ' ' || c == '\t')
            scanner->state = CHUNK_SIZE_SPACE;
          else if (c == ';')
            scanner->state = CHUNK_EXTENSION;
          else if (c == '\r')
            scanner->state = CHUNK_SIZE_LF;
          else if (c == '\n')
            end_size_line (scanner);
          else
            return fail_chunk (scanner, error, "Invalid chunk size: expected hex digits");
          break;

        case CHUNK_SIZE_SPACE:
          if (c == ' ' || c == '\t')
            break;
          if (c == ';')
            scanner->state = CHUNK_EXTENSION;
          else if (c == '\r')
            scanner->state = CHUNK_SIZE_LF;
          else if (c == '\n')
            end_size_line (scanner);
          else
            return fail_chunk (scanner, error, "Invalid text after a chunk size");
          break;

        case CHUNK_EXTENSION:
          if (c == '\r')
            scanner->state = CHUNK_SIZE_LF;
          else if (c == '\n')
            end_size_line (scanner);
          else if (is_forbidden_control (c))
            return fail_chunk (scanner, error, "Invalid control character in a chunk extension");
          break;

        case CHUNK_SIZE_LF:
          if (c != '\n')
            return fail_chunk (scanner, error, "Chunk size line has a CR without LF");
          end_size_line (scanner);
          break;

        case CHUNK_DATA_END:
          if (c == '\r')
            scanner->state = CHUNK_DATA_LF;
          else if (c == '\n')
            begin_size_line (scanner);
          else
            return fail_chunk (scanner, error, "Chunk data is longer than its size");
          break;

        case CHUNK_DATA_LF:
          if (c != '\n')
            return fail_chunk (scanner, error, "Chunk data ends with a CR without LF");
          begin_size_line (scanner);
          break;

        case CHUNK_TRAILER_START:
          if (c == '\r')
            scanner->state = CHUNK_FINAL_LF;
          else if (c == '\n')
            scanner->state = CHUNK_DONE;
          else
            scanner->state = CHUNK_TRAILER;
          break;

        case CHUNK_TRAILER:
          if (c == '\n')
            {
              scanner->line_length = 0;
              scanner->state = CHUNK_TRAILER_START;
            }
          else if (c != '\r' && is_forbidden_control (c))
            {
              return fail_chunk (scanner, error, "Invalid control character in a trailer");
            }
          break;

        case CHUNK_FINAL_LF:
          if (c != '\n')
            return fail_chunk (scanner, error, "Chunked body ends with a CR without LF");
          scanner->state = CHUNK_DONE;
          break;

        case CHUNK_DATA:
        case CHUNK_DONE:
        case CHUNK_FAILED:
        default:
          g_assert_not_reached ();
        }

      i++;
    }

  *finished = scanner->state == CHUNK_DONE;
  return i;
}
