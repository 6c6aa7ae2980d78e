/* swarm-http.h: the worker side of the broker, an HTTP/1.x forward proxy
 *
 * Pure functions on byte buffers: finding a head, parsing it with libsoup's
 * header parser, proxy credentials, host:port authorities, body framing and
 * the broker's own error responses.  No I/O happens here.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Maximum size in bytes of a request or response head, request line and
 * terminating empty line included.  A larger request head gets 431. */
#define SWARM_HTTP_MAX_HEAD 32768

#define SWARM_HTTP_ERROR (swarm_http_error_quark ())

typedef enum {
  SWARM_HTTP_ERROR_BAD_REQUEST,       /* 400: malformed line, headers or framing */
  SWARM_HTTP_ERROR_HEAD_TOO_LARGE,    /* 431 */
  SWARM_HTTP_ERROR_NOT_IMPLEMENTED,   /* 501: e.g. an origin-form request or ftp:// */
  SWARM_HTTP_ERROR_BAD_RESPONSE,      /* the target sent something that is not HTTP/1.x */
} SwarmHttpError;

GQuark swarm_http_error_quark (void);

typedef enum {
  SWARM_HTTP_BODY_NONE,         /* no body at all */
  SWARM_HTTP_BODY_LENGTH,       /* exactly content_length bytes */
  SWARM_HTTP_BODY_CHUNKED,      /* chunked transfer coding, ends with the last chunk and trailers */
  SWARM_HTTP_BODY_UNTIL_CLOSE,  /* responses only: the body ends when the target closes */
} SwarmHttpBodyKind;

/* Returns the length of the head at the start of `buffer`, up to and
 * including the empty line that ends it ("\r\n\r\n" or a bare "\n\n"), or 0
 * when the buffer contains no complete head yet. */
gsize swarm_http_find_head_end (const char *buffer,
                                gsize       length);

typedef struct {
  gboolean            is_connect;    /* CONNECT authority-form, else absolute-form */
  char               *method;
  SoupHTTPVersion     version;
  char               *host;          /* lowercase DNS name or address, IPv6 without brackets */
  guint16             port;
  char               *path_and_query;  /* origin-form target for upstream, "/" at least */
  SoupMessageHeaders *headers;
  SwarmHttpBodyKind   body_kind;     /* NONE, LENGTH or CHUNKED */
  goffset             content_length;
  gboolean            keep_alive;    /* the worker connection may carry another request */
  gboolean            expect_continue;
  char              **field_names;   /* header names as sent, in arrival order, NULL-terminated
                                        or NULL; the upstream head keeps this order because
                                        SoupMessageHeaders lists common headers first */
} SwarmHttpRequest;

/* Parses a complete request head (as found by swarm_http_find_head_end) with
 * soup_headers_parse_request().
 *
 * Rejects with SWARM_HTTP_ERROR_BAD_REQUEST:
 * - a malformed line or header, including folded lines and whitespace before
 *   a colon, which libsoup alone would skip;
 * - a version other than HTTP/1.0 or HTTP/1.1, or an Expect other than
 *   100-continue;
 * - a malformed target, user information in the target, or a bad port;
 * - several Host headers;
 * - Content-Length together with Transfer-Encoding, differing Content-Length
 *   values, a transfer coding other than chunked, or a Connection header
 *   that names Content-Length, Transfer-Encoding or Host.
 * Rejects with SWARM_HTTP_ERROR_NOT_IMPLEMENTED an origin-form or "*" target
 * and every scheme other than http://, https:// included because it needs
 * CONNECT.  Rejects with SWARM_HTTP_ERROR_HEAD_TOO_LARGE a head larger than
 * SWARM_HTTP_MAX_HEAD. */
SwarmHttpRequest *swarm_http_request_parse (const char  *head,
                                            gsize        length,
                                            GError     **error);
void              swarm_http_request_free  (SwarmHttpRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SwarmHttpRequest, swarm_http_request_free)

/* Builds the head that goes to the target for an absolute-form request.  It
 * has an origin-form request line with the worker's HTTP version, then the
 * worker's headers in order.  Proxy-Authorization, Proxy-Authenticate,
 * Proxy-Connection, Keep-Alive, Upgrade and the headers that Connection or
 * Proxy-Connection name stay behind, but Connection itself goes along.  Host
 * carries the request target's host, and its port when that is not 80.  It
 * takes the place of the worker's Host, or comes first when the worker sent
 * none.  The result ends with the empty line. */
GBytes *swarm_http_request_build_upstream_head (SwarmHttpRequest *request);

typedef enum {
  SWARM_HTTP_CREDENTIALS_OK,
  SWARM_HTTP_CREDENTIALS_MISSING,     /* no Proxy-Authorization header */
  SWARM_HTTP_CREDENTIALS_MALFORMED,   /* not Basic, bad base64, no colon, empty parts */
} SwarmHttpCredentialsResult;

/* Reads Proxy-Authorization: Basic base64(session_id:token).  The scheme name
 * is case-insensitive and the decoded value is split at its first colon, so
 * the token may contain colons. */
SwarmHttpCredentialsResult swarm_http_request_get_credentials (SwarmHttpRequest  *request,
                                                               char             **session_id,
                                                               char             **token);

/* Splits "host:port", "[v6]:port", or with `default_port` non-zero also
 * "host" and "[v6]".  The host comes back without brackets. */
gboolean swarm_http_parse_authority (const char  *authority,
                                     guint16      default_port,
                                     char       **host,
                                     guint16     *port,
                                     GError     **error);

typedef struct {
  guint             status;
  SoupHTTPVersion   version;
  SwarmHttpBodyKind body_kind;
  goffset           content_length;
  gboolean          keep_alive;     /* FALSE with Connection: close, HTTP/1.0 without keep-alive,
                                       a body that ends with the connection, or a chunked
                                       body that also carries Content-Length */
} SwarmHttpResponseInfo;

/* Parses a complete response head from the target and works out how its body
 * is framed.  `request_method` matters because responses to HEAD, and 1xx,
 * 204 and 304 responses, have no body whatever their headers say.  After a
 * 1xx response such as 100 Continue the target sends another head.  Fails
 * with SWARM_HTTP_ERROR_BAD_RESPONSE on a head that is not HTTP/1.x, a
 * status outside 100-599, a malformed header line, a head over
 * SWARM_HTTP_MAX_HEAD, or an invalid or conflicting Content-Length.  The
 * method may be NULL. */
gboolean swarm_http_response_parse (const char            *head,
                                    gsize                  length,
                                    const char            *request_method,
                                    SwarmHttpResponseInfo *info,
                                    GError               **error);

/* Builds a complete error response from the broker: status line, a
 * text/plain body with `message` and a newline, Content-Length and
 * Connection: close.  A 407 also carries
 * Proxy-Authenticate: Basic realm="swarm-proxy". */
GBytes *swarm_http_build_error_response (guint       status,
                                         const char *message);

/* A chunked-body scanner that passes bytes through unchanged and only finds
 * where the body ends (after the last chunk and its trailers). */
typedef struct _SwarmChunkedScanner SwarmChunkedScanner;

SwarmChunkedScanner *swarm_chunked_scanner_new  (void);
void                 swarm_chunked_scanner_free (SwarmChunkedScanner *scanner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SwarmChunkedScanner, swarm_chunked_scanner_free)

/* Feeds `length` bytes.  Returns how many of them belong to the body (all of
 * them unless the body ends inside this buffer) and sets `*finished` when the
 * body has ended.  Once finished, it consumes nothing more.  Lines may end
 * with CRLF or a bare LF.  Returns -1 with SWARM_HTTP_ERROR_BAD_REQUEST on a
 * malformed chunk size line, chunk data longer than its size, a chunk size
 * of 2^63 or more, or a chunk size or trailer line longer than
 * SWARM_HTTP_MAX_HEAD, and again on every later call. */
gssize swarm_chunked_scanner_feed (SwarmChunkedScanner  *scanner,
                                   const char           *data,
                                   gsize                 length,
                                   gboolean             *finished,
                                   GError              **error);

G_END_DECLS
