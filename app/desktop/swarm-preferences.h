/* swarm-preferences.h: broker, access and login settings */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SWARM_TYPE_PREFERENCES (swarm_preferences_get_type ())
G_DECLARE_FINAL_TYPE (SwarmPreferences, swarm_preferences, SWARM, PREFERENCES,
                      AdwPreferencesWindow)

SwarmPreferences *swarm_preferences_new (GSettings *settings);

G_END_DECLS
