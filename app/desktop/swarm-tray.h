/* swarm-tray.h: the tray icon, a StatusNotifierItem exported with GDBus
 *
 * GTK 4 has no tray API, so the item (org.kde.StatusNotifierItem at
 * /StatusNotifierItem) and its menu (com.canonical.dbusmenu at /MenuBar) are
 * exported directly.  The tray does not depend on the window: its owner sets
 * the state to show, and the tray emits signals for the menu items the user
 * picks.  No GTK.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SWARM_TRAY_ITEM_PATH "/StatusNotifierItem"
#define SWARM_TRAY_MENU_PATH "/MenuBar"
#define SWARM_TRAY_WATCHER_NAME "org.kde.StatusNotifierWatcher"
#define SWARM_TRAY_WATCHER_PATH "/StatusNotifierWatcher"

/* Menu item ids, as they appear in GetLayout and Event. */
typedef enum {
  SWARM_TRAY_MENU_ROOT = 0,
  SWARM_TRAY_MENU_SHARE = 1,
  SWARM_TRAY_MENU_COPY_TICKET = 2,
  SWARM_TRAY_MENU_SEPARATOR = 3,
  SWARM_TRAY_MENU_SHOW_WINDOW = 4,
  SWARM_TRAY_MENU_QUIT = 5,
} SwarmTrayMenuId;

#define SWARM_TYPE_TRAY (swarm_tray_get_type ())
G_DECLARE_FINAL_TYPE (SwarmTray, swarm_tray, SWARM, TRAY, GObject)

/* Exports the item and the menu on `bus` and registers with the watcher
 * whenever one owns its name. */
SwarmTray  *swarm_tray_new             (GDBusConnection *bus,
                                        GError         **error);

/* Whether a StatusNotifierWatcher accepted the item. */
gboolean    swarm_tray_get_registered  (SwarmTray       *self);

void        swarm_tray_set_sharing     (SwarmTray       *self,
                                        gboolean         sharing);
gboolean    swarm_tray_get_sharing     (SwarmTray       *self);
void        swarm_tray_set_tunnel_count (SwarmTray      *self,
                                        guint            count);
/* One line for the tooltip, e.g. "Sharing, 2 tunnels". */
void        swarm_tray_set_status_text (SwarmTray       *self,
                                        const char      *text);
/* The icon name the item shows now. */
const char *swarm_tray_get_icon_name   (SwarmTray       *self);

G_END_DECLS
