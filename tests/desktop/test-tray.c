/* test-tray.c: the tray item on a private bus with a fake watcher */
#include "config.h"

#include "desktop-test-utils.h"

#include <glib/gstdio.h>

#include "swarm-share.h"
#include "swarm-tray.h"

#define WAIT_TIMEOUT_S 15
/* A second, separate connection to the session bus. */
#define BUS_CLIENT_FLAGS \
  (G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION)

static const char watcher_xml[] =
  "<node>"
  " <interface name='org.kde.StatusNotifierWatcher'>"
  "  <method name='RegisterStatusNotifierItem'><arg name='service' type='s'/></method>"
  " </interface>"
  "</node>";

/* Stands in for a panel: owns the watcher name on its own connection and
 * records every registration. */
typedef struct {
  GDBusConnection *bus;
  GDBusNodeInfo *info;
  guint object_id;
  guint owner_id;
  gboolean owned;
  GPtrArray *registrations;   /* "sender service" strings */
} FakeWatcher;

typedef struct {
  char *data_dir;
  GDBusConnection *tray_bus;
  FakeWatcher watcher;
  SwarmTicketStore *store;
  SwarmShare *share;
  SwarmTray *tray;
} Fixture;

static void
watcher_method_cb (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *object_path,
                   const char            *interface_name,
                   const char            *method_name,
                   GVariant              *parameters,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  FakeWatcher *watcher = user_data;
  const char *service;

  g_variant_get (parameters, "(&s)", &service);
  g_ptr_array_add (watcher->registrations, g_strdup_printf ("%s %s", sender, service));
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable watcher_vtable = { watcher_method_cb, NULL, NULL, { 0 } };

static void
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  ((FakeWatcher *) user_data)->owned = TRUE;
}

static gboolean
watcher_owned (gpointer data)
{
  return ((FakeWatcher *) data)->owned;
}

static void
fake_watcher_own (FakeWatcher *watcher)
{
  watcher->owned = FALSE;
  watcher->owner_id = g_bus_own_name_on_connection (watcher->bus, SWARM_TRAY_WATCHER_NAME,
                                                    G_BUS_NAME_OWNER_FLAGS_NONE,
                                                    name_acquired_cb, NULL, watcher, NULL);
  g_assert_true (swarm_test_wait_until (watcher_owned, watcher, WAIT_TIMEOUT_S));
}

static void
fake_watcher_start (FakeWatcher *watcher)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error);

  g_assert_no_error (error);
  watcher->bus = g_dbus_connection_new_for_address_sync (address, BUS_CLIENT_FLAGS, NULL, NULL,
                                                      &error);
  g_assert_no_error (error);
  watcher->info = g_dbus_node_info_new_for_xml (watcher_xml, &error);
  g_assert_no_error (error);
  watcher->registrations = g_ptr_array_new_with_free_func (g_free);
  watcher->object_id = g_dbus_connection_register_object (watcher->bus,
                                                          SWARM_TRAY_WATCHER_PATH,
                                                          watcher->info->interfaces[0],
                                                          &watcher_vtable, watcher, NULL,
                                                          &error);
  g_assert_no_error (error);
  fake_watcher_own (watcher);
}

static void
fake_watcher_stop (FakeWatcher *watcher)
{
  g_clear_handle_id (&watcher->owner_id, g_bus_unown_name);
  if (watcher->object_id != 0)
    g_dbus_connection_unregister_object (watcher->bus, watcher->object_id);
  g_clear_pointer (&watcher->info, g_dbus_node_info_unref);
  g_clear_pointer (&watcher->registrations, g_ptr_array_unref);
  g_clear_object (&watcher->bus);
}

static gboolean
tray_registered (gpointer data)
{
  return swarm_tray_get_registered (SWARM_TRAY (data));
}

static gboolean
tray_unregistered (gpointer data)
{
  return !swarm_tray_get_registered (SWARM_TRAY (data));
}

/* Connects the tray to a share the way the application does. */
static void
share_toggled_cb (SwarmTray  *tray,
                  gboolean    sharing,
                  SwarmShare *share)
{
  g_autoptr(GError) error = NULL;

  if (sharing)
    {
      gboolean started = swarm_share_start_latest (share, &error);

      g_assert_no_error (error);
      g_assert_true (started);
    }
  else
    {
      swarm_share_stop (share);
    }
}

static void
share_running_cb (SwarmShare *share,
                  GParamSpec *pspec,
                  SwarmTray  *tray)
{
  swarm_tray_set_sharing (tray, swarm_share_get_running (share));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error);

  g_assert_no_error (error);
  fixture->data_dir = g_dir_make_tmp ("swarm-tray-XXXXXX", &error);
  g_assert_no_error (error);

  fixture->tray_bus = g_dbus_connection_new_for_address_sync (address, BUS_CLIENT_FLAGS,
                                                              NULL, NULL, &error);
  g_assert_no_error (error);
  fake_watcher_start (&fixture->watcher);

  /* Defaults plus a port of 0, so the broker never collides with another. */
  fixture->store = swarm_ticket_store_new (fixture->data_dir);
  {
    g_autoptr(GSettings) settings = swarm_settings_new ();

    g_assert_nonnull (settings);
    g_settings_set_string (settings, "listen-address", "127.0.0.1:0");
    g_settings_set_string (settings, "broker-mode", "local");
    fixture->share = swarm_share_new (settings, fixture->store);
  }

  fixture->tray = swarm_tray_new (fixture->tray_bus, &error);
  g_assert_no_error (error);
  g_signal_connect (fixture->tray, "share-toggled", G_CALLBACK (share_toggled_cb),
                    fixture->share);
  g_signal_connect (fixture->share, "notify::running", G_CALLBACK (share_running_cb),
                    fixture->tray);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_clear_object (&fixture->tray);
  swarm_share_stop (fixture->share);
  g_clear_object (&fixture->share);
  g_clear_object (&fixture->store);
  fake_watcher_stop (&fixture->watcher);
  g_clear_object (&fixture->tray_bus);

  dir = g_dir_open (fixture->data_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->data_dir, name, NULL);

      g_remove (path);
    }
  g_rmdir (fixture->data_dir);
  g_clear_pointer (&fixture->data_dir, g_free);
}

typedef struct {
  GVariant *reply;
  GError *error;
  gboolean done;
} CallResult;

static void
call_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CallResult *call = user_data;

  call->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                               &call->error);
  call->done = TRUE;
}

static gboolean
call_done (gpointer data)
{
  return ((CallResult *) data)->done;
}

/* Calls the tray from the watcher's connection.  The call is asynchronous
 * because the tray replies from this same main loop. */
static GVariant *
call_tray (Fixture    *fixture,
           const char *path,
           const char *interface,
           const char *method,
           GVariant   *parameters,
           const char *reply_type)
{
  CallResult call = { NULL, NULL, FALSE };

  g_dbus_connection_call (fixture->watcher.bus,
                          g_dbus_connection_get_unique_name (fixture->tray_bus),
                          path, interface, method, parameters,
                          reply_type != NULL ? G_VARIANT_TYPE (reply_type) : NULL,
                          G_DBUS_CALL_FLAGS_NONE, 5000, NULL, call_done_cb, &call);
  g_assert_true (swarm_test_wait_until (call_done, &call, WAIT_TIMEOUT_S));
  g_assert_no_error (call.error);
  return call.reply;
}

static GVariant *
get_item_property (Fixture    *fixture,
                   const char *name)
{
  g_autoptr(GVariant) reply = call_tray (fixture, SWARM_TRAY_ITEM_PATH,
                                         "org.freedesktop.DBus.Properties", "Get",
                                         g_variant_new ("(ss)", "org.kde.StatusNotifierItem",
                                                        name), "(v)");
  GVariant *value;

  g_variant_get (reply, "(v)", &value);
  return value;
}

static void
test_tray_registers (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *expected = NULL;
  g_autoptr(GVariant) icon = NULL;
  g_autoptr(GVariant) menu = NULL;
  g_autoptr(GVariant) item_is_menu = NULL;
  g_autoptr(GVariant) category = NULL;

  g_assert_true (swarm_test_wait_until (tray_registered, fixture->tray, WAIT_TIMEOUT_S));
  g_assert_cmpuint (fixture->watcher.registrations->len, ==, 1);
  expected = g_strdup_printf ("%s %s", g_dbus_connection_get_unique_name (fixture->tray_bus),
                              g_dbus_connection_get_unique_name (fixture->tray_bus));
  g_assert_cmpstr (g_ptr_array_index (fixture->watcher.registrations, 0), ==, expected);

  icon = get_item_property (fixture, "IconName");
  g_assert_cmpstr (g_variant_get_string (icon, NULL), ==, APP_ID);
  menu = get_item_property (fixture, "Menu");
  g_assert_cmpstr (g_variant_get_string (menu, NULL), ==, SWARM_TRAY_MENU_PATH);
  item_is_menu = get_item_property (fixture, "ItemIsMenu");
  g_assert_false (g_variant_get_boolean (item_is_menu));
  category = get_item_property (fixture, "Category");
  g_assert_cmpstr (g_variant_get_string (category, NULL), ==, "ApplicationStatus");
}

static void
test_tray_reregisters (Fixture       *fixture,
                       gconstpointer  data)
{
  g_assert_true (swarm_test_wait_until (tray_registered, fixture->tray, WAIT_TIMEOUT_S));

  /* The panel restarts: the name goes away and comes back. */
  g_clear_handle_id (&fixture->watcher.owner_id, g_bus_unown_name);
  g_assert_true (swarm_test_wait_until (tray_unregistered, fixture->tray, WAIT_TIMEOUT_S));
  fake_watcher_own (&fixture->watcher);
  g_assert_true (swarm_test_wait_until (tray_registered, fixture->tray, WAIT_TIMEOUT_S));
  g_assert_cmpuint (fixture->watcher.registrations->len, ==, 2);
}

/* Returns the a{sv} properties of the child with `id` in a GetLayout reply. */
static GVariant *
find_menu_child (GVariant *layout,
                 gint32    id)
{
  g_autoptr(GVariant) children = g_variant_get_child_value (layout, 2);

  for (gsize i = 0; i < g_variant_n_children (children); i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (children, i);
      g_autoptr(GVariant) child = g_variant_get_variant (boxed);
      gint32 child_id;

      g_variant_get_child (child, 0, "i", &child_id);
      if (child_id == id)
        return g_variant_get_child_value (child, 1);
    }
  return NULL;
}

static gint32
share_toggle_state (Fixture *fixture)
{
  const char *all_properties[] = { NULL };
  g_autoptr(GVariant) reply = call_tray (fixture, SWARM_TRAY_MENU_PATH, "com.canonical.dbusmenu",
                                         "GetLayout",
                                         g_variant_new ("(ii^as)", 0, -1, all_properties),
                                         "(u(ia{sv}av))");
  g_autoptr(GVariant) layout = g_variant_get_child_value (reply, 1);
  g_autoptr(GVariant) share = find_menu_child (layout, SWARM_TRAY_MENU_SHARE);
  gint32 state = -1;

  g_assert_nonnull (share);
  g_assert_true (g_variant_lookup (share, "toggle-state", "i", &state));
  return state;
}

static void
test_tray_menu_layout (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) layout = NULL;
  g_autoptr(GVariant) children = NULL;
  g_autoptr(GVariant) share = NULL;
  g_autoptr(GVariant) copy = NULL;
  g_autoptr(GVariant) separator = NULL;
  g_autoptr(GVariant) quit = NULL;
  const char *value;
  gint32 root_id;

  reply = call_tray (fixture, SWARM_TRAY_MENU_PATH, "com.canonical.dbusmenu", "GetLayout",
                     g_variant_new ("(ii^as)", 0, -1, (const char *[]) { NULL }),
                     "(u(ia{sv}av))");
  layout = g_variant_get_child_value (reply, 1);
  g_variant_get_child (layout, 0, "i", &root_id);
  g_assert_cmpint (root_id, ==, 0);
  children = g_variant_get_child_value (layout, 2);
  g_assert_cmpuint (g_variant_n_children (children), ==, 5);

  share = find_menu_child (layout, SWARM_TRAY_MENU_SHARE);
  g_assert_nonnull (share);
  g_assert_true (g_variant_lookup (share, "toggle-type", "&s", &value));
  g_assert_cmpstr (value, ==, "checkmark");
  g_assert_true (g_variant_lookup (share, "label", "&s", &value));
  g_assert_cmpstr (value, ==, "_Share");
  g_assert_cmpint (share_toggle_state (fixture), ==, 0);

  copy = find_menu_child (layout, SWARM_TRAY_MENU_COPY_TICKET);
  g_assert_true (g_variant_lookup (copy, "label", "&s", &value));
  g_assert_cmpstr (value, ==, "_Copy Latest Ticket");
  separator = find_menu_child (layout, SWARM_TRAY_MENU_SEPARATOR);
  g_assert_true (g_variant_lookup (separator, "type", "&s", &value));
  g_assert_cmpstr (value, ==, "separator");
  quit = find_menu_child (layout, SWARM_TRAY_MENU_QUIT);
  g_assert_true (g_variant_lookup (quit, "label", "&s", &value));
  g_assert_cmpstr (value, ==, "_Quit");

  /* Depth 0 returns the root without children. */
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&layout, g_variant_unref);
  g_clear_pointer (&children, g_variant_unref);
  reply = call_tray (fixture, SWARM_TRAY_MENU_PATH, "com.canonical.dbusmenu", "GetLayout",
                     g_variant_new ("(ii^as)", 0, 0, (const char *[]) { NULL }),
                     "(u(ia{sv}av))");
  layout = g_variant_get_child_value (reply, 1);
  children = g_variant_get_child_value (layout, 2);
  g_assert_cmpuint (g_variant_n_children (children), ==, 0);
}

static gboolean
is_sharing (gpointer data)
{
  return swarm_share_get_state (SWARM_SHARE (data)) == SWARM_PROVIDER_STATE_SHARING;
}

static void
test_tray_share_click (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) icon = NULL;

  g_assert_true (swarm_test_wait_until (tray_registered, fixture->tray, WAIT_TIMEOUT_S));

  reply = call_tray (fixture, SWARM_TRAY_MENU_PATH, "com.canonical.dbusmenu", "Event",
                     g_variant_new ("(isvu)", SWARM_TRAY_MENU_SHARE, "clicked",
                                    g_variant_new_int32 (0), 0), NULL);

  g_assert_true (swarm_share_get_running (fixture->share));
  g_assert_true (swarm_test_wait_until (is_sharing, fixture->share, WAIT_TIMEOUT_S));
  g_assert_true (swarm_tray_get_sharing (fixture->tray));
  g_assert_cmpint (share_toggle_state (fixture), ==, 1);
  icon = get_item_property (fixture, "IconName");
  g_assert_cmpstr (g_variant_get_string (icon, NULL), ==, APP_ID "-sharing-symbolic");

  /* A second click turns sharing off again. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = call_tray (fixture, SWARM_TRAY_MENU_PATH, "com.canonical.dbusmenu", "Event",
                     g_variant_new ("(isvu)", SWARM_TRAY_MENU_SHARE, "clicked",
                                    g_variant_new_int32 (0), 0), NULL);
  g_assert_false (swarm_share_get_running (fixture->share));
  g_assert_cmpint (share_toggle_state (fixture), ==, 0);
}

static void
count_new_icon_cb (GDBusConnection *connection,
                   const char      *sender_name,
                   const char      *object_path,
                   const char      *interface_name,
                   const char      *signal_name,
                   GVariant        *parameters,
                   gpointer         user_data)
{
  (*(guint *) user_data)++;
}

typedef struct {
  guint *count;
  guint above;
} CountAbove;

static gboolean
count_above (gpointer data)
{
  CountAbove *check = data;

  return *check->count > check->above;
}

static char *
dup_icon_name (Fixture *fixture)
{
  g_autoptr(GVariant) icon = get_item_property (fixture, "IconName");

  return g_variant_dup_string (icon, NULL);
}

static void
test_tray_tunnel_icon (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *icon = NULL;
  guint new_icons = 0;
  CountAbove check = { &new_icons, 0 };
  guint subscription;

  g_assert_true (swarm_test_wait_until (tray_registered, fixture->tray, WAIT_TIMEOUT_S));
  subscription = g_dbus_connection_signal_subscribe (
    fixture->watcher.bus, g_dbus_connection_get_unique_name (fixture->tray_bus),
    "org.kde.StatusNotifierItem", "NewIcon", SWARM_TRAY_ITEM_PATH, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, count_new_icon_cb, &new_icons, NULL);

  swarm_tray_set_sharing (fixture->tray, TRUE);
  icon = dup_icon_name (fixture);
  g_assert_cmpstr (icon, ==, APP_ID "-sharing-symbolic");

  /* Open tunnels switch to the active icon, and hosts learn of it from a
   * NewIcon signal. */
  g_assert_true (swarm_test_wait_until (count_above, &check, WAIT_TIMEOUT_S));
  check.above = new_icons;
  swarm_tray_set_tunnel_count (fixture->tray, 2);
  g_clear_pointer (&icon, g_free);
  icon = dup_icon_name (fixture);
  g_assert_cmpstr (icon, ==, APP_ID "-active-symbolic");
  g_assert_true (swarm_test_wait_until (count_above, &check, WAIT_TIMEOUT_S));

  /* The last tunnel closing goes back to the sharing icon. */
  check.above = new_icons;
  swarm_tray_set_tunnel_count (fixture->tray, 0);
  g_clear_pointer (&icon, g_free);
  icon = dup_icon_name (fixture);
  g_assert_cmpstr (icon, ==, APP_ID "-sharing-symbolic");
  g_assert_true (swarm_test_wait_until (count_above, &check, WAIT_TIMEOUT_S));

  /* Without sharing, a stale tunnel count does not show the active icon. */
  swarm_tray_set_tunnel_count (fixture->tray, 1);
  swarm_tray_set_sharing (fixture->tray, FALSE);
  g_clear_pointer (&icon, g_free);
  icon = dup_icon_name (fixture);
  g_assert_cmpstr (icon, ==, APP_ID);

  g_dbus_connection_signal_unsubscribe (fixture->watcher.bus, subscription);
}

static void
count_signal_cb (SwarmTray *tray,
                 gpointer   arg,
                 guint     *count)
{
  (*count)++;
}

static void
test_tray_activate (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) second = NULL;
  g_autoptr(GVariant) third = NULL;
  guint activations = 0;
  guint copies = 0;

  g_signal_connect (fixture->tray, "activate", G_CALLBACK (count_signal_cb), &activations);
  g_signal_connect (fixture->tray, "copy-ticket", G_CALLBACK (count_signal_cb), &copies);

  first = call_tray (fixture, SWARM_TRAY_ITEM_PATH, "org.kde.StatusNotifierItem", "Activate",
                     g_variant_new ("(ii)", 0, 0), NULL);
  g_assert_cmpuint (activations, ==, 1);
  second = call_tray (fixture, SWARM_TRAY_MENU_PATH, "com.canonical.dbusmenu", "Event",
                      g_variant_new ("(isvu)", SWARM_TRAY_MENU_SHOW_WINDOW, "clicked",
                                     g_variant_new_int32 (0), 0), NULL);
  g_assert_cmpuint (activations, ==, 2);
  third = call_tray (fixture, SWARM_TRAY_MENU_PATH, "com.canonical.dbusmenu", "Event",
                     g_variant_new ("(isvu)", SWARM_TRAY_MENU_COPY_TICKET, "clicked",
                                    g_variant_new_int32 (0), 0), NULL);
  g_assert_cmpuint (copies, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL)
    {
      g_test_message ("needs a private session bus; run it through run-desktop-test.sh");
      return 77;
    }

  g_test_add ("/desktop/tray/registers", Fixture, NULL,
              fixture_set_up, test_tray_registers, fixture_tear_down);
  g_test_add ("/desktop/tray/reregisters", Fixture, NULL,
              fixture_set_up, test_tray_reregisters, fixture_tear_down);
  g_test_add ("/desktop/tray/menu-layout", Fixture, NULL,
              fixture_set_up, test_tray_menu_layout, fixture_tear_down);
  g_test_add ("/desktop/tray/share-click", Fixture, NULL,
              fixture_set_up, test_tray_share_click, fixture_tear_down);
  g_test_add ("/desktop/tray/tunnel-icon", Fixture, NULL,
              fixture_set_up, test_tray_tunnel_icon, fixture_tear_down);
  g_test_add ("/desktop/tray/activate", Fixture, NULL,
              fixture_set_up, test_tray_activate, fixture_tear_down);

  return g_test_run ();
}
