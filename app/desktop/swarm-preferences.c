/* swarm-preferences.c: the preferences window, bound to GSettings */
#define G_LOG_DOMAIN "swarm-desktop"

#include "config.h"

#include <glib/gi18n.h>

#include "swarm-background.h"
#include "swarm-preferences.h"

struct _SwarmPreferences
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;
  GCancellable *cancellable;
  gboolean reverting;      /* the autostart switch is being set back by code */

  GtkSwitch *local_broker_switch;
  AdwEntryRow *listen_row;
  AdwEntryRow *remote_row;
  AdwEntryRow *public_row;
  GtkSwitch *allow_private_switch;
  AdwActionRow *autostart_row;
  GtkSwitch *autostart_switch;
};

G_DEFINE_FINAL_TYPE (SwarmPreferences, swarm_preferences, ADW_TYPE_PREFERENCES_WINDOW)

static gboolean
mode_to_switch (GValue   *value,
                GVariant *variant,
                gpointer  user_data)
{
  g_value_set_boolean (value, g_strcmp0 (g_variant_get_string (variant, NULL), "remote") != 0);
  return TRUE;
}

static GVariant *
switch_to_mode (const GValue       *value,
                const GVariantType *expected_type,
                gpointer            user_data)
{
  return g_variant_new_string (g_value_get_boolean (value) ? "local" : "remote");
}

static void
set_autostart_switch (SwarmPreferences *self,
                      gboolean          active)
{
  self->reverting = TRUE;
  gtk_switch_set_active (self->autostart_switch, active);
  self->reverting = FALSE;
}

static void
background_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  SwarmPreferences *self;
  gboolean requested;
  gboolean granted;

  granted = swarm_background_request_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self = SWARM_PREFERENCES (user_data);
  requested = gtk_switch_get_active (self->autostart_switch);
  gtk_widget_set_sensitive (GTK_WIDGET (self->autostart_switch), TRUE);

  if (error != NULL)
    {
      g_warning ("Failed to change start at login: %s", error->message);
      set_autostart_switch (self, !requested);
      if (g_error_matches (error, SWARM_BACKGROUND_ERROR, SWARM_BACKGROUND_ERROR_UNAVAILABLE))
        {
          adw_action_row_set_subtitle (self->autostart_row,
                                       _("Unavailable: this desktop offers no Background "
                                         "portal."));
          gtk_widget_set_sensitive (GTK_WIDGET (self->autostart_row), FALSE);
        }
      else
        {
          adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self),
                                            adw_toast_new (_("Start at login was not "
                                                             "allowed")));
        }
      return;
    }

  /* The portal may allow running in the background but not autostart, so
   * the switch follows the "autostart" result rather than the response. */
  if (requested && !granted)
    {
      set_autostart_switch (self, FALSE);
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self),
                                        adw_toast_new (_("Start at login was not allowed")));
    }
  g_settings_set_boolean (self->settings, "start-at-login", requested && granted);
}

static void
autostart_active_cb (SwarmPreferences *self)
{
  GDBusConnection *bus = g_application_get_dbus_connection (g_application_get_default ());

  if (self->reverting)
    return;

  if (bus == NULL)
    {
      set_autostart_switch (self, !gtk_switch_get_active (self->autostart_switch));
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self),
                                        adw_toast_new (_("Start at login needs a D-Bus "
                                                         "session bus")));
      return;
    }

  gtk_widget_set_sensitive (GTK_WIDGET (self->autostart_switch), FALSE);
  /* NOTE: the parent window identifier is left empty, so the portal's
   * question is not attached to this window. */
  swarm_background_request_async (bus, "",
                                  _("Swarm Proxy shares this computer’s connection in the "
                                    "background."),
                                  gtk_switch_get_active (self->autostart_switch),
                                  self->cancellable, background_cb, self);
}

static void
swarm_preferences_dispose (GObject *object)
{
  SwarmPreferences *self = SWARM_PREFERENCES (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), SWARM_TYPE_PREFERENCES);

  G_OBJECT_CLASS (swarm_preferences_parent_class)->dispose (object);
}

static void
swarm_preferences_class_init (SwarmPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = swarm_preferences_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/swarmproxy/SwarmProxy/ui/"
                                               "swarm-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, SwarmPreferences, local_broker_switch);
  gtk_widget_class_bind_template_child (widget_class, SwarmPreferences, listen_row);
  gtk_widget_class_bind_template_child (widget_class, SwarmPreferences, remote_row);
  gtk_widget_class_bind_template_child (widget_class, SwarmPreferences, public_row);
  gtk_widget_class_bind_template_child (widget_class, SwarmPreferences, allow_private_switch);
  gtk_widget_class_bind_template_child (widget_class, SwarmPreferences, autostart_row);
  gtk_widget_class_bind_template_child (widget_class, SwarmPreferences, autostart_switch);
}

static void
swarm_preferences_init (SwarmPreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

SwarmPreferences *
swarm_preferences_new (GSettings *settings)
{
  SwarmPreferences *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (SWARM_TYPE_PREFERENCES, NULL);
  self->settings = g_object_ref (settings);

  g_settings_bind_with_mapping (settings, "broker-mode", self->local_broker_switch, "active",
                                G_SETTINGS_BIND_DEFAULT, mode_to_switch, switch_to_mode,
                                NULL, NULL);
  g_settings_bind (settings, "listen-address", self->listen_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "remote-broker-address", self->remote_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "public-address", self->public_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "allow-private", self->allow_private_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);

  g_object_bind_property (self->local_broker_switch, "active", self->listen_row, "sensitive",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->local_broker_switch, "active", self->remote_row, "sensitive",
                          G_BINDING_SYNC_CREATE | G_BINDING_INVERT_BOOLEAN);

  set_autostart_switch (self, g_settings_get_boolean (settings, "start-at-login"));
  g_signal_connect_object (self->autostart_switch, "notify::active",
                           G_CALLBACK (autostart_active_cb), self, G_CONNECT_SWAPPED);
  return self;
}
