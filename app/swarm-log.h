/* swarm-log.h: how log lines of the command line look
 *
 * A GLog structured writer for the headless program: a short readable line
 * per message, or one compact JSON object per message with --json, so that
 * every line on stderr can be parsed by a script.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Installs the writer.  Call it once, before anything logs.  Lines are text
 * until swarm_log_set_json (TRUE). */
void      swarm_log_init     (void);
void      swarm_log_set_json (gboolean json);
gboolean  swarm_log_get_json (void);

G_END_DECLS
