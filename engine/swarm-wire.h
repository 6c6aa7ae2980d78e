/* swarm-wire.h: control lines between broker and provider
 *
 * Control lines are ASCII, end in "\n" (a "\r" before it is ignored) and are at
 * most SWARM_WIRE_MAX_LINE bytes long including the terminator.  Fields are
 * separated by single spaces.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Maximum control line length in bytes, terminator included.  A peer that sends
 * a longer line loses its connection. */
#define SWARM_WIRE_MAX_LINE 8192

typedef enum {
  SWARM_WIRE_UNKNOWN = 0,  /* a line version 1 does not define; peers ignore it */
  SWARM_WIRE_PROVIDER,     /* PROVIDER <session_id> <token> [extension…] */
  SWARM_WIRE_DATA,         /* DATA <session_id> <token> <nonce> [extension…] */
  SWARM_WIRE_OK,           /* OK */
  SWARM_WIRE_ERR,          /* ERR <reason…> */
  SWARM_WIRE_OPEN,         /* OPEN <nonce> <host> <port> */
  SWARM_WIRE_OPENED,       /* OPENED <nonce> */
  SWARM_WIRE_FAILED,       /* FAILED <nonce> <reason…> */
} SwarmWireKind;

typedef struct {
  SwarmWireKind kind;
  char *session_id;   /* PROVIDER, DATA */
  char *token;        /* PROVIDER, DATA */
  char *nonce;        /* DATA, OPEN, OPENED, FAILED */
  char *host;         /* OPEN; IPv6 without brackets */
  guint16 port;       /* OPEN */
  char *reason;       /* ERR, FAILED: the rest of the line, may contain spaces */
  char **extensions;  /* PROVIDER, DATA: fields after the expected ones, or NULL */
} SwarmWireLine;

#define SWARM_WIRE_ERROR (swarm_wire_error_quark ())

typedef enum {
  SWARM_WIRE_ERROR_MALFORMED,   /* wrong field count, empty field, bad port */
  SWARM_WIRE_ERROR_TOO_LONG,    /* longer than SWARM_WIRE_MAX_LINE */
} SwarmWireError;

GQuark    swarm_wire_error_quark     (void);

/* Parses one line.  `line` may or may not include its "\n" (and "\r").
 * An unknown keyword is not an error: it gives SWARM_WIRE_UNKNOWN. */
gboolean  swarm_wire_line_parse      (const char     *line,
                                      gsize           length,
                                      SwarmWireLine  *out,
                                      GError        **error);
void      swarm_wire_line_clear      (SwarmWireLine  *line);

/* Whether `field` can travel as one field: non-empty, printable ASCII, no
 * whitespace.  Session ids, tokens and nonces must pass this. */
gboolean  swarm_wire_field_is_valid  (const char     *field);

/* Formatters return a newly allocated line ending in "\n".  Reasons are
 * sanitized: control characters become spaces and the line is cut to fit
 * SWARM_WIRE_MAX_LINE. */
char     *swarm_wire_format_provider (const char     *session_id,
                                      const char     *token);
char     *swarm_wire_format_data     (const char     *session_id,
                                      const char     *token,
                                      const char     *nonce);
char     *swarm_wire_format_ok       (void);
char     *swarm_wire_format_err      (const char     *reason);
char     *swarm_wire_format_open     (const char     *nonce,
                                      const char     *host,
                                      guint16         port);
char     *swarm_wire_format_opened   (const char     *nonce);
char     *swarm_wire_format_failed   (const char     *nonce,
                                      const char     *reason);

G_END_DECLS
