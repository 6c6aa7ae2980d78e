/* swarm-share.h: sharing this computer's egress with one ticket
 *
 * Connects the saved settings to the engine.  It starts a broker on this
 * computer when the settings ask for one, runs the provider for a stored
 * ticket and mirrors the provider's state.  The window, the tray and the
 * headless mode all read that one state.  No GTK.
 */
#pragma once

#include <gio/gio.h>

#include "swarm-broker.h"
#include "swarm-provider.h"
#include "swarm-tunnel.h"
#include "swarm-ticket-store.h"

G_BEGIN_DECLS

#define SWARM_SETTINGS_SCHEMA_ID APP_ID
/* Listen address of the broker on this computer when the settings have none. */
#define SWARM_DEFAULT_LISTEN_ADDRESS "127.0.0.1:8787"

#define SWARM_TYPE_SHARE (swarm_share_get_type ())
G_DECLARE_FINAL_TYPE (SwarmShare, swarm_share, SWARM, SHARE, GObject)

/* Returns the app's settings, or NULL when the schema is not installed (a
 * build run from its folder without GSETTINGS_SCHEMA_DIR). */
GSettings          *swarm_settings_new                (void);

/* `settings` may be NULL for the defaults: a broker on this computer at
 * SWARM_DEFAULT_LISTEN_ADDRESS, private destinations rejected. */
SwarmShare         *swarm_share_new                   (GSettings        *settings,
                                                       SwarmTicketStore *store);

SwarmTicketStore   *swarm_share_get_store             (SwarmShare       *self);
GSettings          *swarm_share_get_settings          (SwarmShare       *self);

/* Starts sharing with `ticket`.  Fails when the local broker cannot listen
 * or the ticket has no token, is expired or is revoked. */
gboolean            swarm_share_start                 (SwarmShare        *self,
                                                       SwarmStoredTicket *ticket,
                                                       GError           **error);
/* Starts with the latest usable ticket, issuing one (valid for a day) when
 * the store has none. */
/* Marks a share run from the command line: a rejected destination's
 * message names --allow-private instead of the app's preference, and with
 * `allow_private` local destinations are allowed whatever the saved setting
 * says, for this run only. */
void                swarm_share_use_command_line      (SwarmShare        *self,
                                                       gboolean           allow_private);
gboolean            swarm_share_start_latest          (SwarmShare        *self,
                                                       GError           **error);
/* Stops the provider and the local broker.  Harmless when not sharing. */
void                swarm_share_stop                  (SwarmShare       *self);

/* TRUE between a successful start and stop, including while retrying.  The
 * share stops by itself when its ticket expires; the state stays EXPIRED
 * until the next start. */
gboolean            swarm_share_get_running           (SwarmShare       *self);
SwarmProviderState  swarm_share_get_state             (SwarmShare       *self);
guint               swarm_share_get_retry_seconds     (SwarmShare       *self);
const char         *swarm_share_get_last_error        (SwarmShare       *self);
/* The ticket being shared, or NULL. */
SwarmStoredTicket  *swarm_share_get_ticket            (SwarmShare       *self);
/* The running provider and local broker, or NULL. */
SwarmProvider      *swarm_share_get_provider          (SwarmShare       *self);
SwarmBroker        *swarm_share_get_broker            (SwarmShare       *self);
/* Open tunnels of the provider; an empty model while not sharing. */
GListModel         *swarm_share_get_tunnels           (SwarmShare       *self);
guint               swarm_share_get_tunnel_count      (SwarmShare       *self);
/* Bytes relayed since sharing last started, by open and closed tunnels. */
void                swarm_share_get_total_bytes       (SwarmShare       *self,
                                                       guint64          *bytes_up,
                                                       guint64          *bytes_down);

/* The broker address that workers use, written into new tickets: the
 * public-address setting, else the local listen address (the bound one
 * while running) or the remote broker address. */
char               *swarm_share_dup_worker_address    (SwarmShare       *self);

G_END_DECLS
