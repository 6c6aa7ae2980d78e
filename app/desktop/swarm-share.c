/* swarm-share.c: settings + ticket store + engine = sharing */
#define G_LOG_DOMAIN "swarm-share"

#include "config.h"

#include <glib/gi18n.h>

#include "swarm-enums.h"
#include "swarm-share.h"

/* Lifetime of the ticket issued when sharing starts and none is stored. */
#define DEFAULT_TICKET_TTL_S (24 * 60 * 60)

struct _SwarmShare
{
  GObject parent_instance;

  GSettings *settings;
  SwarmTicketStore *store;

  SwarmBroker *broker;
  char *broker_listen;     /* listen-address the running broker was started with */
  SwarmProvider *provider;
  SwarmStoredTicket *ticket;
  GListStore *tunnels;     /* mirror of the provider's tunnels, stable across restarts */
  guint64 closed_bytes_up;   /* bytes of tunnels closed since sharing started */
  guint64 closed_bytes_down;

  SwarmProviderState state;
  gboolean running;
  gboolean command_line;        /* run from the command line, not the window */
  gboolean command_line_allow_private;
};

enum {
  PROP_0,
  PROP_RUNNING,
  PROP_STATE,
  PROP_RETRY_SECONDS,
  PROP_LAST_ERROR,
  PROP_TICKET,
  PROP_BROKER,
  PROP_TUNNEL_COUNT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (SwarmShare, swarm_share, G_TYPE_OBJECT)

GSettings *
swarm_settings_new (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, SWARM_SETTINGS_SCHEMA_ID, TRUE);
  if (schema == NULL)
    {
      g_warning ("The settings schema %s is not installed; using the defaults. "
                 "Set GSETTINGS_SCHEMA_DIR to run from a build folder",
                 SWARM_SETTINGS_SCHEMA_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}

static char *
dup_setting (SwarmShare *self,
             const char *key,
             const char *fallback)
{
  g_autofree char *value = NULL;

  if (self->settings != NULL)
    value = g_settings_get_string (self->settings, key);
  if (value == NULL || *value == '\0')
    return g_strdup (fallback);
  return g_steal_pointer (&value);
}

static gboolean
uses_local_broker (SwarmShare *self)
{
  g_autofree char *mode = dup_setting (self, "broker-mode", "local");

  return g_strcmp0 (mode, "remote") != 0;
}

static void
swarm_share_dispose (GObject *object)
{
  SwarmShare *self = SWARM_SHARE (object);

  swarm_share_stop (self);
  g_clear_object (&self->settings);
  g_clear_object (&self->store);
  g_clear_object (&self->tunnels);

  G_OBJECT_CLASS (swarm_share_parent_class)->dispose (object);
}

static void
swarm_share_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  SwarmShare *self = SWARM_SHARE (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_RETRY_SECONDS:
      g_value_set_uint (value, swarm_share_get_retry_seconds (self));
      break;
    case PROP_LAST_ERROR:
      g_value_set_string (value, swarm_share_get_last_error (self));
      break;
    case PROP_TICKET:
      g_value_set_object (value, self->ticket);
      break;
    case PROP_BROKER:
      g_value_set_object (value, self->broker);
      break;
    case PROP_TUNNEL_COUNT:
      g_value_set_uint (value, swarm_share_get_tunnel_count (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_share_class_init (SwarmShareClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = swarm_share_dispose;
  object_class->get_property = swarm_share_get_property;

  /**
   * SwarmShare:running:
   *
   * Whether sharing was started and not stopped since.
   */
  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE, flags);
  /**
   * SwarmShare:state:
   *
   * The provider's state; EXPIRED stays after the ticket expired until the
   * next start.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, SWARM_TYPE_PROVIDER_STATE,
                       SWARM_PROVIDER_STATE_OFF, flags);
  /**
   * SwarmShare:retry-seconds:
   *
   * Seconds until the provider tries to reach the broker again.
   */
  properties[PROP_RETRY_SECONDS] =
    g_param_spec_uint ("retry-seconds", NULL, NULL, 0, G_MAXUINT, 0, flags);
  /**
   * SwarmShare:last-error:
   *
   * The provider's last connection error in plain words.
   */
  properties[PROP_LAST_ERROR] =
    g_param_spec_string ("last-error", NULL, NULL, NULL, flags);
  /**
   * SwarmShare:ticket:
   *
   * The stored ticket being shared.
   */
  properties[PROP_TICKET] =
    g_param_spec_object ("ticket", NULL, NULL, SWARM_TYPE_STORED_TICKET, flags);
  /**
   * SwarmShare:broker:
   *
   * The broker running on this computer while sharing, if the settings ask
   * for one.
   */
  properties[PROP_BROKER] =
    g_param_spec_object ("broker", NULL, NULL, SWARM_TYPE_BROKER, flags);
  /**
   * SwarmShare:tunnel-count:
   *
   * Number of open tunnels of the provider.
   */
  properties[PROP_TUNNEL_COUNT] =
    g_param_spec_uint ("tunnel-count", NULL, NULL, 0, G_MAXUINT, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
swarm_share_init (SwarmShare *self)
{
  self->tunnels = g_list_store_new (SWARM_TYPE_TUNNEL);
}

/* Turning local network access off must take effect at once, not at the
 * next start, so the running provider's policy follows the setting. */
static void
allow_private_changed_cb (SwarmShare *self)
{
  gboolean allow = g_settings_get_boolean (self->settings, "allow-private") ||
                   self->command_line_allow_private;

  if (self->provider == NULL)
    return;
  swarm_destination_policy_set_allow_private (swarm_provider_get_policy (self->provider), allow);
  g_message ("Access to private network addresses is now %s", allow ? "allowed" : "blocked");
}

SwarmShare *
swarm_share_new (GSettings        *settings,
                 SwarmTicketStore *store)
{
  SwarmShare *self;

  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (SWARM_IS_TICKET_STORE (store), NULL);

  self = g_object_new (SWARM_TYPE_SHARE, NULL);
  g_set_object (&self->settings, settings);
  g_set_object (&self->store, store);
  if (settings != NULL)
    g_signal_connect_object (settings, "changed::allow-private",
                             G_CALLBACK (allow_private_changed_cb), self, G_CONNECT_SWAPPED);
  return self;
}

SwarmTicketStore *
swarm_share_get_store (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);
  return self->store;
}

GSettings *
swarm_share_get_settings (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);
  return self->settings;
}

static void
set_state (SwarmShare         *self,
           SwarmProviderState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static gboolean
stop_after_expiry_cb (gpointer user_data)
{
  SwarmShare *self = SWARM_SHARE (user_data);

  if (self->state == SWARM_PROVIDER_STATE_EXPIRED && self->running)
    swarm_share_stop (self);
  return G_SOURCE_REMOVE;
}

static void
provider_state_cb (SwarmShare *self)
{
  SwarmProviderState state = swarm_provider_get_state (self->provider);

  g_debug ("Provider state of session %s is now %d",
           swarm_stored_ticket_get_session_id (self->ticket), state);
  set_state (self, state);

  /* The provider is inside its own notification here, so it is released
   * from an idle callback rather than now. */
  if (state == SWARM_PROVIDER_STATE_EXPIRED)
    {
      g_message ("The ticket of session %s expired; sharing stopped",
                 swarm_stored_ticket_get_session_id (self->ticket));
      g_idle_add_full (G_PRIORITY_DEFAULT, stop_after_expiry_cb, g_object_ref (self),
                       g_object_unref);
    }
}

static void
provider_retry_cb (SwarmShare *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRY_SECONDS]);
}

static void
provider_error_cb (SwarmShare *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

static void
provider_tunnels_changed_cb (SwarmShare *self,
                             guint       position,
                             guint       removed,
                             guint       added,
                             GListModel *model)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);

  /* The mirror still holds the removed tunnels, so their final counts go
   * into the totals before they disappear. */
  for (guint i = 0; i < removed; i++)
    {
      g_autoptr(SwarmTunnel) tunnel = g_list_model_get_item (G_LIST_MODEL (self->tunnels),
                                                             position + i);

      if (tunnel == NULL)
        continue;
      self->closed_bytes_up += swarm_tunnel_get_bytes_up (tunnel);
      self->closed_bytes_down += swarm_tunnel_get_bytes_down (tunnel);
    }

  for (guint i = 0; i < added; i++)
    g_ptr_array_add (items, g_list_model_get_item (model, position + i));
  g_list_store_splice (self->tunnels, position, removed, items->pdata, items->len);

  swarm_stored_ticket_set_tunnel_count (self->ticket, g_list_model_get_n_items (model));
  if (added > 0)
    swarm_ticket_store_mark_used (self->store, self->ticket,
                                  g_get_real_time () / G_USEC_PER_SEC);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TUNNEL_COUNT]);
}

static void
stop_broker (SwarmShare *self)
{
  if (self->broker == NULL)
    return;
  swarm_broker_stop (self->broker);
  g_clear_object (&self->broker);
  g_clear_pointer (&self->broker_listen, g_free);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BROKER]);
}

/* Starts the local broker if the settings ask for one and none runs with
 * the configured listen address, and stops it if they ask for a remote one.
 * Called before a new ticket is issued, so that the ticket gets the bound
 * port when the listen address has port 0. */
static gboolean
ensure_broker (SwarmShare  *self,
               GError     **error)
{
  g_autofree char *listen = NULL;
  g_autoptr(SwarmBroker) broker = NULL;

  if (!uses_local_broker (self))
    {
      stop_broker (self);
      return TRUE;
    }

  listen = dup_setting (self, "listen-address", SWARM_DEFAULT_LISTEN_ADDRESS);
  if (self->broker != NULL && g_strcmp0 (self->broker_listen, listen) == 0)
    return TRUE;
  stop_broker (self);

  broker = swarm_broker_new ();
  if (!swarm_broker_listen (broker, listen, error))
    {
      /* TRANSLATORS: %s is the listen address; the engine's error message,
       * in English, follows. */
      g_prefix_error (error, _("Failed to start the broker on %s: "), listen);
      return FALSE;
    }
  self->broker = g_steal_pointer (&broker);
  self->broker_listen = g_steal_pointer (&listen);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BROKER]);
  return TRUE;
}

static void
stop_provider (SwarmShare *self)
{
  if (self->provider != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->provider, self);
      g_signal_handlers_disconnect_by_data (swarm_provider_get_tunnels (self->provider), self);
      swarm_provider_stop (self->provider);
      g_clear_object (&self->provider);
    }
  if (self->ticket != NULL)
    {
      swarm_stored_ticket_set_tunnel_count (self->ticket, 0);
      swarm_stored_ticket_set_shared (self->ticket, FALSE);
      g_clear_object (&self->ticket);
    }
  if (self->tunnels != NULL)
    g_list_store_remove_all (self->tunnels);
}

/* Returns the advice that ends a rejected destination's message: the
 * preference to turn on, instead of the command line's --allow-private.  The
 * message reaches the worker in a FAILED line of the wire protocol, which
 * carries only ASCII, so the translation is transliterated here rather than
 * having every other byte replaced by "?". */
static char *
dup_policy_hint (void)
{
  /* TRANSLATORS: ends a message such as "destination 10.0.0.5 is a private
   * (RFC 1918) address; …", which the worker receives.  Non-ASCII letters
   * are transliterated for the network protocol ("ü" becomes "u" or "ue"). */
  return g_str_to_ascii (_("turn on “Allow Access to My Local Network” in Swarm Proxy’s "
                           "preferences to allow it"), NULL);
}

void
swarm_share_use_command_line (SwarmShare *self,
                              gboolean    allow_private)
{
  g_return_if_fail (SWARM_IS_SHARE (self));

  self->command_line = TRUE;
  self->command_line_allow_private = allow_private;
}

gboolean
swarm_share_start (SwarmShare         *self,
                   SwarmStoredTicket  *ticket,
                   GError            **error)
{
  g_autoptr(SwarmDestinationPolicy) policy = NULL;
  g_autofree char *connect_address = NULL;
  g_autofree char *hint = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  GListModel *tunnels;

  g_return_val_if_fail (SWARM_IS_SHARE (self), FALSE);
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (ticket), FALSE);

  switch (swarm_stored_ticket_get_status (ticket, now))
    {
    case SWARM_TICKET_STATUS_EXPIRED:
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_EXPIRED,
                   _("The ticket of session %s has expired; create a new ticket"),
                   swarm_stored_ticket_get_session_id (ticket));
      return FALSE;
    case SWARM_TICKET_STATUS_REVOKED:
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   _("The ticket of session %s was revoked; create a new ticket"),
                   swarm_stored_ticket_get_session_id (ticket));
      return FALSE;
    case SWARM_TICKET_STATUS_IDLE:
    case SWARM_TICKET_STATUS_ACTIVE:
    case SWARM_TICKET_STATUS_IN_USE:
    default:
      break;
    }
  if (swarm_stored_ticket_get_token (ticket) == NULL)
    {
      g_set_error (error, SWARM_TICKET_ERROR, SWARM_TICKET_ERROR_INVALID,
                   _("The token of session %s is missing from the keyring; "
                     "create a new ticket"),
                   swarm_stored_ticket_get_session_id (ticket));
      return FALSE;
    }

  stop_provider (self);

  if (!ensure_broker (self, error))
    return FALSE;
  if (self->broker != NULL)
    {
      connect_address = swarm_broker_dup_listen_address (self->broker);
    }
  else
    {
      connect_address = dup_setting (self, "remote-broker-address", NULL);
      if (connect_address == NULL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("No remote broker address is set; enter one in the "
                                 "preferences or run a broker on this computer"));
          return FALSE;
        }
    }

  policy = swarm_destination_policy_new (self->command_line_allow_private ||
                                         (self->settings != NULL &&
                                          g_settings_get_boolean (self->settings,
                                                                  "allow-private")));
  /* On the command line the default advice, which names --allow-private,
   * is the right one. */
  if (!self->command_line)
    {
      hint = dup_policy_hint ();
      swarm_destination_policy_set_hint (policy, hint);
    }

  self->ticket = g_object_ref (ticket);
  self->provider = swarm_provider_new (connect_address,
                                       swarm_stored_ticket_get_session_id (ticket),
                                       swarm_stored_ticket_get_token (ticket),
                                       policy);
  swarm_provider_set_expires_at (self->provider, swarm_stored_ticket_get_expires_at (ticket));

  g_signal_connect_object (self->provider, "notify::state",
                           G_CALLBACK (provider_state_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->provider, "notify::retry-seconds",
                           G_CALLBACK (provider_retry_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->provider, "notify::last-error",
                           G_CALLBACK (provider_error_cb), self, G_CONNECT_SWAPPED);
  tunnels = swarm_provider_get_tunnels (self->provider);
  g_signal_connect_object (tunnels, "items-changed",
                           G_CALLBACK (provider_tunnels_changed_cb), self, G_CONNECT_SWAPPED);

  self->running = TRUE;
  self->closed_bytes_up = 0;
  self->closed_bytes_down = 0;
  swarm_stored_ticket_set_shared (ticket, TRUE);
  g_message ("Sharing with session %s through the broker at %s",
             swarm_stored_ticket_get_session_id (ticket), connect_address);

  swarm_provider_start (self->provider);
  set_state (self, swarm_provider_get_state (self->provider));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TICKET]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  return TRUE;
}

gboolean
swarm_share_start_latest (SwarmShare  *self,
                          GError     **error)
{
  SwarmStoredTicket *ticket;

  g_return_val_if_fail (SWARM_IS_SHARE (self), FALSE);

  /* NOTE: a stored ticket keeps the broker address it was issued with.  With
   * port 0 in listen-address the broker gets a new port at each start, so
   * only the first start's ticket names the right port. */
  ticket = swarm_ticket_store_get_latest_usable (self->store);
  if (ticket == NULL)
    {
      g_autofree char *address = NULL;

      if (!ensure_broker (self, error))
        return FALSE;
      address = swarm_share_dup_worker_address (self);

      ticket = swarm_ticket_store_create (self->store, NULL, address,
                                          g_get_real_time () / G_USEC_PER_SEC
                                          + DEFAULT_TICKET_TTL_S,
                                          error);
      if (ticket == NULL)
        {
          if (!self->running)
            stop_broker (self);
          return FALSE;
        }
    }
  return swarm_share_start (self, ticket, error);
}

void
swarm_share_stop (SwarmShare *self)
{
  gboolean was_running;

  g_return_if_fail (SWARM_IS_SHARE (self));

  was_running = self->running;
  self->running = FALSE;

  stop_provider (self);
  stop_broker (self);

  /* "Stopped because the ticket expired" stays visible until the next
   * start, so the user learns why sharing ended. */
  if (self->state != SWARM_PROVIDER_STATE_EXPIRED)
    set_state (self, SWARM_PROVIDER_STATE_OFF);

  if (was_running)
    {
      g_message ("Stopped sharing");
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TICKET]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TUNNEL_COUNT]);
    }
}

gboolean
swarm_share_get_running (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), FALSE);
  return self->running;
}

SwarmProviderState
swarm_share_get_state (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), SWARM_PROVIDER_STATE_OFF);
  return self->state;
}

guint
swarm_share_get_retry_seconds (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), 0);
  return self->provider != NULL ? swarm_provider_get_retry_seconds (self->provider) : 0;
}

const char *
swarm_share_get_last_error (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);
  return self->provider != NULL ? swarm_provider_get_last_error (self->provider) : NULL;
}

SwarmStoredTicket *
swarm_share_get_ticket (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);
  return self->ticket;
}

SwarmProvider *
swarm_share_get_provider (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);
  return self->provider;
}

SwarmBroker *
swarm_share_get_broker (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);
  return self->broker;
}

GListModel *
swarm_share_get_tunnels (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);
  return G_LIST_MODEL (self->tunnels);
}

guint
swarm_share_get_tunnel_count (SwarmShare *self)
{
  g_return_val_if_fail (SWARM_IS_SHARE (self), 0);
  return g_list_model_get_n_items (G_LIST_MODEL (self->tunnels));
}

void
swarm_share_get_total_bytes (SwarmShare *self,
                             guint64    *bytes_up,
                             guint64    *bytes_down)
{
  guint n_items;

  g_return_if_fail (SWARM_IS_SHARE (self));

  *bytes_up = self->closed_bytes_up;
  *bytes_down = self->closed_bytes_down;
  n_items = g_list_model_get_n_items (G_LIST_MODEL (self->tunnels));
  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(SwarmTunnel) tunnel = g_list_model_get_item (G_LIST_MODEL (self->tunnels), i);

      *bytes_up += swarm_tunnel_get_bytes_up (tunnel);
      *bytes_down += swarm_tunnel_get_bytes_down (tunnel);
    }
}

char *
swarm_share_dup_worker_address (SwarmShare *self)
{
  g_autofree char *public_address = NULL;

  g_return_val_if_fail (SWARM_IS_SHARE (self), NULL);

  public_address = dup_setting (self, "public-address", NULL);
  if (public_address != NULL)
    return g_steal_pointer (&public_address);

  if (!uses_local_broker (self))
    return dup_setting (self, "remote-broker-address", SWARM_DEFAULT_LISTEN_ADDRESS);

  /* With port 0 in the listen address only the bound address is useful. */
  if (self->broker != NULL)
    return swarm_broker_dup_listen_address (self->broker);
  return dup_setting (self, "listen-address", SWARM_DEFAULT_LISTEN_ADDRESS);
}
