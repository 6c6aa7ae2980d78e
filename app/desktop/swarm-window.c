/* swarm-window.c: share toggle, tickets, live tunnels and broker sessions */
#define G_LOG_DOMAIN "swarm-window"

#include "config.h"

#include <glib/gi18n.h>

#include "swarm-window-private.h"

/* Period of the refresh of ages, rates, expiry and retry countdowns. */
#define TICK_INTERVAL_S 1

/* Choices of the Expires row, in its order, in seconds; 0 is never. */
static const gint64 expiry_choices_s[] = { 60 * 60, 24 * 60 * 60, 7 * 24 * 60 * 60, 0 };

struct _SwarmWindow
{
  AdwApplicationWindow parent_instance;

  SwarmShare *share;
  GHashTable *revealed;     /* session ids whose token is shown */
  AdwToast *toast;          /* the toast on screen, weak */
  guint tick_id;

  AdwToastOverlay *toast_overlay;
  AdwViewStack *stack;
  GtkSwitch *share_switch;
  GtkLabel *state_label;
  GtkLabel *state_detail_label;
  AdwActionRow *current_ticket_row;
  GtkWidget *current_copy_button;
  GtkWidget *keyring_group;
  AdwActionRow *keyring_row;
  AdwEntryRow *session_entry;
  AdwComboRow *expiry_row;
  GtkListBox *tickets_list;
  AdwPreferencesGroup *tunnels_group;
  GtkListBox *tunnels_list;
  AdwPreferencesGroup *sessions_group;
  GtkListBox *sessions_list;
};

G_DEFINE_FINAL_TYPE (SwarmWindow, swarm_window, ADW_TYPE_APPLICATION_WINDOW)

static gint64
now_unix (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* ---- formatting ---- */

char *
swarm_format_ticket (SwarmStoredTicket *ticket,
                     SwarmCopyFormat    format)
{
  g_autoptr(SwarmTicket) worker_ticket = NULL;
  g_autofree char *url = NULL;
  g_autofree char *quoted = NULL;

  g_return_val_if_fail (SWARM_IS_STORED_TICKET (ticket), NULL);

  switch (format)
    {
    case SWARM_COPY_FORMAT_JSON:
      worker_ticket = swarm_stored_ticket_to_ticket (ticket);
      return worker_ticket != NULL ? swarm_ticket_to_json (worker_ticket, TRUE) : NULL;

    case SWARM_COPY_FORMAT_URL:
      return swarm_stored_ticket_dup_proxy_url (ticket);

    case SWARM_COPY_FORMAT_SHELL:
      url = swarm_stored_ticket_dup_proxy_url (ticket);
      if (url == NULL)
        return NULL;
      /* curl reads http_proxy only in lower case and https_proxy in both,
       * while many other tools read only upper case, so all four are set.
       * The single-quoted URL keeps the token literal in any POSIX shell. */
      quoted = g_shell_quote (url);
      return g_strdup_printf ("export http_proxy=%s\nexport https_proxy=%s\n"
                              "export HTTP_PROXY=%s\nexport HTTPS_PROXY=%s\n",
                              quoted, quoted, quoted, quoted);

    default:
      g_return_val_if_reached (NULL);
    }
}

static char *
format_time (gint64 unix_time)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (unix_time);

  /* Translators: date and time format of ticket expiry and last use, see
   * g_date_time_format(). */
  return g_date_time_format (time, _("%Y-%m-%d %H:%M"));
}

static char *
format_duration (gint64 seconds)
{
  if (seconds < 60)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d second", "%d seconds", seconds),
                            (int) seconds);
  if (seconds < 60 * 60)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d minute", "%d minutes",
                                         seconds / 60), (int) (seconds / 60));
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d hour", "%d hours",
                                       seconds / 3600), (int) (seconds / 3600));
}

static char *
dup_ticket_status_text (SwarmStoredTicket *ticket)
{
  guint tunnels = swarm_stored_ticket_get_tunnel_count (ticket);

  switch (swarm_stored_ticket_get_status (ticket, now_unix ()))
    {
    case SWARM_TICKET_STATUS_ACTIVE:
      return g_strdup (_("Active"));
    case SWARM_TICKET_STATUS_IN_USE:
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "In use by %u tunnel",
                                           "In use by %u tunnels", tunnels), tunnels);
    case SWARM_TICKET_STATUS_EXPIRED:
      return g_strdup (_("Expired"));
    case SWARM_TICKET_STATUS_REVOKED:
      return g_strdup (_("Revoked"));
    case SWARM_TICKET_STATUS_IDLE:
    default:
      return g_strdup (_("Idle"));
    }
}

/* ---- share state ---- */

static void
update_state (SwarmWindow *self)
{
  SwarmStoredTicket *ticket = swarm_share_get_ticket (self->share);
  const char *error = swarm_share_get_last_error (self->share);
  g_autofree char *title = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *address = NULL;

  switch (swarm_share_get_state (self->share))
    {
    case SWARM_PROVIDER_STATE_CONNECTING:
      title = g_strdup (_("Connecting…"));
      detail = g_strdup (_("Connecting to the broker and registering the session."));
      break;
    case SWARM_PROVIDER_STATE_SHARING:
      address = ticket != NULL ? g_strdup (swarm_stored_ticket_get_broker_addr (ticket))
                               : g_strdup ("");
      title = g_strdup (_("Sharing"));
      detail = g_strdup_printf (_("Workers with the ticket can use this computer’s "
                                  "connection through the broker at %s."), address);
      break;
    case SWARM_PROVIDER_STATE_RETRYING:
      title = g_strdup_printf (_("Retrying in %u s"),
                               swarm_share_get_retry_seconds (self->share));
      detail = g_strdup_printf (_("The broker cannot be reached: %s"),
                                error != NULL ? error : _("the connection was lost"));
      break;
    case SWARM_PROVIDER_STATE_EXPIRED:
      title = g_strdup (_("Stopped Because the Ticket Expired"));
      detail = g_strdup (_("Turn sharing on again to issue a new ticket, or create one on "
                           "the Tickets page, and hand it to the workers."));
      break;
    case SWARM_PROVIDER_STATE_OFF:
    default:
      title = g_strdup (_("Off"));
      detail = g_strdup (_("This computer does not share its connection."));
      break;
    }

  gtk_label_set_label (self->state_label, title);
  gtk_label_set_label (self->state_detail_label, detail);
}

static void
update_current_ticket (SwarmWindow *self)
{
  SwarmStoredTicket *ticket = swarm_share_get_ticket (self->share);

  if (ticket == NULL)
    ticket = swarm_ticket_store_get_latest_usable (swarm_share_get_store (self->share));

  if (ticket == NULL)
    {
      SwarmTicketStore *store = swarm_share_get_store (self->share);

      /* Expired and revoked tickets stay listed but cannot be shared. */
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->current_ticket_row),
                                     g_list_model_get_n_items (G_LIST_MODEL (store)) > 0
                                     ? _("No valid ticket") : _("No ticket yet"));
      adw_action_row_set_subtitle (self->current_ticket_row,
                                   _("Turning sharing on creates one, valid for a day."));
      gtk_widget_set_sensitive (self->current_copy_button, FALSE);
      return;
    }

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->current_ticket_row),
                                 swarm_stored_ticket_get_session_id (ticket));
  adw_action_row_set_subtitle (self->current_ticket_row,
                               swarm_stored_ticket_get_broker_addr (ticket));
  gtk_widget_set_sensitive (self->current_copy_button, TRUE);
}

static void
update_switch (SwarmWindow *self)
{
  gboolean running = swarm_share_get_running (self->share);

  if (gtk_switch_get_active (self->share_switch) != running)
    gtk_switch_set_active (self->share_switch, running);
}

static void
share_changed_cb (SwarmWindow *self)
{
  update_switch (self);
  update_state (self);
  update_current_ticket (self);
}

static void
share_switch_active_cb (SwarmWindow *self)
{
  gboolean active = gtk_switch_get_active (self->share_switch);
  g_autoptr(GError) error = NULL;

  if (active == swarm_share_get_running (self->share))
    return;

  if (!active)
    {
      swarm_share_stop (self->share);
      return;
    }

  if (!swarm_share_start_latest (self->share, &error))
    {
      g_warning ("Failed to start sharing: %s", error->message);
      swarm_window_show_toast (self, error->message);
      gtk_switch_set_active (self->share_switch, FALSE);
    }
}

/* ---- tickets ---- */

static SwarmStoredTicket *
lookup_ticket (SwarmWindow *self,
               GVariant    *parameter)
{
  return swarm_ticket_store_lookup (swarm_share_get_store (self->share),
                                    g_variant_get_string (parameter, NULL));
}

static void
update_ticket_row (SwarmWindow *self,
                   GtkWidget   *row)
{
  SwarmStoredTicket *ticket = g_object_get_data (G_OBJECT (row), "ticket");
  const char *session_id = swarm_stored_ticket_get_session_id (ticket);
  const char *token = swarm_stored_ticket_get_token (ticket);
  gint64 expires = swarm_stored_ticket_get_expires_at (ticket);
  gint64 last_used = swarm_stored_ticket_get_last_used (ticket);
  gboolean revoked = swarm_stored_ticket_get_revoked (ticket);
  g_autofree char *status = dup_ticket_status_text (ticket);
  g_autofree char *expiry = NULL;
  g_autofree char *used = NULL;
  g_autofree char *shown_token = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *escaped = NULL;

  if (expires == SWARM_TICKET_NEVER_EXPIRES)
    expiry = g_strdup (_("never expires"));
  else
    {
      g_autofree char *when = format_time (expires);

      expiry = g_strdup_printf (expires > now_unix () ? _("expires %s") : _("expired %s"),
                                when);
    }

  if (last_used == 0)
    used = g_strdup (_("never used"));
  else
    {
      g_autofree char *when = format_time (last_used);

      used = g_strdup_printf (_("last used %s"), when);
    }

  if (token == NULL)
    shown_token = g_strdup (revoked ? _("removed") : _("missing from the keyring"));
  else if (g_hash_table_contains (self->revealed, session_id))
    shown_token = g_strdup (token);
  else
    shown_token = g_strdup ("••••••••••••");

  /* Translators: ticket row subtitle: status, expiry, last use, broker
   * address on the first line and the token on the second. */
  subtitle = g_strdup_printf (_("%s · %s · %s · %s\nToken: %s"), status, expiry, used,
                              swarm_stored_ticket_get_broker_addr (ticket), shown_token);
  escaped = g_markup_escape_text (subtitle, -1);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), escaped);

  gtk_widget_set_sensitive (g_object_get_data (G_OBJECT (row), "copy-button"), token != NULL);
  gtk_widget_set_sensitive (g_object_get_data (G_OBJECT (row), "reveal-button"), token != NULL);
  gtk_widget_set_visible (g_object_get_data (G_OBJECT (row), "revoke-button"), !revoked);
}

static void
ticket_notify_cb (GtkWidget *row)
{
  SwarmWindow *self = g_object_get_data (G_OBJECT (row), "window");

  update_ticket_row (self, row);
}

static GtkWidget *
add_row_button (GtkWidget  *row,
                const char *icon_name,
                const char *tooltip,
                const char *action,
                const char *session_id)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon_name);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", session_id);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  return button;
}

static GMenuModel *
build_copy_menu (const char *session_id)
{
  GMenu *menu = g_menu_new ();
  static const struct {
    const char *label;
    const char *action;
  } entries[] = {
    { N_("Copy as _JSON Ticket"), "win.copy-json" },
    { N_("Copy as Proxy _URL"), "win.copy-url" },
    { N_("Copy as _Shell Lines"), "win.copy-shell" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_(entries[i].label), NULL);

      g_menu_item_set_action_and_target_value (item, entries[i].action,
                                               g_variant_new_string (session_id));
      g_menu_append_item (menu, item);
    }
  return G_MENU_MODEL (menu);
}

static GtkWidget *
create_ticket_row_cb (gpointer item,
                      gpointer user_data)
{
  SwarmWindow *self = SWARM_WINDOW (user_data);
  SwarmStoredTicket *ticket = SWARM_STORED_TICKET (item);
  const char *session_id = swarm_stored_ticket_get_session_id (ticket);
  g_autoptr(GMenuModel) menu = build_copy_menu (session_id);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *copy_button;
  GtkWidget *reveal_button;
  GtkWidget *revoke_button;
  g_autofree char *escaped = g_markup_escape_text (session_id, -1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);

  copy_button = gtk_menu_button_new ();
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (copy_button), "edit-copy-symbolic");
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (copy_button), menu);
  gtk_widget_set_tooltip_text (copy_button, _("Copy Ticket"));
  gtk_widget_set_valign (copy_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (copy_button, "flat");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy_button);

  reveal_button = add_row_button (row, "view-reveal-symbolic", _("Show or Hide Token"),
                                  "win.reveal-token", session_id);
  revoke_button = add_row_button (row, "action-unavailable-symbolic", _("Revoke Ticket"),
                                  "win.revoke-ticket", session_id);
  add_row_button (row, "user-trash-symbolic", _("Delete Ticket"),
                  "win.delete-ticket", session_id);

  g_object_set_data_full (G_OBJECT (row), "ticket", g_object_ref (ticket), g_object_unref);
  g_object_set_data (G_OBJECT (row), "window", self);
  g_object_set_data (G_OBJECT (row), "copy-button", copy_button);
  g_object_set_data (G_OBJECT (row), "reveal-button", reveal_button);
  g_object_set_data (G_OBJECT (row), "revoke-button", revoke_button);

  g_signal_connect_object (ticket, "notify", G_CALLBACK (ticket_notify_cb), row,
                           G_CONNECT_SWAPPED);
  update_ticket_row (self, row);
  return row;
}

static void
create_ticket_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  SwarmWindow *self = SWARM_WINDOW (widget);
  g_autofree char *session_id = g_strstrip (g_strdup (gtk_editable_get_text (
                                                        GTK_EDITABLE (self->session_entry))));
  g_autofree char *address = swarm_share_dup_worker_address (self->share);
  guint choice = adw_combo_row_get_selected (self->expiry_row);
  gint64 expires = SWARM_TICKET_NEVER_EXPIRES;
  g_autoptr(GError) error = NULL;
  SwarmStoredTicket *ticket;

  if (choice < G_N_ELEMENTS (expiry_choices_s) && expiry_choices_s[choice] != 0)
    expires = now_unix () + expiry_choices_s[choice];

  ticket = swarm_ticket_store_create (swarm_share_get_store (self->share), session_id,
                                      address, expires, &error);
  if (ticket == NULL)
    {
      swarm_window_show_toast (self, error->message);
      return;
    }

  gtk_editable_set_text (GTK_EDITABLE (self->session_entry), "");
  update_current_ticket (self);
  swarm_window_show_toast (self, _("Ticket created"));
}

static void
copy_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  SwarmWindow *self = SWARM_WINDOW (widget);
  SwarmStoredTicket *ticket = lookup_ticket (self, parameter);
  g_autofree char *text = NULL;
  SwarmCopyFormat format = SWARM_COPY_FORMAT_JSON;

  if (ticket == NULL)
    return;
  if (g_str_equal (action_name, "win.copy-url"))
    format = SWARM_COPY_FORMAT_URL;
  else if (g_str_equal (action_name, "win.copy-shell"))
    format = SWARM_COPY_FORMAT_SHELL;

  text = swarm_window_copy_ticket (self, ticket, format);
}

static void
copy_current_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  SwarmWindow *self = SWARM_WINDOW (widget);
  SwarmStoredTicket *ticket = swarm_share_get_ticket (self->share);
  const char *format_name = g_variant_get_string (parameter, NULL);
  SwarmCopyFormat format = SWARM_COPY_FORMAT_JSON;
  g_autofree char *text = NULL;

  if (ticket == NULL)
    ticket = swarm_ticket_store_get_latest_usable (swarm_share_get_store (self->share));
  if (ticket == NULL)
    return;
  if (g_str_equal (format_name, "url"))
    format = SWARM_COPY_FORMAT_URL;
  else if (g_str_equal (format_name, "shell"))
    format = SWARM_COPY_FORMAT_SHELL;

  text = swarm_window_copy_ticket (self, ticket, format);
}

static GtkWidget *
find_ticket_row (SwarmWindow       *self,
                 SwarmStoredTicket *ticket)
{
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->tickets_list));
       row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      if (g_object_get_data (G_OBJECT (row), "ticket") == ticket)
        return row;
    }
  return NULL;
}

static void
reveal_token_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  SwarmWindow *self = SWARM_WINDOW (widget);
  SwarmStoredTicket *ticket = lookup_ticket (self, parameter);
  const char *session_id = g_variant_get_string (parameter, NULL);
  GtkWidget *row;

  if (ticket == NULL)
    return;
  if (!g_hash_table_remove (self->revealed, session_id))
    g_hash_table_add (self->revealed, g_strdup (session_id));

  row = find_ticket_row (self, ticket);
  if (row != NULL)
    update_ticket_row (self, row);
}

static void
revoke_ticket_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  SwarmWindow *self = SWARM_WINDOW (widget);
  SwarmStoredTicket *ticket = lookup_ticket (self, parameter);
  g_autoptr(GError) error = NULL;

  if (ticket == NULL)
    return;

  /* A revoked ticket must stop working at once, so its provider stops. */
  if (swarm_share_get_ticket (self->share) == ticket)
    swarm_share_stop (self->share);

  if (!swarm_ticket_store_revoke (swarm_share_get_store (self->share), ticket, &error))
    swarm_window_show_toast (self, error->message);
  else
    swarm_window_show_toast (self, _("Ticket revoked"));
  update_current_ticket (self);
}

static void
delete_ticket_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  SwarmWindow *self = SWARM_WINDOW (widget);
  SwarmStoredTicket *ticket = lookup_ticket (self, parameter);
  g_autoptr(GError) error = NULL;

  if (ticket == NULL)
    return;

  if (swarm_share_get_ticket (self->share) == ticket)
    swarm_share_stop (self->share);
  g_hash_table_remove (self->revealed, g_variant_get_string (parameter, NULL));

  if (!swarm_ticket_store_remove (swarm_share_get_store (self->share), ticket, &error))
    swarm_window_show_toast (self, error->message);
  else
    swarm_window_show_toast (self, _("Ticket deleted"));
  update_current_ticket (self);
}

/* ---- tunnels ---- */

typedef struct {
  guint64 bytes;       /* up plus down at the last sample */
  gint64 sampled_at;   /* monotonic microseconds */
  guint64 rate;        /* bytes per second over the last interval */
} RateSample;

static void
update_tunnel_row (GtkWidget *row,
                   gboolean   sample_rate)
{
  SwarmTunnel *tunnel = g_object_get_data (G_OBJECT (row), "tunnel");
  RateSample *sample = g_object_get_data (G_OBJECT (row), "rate");
  guint64 up = swarm_tunnel_get_bytes_up (tunnel);
  guint64 down = swarm_tunnel_get_bytes_down (tunnel);
  gint64 age_s = (g_get_real_time () - swarm_tunnel_get_opened_at (tunnel)) / G_USEC_PER_SEC;
  g_autofree char *age = format_duration (MAX (age_s, 0));
  g_autofree char *up_text = g_format_size (up);
  g_autofree char *down_text = g_format_size (down);
  g_autofree char *rate_text = NULL;
  g_autofree char *subtitle = NULL;

  if (sample_rate)
    {
      gint64 now = g_get_monotonic_time ();

      if (now > sample->sampled_at && up + down >= sample->bytes)
        sample->rate = (up + down - sample->bytes) * G_USEC_PER_SEC
                       / (guint64) (now - sample->sampled_at);
      sample->bytes = up + down;
      sample->sampled_at = now;
    }
  rate_text = g_format_size (sample->rate);

  /* Translators: tunnel row: age, bytes sent to the target, bytes received
   * from it, transfer rate, and whether the tunnel is still open. */
  subtitle = g_strdup_printf (_("Open for %s · ↑ %s · ↓ %s · %s/s · %s"), age, up_text,
                              down_text, rate_text,
                              swarm_tunnel_get_active (tunnel) ? _("live") : _("closing"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
}

static void update_tunnel_totals (SwarmWindow *self);

static void
tunnel_bytes_cb (GtkWidget *row)
{
  update_tunnel_row (row, FALSE);
  update_tunnel_totals (g_object_get_data (G_OBJECT (row), "window"));
}

static GtkWidget *
create_tunnel_row_cb (gpointer item,
                      gpointer user_data)
{
  SwarmTunnel *tunnel = SWARM_TUNNEL (item);
  GtkWidget *row = adw_action_row_new ();
  RateSample *sample = g_new0 (RateSample, 1);
  const char *host = swarm_tunnel_get_host (tunnel);
  g_autofree char *target = NULL;
  g_autofree char *escaped = NULL;

  /* IPv6 literals get brackets, as in a URL. */
  if (strchr (host, ':') != NULL)
    target = g_strdup_printf ("[%s]:%u", host, swarm_tunnel_get_port (tunnel));
  else
    target = g_strdup_printf ("%s:%u", host, swarm_tunnel_get_port (tunnel));
  escaped = g_markup_escape_text (target, -1);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);

  sample->bytes = swarm_tunnel_get_bytes_up (tunnel) + swarm_tunnel_get_bytes_down (tunnel);
  sample->sampled_at = g_get_monotonic_time ();
  g_object_set_data_full (G_OBJECT (row), "tunnel", g_object_ref (tunnel), g_object_unref);
  g_object_set_data_full (G_OBJECT (row), "rate", sample, g_free);
  g_object_set_data (G_OBJECT (row), "window", user_data);

  g_signal_connect_object (tunnel, "notify::bytes-up", G_CALLBACK (tunnel_bytes_cb), row,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (tunnel, "notify::bytes-down", G_CALLBACK (tunnel_bytes_cb), row,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (tunnel, "notify::active", G_CALLBACK (tunnel_bytes_cb), row,
                           G_CONNECT_SWAPPED);
  update_tunnel_row (row, FALSE);
  return row;
}

static void
update_tunnel_totals (SwarmWindow *self)
{
  guint count = swarm_share_get_tunnel_count (self->share);
  guint64 up, down;
  g_autofree char *up_text = NULL;
  g_autofree char *down_text = NULL;
  g_autofree char *totals = NULL;

  swarm_share_get_total_bytes (self->share, &up, &down);
  up_text = g_format_size (up);
  down_text = g_format_size (down);
  /* Translators: the number of open tunnels, then the bytes sent and
   * received by all tunnels since sharing started. */
  totals = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "%u open tunnel · ↑ %s · ↓ %s "
                                         "since sharing started",
                                         "%u open tunnels · ↑ %s · ↓ %s "
                                         "since sharing started",
                                         count),
                            count, up_text, down_text);
  adw_preferences_group_set_description (self->tunnels_group, totals);
}

/* ---- broker sessions ---- */

static void
fill_session_row (GtkWidget *row)
{
  SwarmBrokerSession *session = g_object_get_data (G_OBJECT (row), "session");
  GListModel *tunnels = swarm_broker_session_get_tunnels (session);
  guint count = g_list_model_get_n_items (tunnels);
  GPtrArray *children = g_object_get_data (G_OBJECT (row), "children");
  g_autofree char *since = format_time (swarm_broker_session_get_connected_since (session)
                                        / G_USEC_PER_SEC);
  g_autofree char *subtitle = NULL;

  /* Translators: broker session row: provider address, registration time
   * and the number of open worker tunnels. */
  subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "Provider %s · since %s · %u worker tunnel",
                                           "Provider %s · since %s · %u worker tunnels",
                                           count),
                              swarm_broker_session_get_provider_address (session), since,
                              count);
  adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), subtitle);

  for (guint i = 0; i < children->len; i++)
    adw_expander_row_remove (ADW_EXPANDER_ROW (row), g_ptr_array_index (children, i));
  g_ptr_array_set_size (children, 0);

  for (guint i = 0; i < count; i++)
    {
      g_autoptr(SwarmTunnel) tunnel = g_list_model_get_item (tunnels, i);
      GtkWidget *child = adw_action_row_new ();
      g_autofree char *title = g_strdup_printf (_("Worker %s"), swarm_tunnel_get_peer (tunnel));
      g_autofree char *target = g_strdup_printf ("→ %s:%u", swarm_tunnel_get_host (tunnel),
                                                 swarm_tunnel_get_port (tunnel));
      g_autofree char *escaped_title = g_markup_escape_text (title, -1);
      g_autofree char *escaped_target = g_markup_escape_text (target, -1);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (child), escaped_title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (child), escaped_target);
      adw_expander_row_add_row (ADW_EXPANDER_ROW (row), child);
      g_ptr_array_add (children, child);
    }
}

static GtkWidget *
create_session_row_cb (gpointer item,
                       gpointer user_data)
{
  SwarmBrokerSession *session = SWARM_BROKER_SESSION (item);
  GtkWidget *row = adw_expander_row_new ();
  g_autofree char *escaped = g_markup_escape_text (swarm_broker_session_get_session_id (session),
                                                   -1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
  g_object_set_data_full (G_OBJECT (row), "session", g_object_ref (session), g_object_unref);
  g_object_set_data_full (G_OBJECT (row), "children", g_ptr_array_new (),
                          (GDestroyNotify) g_ptr_array_unref);
  g_signal_connect_object (swarm_broker_session_get_tunnels (session), "items-changed",
                           G_CALLBACK (fill_session_row), row, G_CONNECT_SWAPPED);
  fill_session_row (row);
  return row;
}

static void
update_sessions (SwarmWindow *self)
{
  SwarmBroker *broker = swarm_share_get_broker (self->share);

  gtk_list_box_bind_model (self->sessions_list,
                           broker != NULL ? swarm_broker_get_sessions (broker) : NULL,
                           create_session_row_cb, self, NULL);
  if (broker != NULL)
    {
      g_autofree char *address = swarm_broker_dup_listen_address (broker);
      g_autofree char *description =
        g_strdup_printf (_("Listening on %s. Providers registered with it and the "
                           "tunnels of their workers."), address);

      adw_preferences_group_set_description (self->sessions_group, description);
    }
  else
    {
      adw_preferences_group_set_description (self->sessions_group,
                                             _("The broker runs while sharing, when the "
                                               "preferences say to run it on this "
                                               "computer."));
    }
}

/* ---- keyring ---- */

static void
update_keyring_warning (SwarmWindow *self)
{
  SwarmTicketStore *store = swarm_share_get_store (self->share);
  g_autofree char *subtitle = NULL;
  g_autofree char *escaped = NULL;

  gtk_widget_set_visible (self->keyring_group, !swarm_ticket_store_get_uses_keyring (store));
  if (swarm_ticket_store_get_uses_keyring (store))
    return;

  subtitle = g_strdup_printf (_("Tokens are saved in %s/tokens.json, readable only by you, "
                                "because %s."), swarm_ticket_store_get_data_dir (store),
                              swarm_ticket_store_get_keyring_problem (store));
  escaped = g_markup_escape_text (subtitle, -1);
  adw_action_row_set_subtitle (self->keyring_row, escaped);
}

/* ---- refresh ---- */

static void
refresh (SwarmWindow *self,
         gboolean     sample_rates)
{
  GtkWidget *row;

  update_state (self);

  for (row = gtk_widget_get_first_child (GTK_WIDGET (self->tickets_list));
       row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      if (g_object_get_data (G_OBJECT (row), "ticket") != NULL)
        update_ticket_row (self, row);
    }

  for (row = gtk_widget_get_first_child (GTK_WIDGET (self->tunnels_list));
       row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      if (g_object_get_data (G_OBJECT (row), "tunnel") != NULL)
        update_tunnel_row (row, sample_rates);
    }
  update_tunnel_totals (self);
}

static gboolean
tick_cb (gpointer user_data)
{
  refresh (SWARM_WINDOW (user_data), TRUE);
  return G_SOURCE_CONTINUE;
}

void
swarm_window_refresh (SwarmWindow *self)
{
  g_return_if_fail (SWARM_IS_WINDOW (self));
  refresh (self, FALSE);
}

/* ---- public ---- */

void
swarm_window_show_toast (SwarmWindow *self,
                         const char  *text)
{
  AdwToast *toast;

  g_return_if_fail (SWARM_IS_WINDOW (self));

  /* The overlay queues toasts, so a new message would wait behind the one on
   * screen; it replaces that one's text instead.  (Dismissing the old toast
   * first crashes libadwaita 1.2 during the hide animation.) */
  if (self->toast != NULL)
    {
      adw_toast_set_title (self->toast, text);
      return;
    }

  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 3);
  g_set_weak_pointer (&self->toast, toast);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

char *
swarm_window_copy_ticket (SwarmWindow       *self,
                          SwarmStoredTicket *ticket,
                          SwarmCopyFormat    format)
{
  g_autofree char *text = NULL;
  const char *message;

  g_return_val_if_fail (SWARM_IS_WINDOW (self), NULL);
  g_return_val_if_fail (SWARM_IS_STORED_TICKET (ticket), NULL);

  text = swarm_format_ticket (ticket, format);
  if (text == NULL)
    {
      swarm_window_show_toast (self, _("This ticket has no token and cannot be copied"));
      return NULL;
    }

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), text);

  switch (format)
    {
    case SWARM_COPY_FORMAT_URL:
      message = _("Proxy URL copied");
      break;
    case SWARM_COPY_FORMAT_SHELL:
      message = _("Shell lines copied");
      break;
    case SWARM_COPY_FORMAT_JSON:
    default:
      message = _("Ticket copied");
      break;
    }
  swarm_window_show_toast (self, message);
  return g_steal_pointer (&text);
}

gboolean
swarm_window_copy_latest_ticket (SwarmWindow *self)
{
  SwarmStoredTicket *ticket;
  g_autofree char *text = NULL;

  g_return_val_if_fail (SWARM_IS_WINDOW (self), FALSE);

  ticket = swarm_share_get_ticket (self->share);
  if (ticket == NULL)
    ticket = swarm_ticket_store_get_latest_usable (swarm_share_get_store (self->share));
  if (ticket == NULL)
    {
      swarm_window_show_toast (self, _("There is no ticket to copy yet; create one first"));
      swarm_window_show_page (self, "tickets");
      return FALSE;
    }

  text = swarm_window_copy_ticket (self, ticket, SWARM_COPY_FORMAT_JSON);
  return text != NULL;
}

void
swarm_window_show_page (SwarmWindow *self,
                        const char  *name)
{
  g_return_if_fail (SWARM_IS_WINDOW (self));
  adw_view_stack_set_visible_child_name (self->stack, name);
}

GtkSwitch *
swarm_window_get_share_switch (SwarmWindow *self)
{
  return self->share_switch;
}

GtkLabel *
swarm_window_get_state_label (SwarmWindow *self)
{
  return self->state_label;
}

GtkLabel *
swarm_window_get_state_detail_label (SwarmWindow *self)
{
  return self->state_detail_label;
}

AdwEntryRow *
swarm_window_get_session_entry (SwarmWindow *self)
{
  return self->session_entry;
}

GtkListBox *
swarm_window_get_tickets_list (SwarmWindow *self)
{
  return self->tickets_list;
}

GtkListBox *
swarm_window_get_tunnels_list (SwarmWindow *self)
{
  return self->tunnels_list;
}

GtkListBox *
swarm_window_get_sessions_list (SwarmWindow *self)
{
  return self->sessions_list;
}

/* ---- GObject ---- */

static GtkWidget *
new_placeholder (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_widget_set_margin_top (label, 18);
  gtk_widget_set_margin_bottom (label, 18);
  gtk_widget_set_margin_start (label, 12);
  gtk_widget_set_margin_end (label, 12);
  gtk_widget_add_css_class (label, "dim-label");
  return label;
}

static void
swarm_window_dispose (GObject *object)
{
  SwarmWindow *self = SWARM_WINDOW (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_weak_pointer (&self->toast);
  if (self->tickets_list != NULL)
    {
      gtk_list_box_bind_model (self->tickets_list, NULL, NULL, NULL, NULL);
      gtk_list_box_bind_model (self->tunnels_list, NULL, NULL, NULL, NULL);
      gtk_list_box_bind_model (self->sessions_list, NULL, NULL, NULL, NULL);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), SWARM_TYPE_WINDOW);
  self->tickets_list = NULL;
  g_clear_object (&self->share);
  g_clear_pointer (&self->revealed, g_hash_table_unref);

  G_OBJECT_CLASS (swarm_window_parent_class)->dispose (object);
}

static void
swarm_window_class_init (SwarmWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = swarm_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/swarmproxy/SwarmProxy/ui/"
                                               "swarm-window.ui");
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, share_switch);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, state_label);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, state_detail_label);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, current_ticket_row);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, current_copy_button);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, keyring_group);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, keyring_row);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, session_entry);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, expiry_row);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, tickets_list);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, tunnels_group);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, tunnels_list);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, sessions_group);
  gtk_widget_class_bind_template_child (widget_class, SwarmWindow, sessions_list);

  gtk_widget_class_install_action (widget_class, "win.create-ticket", NULL,
                                   create_ticket_action);
  gtk_widget_class_install_action (widget_class, "win.copy-current", "s",
                                   copy_current_action);
  gtk_widget_class_install_action (widget_class, "win.copy-json", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "win.copy-url", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "win.copy-shell", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "win.reveal-token", "s",
                                   reveal_token_action);
  gtk_widget_class_install_action (widget_class, "win.revoke-ticket", "s",
                                   revoke_ticket_action);
  gtk_widget_class_install_action (widget_class, "win.delete-ticket", "s",
                                   delete_ticket_action);
}

static void
swarm_window_init (SwarmWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->revealed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  gtk_list_box_set_placeholder (self->tickets_list,
                                new_placeholder (_("No tickets yet. Create one above, or "
                                                   "turn sharing on.")));
  gtk_list_box_set_placeholder (self->tunnels_list,
                                new_placeholder (_("No open tunnels. They appear here while "
                                                   "workers use this computer’s connection.")));
  gtk_list_box_set_placeholder (self->sessions_list,
                                new_placeholder (_("No sessions are registered.")));
}

SwarmWindow *
swarm_window_new (GtkApplication *application,
                  SwarmShare     *share)
{
  SwarmWindow *self;

  g_return_val_if_fail (application == NULL || GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (SWARM_IS_SHARE (share), NULL);

  self = g_object_new (SWARM_TYPE_WINDOW, "application", application, NULL);
  self->share = g_object_ref (share);

  gtk_list_box_bind_model (self->tickets_list,
                           G_LIST_MODEL (swarm_share_get_store (share)),
                           create_ticket_row_cb, self, NULL);
  gtk_list_box_bind_model (self->tunnels_list, swarm_share_get_tunnels (share),
                           create_tunnel_row_cb, self, NULL);

  g_signal_connect_object (share, "notify", G_CALLBACK (share_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (share, "notify::broker", G_CALLBACK (update_sessions), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (swarm_share_get_tunnels (share), "items-changed",
                           G_CALLBACK (update_tunnel_totals), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (swarm_share_get_store (share), "notify::uses-keyring",
                           G_CALLBACK (update_keyring_warning), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (swarm_share_get_store (share), "items-changed",
                           G_CALLBACK (update_current_ticket), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->share_switch, "notify::active",
                           G_CALLBACK (share_switch_active_cb), self, G_CONNECT_SWAPPED);

  share_changed_cb (self);
  update_sessions (self);
  update_keyring_warning (self);
  refresh (self, FALSE);
  self->tick_id = g_timeout_add_seconds (TICK_INTERVAL_S, tick_cb, self);
  return self;
}
