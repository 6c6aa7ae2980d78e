/* swarm-ticket-store.c: tickets on disk, tokens in the keyring */
#define G_LOG_DOMAIN "swarm-tickets"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsecret/secret.h>

#include "swarm-ticket-store.h"
#include "swarm-token.h"

#define METADATA_FILE "tickets.json"
/* Tokens land here, mode 0600, only when no Secret Service is reachable. */
#define TOKEN_FALLBACK_FILE "tokens.json"
#define SECRET_SERVICE_NAME "org.freedesktop.secrets"

static const SecretSchema token_schema = {
  SWARM_TOKEN_SECRET_SCHEMA, SECRET_SCHEMA_NONE,
  {
    { "session_id", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  }
};

/* ---- SwarmStoredTicket ---- */

struct _SwarmStoredTicket
{
  GObject parent_instance;

  char *session_id;
  char *broker_addr;
  char *token;
  gint64 issued_at;
  gint64 expires_at;
  gint64 last_used;
  guint tunnel_count;
  gboolean revoked;
  gboolean shared;
};

enum {
  TICKET_PROP_0,
  TICKET_PROP_SESSION_ID,
  TICKET_PROP_BROKER_ADDR,
  TICKET_PROP_EXPIRES_AT,
  TICKET_PROP_REVOKED,
  TICKET_PROP_LAST_USED,
  TICKET_PROP_TUNNEL_COUNT,
  TICKET_PROP_SHARED,
  TICKET_N_PROPS
};

static GParamSpec *ticket_props[TICKET_N_PROPS];

G_DEFINE_FINAL_TYPE (SwarmStoredTicket, swarm_stored_ticket, G_TYPE_OBJECT)

static void
swarm_stored_ticket_finalize (GObject *object)
{
  SwarmStoredTicket *self = SWARM_STORED_TICKET (object);

  g_clear_pointer (&self->session_id, g_free);
  g_clear_pointer (&self->broker_addr, g_free);
  g_clear_pointer (&self->token, secret_password_free);

  G_OBJECT_CLASS (swarm_stored_ticket_parent_class)->finalize (object);
}

static void
swarm_stored_ticket_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  SwarmStoredTicket *self = SWARM_STORED_TICKET (object);

  switch (prop_id)
    {
    case TICKET_PROP_SESSION_ID:
      g_value_set_string (value, self->session_id);
      break;
    case TICKET_PROP_BROKER_ADDR:
      g_value_set_string (value, self->broker_addr);
      break;
    case TICKET_PROP_EXPIRES_AT:
      g_value_set_int64 (value, self->expires_at);
      break;
    case TICKET_PROP_REVOKED:
      g_value_set_boolean (value, self->revoked);
      break;
    case TICKET_PROP_LAST_USED:
      g_value_set_int64 (value, self->last_used);
      break;
    case TICKET_PROP_TUNNEL_COUNT:
      g_value_set_uint (value, self->tunnel_count);
      break;
    case TICKET_PROP_SHARED:
      g_value_set_boolean (value, self->shared);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_stored_ticket_class_init (SwarmStoredTicketClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = swarm_stored_ticket_finalize;
  object_class->get_property = swarm_stored_ticket_get_property;

  ticket_props[TICKET_PROP_SESSION_ID] =
    g_param_spec_string ("session-id", NULL, NULL, NULL, flags);
  ticket_props[TICKET_PROP_BROKER_ADDR] =
    g_param_spec_string ("broker-addr", NULL, NULL, NULL, flags);
  ticket_props[TICKET_PROP_EXPIRES_AT] =
    g_param_spec_int64 ("expires-at", NULL, NULL, 0, G_MAXINT64, 0, flags);
  ticket_props[TICKET_PROP_REVOKED] =
    g_param_spec_boolean ("revoked", NULL, NULL, FALSE, flags);
  ticket_props[TICKET_PROP_LAST_USED] =
    g_param_spec_int64 ("last-used", NULL, NULL, 0, G_MAXINT64, 0, flags);
  ticket_props[TICKET_PROP_TUNNEL_COUNT] =
    g_param_spec_uint ("tunnel-count", NULL, NULL, 0, G_MAXUINT, 0, flags);
  ticket_props[TICKET_PROP_SHARED] =
    g_param_spec_boolean ("shared", NULL, NULL, FALSE, flags);

  g_object_class_install_properties (object_class, TICKET_N_PROPS, ticket_props);
}

static void
swarm_stored_ticket_init (SwarmStoredTicket *self)
{
}

const char *
swarm_stored_ticket_get_session_id (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), NULL);
  return self->session_id;
}

const char *
swarm_stored_ticket_get_broker_addr (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), NULL);
  return self->broker_addr;
}

const char *
swarm_stored_ticket_get_token (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), NULL);
  return self->token;
}

gint64
swarm_stored_ticket_get_issued_at (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), 0);
  return self->issued_at;
}

gint64
swarm_stored_ticket_get_expires_at (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), 0);
  return self->expires_at;
}

gboolean
swarm_stored_ticket_get_revoked (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), FALSE);
  return self->revoked;
}

gint64
swarm_stored_ticket_get_last_used (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), 0);
  return self->last_used;
}

guint
swarm_stored_ticket_get_tunnel_count (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), 0);
  return self->tunnel_count;
}

void
swarm_stored_ticket_set_tunnel_count (SwarmStoredTicket *self,
                                      guint              count)
{
  g_return_if_fail (SWARM_IS_STORED_TICKET (self));

  if (self->tunnel_count == count)
    return;
  self->tunnel_count = count;
  g_object_notify_by_pspec (G_OBJECT (self), ticket_props[TICKET_PROP_TUNNEL_COUNT]);
}

gboolean
swarm_stored_ticket_get_shared (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), FALSE);
  return self->shared;
}

void
swarm_stored_ticket_set_shared (SwarmStoredTicket *self,
                                gboolean           shared)
{
  g_return_if_fail (SWARM_IS_STORED_TICKET (self));

  shared = !!shared;
  if (self->shared == shared)
    return;
  self->shared = shared;
  g_object_notify_by_pspec (G_OBJECT (self), ticket_props[TICKET_PROP_SHARED]);
}

SwarmTicketStatus
swarm_stored_ticket_get_status (SwarmStoredTicket *self,
                                gint64             now_unix)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), SWARM_TICKET_STATUS_IDLE);

  if (self->revoked)
    return SWARM_TICKET_STATUS_REVOKED;
  if (self->expires_at != SWARM_TICKET_NEVER_EXPIRES && now_unix >= self->expires_at)
    return SWARM_TICKET_STATUS_EXPIRED;
  if (self->shared && self->tunnel_count > 0)
    return SWARM_TICKET_STATUS_IN_USE;
  if (self->shared)
    return SWARM_TICKET_STATUS_ACTIVE;
  return SWARM_TICKET_STATUS_IDLE;
}

SwarmTicket *
swarm_stored_ticket_to_ticket (SwarmStoredTicket *self)
{
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), NULL);

  if (self->token == NULL)
    return NULL;
  return swarm_ticket_new (self->session_id, self->token, self->broker_addr,
                           self->issued_at, self->expires_at);
}

char *
swarm_stored_ticket_dup_proxy_url (SwarmStoredTicket *self)
{
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;

  g_return_val_if_fail (SWARM_IS_STORED_TICKET (self), NULL);

  if (self->token == NULL)
    return NULL;

  /* Session ids may contain characters that are special in a URL; tokens are
   * base64url and pass through unchanged. */
  user = g_uri_escape_string (self->session_id, NULL, FALSE);
  password = g_uri_escape_string (self->token, NULL, FALSE);
  return g_strdup_printf ("http://%s:%s@%s", user, password, self->broker_addr);
}

/* ---- SwarmTicketStore ---- */

struct _SwarmTicketStore
{
  GObject parent_instance;

  char *data_dir;
  GPtrArray *tickets;          /* SwarmStoredTicket, newest first */
  char *keyring_problem;       /* NULL while the keyring is in use */
  GHashTable *fallback_tokens; /* session id → token, only without keyring */
};

enum {
  STORE_PROP_0,
  STORE_PROP_USES_KEYRING,
  STORE_PROP_KEYRING_PROBLEM,
  STORE_N_PROPS
};

static GParamSpec *store_props[STORE_N_PROPS];

static void swarm_ticket_store_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwarmTicketStore, swarm_ticket_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      swarm_ticket_store_list_model_init))

static GType
swarm_ticket_store_get_item_type (GListModel *model)
{
  return SWARM_TYPE_STORED_TICKET;
}

static guint
swarm_ticket_store_get_n_items (GListModel *model)
{
  return SWARM_TICKET_STORE (model)->tickets->len;
}

static gpointer
swarm_ticket_store_get_item (GListModel *model,
                             guint       position)
{
  SwarmTicketStore *self = SWARM_TICKET_STORE (model);

  if (position >= self->tickets->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->tickets, position));
}

static void
swarm_ticket_store_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = swarm_ticket_store_get_item_type;
  iface->get_n_items = swarm_ticket_store_get_n_items;
  iface->get_item = swarm_ticket_store_get_item;
}

static void
swarm_ticket_store_finalize (GObject *object)
{
  SwarmTicketStore *self = SWARM_TICKET_STORE (object);

  g_clear_pointer (&self->data_dir, g_free);
  g_clear_pointer (&self->tickets, g_ptr_array_unref);
  g_clear_pointer (&self->keyring_problem, g_free);
  g_clear_pointer (&self->fallback_tokens, g_hash_table_unref);

  G_OBJECT_CLASS (swarm_ticket_store_parent_class)->finalize (object);
}

static void
swarm_ticket_store_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  SwarmTicketStore *self = SWARM_TICKET_STORE (object);

  switch (prop_id)
    {
    case STORE_PROP_USES_KEYRING:
      g_value_set_boolean (value, self->keyring_problem == NULL);
      break;
    case STORE_PROP_KEYRING_PROBLEM:
      g_value_set_string (value, self->keyring_problem);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_ticket_store_class_init (SwarmTicketStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = swarm_ticket_store_finalize;
  object_class->get_property = swarm_ticket_store_get_property;

  /**
   * SwarmTicketStore:uses-keyring:
   *
   * Whether tokens are kept by the Secret Service.
   */
  store_props[STORE_PROP_USES_KEYRING] =
    g_param_spec_boolean ("uses-keyring", NULL, NULL, TRUE, flags);
  /**
   * SwarmTicketStore:keyring-problem:
   *
   * The reason tokens go to the fallback file, in plain words.
   */
  store_props[STORE_PROP_KEYRING_PROBLEM] =
    g_param_spec_string ("keyring-problem", NULL, NULL, NULL, flags);

  g_object_class_install_properties (object_class, STORE_N_PROPS, store_props);
}

static void
swarm_ticket_store_init (SwarmTicketStore *self)
{
  self->tickets = g_ptr_array_new_with_free_func (g_object_unref);
}

static char *
build_path (SwarmTicketStore *self,
            const char       *name)
{
  return g_build_filename (self->data_dir, name, NULL);
}

static gboolean
ensure_data_dir (SwarmTicketStore  *self,
                 GError           **error)
{
  if (g_mkdir_with_parents (self->data_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Failed to create %s: %s"), self->data_dir, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/* Returns NULL when a Secret Service can be reached, else the reason,
 * translated because the window shows it after "because".  The check runs before libsecret is used, because libsecret without a bus tries
 * to autolaunch one and without a provider of the name fails on every call. */
static char *
probe_secret_service (void)
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *runtime_bus = NULL;
  gboolean has_owner = FALSE;

  /* Inside Flatpak, libsecret keeps secrets in a file whose key comes from
   * the Secret portal, so the name is legitimately absent from the bus. */
  if (g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS))
    return NULL;

  runtime_bus = g_build_filename (g_get_user_runtime_dir (), "bus", NULL);
  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL
      && !g_file_test (runtime_bus, G_FILE_TEST_EXISTS))
    return g_strdup (_("there is no D-Bus session bus"));

  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    return g_strdup_printf (_("the D-Bus session bus cannot be reached (%s)"), error->message);

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", SECRET_SERVICE_NAME),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE,
                                       -1, NULL, &error);
  if (reply == NULL)
    return g_strdup_printf (_("the D-Bus session bus did not answer (%s)"), error->message);
  g_variant_get (reply, "(b)", &has_owner);
  if (has_owner)
    return NULL;
  g_clear_pointer (&reply, g_variant_unref);

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "ListActivatableNames",
                                       NULL, G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE,
                                       -1, NULL, &error);
  if (reply != NULL)
    {
      g_autofree const char **names = NULL;

      g_variant_get (reply, "(^a&s)", &names);
      if (g_strv_contains (names, SECRET_SERVICE_NAME))
        return NULL;
    }

  /* TRANSLATORS: %s is the D-Bus name org.freedesktop.secrets. */
  return g_strdup_printf (_("no Secret Service (%s) runs on the session bus"),
                          SECRET_SERVICE_NAME);
}

static void
load_fallback_tokens (SwarmTicketStore *self)
{
  g_autofree char *path = build_path (self, TOKEN_FALLBACK_FILE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  JsonObjectIter iter;
  const char *session_id;
  JsonNode *node;

  self->fallback_tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                 (GDestroyNotify) secret_password_free);
  if (!json_parser_load_from_file (parser, path, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Failed to read %s: %s", path, error->message);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_warning ("Ignoring %s: it does not contain a JSON object", path);
      return;
    }

  object = json_node_get_object (json_parser_get_root (parser));
  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &session_id, &node))
    {
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        g_hash_table_insert (self->fallback_tokens, g_strdup (session_id),
                             g_strdup (json_node_get_string (node)));
    }
}

static gboolean
save_fallback_tokens (SwarmTicketStore  *self,
                      GError           **error)
{
  g_autofree char *path = build_path (self, TOKEN_FALLBACK_FILE);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  GHashTableIter iter;
  gpointer key, value;
  gsize length;
  gboolean ok;

  if (!ensure_data_dir (self, error))
    return FALSE;

  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, self->fallback_tokens);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      json_builder_set_member_name (builder, key);
      json_builder_add_string_value (builder, value);
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, &length);

  /* The mode applies to the temporary file that is renamed into place, so
   * the tokens are never readable by others, not even for a moment. */
  ok = g_file_set_contents_full (path, text, length, G_FILE_SET_CONTENTS_CONSISTENT,
                                 0600, error);
  memset (text, 0, length);
  return ok;
}

/* Switches to the fallback file and reports it once: a warning in the log
 * and the keyring-problem property, which the window shows. */
static void
use_fallback (SwarmTicketStore *self,
              const char       *reason)
{
  g_autofree char *path = NULL;

  if (self->keyring_problem != NULL)
    return;

  path = build_path (self, TOKEN_FALLBACK_FILE);
  self->keyring_problem = g_strdup (reason);
  g_warning ("Tokens are not kept in a keyring because %s; they are stored in %s, "
             "readable only by you", reason, path);
  if (self->fallback_tokens == NULL)
    load_fallback_tokens (self);

  g_object_notify_by_pspec (G_OBJECT (self), store_props[STORE_PROP_USES_KEYRING]);
  g_object_notify_by_pspec (G_OBJECT (self), store_props[STORE_PROP_KEYRING_PROBLEM]);
}

/* NOTE: the libsecret calls below are synchronous.  An unlocked keyring
 * replies at once, but a locked one shows its unlock prompt and the window
 * stops redrawing until the prompt is answered. */
static gboolean
store_token (SwarmTicketStore  *self,
             const char        *session_id,
             const char        *token,
             GError           **error)
{
  if (self->keyring_problem == NULL)
    {
      g_autoptr(GError) local_error = NULL;
      /* The label is what keyring managers such as Seahorse list. */
      g_autofree char *label = g_strdup_printf (_("Swarm Proxy token for session %s"),
                                                session_id);

      if (secret_password_store_sync (&token_schema, SECRET_COLLECTION_DEFAULT, label, token,
                                      NULL, &local_error, "session_id", session_id, NULL))
        return TRUE;

      /* A keyring that exists but refuses (locked, prompt dismissed) must not
       * lose the ticket: the token goes to the fallback file instead. */
      use_fallback (self, local_error->message);
    }

  g_hash_table_insert (self->fallback_tokens, g_strdup (session_id), g_strdup (token));
  return save_fallback_tokens (self, error);
}

static char *
lookup_token (SwarmTicketStore *self,
              const char       *session_id)
{
  if (self->keyring_problem == NULL)
    {
      g_autoptr(GError) error = NULL;
      char *token;

      token = secret_password_lookup_sync (&token_schema, NULL, &error,
                                           "session_id", session_id, NULL);
      if (error != NULL)
        g_warning ("Failed to look up the token of session %s in the keyring: %s",
                   session_id, error->message);
      if (token != NULL)
        return token;
    }

  /* Tokens saved while no keyring was reachable stay readable later. */
  if (self->fallback_tokens == NULL)
    load_fallback_tokens (self);
  return g_strdup (g_hash_table_lookup (self->fallback_tokens, session_id));
}

static void
clear_token (SwarmTicketStore *self,
             const char       *session_id)
{
  g_autoptr(GError) error = NULL;

  if (self->keyring_problem == NULL
      && !secret_password_clear_sync (&token_schema, NULL, &error,
                                      "session_id", session_id, NULL)
      && error != NULL)
    g_warning ("Failed to remove the token of session %s from the keyring: %s",
               session_id, error->message);

  if (self->fallback_tokens != NULL
      && g_hash_table_remove (self->fallback_tokens, session_id)
      && !save_fallback_tokens (self, &error))
    g_warning ("Failed to update the token file: %s", error->message);
}

static gboolean
save_metadata (SwarmTicketStore  *self,
               GError           **error)
{
  g_autofree char *path = build_path (self, METADATA_FILE);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  gsize length;

  if (!ensure_data_dir (self, error))
    return FALSE;

  json_builder_begin_array (builder);
  for (guint i = 0; i < self->tickets->len; i++)
    {
      SwarmStoredTicket *ticket = g_ptr_array_index (self->tickets, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "session_id");
      json_builder_add_string_value (builder, ticket->session_id);
      json_builder_set_member_name (builder, "broker_addr");
      json_builder_add_string_value (builder, ticket->broker_addr);
      json_builder_set_member_name (builder, "issued_at_unix");
      json_builder_add_int_value (builder, ticket->issued_at);
      json_builder_set_member_name (builder, "expires_at_unix");
      if (ticket->expires_at == SWARM_TICKET_NEVER_EXPIRES)
        json_builder_add_null_value (builder);
      else
        json_builder_add_int_value (builder, ticket->expires_at);
      json_builder_set_member_name (builder, "revoked");
      json_builder_add_boolean_value (builder, ticket->revoked);
      json_builder_set_member_name (builder, "last_used_unix");
      if (ticket->last_used == 0)
        json_builder_add_null_value (builder);
      else
        json_builder_add_int_value (builder, ticket->last_used);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, &length);

  return g_file_set_contents_full (path, text, length, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, error);
}

static gint64
member_int_or_zero (JsonObject *object,
                    const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  return json_node_get_int (node);
}

static void
load_metadata (SwarmTicketStore *self)
{
  g_autofree char *path = build_path (self, METADATA_FILE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *array;

  if (!json_parser_load_from_file (parser, path, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Failed to read %s: %s", path, error->message);
      return;
    }
  if (!JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    {
      g_warning ("Ignoring %s: it does not contain a JSON array", path);
      return;
    }

  array = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      SwarmStoredTicket *ticket;
      JsonObject *object;
      const char *session_id;
      const char *broker_addr;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      object = json_node_get_object (node);
      session_id = json_object_get_string_member_with_default (object, "session_id", NULL);
      broker_addr = json_object_get_string_member_with_default (object, "broker_addr", NULL);
      if (session_id == NULL || broker_addr == NULL)
        {
          g_warning ("Skipping entry %u of %s: session_id or broker_addr is missing", i, path);
          continue;
        }

      ticket = g_object_new (SWARM_TYPE_STORED_TICKET, NULL);
      ticket->session_id = g_strdup (session_id);
      ticket->broker_addr = g_strdup (broker_addr);
      ticket->issued_at = member_int_or_zero (object, "issued_at_unix");
      ticket->expires_at = member_int_or_zero (object, "expires_at_unix");
      ticket->last_used = member_int_or_zero (object, "last_used_unix");
      ticket->revoked = json_object_get_boolean_member_with_default (object, "revoked", FALSE);
      /* Revoking removes the token, so only valid tickets look for one. */
      if (!ticket->revoked)
        ticket->token = lookup_token (self, session_id);
      if (ticket->token == NULL && !ticket->revoked)
        g_warning ("The token of session %s was not found; the ticket cannot be shared",
                   session_id);
      g_ptr_array_add (self->tickets, ticket);
    }
}

SwarmTicketStore *
swarm_ticket_store_new (const char *data_dir)
{
  SwarmTicketStore *self = g_object_new (SWARM_TYPE_TICKET_STORE, NULL);
  g_autofree char *problem = NULL;

  if (data_dir != NULL)
    self->data_dir = g_strdup (data_dir);
  else
    self->data_dir = g_build_filename (g_get_user_data_dir (), "swarm-proxy", NULL);

  problem = probe_secret_service ();
  if (problem != NULL)
    use_fallback (self, problem);

  load_metadata (self);
  return self;
}

gboolean
swarm_ticket_store_get_uses_keyring (SwarmTicketStore *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), FALSE);
  return self->keyring_problem == NULL;
}

const char *
swarm_ticket_store_get_keyring_problem (SwarmTicketStore *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), NULL);
  return self->keyring_problem;
}

const char *
swarm_ticket_store_get_data_dir (SwarmTicketStore *self)
{
  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), NULL);
  return self->data_dir;
}

static char *
generate_session_id (void)
{
  guint8 bytes[4];
  g_autoptr(GError) error = NULL;

  if (!swarm_random_bytes (bytes, sizeof bytes, &error))
    g_error ("Failed to read random bytes: %s", error->message);
  return g_strdup_printf ("share-%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3]);
}

SwarmStoredTicket *
swarm_ticket_store_create (SwarmTicketStore  *self,
                           const char        *session_id,
                           const char        *broker_addr,
                           gint64             expires_at_unix,
                           GError           **error)
{
  g_autoptr(SwarmTicket) issued = NULL;
  g_autofree char *generated_id = NULL;
  SwarmStoredTicket *ticket;

  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), NULL);
  g_return_val_if_fail (broker_addr != NULL, NULL);

  if (session_id == NULL || *session_id == '\0')
    session_id = generated_id = generate_session_id ();

  if (swarm_ticket_store_lookup (self, session_id) != NULL)
    {
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   _("A ticket for session %s exists already; pick another session id"),
                   session_id);
      return NULL;
    }

  issued = swarm_ticket_issue (session_id, broker_addr, expires_at_unix, error);
  if (issued == NULL)
    return NULL;

  if (!store_token (self, session_id, swarm_ticket_get_token (issued), error))
    return NULL;

  ticket = g_object_new (SWARM_TYPE_STORED_TICKET, NULL);
  ticket->session_id = g_strdup (session_id);
  ticket->broker_addr = g_strdup (broker_addr);
  ticket->token = g_strdup (swarm_ticket_get_token (issued));
  ticket->issued_at = swarm_ticket_get_issued_at_unix (issued);
  ticket->expires_at = swarm_ticket_get_expires_at_unix (issued);
  g_ptr_array_insert (self->tickets, 0, ticket);

  if (!save_metadata (self, error))
    {
      g_ptr_array_remove_index (self->tickets, 0);
      clear_token (self, session_id);
      return NULL;
    }

  g_debug ("Created a ticket for session %s", session_id);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, 1);
  return ticket;
}

SwarmStoredTicket *
swarm_ticket_store_lookup (SwarmTicketStore *self,
                           const char       *session_id)
{
  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), NULL);

  for (guint i = 0; i < self->tickets->len; i++)
    {
      SwarmStoredTicket *ticket = g_ptr_array_index (self->tickets, i);

      if (g_strcmp0 (ticket->session_id, session_id) == 0)
        return ticket;
    }
  return NULL;
}

SwarmStoredTicket *
swarm_ticket_store_get_latest_usable (SwarmTicketStore *self)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  SwarmStoredTicket *latest = NULL;

  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), NULL);

  for (guint i = 0; i < self->tickets->len; i++)
    {
      SwarmStoredTicket *ticket = g_ptr_array_index (self->tickets, i);
      SwarmTicketStatus status = swarm_stored_ticket_get_status (ticket, now);

      if (status == SWARM_TICKET_STATUS_EXPIRED || status == SWARM_TICKET_STATUS_REVOKED
          || ticket->token == NULL)
        continue;
      if (latest == NULL || ticket->issued_at > latest->issued_at)
        latest = ticket;
    }
  return latest;
}

gboolean
swarm_ticket_store_revoke (SwarmTicketStore   *self,
                           SwarmStoredTicket  *ticket,
                           GError            **error)
{
  guint position;

  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), FALSE);
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (ticket), FALSE);

  if (ticket->revoked)
    return TRUE;
  ticket->revoked = TRUE;

  /* A revoked token must never authenticate again, so it leaves the keyring
   * now; the metadata stays to show the ticket as revoked. */
  clear_token (self, ticket->session_id);
  g_clear_pointer (&ticket->token, secret_password_free);

  g_object_notify_by_pspec (G_OBJECT (ticket), ticket_props[TICKET_PROP_REVOKED]);
  if (g_ptr_array_find (self->tickets, ticket, &position))
    g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
  g_debug ("Revoked the ticket of session %s", ticket->session_id);
  return save_metadata (self, error);
}

gboolean
swarm_ticket_store_remove (SwarmTicketStore   *self,
                           SwarmStoredTicket  *ticket,
                           GError            **error)
{
  g_autoptr(SwarmStoredTicket) hold = NULL;
  guint position;

  g_return_val_if_fail (SWARM_IS_TICKET_STORE (self), FALSE);
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (ticket), FALSE);

  if (!g_ptr_array_find (self->tickets, ticket, &position))
    return TRUE;

  hold = g_object_ref (ticket);
  clear_token (self, ticket->session_id);
  g_ptr_array_remove_index (self->tickets, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
  g_debug ("Deleted the ticket of session %s", ticket->session_id);
  return save_metadata (self, error);
}

void
swarm_ticket_store_mark_used (SwarmTicketStore  *self,
                              SwarmStoredTicket *ticket,
                              gint64             now_unix)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (SWARM_IS_TICKET_STORE (self));
  g_return_if_fail (SWARM_IS_STORED_TICKET (ticket));

  ticket->last_used = now_unix;
  g_object_notify_by_pspec (G_OBJECT (ticket), ticket_props[TICKET_PROP_LAST_USED]);
  if (!save_metadata (self, &error))
    g_warning ("Failed to save the ticket list: %s", error->message);
}
