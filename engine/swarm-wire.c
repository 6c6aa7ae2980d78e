/* swarm-wire.c: parsing and formatting of control lines
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/* engine/meson.build sets one domain for the whole library, but each module logs under its own. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-wire"

#include "swarm-wire.h"

#include <string.h>

G_DEFINE_QUARK (swarm-wire-error-quark, swarm_wire_error)

/* Sent in place of an empty reason, because "ERR" or "FAILED <nonce>" without
 * a reason is not a valid line. */
#define EMPTY_REASON "unspecified"

void
swarm_wire_line_clear (SwarmWireLine *line)
{
  g_return_if_fail (line != NULL);

  g_clear_pointer (&line->session_id, g_free);
  g_clear_pointer (&line->token, g_free);
  g_clear_pointer (&line->nonce, g_free);
  g_clear_pointer (&line->host, g_free);
  g_clear_pointer (&line->reason, g_free);
  g_clear_pointer (&line->extensions, g_strfreev);
  line->port = 0;
  line->kind = SWARM_WIRE_UNKNOWN;
}

static gboolean
field_is_valid_len (const char *field,
                    gsize       length)
{
  if (length == 0)
    return FALSE;

  for (gsize i = 0; i < length; i++)
    {
      guchar c = (guchar) field[i];

      /* Printable ASCII without the space: 0x21 '!' to 0x7e '~'. */
      if (c < 0x21 || c > 0x7e)
        return FALSE;
    }

  return TRUE;
}

gboolean
swarm_wire_field_is_valid (const char *field)
{
  if (field == NULL)
    return FALSE;

  return field_is_valid_len (field, strlen (field));
}

/* Replaces control characters and bytes outside ASCII with harmless ones, so
 * that a reason can travel in one line and be logged as it is. */
static void
sanitize_reason (char *reason)
{
  for (char *p = reason; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c < 0x20 || c == 0x7f)
        *p = ' ';
      else if (c > 0x7f)
        *p = '?';
    }
}

static gboolean
set_malformed (GError     **error,
               const char  *keyword,
               const char  *what)
{
  g_set_error (error, SWARM_WIRE_ERROR, SWARM_WIRE_ERROR_MALFORMED,
               "Malformed %s line: %s", keyword, what);
  return FALSE;
}

/* Parses a port as the protocol writes it: 1 to 5 decimal digits, no sign,
 * no leading zero, value 1-65535. */
static gboolean
parse_port (const char *text,
            guint16    *port)
{
  gsize length = strlen (text);
  guint value = 0;

  if (length == 0 || length > 5 || text[0] == '0')
    return FALSE;

  for (gsize i = 0; i < length; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      value = value * 10 + (guint) (text[i] - '0');
    }

  if (value > G_MAXUINT16)
    return FALSE;

  *port = (guint16) value;
  return TRUE;
}

/* Splits `rest` (the line after "KEYWORD ") into `n_fields` fields, each of
 * which must pass swarm_wire_field_is_valid().  With `remainder` NULL, text
 * after the fields is an error.  Otherwise *remainder is set to that text, or
 * to NULL if there is none. */
static gboolean
split_fields (const char   *keyword,
              const char   *rest,
              guint         n_fields,
              char        **fields,
              const char  **remainder,
              GError      **error)
{
  const char *p = rest;

  for (guint i = 0; i < n_fields; i++)
    {
      const char *space;
      gsize length;

      if (p == NULL)
        return set_malformed (error, keyword, "missing field");

      space = strchr (p, ' ');
      length = space != NULL ? (gsize) (space - p) : strlen (p);

      if (!field_is_valid_len (p, length))
        return set_malformed (error, keyword, "empty field or invalid character in a field");

      fields[i] = g_strndup (p, length);
      p = space != NULL ? space + 1 : NULL;
    }

  if (remainder != NULL)
    *remainder = p;
  else if (p != NULL)
    return set_malformed (error, keyword, "too many fields");

  return TRUE;
}

/* Parses the extension fields after PROVIDER or DATA.  Each is held to the
 * same rules as the other fields, so a stray double space is still caught. */
static gboolean
parse_extensions (const char   *keyword,
                  const char   *rest,
                  char       ***extensions,
                  GError      **error)
{
  g_auto(GStrv) parts = NULL;

  if (rest == NULL)
    return TRUE;

  /* g_strsplit() turns "" into no parts, so a lone trailing space needs its own check. */
  if (rest[0] == '\0')
    return set_malformed (error, keyword, "empty extension field");

  parts = g_strsplit (rest, " ", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (!swarm_wire_field_is_valid (parts[i]))
        return set_malformed (error, keyword, "empty field or invalid character in an extension");
    }

  *extensions = g_steal_pointer (&parts);
  return TRUE;
}

static gboolean
parse_reason (const char  *keyword,
              const char  *rest,
              char       **reason,
              GError     **error)
{
  if (rest == NULL || rest[0] == '\0')
    return set_malformed (error, keyword, "missing reason");

  *reason = g_strdup (rest);
  sanitize_reason (*reason);
  return TRUE;
}

static gboolean
parse_fields (const char     *keyword,
              const char     *rest,
              SwarmWireLine  *out,
              GError        **error)
{
  char *fields[3] = { NULL, NULL, NULL };
  const char *remainder = NULL;
  g_autofree char *port = NULL;

  switch (out->kind)
    {
    case SWARM_WIRE_PROVIDER:
      if (!split_fields (keyword, rest, 2, fields, &remainder, error))
        break;
      out->session_id = fields[0];
      out->token = fields[1];
      return parse_extensions (keyword, remainder, &out->extensions, error);

    case SWARM_WIRE_DATA:
      if (!split_fields (keyword, rest, 3, fields, &remainder, error))
        break;
      out->session_id = fields[0];
      out->token = fields[1];
      out->nonce = fields[2];
      return parse_extensions (keyword, remainder, &out->extensions, error);

    case SWARM_WIRE_OK:
      return TRUE;

    case SWARM_WIRE_ERR:
      return parse_reason (keyword, rest, &out->reason, error);

    case SWARM_WIRE_OPEN:
      if (!split_fields (keyword, rest, 3, fields, NULL, error))
        break;
      out->nonce = fields[0];
      out->host = fields[1];
      port = fields[2];
      if (!parse_port (port, &out->port))
        return set_malformed (error, keyword, "port is not a decimal number from 1 to 65535");
      return TRUE;

    case SWARM_WIRE_OPENED:
      if (!split_fields (keyword, rest, 1, fields, NULL, error))
        break;
      out->nonce = fields[0];
      return TRUE;

    case SWARM_WIRE_FAILED:
      if (!split_fields (keyword, rest, 1, fields, &remainder, error))
        break;
      out->nonce = fields[0];
      return parse_reason (keyword, remainder, &out->reason, error);

    case SWARM_WIRE_UNKNOWN:
    default:
      return TRUE;
    }

  /* split_fields() failed after it may have filled some fields. */
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    g_free (fields[i]);
  return FALSE;
}

static SwarmWireKind
kind_from_keyword (const char *keyword,
                   gboolean    has_fields)
{
  static const struct {
    const char *keyword;
    SwarmWireKind kind;
  } keywords[] = {
    { "PROVIDER", SWARM_WIRE_PROVIDER },
    { "DATA", SWARM_WIRE_DATA },
    { "OK", SWARM_WIRE_OK },
    { "ERR", SWARM_WIRE_ERR },
    { "OPEN", SWARM_WIRE_OPEN },
    { "OPENED", SWARM_WIRE_OPENED },
    { "FAILED", SWARM_WIRE_FAILED },
  };

  /* A version-1 peer takes only a bare "OK" as success, so "OK" followed by
   * anything is some other line, not an OK that a newer peer decorated. */
  if (strcmp (keyword, "OK") == 0 && has_fields)
    return SWARM_WIRE_UNKNOWN;

  for (guint i = 0; i < G_N_ELEMENTS (keywords); i++)
    {
      if (strcmp (keyword, keywords[i].keyword) == 0)
        return keywords[i].kind;
    }

  return SWARM_WIRE_UNKNOWN;
}

gboolean
swarm_wire_line_parse (const char     *line,
                       gsize           length,
                       SwarmWireLine  *out,
                       GError        **error)
{
  g_autofree char *text = NULL;
  gsize wire_length = length;
  const char *space;
  g_autofree char *keyword = NULL;
  const char *rest = NULL;

  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (out, 0, sizeof *out);

  /* The limit counts the terminator, which the caller may have cut off. */
  if (length > 0 && line[length - 1] == '\n')
    length--;
  else
    wire_length++;

  if (wire_length > SWARM_WIRE_MAX_LINE)
    {
      g_set_error (error, SWARM_WIRE_ERROR, SWARM_WIRE_ERROR_TOO_LONG,
                   "Control line is longer than %d bytes", SWARM_WIRE_MAX_LINE);
      return FALSE;
    }

  if (length > 0 && line[length - 1] == '\r')
    length--;

  /* A NUL, or a "\r" or "\n" inside the line, means the peer does not speak
   * this protocol or two lines were passed as one. */
  for (gsize i = 0; i < length; i++)
    {
      if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
        {
          g_set_error (error, SWARM_WIRE_ERROR, SWARM_WIRE_ERROR_MALFORMED,
                       "Malformed control line: NUL or line break inside the line");
          return FALSE;
        }
    }

  text = g_strndup (line, length);

  space = strchr (text, ' ');
  keyword = space != NULL ? g_strndup (text, (gsize) (space - text)) : g_strdup (text);
  if (space != NULL)
    rest = space + 1;

  if (!field_is_valid_len (keyword, strlen (keyword)))
    {
      g_set_error (error, SWARM_WIRE_ERROR, SWARM_WIRE_ERROR_MALFORMED,
                   "Malformed control line: empty or invalid keyword");
      return FALSE;
    }

  out->kind = kind_from_keyword (keyword, space != NULL);

  if (!parse_fields (keyword, rest, out, error))
    {
      swarm_wire_line_clear (out);
      return FALSE;
    }

  return TRUE;
}

/* Builds "KEYWORD field… reason\n" from already checked fields, cutting the
 * sanitized reason so that the line fits SWARM_WIRE_MAX_LINE. */
static char *
format_line (const char *const *fields,
             const char        *reason)
{
  g_autoptr(GString) line = g_string_new (NULL);

  for (guint i = 0; fields[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (line, ' ');
      g_string_append (line, fields[i]);
    }

  if (reason != NULL)
    {
      g_autofree char *clean = g_strdup (reason[0] != '\0' ? reason : EMPTY_REASON);
      gsize room;

      sanitize_reason (clean);

      /* Room left for the reason once the space before it and "\n" are in. */
      g_return_val_if_fail (line->len + 2 < SWARM_WIRE_MAX_LINE, NULL);
      room = SWARM_WIRE_MAX_LINE - line->len - 2;

      g_string_append_c (line, ' ');
      g_string_append_len (line, clean, (gssize) MIN (strlen (clean), room));
    }

  g_string_append_c (line, '\n');
  g_return_val_if_fail (line->len <= SWARM_WIRE_MAX_LINE, NULL);

  return g_string_free (g_steal_pointer (&line), FALSE);
}

char *
swarm_wire_format_provider (const char *session_id,
                            const char *token)
{
  const char *fields[] = { "PROVIDER", session_id, token, NULL };

  g_return_val_if_fail (swarm_wire_field_is_valid (session_id), NULL);
  g_return_val_if_fail (swarm_wire_field_is_valid (token), NULL);

  return format_line (fields, NULL);
}

char *
swarm_wire_format_data (const char *session_id,
                        const char *token,
                        const char *nonce)
{
  const char *fields[] = { "DATA", session_id, token, nonce, NULL };

  g_return_val_if_fail (swarm_wire_field_is_valid (session_id), NULL);
  g_return_val_if_fail (swarm_wire_field_is_valid (token), NULL);
  g_return_val_if_fail (swarm_wire_field_is_valid (nonce), NULL);

  return format_line (fields, NULL);
}

char *
swarm_wire_format_ok (void)
{
  return g_strdup ("OK\n");
}

char *
swarm_wire_format_err (const char *reason)
{
  const char *fields[] = { "ERR", NULL };

  g_return_val_if_fail (reason != NULL, NULL);

  return format_line (fields, reason);
}

char *
swarm_wire_format_open (const char *nonce,
                        const char *host,
                        guint16     port)
{
  char port_text[8];
  const char *fields[] = { "OPEN", nonce, host, port_text, NULL };

  g_return_val_if_fail (swarm_wire_field_is_valid (nonce), NULL);
  g_return_val_if_fail (swarm_wire_field_is_valid (host), NULL);
  g_return_val_if_fail (port != 0, NULL);

  g_snprintf (port_text, sizeof port_text, "%u", (guint) port);

  return format_line (fields, NULL);
}

char *
swarm_wire_format_opened (const char *nonce)
{
  const char *fields[] = { "OPENED", nonce, NULL };

  g_return_val_if_fail (swarm_wire_field_is_valid (nonce), NULL);

  return format_line (fields, NULL);
}

char *
swarm_wire_format_failed (const char *nonce,
                          const char *reason)
{
  const char *fields[] = { "FAILED", nonce, NULL };

  g_return_val_if_fail (swarm_wire_field_is_valid (nonce), NULL);
  g_return_val_if_fail (reason != NULL, NULL);

  return format_line (fields, reason);
}
