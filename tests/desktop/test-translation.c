/* test-translation.c: the German catalogue reaches the window */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>

#include "swarm-share.h"
#include "swarm-window-private.h"

static void
test_translation_german_window (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("swarm-i18n-XXXXXX", &error);
  g_autoptr(SwarmTicketStore) store = NULL;
  g_autoptr(SwarmShare) share = NULL;
  SwarmWindow *window;

  g_assert_no_error (error);

  /* A string from the code, one from a UI file and one from the tray. */
  g_assert_cmpstr (_("Sharing"), ==, "Teilen");
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, "Issued Tickets"), ==,
                   "Ausgestellte Tickets");
  g_assert_cmpstr (_("_Copy Latest Ticket"), ==, "Neuestes Ticket _kopieren");

  store = swarm_ticket_store_new (dir);
  share = swarm_share_new (NULL, store);
  window = swarm_window_new (NULL, share);
  g_assert_cmpstr (gtk_label_get_label (swarm_window_get_state_label (window)), ==, "Aus");
  gtk_window_destroy (GTK_WINDOW (window));
  g_rmdir (dir);
}

/* Errors from the share and the ticket store reach the window's toasts and
 * banner, so they come from the catalogue too. */
static void
test_translation_german_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("swarm-i18n-XXXXXX", &error);
  g_autofree char *metadata = NULL;
  g_autoptr(SwarmTicketStore) store = NULL;
  g_autoptr(SwarmShare) share = NULL;
  SwarmStoredTicket *ticket;
  SwarmStoredTicket *duplicate;
  gint64 expires_at = g_get_real_time () / G_USEC_PER_SEC + 3600;

  g_assert_no_error (error);
  store = swarm_ticket_store_new (dir);
  share = swarm_share_new (NULL, store);

  ticket = swarm_ticket_store_create (store, "i18n-errors", "127.0.0.1:8787", expires_at,
                                      &error);
  g_assert_no_error (error);
  g_assert_nonnull (ticket);

  duplicate = swarm_ticket_store_create (store, "i18n-errors", "127.0.0.1:8787", expires_at,
                                         &error);
  g_assert_null (duplicate);
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, "Für die Sitzung i18n-errors gibt es bereits ein "
                   "Ticket; wählen Sie eine andere Sitzungskennung");
  g_clear_error (&error);

  g_assert_true (swarm_ticket_store_revoke (store, ticket, &error));
  g_assert_no_error (error);
  g_assert_false (swarm_share_start (share, ticket, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, "Das Ticket der Sitzung i18n-errors wurde widerrufen; "
                   "erstellen Sie ein neues Ticket");
  g_clear_error (&error);

  g_assert_true (swarm_ticket_store_remove (store, ticket, &error));
  g_assert_no_error (error);
  metadata = g_build_filename (dir, "tickets.json", NULL);
  g_remove (metadata);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_autofree char *localedir = NULL;

  /* glibc honours LANGUAGE only when the locale is not plain "C"; C.UTF-8
   * is always present, unlike de_DE. */
  g_setenv ("LANGUAGE", "de", TRUE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  setlocale (LC_ALL, "");

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  localedir = g_test_build_filename (G_TEST_BUILT, "..", "..", "po", NULL);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_test_add_func ("/desktop/translation/german-window", test_translation_german_window);
  g_test_add_func ("/desktop/translation/german-errors", test_translation_german_errors);

  return g_test_run ();
}
