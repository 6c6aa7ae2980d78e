/* swarm-window-private.h: window internals that the widget tests inspect */
#pragma once

#include "swarm-window.h"

G_BEGIN_DECLS

GtkSwitch  *swarm_window_get_share_switch (SwarmWindow *self);
GtkLabel   *swarm_window_get_state_label  (SwarmWindow *self);
GtkLabel   *swarm_window_get_state_detail_label (SwarmWindow *self);
AdwEntryRow *swarm_window_get_session_entry (SwarmWindow *self);
GtkListBox *swarm_window_get_tickets_list (SwarmWindow *self);
GtkListBox *swarm_window_get_tunnels_list (SwarmWindow *self);
GtkListBox *swarm_window_get_sessions_list (SwarmWindow *self);
/* Refreshes every time-dependent text now instead of at the next tick. */
void        swarm_window_refresh          (SwarmWindow *self);

G_END_DECLS
