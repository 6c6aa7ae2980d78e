/* swarm-tray.c: StatusNotifierItem and dbusmenu over GDBus */
#define G_LOG_DOMAIN "swarm-tray"

#include "config.h"

#include <glib/gi18n.h>

#include "swarm-tray.h"

#define ITEM_INTERFACE "org.kde.StatusNotifierItem"
#define MENU_INTERFACE "com.canonical.dbusmenu"
/* dbusmenu protocol version that hosts expect from current implementations. */
#define DBUSMENU_VERSION 3

static const char introspection_xml[] =
  "<node>"
  " <interface name='org.kde.StatusNotifierItem'>"
  "  <property name='Category' type='s' access='read'/>"
  "  <property name='Id' type='s' access='read'/>"
  "  <property name='Title' type='s' access='read'/>"
  "  <property name='Status' type='s' access='read'/>"
  "  <property name='WindowId' type='i' access='read'/>"
  "  <property name='IconName' type='s' access='read'/>"
  "  <property name='IconThemePath' type='s' access='read'/>"
  "  <property name='OverlayIconName' type='s' access='read'/>"
  "  <property name='AttentionIconName' type='s' access='read'/>"
  "  <property name='ToolTip' type='(sa(iiay)ss)' access='read'/>"
  "  <property name='ItemIsMenu' type='b' access='read'/>"
  "  <property name='Menu' type='o' access='read'/>"
  "  <method name='ContextMenu'><arg name='x' type='i'/><arg name='y' type='i'/></method>"
  "  <method name='Activate'><arg name='x' type='i'/><arg name='y' type='i'/></method>"
  "  <method name='SecondaryActivate'>"
  "   <arg name='x' type='i'/><arg name='y' type='i'/>"
  "  </method>"
  "  <method name='Scroll'>"
  "   <arg name='delta' type='i'/><arg name='orientation' type='s'/>"
  "  </method>"
  "  <method name='ProvideXdgActivationToken'><arg name='token' type='s'/></method>"
  "  <signal name='NewTitle'/>"
  "  <signal name='NewIcon'/>"
  "  <signal name='NewAttentionIcon'/>"
  "  <signal name='NewOverlayIcon'/>"
  "  <signal name='NewToolTip'/>"
  "  <signal name='NewStatus'><arg name='status' type='s'/></signal>"
  " </interface>"
  " <interface name='com.canonical.dbusmenu'>"
  "  <property name='Version' type='u' access='read'/>"
  "  <property name='TextDirection' type='s' access='read'/>"
  "  <property name='Status' type='s' access='read'/>"
  "  <property name='IconThemePath' type='as' access='read'/>"
  "  <method name='GetLayout'>"
  "   <arg name='parentId' type='i' direction='in'/>"
  "   <arg name='recursionDepth' type='i' direction='in'/>"
  "   <arg name='propertyNames' type='as' direction='in'/>"
  "   <arg name='revision' type='u' direction='out'/>"
  "   <arg name='layout' type='(ia{sv}av)' direction='out'/>"
  "  </method>"
  "  <method name='GetGroupProperties'>"
  "   <arg name='ids' type='ai' direction='in'/>"
  "   <arg name='propertyNames' type='as' direction='in'/>"
  "   <arg name='properties' type='a(ia{sv})' direction='out'/>"
  "  </method>"
  "  <method name='GetProperty'>"
  "   <arg name='id' type='i' direction='in'/>"
  "   <arg name='name' type='s' direction='in'/>"
  "   <arg name='value' type='v' direction='out'/>"
  "  </method>"
  "  <method name='Event'>"
  "   <arg name='id' type='i' direction='in'/>"
  "   <arg name='eventId' type='s' direction='in'/>"
  "   <arg name='data' type='v' direction='in'/>"
  "   <arg name='timestamp' type='u' direction='in'/>"
  "  </method>"
  "  <method name='EventGroup'>"
  "   <arg name='events' type='a(isvu)' direction='in'/>"
  "   <arg name='idErrors' type='ai' direction='out'/>"
  "  </method>"
  "  <method name='AboutToShow'>"
  "   <arg name='id' type='i' direction='in'/>"
  "   <arg name='needUpdate' type='b' direction='out'/>"
  "  </method>"
  "  <method name='AboutToShowGroup'>"
  "   <arg name='ids' type='ai' direction='in'/>"
  "   <arg name='updatesNeeded' type='ai' direction='out'/>"
  "   <arg name='idErrors' type='ai' direction='out'/>"
  "  </method>"
  "  <signal name='ItemsPropertiesUpdated'>"
  "   <arg name='updatedProps' type='a(ia{sv})'/>"
  "   <arg name='removedProps' type='a(ias)'/>"
  "  </signal>"
  "  <signal name='LayoutUpdated'>"
  "   <arg name='revision' type='u'/><arg name='parent' type='i'/>"
  "  </signal>"
  "  <signal name='ItemActivationRequested'>"
  "   <arg name='id' type='i'/><arg name='timestamp' type='u'/>"
  "  </signal>"
  " </interface>"
  "</node>";

/* The menu below the root, in display order. */
static const SwarmTrayMenuId menu_order[] = {
  SWARM_TRAY_MENU_SHARE,
  SWARM_TRAY_MENU_COPY_TICKET,
  SWARM_TRAY_MENU_SEPARATOR,
  SWARM_TRAY_MENU_SHOW_WINDOW,
  SWARM_TRAY_MENU_QUIT,
};

struct _SwarmTray
{
  GObject parent_instance;

  GDBusConnection *bus;
  GDBusNodeInfo *node_info;
  guint item_registration_id;
  guint menu_registration_id;
  guint watch_id;
  GCancellable *cancellable;

  char *activation_token;
  char *status_text;
  guint revision;
  guint tunnel_count;
  gboolean sharing;
  gboolean registered;
  gboolean missing_watcher_logged;
};

enum {
  PROP_0,
  PROP_REGISTERED,
  PROP_SHARING,
  N_PROPS
};

enum {
  SIGNAL_ACTIVATE,
  SIGNAL_SHARE_TOGGLED,
  SIGNAL_COPY_TICKET,
  SIGNAL_QUIT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (SwarmTray, swarm_tray, G_TYPE_OBJECT)

const char *
swarm_tray_get_icon_name (SwarmTray *self)
{
  g_return_val_if_fail (SWARM_IS_TRAY (self), NULL);

  if (self->sharing && self->tunnel_count > 0)
    return APP_ID "-active-symbolic";
  if (self->sharing)
    return APP_ID "-sharing-symbolic";
  return APP_ID;
}

static const char *
get_title (void)
{
  return _("Swarm Proxy");
}

static GVariant *
build_tooltip (SwarmTray *self)
{
  GVariantBuilder pixmaps;

  g_variant_builder_init (&pixmaps, G_VARIANT_TYPE ("a(iiay)"));
  return g_variant_new ("(sa(iiay)ss)", swarm_tray_get_icon_name (self), &pixmaps,
                        get_title (),
                        self->status_text != NULL ? self->status_text : "");
}

static GVariant *
item_get_property (GDBusConnection  *connection,
                   const char       *sender,
                   const char       *object_path,
                   const char       *interface_name,
                   const char       *property_name,
                   GError          **error,
                   gpointer          user_data)
{
  SwarmTray *self = SWARM_TRAY (user_data);

  if (g_str_equal (property_name, "Category"))
    return g_variant_new_string ("ApplicationStatus");
  if (g_str_equal (property_name, "Id"))
    return g_variant_new_string (APP_ID);
  if (g_str_equal (property_name, "Title"))
    return g_variant_new_string (get_title ());
  if (g_str_equal (property_name, "Status"))
    return g_variant_new_string ("Active");
  if (g_str_equal (property_name, "WindowId"))
    return g_variant_new_int32 (0);
  if (g_str_equal (property_name, "IconName"))
    return g_variant_new_string (swarm_tray_get_icon_name (self));
  if (g_str_equal (property_name, "IconThemePath")
      || g_str_equal (property_name, "OverlayIconName")
      || g_str_equal (property_name, "AttentionIconName"))
    return g_variant_new_string ("");
  if (g_str_equal (property_name, "ToolTip"))
    return build_tooltip (self);
  if (g_str_equal (property_name, "ItemIsMenu"))
    return g_variant_new_boolean (FALSE);
  if (g_str_equal (property_name, "Menu"))
    return g_variant_new_object_path (SWARM_TRAY_MENU_PATH);

  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
               "Unknown property %s", property_name);
  return NULL;
}

static void
item_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  SwarmTray *self = SWARM_TRAY (user_data);

  if (g_str_equal (method_name, "Activate") || g_str_equal (method_name, "SecondaryActivate"))
    {
      g_autofree char *token = g_steal_pointer (&self->activation_token);

      g_signal_emit (self, signals[SIGNAL_ACTIVATE], 0, token);
    }
  else if (g_str_equal (method_name, "ProvideXdgActivationToken"))
    {
      g_free (self->activation_token);
      g_variant_get (parameters, "(s)", &self->activation_token);
    }
  /* ContextMenu is only called by hosts that cannot show the dbusmenu
   * themselves, and Scroll has no meaning here; both are accepted. */

  g_dbus_method_invocation_return_value (invocation, NULL);
}

/* ---- dbusmenu ---- */

static GVariant *
menu_item_properties (SwarmTray       *self,
                      SwarmTrayMenuId  id,
                      const char     **names)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);

  switch (id)
    {
    case SWARM_TRAY_MENU_ROOT:
      g_variant_dict_insert (&dict, "children-display", "s", "submenu");
      break;
    case SWARM_TRAY_MENU_SHARE:
      g_variant_dict_insert (&dict, "label", "s", _("_Share"));
      g_variant_dict_insert (&dict, "toggle-type", "s", "checkmark");
      g_variant_dict_insert (&dict, "toggle-state", "i", self->sharing ? 1 : 0);
      break;
    case SWARM_TRAY_MENU_COPY_TICKET:
      g_variant_dict_insert (&dict, "label", "s", _("_Copy Latest Ticket"));
      break;
    case SWARM_TRAY_MENU_SEPARATOR:
      g_variant_dict_insert (&dict, "type", "s", "separator");
      break;
    case SWARM_TRAY_MENU_SHOW_WINDOW:
      g_variant_dict_insert (&dict, "label", "s", _("Show _Window"));
      break;
    case SWARM_TRAY_MENU_QUIT:
      g_variant_dict_insert (&dict, "label", "s", _("_Quit"));
      break;
    default:
      break;
    }

  if (id != SWARM_TRAY_MENU_ROOT && id != SWARM_TRAY_MENU_SEPARATOR)
    {
      g_variant_dict_insert (&dict, "enabled", "b", TRUE);
      g_variant_dict_insert (&dict, "visible", "b", TRUE);
    }

  /* An empty list of names requests every property. */
  if (names != NULL && names[0] != NULL)
    {
      g_autoptr(GVariant) all = g_variant_ref_sink (g_variant_dict_end (&dict));
      GVariantIter iter;
      const char *key;
      GVariant *value;

      g_variant_dict_init (&dict, NULL);
      g_variant_iter_init (&iter, all);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          if (g_strv_contains (names, key))
            g_variant_dict_insert_value (&dict, key, value);
          g_variant_unref (value);
        }
    }

  return g_variant_dict_end (&dict);
}

static gboolean
menu_id_is_known (gint32 id)
{
  return id >= SWARM_TRAY_MENU_ROOT && id <= SWARM_TRAY_MENU_QUIT;
}

static GVariant *
build_layout (SwarmTray   *self,
              gint32       id,
              gint32       depth,
              const char **names)
{
  GVariantBuilder children;

  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  /* Depth -1 means all levels; the menu is only one level deep. */
  if (id == SWARM_TRAY_MENU_ROOT && depth != 0)
    {
      for (guint i = 0; i < G_N_ELEMENTS (menu_order); i++)
        g_variant_builder_add (&children, "v",
                               build_layout (self, menu_order[i], depth - 1, names));
    }

  return g_variant_new ("(i@a{sv}av)", id, menu_item_properties (self, id, names),
                        &children);
}

static void
emit_menu_signal (SwarmTray  *self,
                  const char *name,
                  GVariant   *parameters)
{
  g_autoptr(GError) error = NULL;

  if (!g_dbus_connection_emit_signal (self->bus, NULL, SWARM_TRAY_MENU_PATH, MENU_INTERFACE,
                                      name, parameters, &error))
    g_debug ("Failed to emit %s: %s", name, error->message);
}

static void
emit_item_signal (SwarmTray  *self,
                  const char *name,
                  GVariant   *parameters)
{
  g_autoptr(GError) error = NULL;

  if (!g_dbus_connection_emit_signal (self->bus, NULL, SWARM_TRAY_ITEM_PATH, ITEM_INTERFACE,
                                      name, parameters, &error))
    g_debug ("Failed to emit %s: %s", name, error->message);
}

static void
activate_menu_item (SwarmTray *self,
                    gint32     id)
{
  switch (id)
    {
    case SWARM_TRAY_MENU_SHARE:
      g_signal_emit (self, signals[SIGNAL_SHARE_TOGGLED], 0, !self->sharing);
      break;
    case SWARM_TRAY_MENU_COPY_TICKET:
      {
        g_autofree char *token = g_steal_pointer (&self->activation_token);

        g_signal_emit (self, signals[SIGNAL_COPY_TICKET], 0, token);
      }
      break;
    case SWARM_TRAY_MENU_SHOW_WINDOW:
      {
        g_autofree char *token = g_steal_pointer (&self->activation_token);

        g_signal_emit (self, signals[SIGNAL_ACTIVATE], 0, token);
      }
      break;
    case SWARM_TRAY_MENU_QUIT:
      g_signal_emit (self, signals[SIGNAL_QUIT], 0);
      break;
    default:
      break;
    }
}

static void
menu_method_call (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  SwarmTray *self = SWARM_TRAY (user_data);

  if (g_str_equal (method_name, "GetLayout"))
    {
      g_autofree const char **names = NULL;
      gint32 parent, depth;

      g_variant_get (parameters, "(ii^a&s)", &parent, &depth, &names);
      if (!menu_id_is_known (parent))
        {
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                                 G_DBUS_ERROR_INVALID_ARGS,
                                                 "Unknown menu item %d", parent);
          return;
        }
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(u@(ia{sv}av))", self->revision,
                                                            build_layout (self, parent, depth,
                                                                          names)));
    }
  else if (g_str_equal (method_name, "GetGroupProperties"))
    {
      g_autoptr(GVariantIter) ids = NULL;
      g_autofree const char **names = NULL;
      GVariantBuilder result;
      gint32 id;

      g_variant_get (parameters, "(ai^a&s)", &ids, &names);
      g_variant_builder_init (&result, G_VARIANT_TYPE ("a(ia{sv})"));
      while (g_variant_iter_next (ids, "i", &id))
        {
          if (menu_id_is_known (id))
            g_variant_builder_add (&result, "(i@a{sv})", id,
                                   menu_item_properties (self, id, names));
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a(ia{sv}))",
                                                                        &result));
    }
  else if (g_str_equal (method_name, "GetProperty"))
    {
      g_autoptr(GVariant) props = NULL;
      g_autoptr(GVariant) value = NULL;
      const char *name;
      gint32 id;

      g_variant_get (parameters, "(i&s)", &id, &name);
      if (menu_id_is_known (id))
        {
          props = g_variant_ref_sink (menu_item_properties (self, id, NULL));
          value = g_variant_lookup_value (props, name, NULL);
        }
      if (value == NULL)
        g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                               G_DBUS_ERROR_INVALID_ARGS,
                                               "Menu item %d has no property %s", id, name);
      else
        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
    }
  else if (g_str_equal (method_name, "Event"))
    {
      const char *event;
      gint32 id;

      g_variant_get (parameters, "(i&svu)", &id, &event, NULL, NULL);
      /* Reply first: a handler may present a window or quit. */
      g_dbus_method_invocation_return_value (invocation, NULL);
      if (g_str_equal (event, "clicked"))
        activate_menu_item (self, id);
    }
  else if (g_str_equal (method_name, "EventGroup"))
    {
      g_autoptr(GVariantIter) events = NULL;
      g_autoptr(GArray) clicked = g_array_new (FALSE, FALSE, sizeof (gint32));
      GVariantBuilder errors;
      const char *event;
      gint32 id;

      g_variant_get (parameters, "(a(isvu))", &events);
      g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
      while (g_variant_iter_next (events, "(i&svu)", &id, &event, NULL, NULL))
        {
          if (!menu_id_is_known (id))
            g_variant_builder_add (&errors, "i", id);
          else if (g_str_equal (event, "clicked"))
            g_array_append_val (clicked, id);
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ai)", &errors));
      for (guint i = 0; i < clicked->len; i++)
        activate_menu_item (self, g_array_index (clicked, gint32, i));
    }
  else if (g_str_equal (method_name, "AboutToShow"))
    {
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(b)", FALSE));
    }
  else if (g_str_equal (method_name, "AboutToShowGroup"))
    {
      /* No item has content that changes before it is shown. */
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new_parsed ("(@ai [], @ai [])"));
    }
  else
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                             G_DBUS_ERROR_UNKNOWN_METHOD,
                                             "Unknown method %s", method_name);
    }
}

static GVariant *
menu_get_property (GDBusConnection  *connection,
                   const char       *sender,
                   const char       *object_path,
                   const char       *interface_name,
                   const char       *property_name,
                   GError          **error,
                   gpointer          user_data)
{
  if (g_str_equal (property_name, "Version"))
    return g_variant_new_uint32 (DBUSMENU_VERSION);
  if (g_str_equal (property_name, "TextDirection"))
    {
      /* Translators: "rtl" for languages written right to left, else "ltr". */
      const char *direction = C_("text direction", "ltr");

      return g_variant_new_string (g_str_equal (direction, "rtl") ? "rtl" : "ltr");
    }
  if (g_str_equal (property_name, "Status"))
    return g_variant_new_string ("normal");
  if (g_str_equal (property_name, "IconThemePath"))
    return g_variant_new_strv (NULL, 0);

  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
               "Unknown property %s", property_name);
  return NULL;
}

static const GDBusInterfaceVTable item_vtable = {
  item_method_call, item_get_property, NULL, { 0 }
};

static const GDBusInterfaceVTable menu_vtable = {
  menu_method_call, menu_get_property, NULL, { 0 }
};

/* ---- registration with the watcher ---- */

static void
set_registered (SwarmTray *self,
                gboolean   registered)
{
  if (self->registered == registered)
    return;
  self->registered = registered;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
}

static void
register_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(SwarmTray) self = SWARM_TRAY (user_data);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Failed to register the tray icon with %s: %s",
                   SWARM_TRAY_WATCHER_NAME, error->message);
      return;
    }

  g_message ("Registered the tray icon with %s", SWARM_TRAY_WATCHER_NAME);
  set_registered (self, TRUE);
}

static void
watcher_appeared_cb (GDBusConnection *connection,
                     const char      *name,
                     const char      *owner,
                     gpointer         user_data)
{
  SwarmTray *self = SWARM_TRAY (user_data);

  /* The unique name identifies the connection that owns the item, and the
   * watcher then uses the conventional /StatusNotifierItem path. */
  g_dbus_connection_call (connection, SWARM_TRAY_WATCHER_NAME, SWARM_TRAY_WATCHER_PATH,
                          SWARM_TRAY_WATCHER_NAME, "RegisterStatusNotifierItem",
                          g_variant_new ("(s)", g_dbus_connection_get_unique_name (connection)),
                          NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable,
                          register_cb, g_object_ref (self));
}

static void
watcher_vanished_cb (GDBusConnection *connection,
                     const char      *name,
                     gpointer         user_data)
{
  SwarmTray *self = SWARM_TRAY (user_data);

  if (self->registered)
    g_message ("%s went away; the tray icon is registered again when it returns",
               SWARM_TRAY_WATCHER_NAME);
  else if (!self->missing_watcher_logged)
    g_message ("No %s is running, so there is no tray icon; the window offers "
               "everything the tray menu does", SWARM_TRAY_WATCHER_NAME);
  self->missing_watcher_logged = TRUE;
  set_registered (self, FALSE);
}

/* ---- GObject ---- */

static void
swarm_tray_dispose (GObject *object)
{
  SwarmTray *self = SWARM_TRAY (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  if (self->bus != NULL)
    {
      if (self->item_registration_id != 0)
        g_dbus_connection_unregister_object (self->bus, self->item_registration_id);
      if (self->menu_registration_id != 0)
        g_dbus_connection_unregister_object (self->bus, self->menu_registration_id);
      self->item_registration_id = 0;
      self->menu_registration_id = 0;
    }
  g_clear_object (&self->bus);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->node_info, g_dbus_node_info_unref);

  G_OBJECT_CLASS (swarm_tray_parent_class)->dispose (object);
}

static void
swarm_tray_finalize (GObject *object)
{
  SwarmTray *self = SWARM_TRAY (object);

  g_clear_pointer (&self->activation_token, g_free);
  g_clear_pointer (&self->status_text, g_free);

  G_OBJECT_CLASS (swarm_tray_parent_class)->finalize (object);
}

static void
swarm_tray_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  SwarmTray *self = SWARM_TRAY (object);

  switch (prop_id)
    {
    case PROP_REGISTERED:
      g_value_set_boolean (value, self->registered);
      break;
    case PROP_SHARING:
      g_value_set_boolean (value, self->sharing);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_tray_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  SwarmTray *self = SWARM_TRAY (object);

  switch (prop_id)
    {
    case PROP_SHARING:
      swarm_tray_set_sharing (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_tray_class_init (SwarmTrayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = swarm_tray_dispose;
  object_class->finalize = swarm_tray_finalize;
  object_class->get_property = swarm_tray_get_property;
  object_class->set_property = swarm_tray_set_property;

  /**
   * SwarmTray:registered:
   *
   * Whether a StatusNotifierWatcher accepted the item.
   */
  properties[PROP_REGISTERED] =
    g_param_spec_boolean ("registered", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * SwarmTray:sharing:
   *
   * Whether sharing is on, shown as the Share checkmark and the icon.
   */
  properties[PROP_SHARING] =
    g_param_spec_boolean ("sharing", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * SwarmTray::activate:
   * @token: (nullable): an XDG activation token from the host
   *
   * Emitted on a click on the icon or on Show Window.
   */
  signals[SIGNAL_ACTIVATE] =
    g_signal_new ("activate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * SwarmTray::share-toggled:
   * @sharing: the requested state
   *
   * Emitted when the user picks Share.  The tray does not change its own
   * checkmark: the owner calls swarm_tray_set_sharing() once sharing did
   * change.
   */
  signals[SIGNAL_SHARE_TOGGLED] =
    g_signal_new ("share-toggled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  /**
   * SwarmTray::copy-ticket:
   * @token: (nullable): an XDG activation token from the host
   *
   * Emitted on Copy Latest Ticket.  On Wayland only a focused window may set
   * the clipboard, so the handler presents the window and copies from it.
   */
  signals[SIGNAL_COPY_TICKET] =
    g_signal_new ("copy-ticket", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * SwarmTray::quit:
   *
   * Emitted on Quit.
   */
  signals[SIGNAL_QUIT] =
    g_signal_new ("quit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
swarm_tray_init (SwarmTray *self)
{
  self->cancellable = g_cancellable_new ();
  self->revision = 1;
}

SwarmTray *
swarm_tray_new (GDBusConnection  *bus,
                GError          **error)
{
  g_autoptr(SwarmTray) self = NULL;
  GDBusInterfaceInfo *item_info;
  GDBusInterfaceInfo *menu_info;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (bus), NULL);

  self = g_object_new (SWARM_TYPE_TRAY, NULL);
  self->bus = g_object_ref (bus);
  self->node_info = g_dbus_node_info_new_for_xml (introspection_xml, error);
  if (self->node_info == NULL)
    return NULL;

  item_info = g_dbus_node_info_lookup_interface (self->node_info, ITEM_INTERFACE);
  menu_info = g_dbus_node_info_lookup_interface (self->node_info, MENU_INTERFACE);

  self->item_registration_id =
    g_dbus_connection_register_object (bus, SWARM_TRAY_ITEM_PATH, item_info, &item_vtable,
                                       self, NULL, error);
  if (self->item_registration_id == 0)
    return NULL;
  self->menu_registration_id =
    g_dbus_connection_register_object (bus, SWARM_TRAY_MENU_PATH, menu_info, &menu_vtable,
                                       self, NULL, error);
  if (self->menu_registration_id == 0)
    return NULL;

  self->watch_id = g_bus_watch_name_on_connection (bus, SWARM_TRAY_WATCHER_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   watcher_appeared_cb, watcher_vanished_cb,
                                                   self, NULL);
  return g_steal_pointer (&self);
}

gboolean
swarm_tray_get_registered (SwarmTray *self)
{
  g_return_val_if_fail (SWARM_IS_TRAY (self), FALSE);
  return self->registered;
}

gboolean
swarm_tray_get_sharing (SwarmTray *self)
{
  g_return_val_if_fail (SWARM_IS_TRAY (self), FALSE);
  return self->sharing;
}

static void
announce_icon_change (SwarmTray *self)
{
  emit_item_signal (self, "NewIcon", NULL);
  emit_item_signal (self, "NewToolTip", NULL);
}

void
swarm_tray_set_sharing (SwarmTray *self,
                        gboolean   sharing)
{
  GVariantBuilder updated;
  GVariantBuilder removed;

  g_return_if_fail (SWARM_IS_TRAY (self));

  sharing = !!sharing;
  if (self->sharing == sharing)
    return;
  self->sharing = sharing;

  /* Hosts differ in which signal makes them refresh a checkmark, so both
   * the property update and a new layout revision go out. */
  g_variant_builder_init (&updated, G_VARIANT_TYPE ("a(ia{sv})"));
  g_variant_builder_add (&updated, "(i@a{sv})", SWARM_TRAY_MENU_SHARE,
                         menu_item_properties (self, SWARM_TRAY_MENU_SHARE, NULL));
  g_variant_builder_init (&removed, G_VARIANT_TYPE ("a(ias)"));
  emit_menu_signal (self, "ItemsPropertiesUpdated",
                    g_variant_new ("(a(ia{sv})a(ias))", &updated, &removed));
  self->revision++;
  emit_menu_signal (self, "LayoutUpdated",
                    g_variant_new ("(ui)", self->revision, SWARM_TRAY_MENU_ROOT));

  announce_icon_change (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHARING]);
}

void
swarm_tray_set_tunnel_count (SwarmTray *self,
                             guint      count)
{
  g_return_if_fail (SWARM_IS_TRAY (self));

  if (self->tunnel_count == count)
    return;
  self->tunnel_count = count;
  announce_icon_change (self);
}

void
swarm_tray_set_status_text (SwarmTray  *self,
                            const char *text)
{
  g_return_if_fail (SWARM_IS_TRAY (self));

  if (g_strcmp0 (self->status_text, text) == 0)
    return;
  g_free (self->status_text);
  self->status_text = g_strdup (text);
  emit_item_signal (self, "NewToolTip", NULL);
}
