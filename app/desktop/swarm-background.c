/* swarm-background.c: RequestBackground and its Response signal */
#define G_LOG_DOMAIN "swarm-background"

#include "config.h"

#include "swarm-background.h"
#include "swarm-token.h"

#define PORTAL_NAME "org.freedesktop.portal.Desktop"
#define PORTAL_PATH "/org/freedesktop/portal/desktop"
#define BACKGROUND_INTERFACE "org.freedesktop.portal.Background"
#define REQUEST_INTERFACE "org.freedesktop.portal.Request"

G_DEFINE_QUARK (swarm-background-error-quark, swarm_background_error)

typedef struct {
  GDBusConnection *bus;
  guint response_id;
} RequestData;

static void
request_data_free (RequestData *data)
{
  if (data->response_id != 0)
    g_dbus_connection_signal_unsubscribe (data->bus, data->response_id);
  g_clear_object (&data->bus);
  g_free (data);
}

static void
response_cb (GDBusConnection *bus,
             const char      *sender,
             const char      *object_path,
             const char      *interface_name,
             const char      *signal_name,
             GVariant        *parameters,
             gpointer         user_data)
{
  GTask *task = G_TASK (user_data);
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GVariant) results = NULL;
  gboolean autostart = FALSE;
  guint32 response;

  /* One response per request; unsubscribing drops the reference the
   * subscription holds, so the task is kept alive until it returns. */
  g_object_ref (task);
  g_dbus_connection_signal_unsubscribe (data->bus, data->response_id);
  data->response_id = 0;

  g_variant_get (parameters, "(u@a{sv})", &response, &results);
  if (response != 0)
    {
      g_task_return_new_error (task, SWARM_BACKGROUND_ERROR, SWARM_BACKGROUND_ERROR_DENIED,
                               "Running in the background was not allowed (portal "
                               "response %u)", response);
      g_object_unref (task);
      return;
    }

  g_variant_lookup (results, "autostart", "b", &autostart);
  g_task_return_boolean (task, autostart);
  g_object_unref (task);
}

static void
call_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = G_TASK (user_data);
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    return;  /* the Response signal completes the task */

  if (data->response_id != 0)
    {
      g_dbus_connection_signal_unsubscribe (data->bus, data->response_id);
      data->response_id = 0;
    }

  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    g_task_return_new_error (task, SWARM_BACKGROUND_ERROR, SWARM_BACKGROUND_ERROR_UNAVAILABLE,
                             "The desktop offers no Background portal: %s", error->message);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

void
swarm_background_request_async (GDBusConnection     *bus,
                                const char          *parent_window,
                                const char          *reason,
                                gboolean             autostart,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *handle_token = NULL;
  g_autofree char *sender = NULL;
  g_autofree char *request_path = NULL;
  /* The app started with --background is the primary instance, so a window
   * opened later in the session belongs to it and reuses its share.  The
   * headless --no-gui share would clash with that window's local broker. */
  const char *commandline[] = { "swarm-proxy", "--background", NULL };
  RequestData *data;
  GVariantBuilder options;

  g_return_if_fail (G_IS_DBUS_CONNECTION (bus));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, swarm_background_request_async);
  data = g_new0 (RequestData, 1);
  data->bus = g_object_ref (bus);
  g_task_set_task_data (task, data, (GDestroyNotify) request_data_free);

  /* The portal names the Request object after the caller's unique name and
   * the handle token, so the Response can be subscribed to before the call
   * and cannot be missed. */
  {
    g_autofree char *nonce = swarm_nonce_generate ();

    handle_token = g_strdup_printf ("swarm_%s", nonce);
  }
  sender = g_strdup (g_dbus_connection_get_unique_name (bus) + 1);
  g_strdelimit (sender, ".", '_');
  request_path = g_strdup_printf (PORTAL_PATH "/request/%s/%s", sender, handle_token);

  data->response_id =
    g_dbus_connection_signal_subscribe (bus, PORTAL_NAME, REQUEST_INTERFACE, "Response",
                                        request_path, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        response_cb, g_object_ref (task), g_object_unref);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "handle_token", g_variant_new_string (handle_token));
  g_variant_builder_add (&options, "{sv}", "reason", g_variant_new_string (reason));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (autostart));
  g_variant_builder_add (&options, "{sv}", "commandline",
                         g_variant_new_strv (commandline, -1));
  g_variant_builder_add (&options, "{sv}", "dbus-activatable", g_variant_new_boolean (FALSE));

  g_dbus_connection_call (bus, PORTAL_NAME, PORTAL_PATH, BACKGROUND_INTERFACE,
                          "RequestBackground",
                          g_variant_new ("(sa{sv})", parent_window, &options),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                          call_cb, g_object_ref (task));
}

gboolean
swarm_background_request_finish (GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
