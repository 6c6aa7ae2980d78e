/* test-display.c: swarm-proxy without a usable display points to --no-gui */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

/* Upper bound for the child process to give up on the display. */
#define WAIT_TIMEOUT_S 20

typedef struct {
  const char *name;
  const char *display;          /* DISPLAY for the child, NULL to unset it */
  const char *wayland_display;  /* WAYLAND_DISPLAY for the child, NULL to unset it */
} DisplayCase;

typedef struct {
  gboolean done;
  char *stderr_text;
  GError *error;
} ChildOutput;

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
communicate_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  ChildOutput *output = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, NULL,
                                        &output->stderr_text, &output->error);
  output->done = TRUE;
}

static void
test_display_unusable (gconstpointer data)
{
  const DisplayCase *display_case = data;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *runtime_dir = NULL;
  ChildOutput output = { FALSE, NULL, NULL };
  gboolean timed_out = FALSE;
  guint timeout_id;

  if (g_getenv ("SWARM_PROXY_EXE") == NULL)
    {
      g_test_skip ("SWARM_PROXY_EXE is not set; run the test through meson");
      return;
    }

  /* An empty runtime folder makes sure no Wayland socket of that name exists. */
  runtime_dir = g_dir_make_tmp ("swarm-display-XXXXXX", &error);
  g_assert_no_error (error);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "LANGUAGE");
  g_subprocess_launcher_unsetenv (launcher, "GDK_BACKEND");
  if (display_case->display != NULL)
    g_subprocess_launcher_setenv (launcher, "DISPLAY", display_case->display, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  if (display_case->wayland_display != NULL)
    g_subprocess_launcher_setenv (launcher, "WAYLAND_DISPLAY",
                                  display_case->wayland_display, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "WAYLAND_DISPLAY");

  process = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("SWARM_PROXY_EXE"), NULL);
  g_assert_no_error (error);

  timeout_id = g_timeout_add_seconds (WAIT_TIMEOUT_S, timeout_cb, &timed_out);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicate_done_cb, &output);
  while (!output.done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    {
      g_subprocess_force_exit (process);
      while (!output.done)
        g_main_context_iteration (NULL, TRUE);
    }
  else
    {
      g_source_remove (timeout_id);
    }

  g_assert_false (timed_out);
  g_assert_no_error (output.error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 1);
  g_assert_nonnull (output.stderr_text);
  g_assert_nonnull (strstr (output.stderr_text, "--no-gui"));

  g_free (output.stderr_text);
  g_rmdir (runtime_dir);
}

static const DisplayCase display_cases[] = {
  { "no-display-variable", NULL, NULL },
  /* The test runs without Xvfb, and no X server listens on display 9999. */
  { "x11-unreachable", ":9999", NULL },
  { "wayland-unreachable", NULL, "wayland-swarm-missing" },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (display_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/desktop/display/%s", display_cases[i].name);

      g_test_add_data_func (path, &display_cases[i], test_display_unusable);
    }

  return g_test_run ();
}
