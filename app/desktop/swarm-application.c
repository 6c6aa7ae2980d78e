/* swarm-application.c: one instance, the window, the tray and the hold */
#define G_LOG_DOMAIN "swarm-desktop"

#include "config.h"

#include <glib/gi18n.h>

#include "swarm-application.h"
#include "swarm-version.h"
#include "swarm-preferences.h"
#include "swarm-window.h"

/* How long a copy from the tray waits for the window to get the keyboard
 * focus before it gives up with a toast. */
#define COPY_FOCUS_TIMEOUT_S 5

struct _SwarmApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  SwarmTicketStore *store;
  SwarmShare *share;
  SwarmTray *tray;
  gboolean holding;        /* g_application_hold() is in effect while sharing */
  gboolean background;     /* started with --background */
  gboolean start_hidden;   /* the first activation shares instead of showing the window */
  gboolean background_hold; /* a --background start holds the application until Quit */

  /* A tray copy that waits for the window to become active. */
  SwarmWindow *copy_window;
  gulong copy_active_handler;
  guint copy_timeout_id;
};

G_DEFINE_FINAL_TYPE (SwarmApplication, swarm_application, ADW_TYPE_APPLICATION)

/* The active window may be another toplevel of the application, so the
 * main window is looked up by type. */
static SwarmWindow *
get_window (SwarmApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    {
      if (SWARM_IS_WINDOW (l->data))
        return SWARM_WINDOW (l->data);
    }
  return NULL;
}

static gboolean
window_close_request_cb (SwarmWindow      *window,
                         SwarmApplication *self);

static SwarmWindow *
present_window (SwarmApplication *self,
                const char       *activation_token)
{
  SwarmWindow *window = get_window (self);

  if (window == NULL)
    {
      window = swarm_window_new (GTK_APPLICATION (self), self->share);
      g_signal_connect_object (window, "close-request", G_CALLBACK (window_close_request_cb),
                               self, 0);
    }

  /* A token from the tray host lets a Wayland compositor raise the window. */
  if (activation_token != NULL && *activation_token != '\0')
    gtk_window_set_startup_id (GTK_WINDOW (window), activation_token);
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static gboolean
destroy_window_cb (gpointer user_data)
{
  gtk_window_destroy (GTK_WINDOW (user_data));
  return G_SOURCE_REMOVE;
}

static void
close_hint_response_cb (AdwMessageDialog *dialog,
                        const char       *response,
                        GtkWindow        *window)
{
  /* The dialog is still transient for the window while it emits the
   * response, so the window goes once the dialog has closed. */
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, destroy_window_cb, g_object_ref (window),
                   g_object_unref);
}

/* Closing the window does not stop sharing, because the hold keeps the
 * application running.  The first time, a dialog explains this first. */
static gboolean
window_close_request_cb (SwarmWindow      *window,
                         SwarmApplication *self)
{
  GtkWidget *dialog;

  if (!swarm_share_get_running (self->share) || self->settings == NULL
      || g_settings_get_boolean (self->settings, "close-hint-shown"))
    return FALSE;

  g_settings_set_boolean (self->settings, "close-hint-shown", TRUE);
  dialog = adw_message_dialog_new (GTK_WINDOW (window), _("Sharing Continues"),
                                   _("Swarm Proxy keeps sharing after the window closes. "
                                     "To stop, use the Share item of the tray icon, or "
                                     "open Swarm Proxy again and turn sharing off."));
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "ok", _("_OK"));
  g_signal_connect (dialog, "response", G_CALLBACK (close_hint_response_cb), window);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

static void
update_tray (SwarmApplication *self)
{
  SwarmProviderState state = swarm_share_get_state (self->share);
  guint tunnels = swarm_share_get_tunnel_count (self->share);
  g_autofree char *text = NULL;

  if (self->tray == NULL)
    return;

  swarm_tray_set_sharing (self->tray, swarm_share_get_running (self->share));
  swarm_tray_set_tunnel_count (self->tray, tunnels);

  switch (state)
    {
    case SWARM_PROVIDER_STATE_SHARING:
      text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Sharing, %u open tunnel",
                                           "Sharing, %u open tunnels", tunnels), tunnels);
      break;
    case SWARM_PROVIDER_STATE_CONNECTING:
      text = g_strdup (_("Connecting…"));
      break;
    case SWARM_PROVIDER_STATE_RETRYING:
      text = g_strdup_printf (_("Retrying in %u s"), swarm_share_get_retry_seconds (self->share));
      break;
    case SWARM_PROVIDER_STATE_EXPIRED:
      text = g_strdup (_("Stopped because the ticket expired"));
      break;
    case SWARM_PROVIDER_STATE_OFF:
    default:
      text = g_strdup (_("Off"));
      break;
    }
  swarm_tray_set_status_text (self->tray, text);
}

static void
share_notify_cb (SwarmApplication *self)
{
  gboolean running = swarm_share_get_running (self->share);

  if (running && !self->holding)
    {
      g_application_hold (G_APPLICATION (self));
      self->holding = TRUE;
    }
  else if (!running && self->holding)
    {
      self->holding = FALSE;
      g_application_release (G_APPLICATION (self));
    }

  update_tray (self);
}

void
swarm_application_set_sharing (SwarmApplication *self,
                               gboolean          sharing)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (SWARM_IS_APPLICATION (self));

  if (!sharing)
    {
      swarm_share_stop (self->share);
      return;
    }
  if (swarm_share_get_running (self->share))
    return;

  if (!swarm_share_start_latest (self->share, &error))
    {
      SwarmWindow *window;

      g_warning ("Failed to start sharing: %s", error->message);
      window = present_window (self, NULL);
      swarm_window_show_toast (window, error->message);
    }
}

static void
start_sharing_action_cb (GSimpleAction *action,
                         GVariant      *parameter,
                         gpointer       user_data)
{
  swarm_application_set_sharing (SWARM_APPLICATION (user_data), TRUE);
}

static void
tray_activate_cb (SwarmApplication *self,
                  const char       *token)
{
  present_window (self, token);
}

static void
tray_share_toggled_cb (SwarmApplication *self,
                       gboolean          sharing)
{
  swarm_application_set_sharing (self, sharing);
}

static void
cancel_pending_copy (SwarmApplication *self)
{
  if (self->copy_window != NULL)
    g_clear_signal_handler (&self->copy_active_handler, self->copy_window);
  g_clear_handle_id (&self->copy_timeout_id, g_source_remove);
  g_clear_object (&self->copy_window);
}

static void
copy_window_active_cb (SwarmWindow      *window,
                       GParamSpec       *pspec,
                       SwarmApplication *self)
{
  if (!gtk_window_is_active (GTK_WINDOW (window)))
    return;

  cancel_pending_copy (self);
  swarm_window_copy_latest_ticket (window);
}

static gboolean
copy_timeout_cb (gpointer user_data)
{
  SwarmApplication *self = SWARM_APPLICATION (user_data);
  g_autoptr(SwarmWindow) window = g_steal_pointer (&self->copy_window);

  self->copy_timeout_id = 0;
  g_clear_signal_handler (&self->copy_active_handler, window);
  g_message ("The window did not get the keyboard focus within %d s; "
             "the ticket was not copied", COPY_FOCUS_TIMEOUT_S);

  /* A window closed in the meantime has nowhere to show the toast. */
  if (get_window (self) == window)
    swarm_window_show_toast (window, _("Copying the ticket failed because the window did not "
                                       "get the keyboard focus; use the copy button in the "
                                       "window"));
  return G_SOURCE_REMOVE;
}

static void
tray_copy_ticket_cb (SwarmApplication *self,
                     const char       *token)
{
  SwarmWindow *window = present_window (self, token);

  cancel_pending_copy (self);

  /* On Wayland only a client with the keyboard focus may set the
   * clipboard, and a window presented just now gets it only later. */
  if (gtk_window_is_active (GTK_WINDOW (window)))
    {
      swarm_window_copy_latest_ticket (window);
      return;
    }

  g_debug ("Waiting for the window to become active before copying the ticket");
  self->copy_window = g_object_ref (window);
  self->copy_active_handler = g_signal_connect (window, "notify::is-active",
                                                G_CALLBACK (copy_window_active_cb), self);
  self->copy_timeout_id = g_timeout_add_seconds (COPY_FOCUS_TIMEOUT_S, copy_timeout_cb, self);
}

static void
quit_action_cb (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  SwarmApplication *self = SWARM_APPLICATION (user_data);
  GList *windows;

  swarm_share_stop (self->share);
  if (self->background_hold)
    {
      self->background_hold = FALSE;
      g_application_release (G_APPLICATION (self));
    }
  /* Destroying a window changes the list, so always take the first. */
  while ((windows = gtk_application_get_windows (GTK_APPLICATION (self))) != NULL)
    gtk_window_destroy (GTK_WINDOW (windows->data));
  g_application_quit (G_APPLICATION (self));
}

static void
tray_quit_cb (SwarmApplication *self)
{
  g_action_group_activate_action (G_ACTION_GROUP (self), "quit", NULL);
}

static void
preferences_action_cb (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  SwarmApplication *self = SWARM_APPLICATION (user_data);
  SwarmWindow *window = present_window (self, NULL);
  GtkWindow *preferences;

  if (self->settings == NULL)
    {
      swarm_window_show_toast (window, _("Preferences are unavailable because the "
                                         "settings schema is not installed"));
      return;
    }

  preferences = GTK_WINDOW (swarm_preferences_new (self->settings));
  gtk_window_set_transient_for (preferences, GTK_WINDOW (window));
  gtk_window_present (preferences);
}

static void
about_action_cb (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  SwarmApplication *self = SWARM_APPLICATION (user_data);
  SwarmWindow *window = present_window (self, NULL);
  GtkWidget *about = adw_about_window_new ();

  adw_about_window_set_application_name (ADW_ABOUT_WINDOW (about), _("Swarm Proxy"));
  adw_about_window_set_application_icon (ADW_ABOUT_WINDOW (about), APP_ID);
  adw_about_window_set_version (ADW_ABOUT_WINDOW (about), SWARM_VERSION);
  adw_about_window_set_comments (ADW_ABOUT_WINDOW (about),
                                 _("Share this computer’s internet connection with "
                                   "workers that hold a ticket."));
  adw_about_window_set_license_type (ADW_ABOUT_WINDOW (about), GTK_LICENSE_GPL_3_0);
  gtk_window_set_transient_for (GTK_WINDOW (about), GTK_WINDOW (window));
  gtk_window_present (GTK_WINDOW (about));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action_cb, NULL, NULL, NULL, { 0 } },
  { "preferences", preferences_action_cb, NULL, NULL, NULL, { 0 } },
  { "about", about_action_cb, NULL, NULL, NULL, { 0 } },
  { "start-sharing", start_sharing_action_cb, NULL, NULL, NULL, { 0 } },
};

static void
swarm_application_startup (GApplication *application)
{
  SwarmApplication *self = SWARM_APPLICATION (application);
  GDBusConnection *bus;
  g_autoptr(GError) error = NULL;

  G_APPLICATION_CLASS (swarm_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit",
                                         (const char *[]) { "<Control>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         (const char *[]) { "<Control>comma", NULL });

  self->settings = swarm_settings_new ();
  self->store = swarm_ticket_store_new (NULL);
  self->share = swarm_share_new (self->settings, self->store);
  g_signal_connect_object (self->share, "notify", G_CALLBACK (share_notify_cb), self,
                           G_CONNECT_SWAPPED);

  bus = g_application_get_dbus_connection (application);
  if (bus != NULL)
    {
      self->tray = swarm_tray_new (bus, &error);
      if (self->tray == NULL)
        g_warning ("Failed to export the tray icon: %s", error->message);
    }
  else
    {
      /* GApplication runs without a session bus, but a tray icon needs one. */
      g_message ("No D-Bus session bus is available, so there is no tray icon. "
                 "The window offers everything the tray menu does");
    }
  if (self->tray != NULL)
    {
      g_signal_connect_object (self->tray, "activate", G_CALLBACK (tray_activate_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (self->tray, "share-toggled",
                               G_CALLBACK (tray_share_toggled_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->tray, "copy-ticket", G_CALLBACK (tray_copy_ticket_cb),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->tray, "quit", G_CALLBACK (tray_quit_cb), self,
                               G_CONNECT_SWAPPED);
    }
  update_tray (self);
}

/* Keeps the application running without a window, so that sharing can be
 * turned back on from the tray after it stopped, then starts sharing.  When
 * the start fails, the window comes up with the error. */
static void
start_in_background (SwarmApplication *self)
{
  if (!self->background_hold)
    {
      g_application_hold (G_APPLICATION (self));
      self->background_hold = TRUE;
    }
  swarm_application_set_sharing (self, TRUE);
}

static void
swarm_application_activate (GApplication *application)
{
  SwarmApplication *self = SWARM_APPLICATION (application);

  /* Only the activation by g_application_run() in a --background start is
   * hidden.  Activations that a later launch of swarm-proxy sends to this
   * primary instance over D-Bus present the window. */
  if (self->start_hidden)
    {
      self->start_hidden = FALSE;
      start_in_background (self);
      return;
    }

  present_window (self, NULL);
}

/* Registers before the default handler activates, because a --background
 * start must know whether it is the primary instance: only then does it
 * share without a window.  A second instance asks the primary one to share
 * and leaves its window as it is, so that an autostart while the app is
 * open does not bring up the window. */
static gboolean
swarm_application_local_command_line (GApplication   *application,
                                      char         ***arguments,
                                      int            *exit_status)
{
  SwarmApplication *self = SWARM_APPLICATION (application);
  GApplicationClass *parent_class = G_APPLICATION_CLASS (swarm_application_parent_class);
  g_autoptr(GError) error = NULL;

  if (!self->background)
    return parent_class->local_command_line (application, arguments, exit_status);

  if (!g_application_register (application, NULL, &error))
    {
      g_printerr (_("Failed to register Swarm Proxy on the session bus: %s\n"),
                  error->message);
      *exit_status = 1;
      return TRUE;
    }

  if (g_application_get_is_remote (application))
    {
      /* g_application_run() sends the queued call before it returns. */
      g_action_group_activate_action (G_ACTION_GROUP (application), "start-sharing", NULL);
      g_message ("Swarm Proxy is already running; it was asked to share");
      *exit_status = 0;
      return TRUE;
    }

  self->start_hidden = TRUE;
  return parent_class->local_command_line (application, arguments, exit_status);
}

static void
swarm_application_shutdown (GApplication *application)
{
  SwarmApplication *self = SWARM_APPLICATION (application);

  if (self->share != NULL)
    swarm_share_stop (self->share);
  cancel_pending_copy (self);
  g_clear_object (&self->tray);

  G_APPLICATION_CLASS (swarm_application_parent_class)->shutdown (application);
}

static void
swarm_application_dispose (GObject *object)
{
  SwarmApplication *self = SWARM_APPLICATION (object);

  cancel_pending_copy (self);
  g_clear_object (&self->tray);
  g_clear_object (&self->share);
  g_clear_object (&self->store);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (swarm_application_parent_class)->dispose (object);
}

static void
swarm_application_class_init (SwarmApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = swarm_application_dispose;
  application_class->startup = swarm_application_startup;
  application_class->local_command_line = swarm_application_local_command_line;
  application_class->activate = swarm_application_activate;
  application_class->shutdown = swarm_application_shutdown;
}

static void
swarm_application_init (SwarmApplication *self)
{
}

SwarmApplication *
swarm_application_new (void)
{
  return g_object_new (SWARM_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/swarmproxy/SwarmProxy",
                       NULL);
}

SwarmShare *
swarm_application_get_share (SwarmApplication *self)
{
  g_return_val_if_fail (SWARM_IS_APPLICATION (self), NULL);
  return self->share;
}

SwarmTray *
swarm_application_get_tray (SwarmApplication *self)
{
  g_return_val_if_fail (SWARM_IS_APPLICATION (self), NULL);
  return self->tray;
}

int
swarm_application_run (const char *argv0,
                       gboolean    background)
{
  g_autoptr(SwarmApplication) application = swarm_application_new ();
  char *argv[] = { (char *) argv0, NULL };

  g_set_application_name (_("Swarm Proxy"));
  application->background = background;
  return g_application_run (G_APPLICATION (application), 1, argv);
}
