/* desktop-test-utils.h: main-loop waits shared by the desktop tests */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*SwarmTestCondition) (gpointer data);

/* Runs the default main context until `condition` holds.  Returns FALSE
 * when `seconds` pass first. */
gboolean swarm_test_wait_until  (SwarmTestCondition condition,
                                 gpointer           data,
                                 guint              seconds);

/* A GSourceFunc that sets the gboolean `data` points to and removes itself. */
gboolean swarm_test_set_flag_cb (gpointer           data);

G_END_DECLS
