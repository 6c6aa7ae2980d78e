/* test-background.c: RequestBackground against a fake portal */
#include "config.h"

#include "desktop-test-utils.h"

#include "swarm-background.h"

#define WAIT_TIMEOUT_S 15
/* A second, separate connection to the session bus. */
#define BUS_CLIENT_FLAGS \
  (G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION)
#define PORTAL_NAME "org.freedesktop.portal.Desktop"
#define PORTAL_PATH "/org/freedesktop/portal/desktop"

static const char background_xml[] =
  "<node>"
  " <interface name='org.freedesktop.portal.Background'>"
  "  <method name='RequestBackground'>"
  "   <arg name='parent_window' type='s' direction='in'/>"
  "   <arg name='options' type='a{sv}' direction='in'/>"
  "   <arg name='handle' type='o' direction='out'/>"
  "  </method>"
  " </interface>"
  "</node>";

static const char other_xml[] =
  "<node>"
  " <interface name='org.freedesktop.portal.Settings'>"
  "  <method name='Read'><arg type='s' direction='in'/></method>"
  " </interface>"
  "</node>";

/* Stands in for xdg-desktop-portal on its own connection. */
typedef struct {
  GDBusConnection *bus;
  GDBusNodeInfo *info;
  guint object_id;
  guint owner_id;
  gboolean owned;
  guint32 response;           /* response code the fake sends */
  gboolean grant_autostart;
  GVariant *options;          /* the options of the last request */
} FakePortal;

static void
portal_method_cb (GDBusConnection       *connection,
                  const char            *sender,
                  const char            *object_path,
                  const char            *interface_name,
                  const char            *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  FakePortal *portal = user_data;
  g_autofree char *sender_part = g_strdup (sender + 1);
  g_autofree char *handle = NULL;
  const char *token = NULL;
  GVariantBuilder results;

  g_clear_pointer (&portal->options, g_variant_unref);
  portal->options = g_variant_get_child_value (parameters, 1);
  g_assert_true (g_variant_lookup (portal->options, "handle_token", "&s", &token));

  /* The Request object path is built from the caller's unique name and the
   * handle token, which is where swarm-background.c waits for Response. */
  g_strdelimit (sender_part, ".", '_');
  handle = g_strdup_printf (PORTAL_PATH "/request/%s/%s", sender_part, token);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", handle));

  g_variant_builder_init (&results, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&results, "{sv}", "background", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&results, "{sv}", "autostart",
                         g_variant_new_boolean (portal->grant_autostart));
  g_dbus_connection_emit_signal (connection, sender, handle, "org.freedesktop.portal.Request",
                                 "Response",
                                 g_variant_new ("(ua{sv})", portal->response, &results), NULL);
}

static const GDBusInterfaceVTable portal_vtable = { portal_method_cb, NULL, NULL, { 0 } };

static void
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  ((FakePortal *) user_data)->owned = TRUE;
}

static gboolean
portal_owned (gpointer data)
{
  return ((FakePortal *) data)->owned;
}

static void
fake_portal_start (FakePortal *portal,
                   const char *xml)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error);

  g_assert_no_error (error);
  portal->bus = g_dbus_connection_new_for_address_sync (address, BUS_CLIENT_FLAGS, NULL, NULL,
                                                     &error);
  g_assert_no_error (error);
  portal->info = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  portal->object_id = g_dbus_connection_register_object (portal->bus, PORTAL_PATH,
                                                         portal->info->interfaces[0],
                                                         &portal_vtable, portal, NULL, &error);
  g_assert_no_error (error);
  portal->owner_id = g_bus_own_name_on_connection (portal->bus, PORTAL_NAME,
                                                   G_BUS_NAME_OWNER_FLAGS_REPLACE,
                                                   name_acquired_cb, NULL, portal, NULL);
  g_assert_true (swarm_test_wait_until (portal_owned, portal, WAIT_TIMEOUT_S));
}

static void
fake_portal_stop (FakePortal *portal)
{
  g_clear_handle_id (&portal->owner_id, g_bus_unown_name);
  g_dbus_connection_unregister_object (portal->bus, portal->object_id);
  g_clear_pointer (&portal->info, g_dbus_node_info_unref);
  g_clear_pointer (&portal->options, g_variant_unref);
  g_clear_object (&portal->bus);
}

typedef struct {
  gboolean done;
  gboolean granted;
  GError *error;
} Request;

static void
request_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Request *request = user_data;

  request->granted = swarm_background_request_finish (result, &request->error);
  request->done = TRUE;
}

static gboolean
request_done (gpointer data)
{
  return ((Request *) data)->done;
}

static void
run_request (gboolean  autostart,
             Request  *request)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

  g_assert_nonnull (bus);
  memset (request, 0, sizeof *request);
  swarm_background_request_async (bus, "", "test reason", autostart, NULL,
                                  request_done_cb, request);
  g_assert_true (swarm_test_wait_until (request_done, request, WAIT_TIMEOUT_S));
}

static void
test_background_autostart_granted (void)
{
  FakePortal portal = { 0 };
  const char **commandline = NULL;
  const char *reason = NULL;
  gboolean autostart = FALSE;
  Request request;

  portal.response = 0;
  portal.grant_autostart = TRUE;
  fake_portal_start (&portal, background_xml);

  run_request (TRUE, &request);
  g_assert_no_error (request.error);
  g_assert_true (request.granted);

  g_assert_true (g_variant_lookup (portal.options, "autostart", "b", &autostart));
  g_assert_true (autostart);
  g_assert_true (g_variant_lookup (portal.options, "reason", "&s", &reason));
  g_assert_cmpstr (reason, ==, "test reason");
  g_assert_true (g_variant_lookup (portal.options, "commandline", "^a&s", &commandline));
  g_assert_cmpstr (commandline[0], ==, "swarm-proxy");
  g_assert_cmpstr (commandline[1], ==, "--background");
  g_assert_null (commandline[2]);
  g_free (commandline);

  fake_portal_stop (&portal);
}

static void
test_background_autostart_refused (void)
{
  FakePortal portal = { 0 };
  Request request;

  /* Background allowed, autostart not. */
  portal.response = 0;
  portal.grant_autostart = FALSE;
  fake_portal_start (&portal, background_xml);
  run_request (TRUE, &request);
  g_assert_no_error (request.error);
  g_assert_false (request.granted);

  /* The user cancels the dialog. */
  portal.response = 1;
  run_request (TRUE, &request);
  g_assert_error (request.error, SWARM_BACKGROUND_ERROR, SWARM_BACKGROUND_ERROR_DENIED);
  g_clear_error (&request.error);

  fake_portal_stop (&portal);
}

static void
test_background_portal_missing (void)
{
  FakePortal portal = { 0 };
  Request request;

  /* A portal without the Background interface, as on desktops whose
   * backend does not implement it. */
  fake_portal_start (&portal, other_xml);
  run_request (TRUE, &request);
  g_assert_error (request.error, SWARM_BACKGROUND_ERROR, SWARM_BACKGROUND_ERROR_UNAVAILABLE);
  g_clear_error (&request.error);
  fake_portal_stop (&portal);
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

  g_test_add_func ("/desktop/background/autostart-granted", test_background_autostart_granted);
  g_test_add_func ("/desktop/background/autostart-refused", test_background_autostart_refused);
  g_test_add_func ("/desktop/background/portal-missing", test_background_portal_missing);

  return g_test_run ();
}
