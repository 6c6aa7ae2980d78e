/* swarm-ticket.c: what a sharer hands to a worker
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* engine/meson.build sets one domain for the whole library, but each module logs under its own. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-ticket"

#include "swarm-ticket.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "swarm-token.h"
#include "swarm-wire.h"

/* Maximum duration that swarm_parse_duration() accepts, 100 years of 365
 * days.  It is far below G_MAXINT64, so adding it to the current Unix time
 * cannot overflow either. */
#define MAX_DURATION_SECONDS (G_GINT64_CONSTANT (100) * 365 * 24 * 60 * 60)

struct _SwarmTicket
{
  GObject parent_instance;

  char *session_id;
  char *token;
  char *broker_addr;
  gint64 issued_at_unix;
  gint64 expires_at_unix;
};

G_DEFINE_TYPE (SwarmTicket, swarm_ticket, G_TYPE_OBJECT)

G_DEFINE_QUARK (swarm-ticket-error-quark, swarm_ticket_error)

enum {
  PROP_0,
  PROP_SESSION_ID,
  PROP_TOKEN,
  PROP_BROKER_ADDR,
  PROP_ISSUED_AT_UNIX,
  PROP_EXPIRES_AT_UNIX,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
swarm_ticket_finalize (GObject *object)
{
  SwarmTicket *self = SWARM_TICKET (object);

  g_clear_pointer (&self->session_id, g_free);
  g_clear_pointer (&self->token, g_free);
  g_clear_pointer (&self->broker_addr, g_free);

  G_OBJECT_CLASS (swarm_ticket_parent_class)->finalize (object);
}

static void
swarm_ticket_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  SwarmTicket *self = SWARM_TICKET (object);

  switch (prop_id)
    {
    case PROP_SESSION_ID:
      g_value_set_string (value, self->session_id);
      break;

    case PROP_TOKEN:
      g_value_set_string (value, self->token);
      break;

    case PROP_BROKER_ADDR:
      g_value_set_string (value, self->broker_addr);
      break;

    case PROP_ISSUED_AT_UNIX:
      g_value_set_int64 (value, self->issued_at_unix);
      break;

    case PROP_EXPIRES_AT_UNIX:
      g_value_set_int64 (value, self->expires_at_unix);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_ticket_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  SwarmTicket *self = SWARM_TICKET (object);

  switch (prop_id)
    {
    case PROP_SESSION_ID:
      self->session_id = g_value_dup_string (value);
      break;

    case PROP_TOKEN:
      self->token = g_value_dup_string (value);
      break;

    case PROP_BROKER_ADDR:
      self->broker_addr = g_value_dup_string (value);
      break;

    case PROP_ISSUED_AT_UNIX:
      self->issued_at_unix = g_value_get_int64 (value);
      break;

    case PROP_EXPIRES_AT_UNIX:
      self->expires_at_unix = g_value_get_int64 (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_ticket_class_init (SwarmTicketClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = swarm_ticket_finalize;
  object_class->get_property = swarm_ticket_get_property;
  object_class->set_property = swarm_ticket_set_property;

  /**
   * SwarmTicket:session-id:
   *
   * Session the ticket grants access to, sent by workers as the proxy user name.
   */
  properties[PROP_SESSION_ID] =
    g_param_spec_string ("session-id", NULL, NULL, NULL, flags);

  /**
   * SwarmTicket:token:
   *
   * Secret of the session, sent by workers as the proxy password.
   */
  properties[PROP_TOKEN] =
    g_param_spec_string ("token", NULL, NULL, NULL, flags);

  /**
   * SwarmTicket:broker-addr:
   *
   * Address of the broker as "host:port", with an IPv6 host in brackets.
   */
  properties[PROP_BROKER_ADDR] =
    g_param_spec_string ("broker-addr", NULL, NULL, NULL, flags);

  /**
   * SwarmTicket:issued-at-unix:
   *
   * Time the ticket was issued, in seconds since the Unix epoch.
   */
  properties[PROP_ISSUED_AT_UNIX] =
    g_param_spec_int64 ("issued-at-unix", NULL, NULL,
                        0, G_MAXINT64, 0, flags);

  /**
   * SwarmTicket:expires-at-unix:
   *
   * Expiry time in seconds since the Unix epoch, or
   * %SWARM_TICKET_NEVER_EXPIRES.
   */
  properties[PROP_EXPIRES_AT_UNIX] =
    g_param_spec_int64 ("expires-at-unix", NULL, NULL,
                        0, G_MAXINT64, SWARM_TICKET_NEVER_EXPIRES, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
swarm_ticket_init (SwarmTicket *self)
{
}

SwarmTicket *
swarm_ticket_new (const char *session_id,
                  const char *token,
                  const char *broker_addr,
                  gint64      issued_at_unix,
                  gint64      expires_at_unix)
{
  g_return_val_if_fail (session_id != NULL, NULL);
  g_return_val_if_fail (token != NULL, NULL);
  g_return_val_if_fail (broker_addr != NULL, NULL);
  g_return_val_if_fail (issued_at_unix >= 0, NULL);
  g_return_val_if_fail (expires_at_unix >= 0, NULL);

  return g_object_new (SWARM_TYPE_TICKET,
                       "session-id", session_id,
                       "token", token,
                       "broker-addr", broker_addr,
                       "issued-at-unix", issued_at_unix,
                       "expires-at-unix", expires_at_unix,
                       NULL);
}

/* Checks that `broker_addr` is "host:port" with a port from 1 to 65535, as a
 * worker needs it to reach the broker. */
static gboolean
broker_addr_is_valid (const char *broker_addr)
{
  g_autoptr(GSocketConnectable) address = NULL;

  if (!swarm_wire_field_is_valid (broker_addr))
    return FALSE;

  address = g_network_address_parse (broker_addr, 0, NULL);
  if (address == NULL)
    return FALSE;

  return g_network_address_get_port (G_NETWORK_ADDRESS (address)) != 0;
}

SwarmTicket *
swarm_ticket_issue (const char  *session_id,
                    const char  *broker_addr,
                    gint64       expires_at_unix,
                    GError     **error)
{
  g_autofree char *token = NULL;
  SwarmTicket *ticket;

  g_return_val_if_fail (session_id != NULL, NULL);
  g_return_val_if_fail (broker_addr != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!swarm_wire_field_is_valid (session_id))
    {
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   "Invalid session id \"%s\": it must be non-empty printable ASCII "
                   "without spaces", session_id);
      return NULL;
    }

  if (!broker_addr_is_valid (broker_addr))
    {
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   "Invalid broker address \"%s\": expected host:port, with an IPv6 "
                   "host in brackets", broker_addr);
      return NULL;
    }

  if (expires_at_unix < 0)
    {
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   "Invalid expiry time %" G_GINT64_FORMAT ": it must not be negative",
                   expires_at_unix);
      return NULL;
    }

  token = swarm_token_generate ();
  ticket = swarm_ticket_new (session_id, token, broker_addr,
                             g_get_real_time () / G_USEC_PER_SEC, expires_at_unix);

  /* The token is a secret, so the local copy is cleared before it is freed. */
  memset (token, 0, strlen (token));

  return ticket;
}

static gboolean
set_invalid (GError     **error,
             const char  *field,
             const char  *problem)
{
  g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
               "Invalid ticket: field \"%s\" %s", field, problem);
  return FALSE;
}

/* Reads a required string member.  `expected`, when not NULL, is the only
 * value accepted. */
static gboolean
read_string (JsonObject   *object,
             const char   *field,
             const char   *expected,
             const char  **value,
             GError      **error)
{
  JsonNode *node = json_object_get_member (object, field);

  if (node == NULL)
    return set_invalid (error, field, "is missing");

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return set_invalid (error, field, "is not a string");

  *value = json_node_get_string (node);

  if (expected != NULL && strcmp (*value, expected) != 0)
    {
      g_autofree char *escaped = g_strescape (*value, NULL);

      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   "Invalid ticket: field \"%s\" is \"%s\", expected \"%s\"",
                   field, escaped, expected);
      return FALSE;
    }

  return TRUE;
}

/* Reads an integer member that is a Unix time.  A `nullable` member may also
 * be null or missing, which gives SWARM_TICKET_NEVER_EXPIRES. */
static gboolean
read_unix_time (JsonObject  *object,
                const char  *field,
                gboolean     nullable,
                gint64      *value,
                GError     **error)
{
  JsonNode *node = json_object_get_member (object, field);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (!nullable)
        return set_invalid (error, field, node == NULL ? "is missing" : "is null");

      *value = SWARM_TICKET_NEVER_EXPIRES;
      return TRUE;
    }

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return set_invalid (error, field, "is not an integer");

  *value = json_node_get_int (node);
  if (*value < 0)
    return set_invalid (error, field, "is negative");

  /* In memory 0 is SWARM_TICKET_NEVER_EXPIRES, so a written 0 would turn a
   * ticket that expired in 1970 into one that never expires. */
  if (nullable && *value == SWARM_TICKET_NEVER_EXPIRES)
    return set_invalid (error, field, "is 0; use null for a ticket that never expires");

  return TRUE;
}

SwarmTicket *
swarm_ticket_new_from_json (const char  *json,
                            gssize       length,
                            GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) parse_error = NULL;
  JsonNode *root;
  JsonObject *object;
  const char *ignored;
  const char *session_id;
  const char *token;
  const char *broker_addr;
  gint64 issued_at_unix;
  gint64 expires_at_unix;

  g_return_val_if_fail (json != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!json_parser_load_from_data (parser, json, length, &parse_error))
    {
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   "Invalid ticket: not valid JSON: %s", parse_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   "Invalid ticket: expected a JSON object");
      return NULL;
    }
  object = json_node_get_object (root);

  /* The schema and the mode come first, so that a file of another kind is
   * reported as such and not as a missing session id. */
  if (!read_string (object, "schema_version", SWARM_TICKET_SCHEMA_VERSION, &ignored, error) ||
      !read_string (object, "mode", SWARM_TICKET_MODE, &ignored, error) ||
      !read_string (object, "session_id", NULL, &session_id, error) ||
      !read_string (object, "token", NULL, &token, error) ||
      !read_string (object, "broker_addr", NULL, &broker_addr, error) ||
      !read_unix_time (object, "issued_at_unix", FALSE, &issued_at_unix, error) ||
      !read_unix_time (object, "expires_at_unix", TRUE, &expires_at_unix, error))
    return NULL;

  if (!swarm_wire_field_is_valid (session_id))
    {
      set_invalid (error, "session_id", "is empty or contains spaces or control characters");
      return NULL;
    }

  /* The message leaves the value out, because it is a secret. */
  if (!swarm_wire_field_is_valid (token))
    {
      set_invalid (error, "token", "is empty or contains spaces or control characters");
      return NULL;
    }

  if (!broker_addr_is_valid (broker_addr))
    {
      set_invalid (error, "broker_addr", "is not host:port with a port from 1 to 65535");
      return NULL;
    }

  return swarm_ticket_new (session_id, token, broker_addr, issued_at_unix, expires_at_unix);
}

SwarmTicket *
swarm_ticket_load (const char  *path,
                   GError     **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  SwarmTicket *ticket;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;

  ticket = swarm_ticket_new_from_json (contents, (gssize) length, error);

  /* The file contains the token, so the buffer is cleared before it is freed. */
  memset (contents, 0, length);

  if (ticket == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }

  return ticket;
}

JsonNode *
swarm_ticket_to_json_node (SwarmTicket *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (SWARM_IS_TICKET (self), NULL);

  /* JsonObject keeps insertion order, which is the order of the original
   * tool's output. */
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "schema_version");
  json_builder_add_string_value (builder, SWARM_TICKET_SCHEMA_VERSION);
  json_builder_set_member_name (builder, "mode");
  json_builder_add_string_value (builder, SWARM_TICKET_MODE);
  json_builder_set_member_name (builder, "session_id");
  json_builder_add_string_value (builder, self->session_id);
  json_builder_set_member_name (builder, "token");
  json_builder_add_string_value (builder, self->token);
  json_builder_set_member_name (builder, "broker_addr");
  json_builder_add_string_value (builder, self->broker_addr);
  json_builder_set_member_name (builder, "issued_at_unix");
  json_builder_add_int_value (builder, self->issued_at_unix);
  json_builder_set_member_name (builder, "expires_at_unix");
  if (self->expires_at_unix == SWARM_TICKET_NEVER_EXPIRES)
    json_builder_add_null_value (builder);
  else
    json_builder_add_int_value (builder, self->expires_at_unix);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* Appends one member in the layout of the original tool: `"name": value`,
 * which JsonGenerator writes as `"name" : value`. */
static void
append_member (GString    *out,
               gboolean    pretty,
               gboolean    last,
               const char *name,
               JsonNode   *value)
{
  g_autofree char *name_json = NULL;
  g_autofree char *value_json = json_to_string (value, FALSE);
  g_autoptr(JsonNode) name_node = json_node_init_string (json_node_alloc (), name);

  name_json = json_to_string (name_node, FALSE);

  if (pretty)
    g_string_append (out, "  ");
  g_string_append (out, name_json);
  g_string_append (out, pretty ? ": " : ":");
  g_string_append (out, value_json);
  if (!last)
    g_string_append_c (out, ',');
  if (pretty)
    g_string_append_c (out, '\n');
}

char *
swarm_ticket_to_json (SwarmTicket *self,
                      gboolean     pretty)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *object;
  GString *out;

  g_return_val_if_fail (SWARM_IS_TICKET (self), NULL);

  root = swarm_ticket_to_json_node (self);
  object = json_node_get_object (root);
  members = json_object_get_members (object);

  out = g_string_new (pretty ? "{\n" : "{");
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;

      append_member (out, pretty, l->next == NULL, name,
                     json_object_get_member (object, name));
    }
  g_string_append_c (out, '}');

  return g_string_free (out, FALSE);
}

gboolean
swarm_ticket_save (SwarmTicket  *self,
                   const char   *path,
                   GError      **error)
{
  g_autofree char *json = NULL;
  g_autofree char *contents = NULL;
  gboolean saved;

  g_return_val_if_fail (SWARM_IS_TICKET (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  json = swarm_ticket_to_json (self, TRUE);
  contents = g_strconcat (json, "\n", NULL);

  /* GLib writes a temporary file beside `path`, created with mode 0600 from
   * the start, and renames it over `path`: a reader sees the old ticket or the
   * new one, and no other user can read the token at any moment. */
  saved = g_file_set_contents_full (path, contents, -1,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);

  memset (json, 0, strlen (json));
  memset (contents, 0, strlen (contents));

  if (!saved)
    g_prefix_error (error, "Failed to save ticket: ");

  return saved;
}

const char *
swarm_ticket_get_session_id (SwarmTicket *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET (self), NULL);

  return self->session_id;
}

const char *
swarm_ticket_get_token (SwarmTicket *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET (self), NULL);

  return self->token;
}

const char *
swarm_ticket_get_broker_addr (SwarmTicket *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET (self), NULL);

  return self->broker_addr;
}

gint64
swarm_ticket_get_issued_at_unix (SwarmTicket *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET (self), 0);

  return self->issued_at_unix;
}

gint64
swarm_ticket_get_expires_at_unix (SwarmTicket *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET (self), 0);

  return self->expires_at_unix;
}

gboolean
swarm_ticket_is_expired (SwarmTicket *self,
                         gint64       now_unix)
{
  g_return_val_if_fail (SWARM_IS_TICKET (self), TRUE);

  if (self->expires_at_unix == SWARM_TICKET_NEVER_EXPIRES)
    return FALSE;

  return now_unix >= self->expires_at_unix;
}

static gboolean
set_bad_duration (GError     **error,
                  const char  *text,
                  const char  *problem)
{
  g_autofree char *escaped = g_strescape (text, NULL);

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "Invalid duration \"%s\": %s", escaped, problem);
  return FALSE;
}

gboolean
swarm_parse_duration (const char  *text,
                      gint64      *seconds,
                      GError     **error)
{
  static const struct {
    char suffix;
    gint64 unit;
  } units[] = {
    { 's', 1 },
    { 'm', 60 },
    { 'h', 60 * 60 },
    { 'd', 24 * 60 * 60 },
    { 'w', 7 * 24 * 60 * 60 },
  };
  const char *p = text;
  guint64 number = 0;
  gint64 unit = 1;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (seconds != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Digits only: no sign, no spaces, no decimal point, so that "-5m" or
   * "1.5h" is an error and not silently read as something else. */
  if (!g_ascii_isdigit (*p))
    return set_bad_duration (error, text,
                             "expected a whole number of seconds, or a number with one of "
                             "the suffixes s, m, h, d, w");

  while (g_ascii_isdigit (*p))
    {
      number = number * 10 + (guint64) (*p - '0');
      if (number > (guint64) MAX_DURATION_SECONDS)
        return set_bad_duration (error, text, "longer than 100 years");
      p++;
    }

  if (*p != '\0')
    {
      gboolean found = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (units); i++)
        {
          if (*p == units[i].suffix)
            {
              unit = units[i].unit;
              found = TRUE;
            }
        }

      if (!found || p[1] != '\0')
        return set_bad_duration (error, text,
                                 "expected a whole number of seconds, or a number with one "
                                 "of the suffixes s, m, h, d, w");
    }

  if (number == 0)
    return set_bad_duration (error, text, "must be greater than zero");

  if (number > (guint64) (MAX_DURATION_SECONDS / unit))
    return set_bad_duration (error, text, "longer than 100 years");

  *seconds = (gint64) number * unit;
  return TRUE;
}
