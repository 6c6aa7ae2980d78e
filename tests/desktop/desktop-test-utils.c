/* desktop-test-utils.c: main-loop waits shared by the desktop tests */

#include "desktop-test-utils.h"

gboolean
swarm_test_set_flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
swarm_test_wait_until (SwarmTestCondition condition,
                       gpointer           data,
                       guint              seconds)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (seconds, swarm_test_set_flag_cb, &timed_out);

  while (!condition (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);

  return !timed_out;
}
