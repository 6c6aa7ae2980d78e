/* swarm-policy.c: which resolved addresses a provider may connect to
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* engine/meson.build sets one domain for the whole library, but each module logs under its own. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-policy"

#include "swarm-policy.h"

#include <string.h>

struct _SwarmDestinationPolicy
{
  GObject parent_instance;

  gboolean allow_private;
  char *hint;
};

G_DEFINE_TYPE (SwarmDestinationPolicy, swarm_destination_policy, G_TYPE_OBJECT)

G_DEFINE_QUARK (swarm-policy-error-quark, swarm_policy_error)

enum {
  PROP_0,
  PROP_ALLOW_PRIVATE,
  PROP_HINT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* A non-public range: `name` is what swarm_address_classify() returns and
 * `article` the indefinite article that goes before it in a sentence. */
typedef struct {
  const char *name;
  const char *article;
} Range;

static const Range range_unspecified = { "unspecified", "an" };
static const Range range_this_network = { "\"this network\" (0.0.0.0/8)", "a" };
static const Range range_loopback = { "loopback", "a" };
static const Range range_private = { "private (RFC 1918)", "a" };
static const Range range_link_local = { "link-local", "a" };
static const Range range_cloud_metadata = { "link-local (cloud metadata service)", "a" };
static const Range range_cgnat = { "carrier-grade NAT", "a" };
static const Range range_ietf = { "IETF-reserved (192.0.0.0/24)", "an" };
static const Range range_multicast = { "multicast", "a" };
static const Range range_broadcast = { "broadcast", "a" };
static const Range range_reserved = { "reserved (240.0.0.0/4)", "a" };
static const Range range_unique_local = { "unique local", "a" };
static const Range range_site_local = { "site-local", "a" };

/* Whether the first `prefix_bits` bits of `bytes` equal those of `prefix`. */
static gboolean
has_prefix (const guint8 *bytes,
            const guint8 *prefix,
            guint         prefix_bits)
{
  guint whole = prefix_bits / 8;
  guint rest = prefix_bits % 8;

  if (memcmp (bytes, prefix, whole) != 0)
    return FALSE;

  if (rest > 0)
    {
      guint8 mask = (guint8) (0xff << (8 - rest));

      if ((bytes[whole] & mask) != (prefix[whole] & mask))
        return FALSE;
    }

  return TRUE;
}

static const Range *
classify_ipv4 (const guint8 *a)
{
  /* Exact addresses first, since each lies inside a wider range below. */
  if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0)
    return &range_unspecified;
  if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
    return &range_broadcast;
  if (a[0] == 169 && a[1] == 254 && a[2] == 169 && a[3] == 254)
    return &range_cloud_metadata;

  if (a[0] == 0)
    return &range_this_network;
  if (a[0] == 127)
    return &range_loopback;
  if (a[0] == 10)
    return &range_private;
  if (a[0] == 172 && (a[1] & 0xf0) == 16)
    return &range_private;
  if (a[0] == 192 && a[1] == 168)
    return &range_private;
  if (a[0] == 169 && a[1] == 254)
    return &range_link_local;
  if (a[0] == 100 && (a[1] & 0xc0) == 64)
    return &range_cgnat;
  if (a[0] == 192 && a[1] == 0 && a[2] == 0)
    return &range_ietf;
  if ((a[0] & 0xf0) == 224)
    return &range_multicast;
  if ((a[0] & 0xf0) == 240)
    return &range_reserved;

  return NULL;
}

static const Range *
classify_ipv6 (const guint8 *a)
{
  static const guint8 zeros[16] = { 0 };
  static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  static const guint8 nat64[12] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 link_local[2] = { 0xfe, 0x80 };
  static const guint8 site_local[2] = { 0xfe, 0xc0 };
  static const guint8 unique_local[1] = { 0xfc };
  static const guint8 multicast[1] = { 0xff };

  if (memcmp (a, zeros, 16) == 0)
    return &range_unspecified;
  if (memcmp (a, zeros, 15) == 0 && a[15] == 1)
    return &range_loopback;

  /* Forms that carry an IPv4 address in their last 32 bits reach that IPv4
   * host: ::ffff:a.b.c.d through the host's own dual stack, ::a.b.c.d on
   * stacks that still honour the deprecated compatible form, and
   * 64:ff9b::a.b.c.d through a NAT64 gateway. */
  if (has_prefix (a, mapped, 96) || has_prefix (a, zeros, 96) || has_prefix (a, nat64, 96))
    return classify_ipv4 (a + 12);

  if (has_prefix (a, link_local, 10))
    return &range_link_local;
  if (has_prefix (a, site_local, 10))
    return &range_site_local;
  if (has_prefix (a, unique_local, 7))
    return &range_unique_local;
  if (has_prefix (a, multicast, 8))
    return &range_multicast;

  return NULL;
}

static const Range *
classify (GInetAddress *address)
{
  const guint8 *bytes = g_inet_address_to_bytes (address);

  switch (g_inet_address_get_family (address))
    {
    case G_SOCKET_FAMILY_IPV4:
      return classify_ipv4 (bytes);

    case G_SOCKET_FAMILY_IPV6:
      return classify_ipv6 (bytes);

    case G_SOCKET_FAMILY_INVALID:
    case G_SOCKET_FAMILY_UNIX:
    default:
      g_return_val_if_reached (NULL);
    }
}

const char *
swarm_address_classify (GInetAddress *address)
{
  const Range *range;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  range = classify (address);
  return range != NULL ? range->name : NULL;
}

static void
swarm_destination_policy_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  SwarmDestinationPolicy *self = SWARM_DESTINATION_POLICY (object);

  switch (prop_id)
    {
    case PROP_ALLOW_PRIVATE:
      g_value_set_boolean (value, self->allow_private);
      break;

    case PROP_HINT:
      g_value_set_string (value, self->hint);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_destination_policy_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  SwarmDestinationPolicy *self = SWARM_DESTINATION_POLICY (object);

  switch (prop_id)
    {
    case PROP_ALLOW_PRIVATE:
      swarm_destination_policy_set_allow_private (self, g_value_get_boolean (value));
      break;

    case PROP_HINT:
      swarm_destination_policy_set_hint (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
swarm_destination_policy_finalize (GObject *object)
{
  SwarmDestinationPolicy *self = SWARM_DESTINATION_POLICY (object);

  g_clear_pointer (&self->hint, g_free);

  G_OBJECT_CLASS (swarm_destination_policy_parent_class)->finalize (object);
}

static void
swarm_destination_policy_class_init (SwarmDestinationPolicyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = swarm_destination_policy_finalize;
  object_class->get_property = swarm_destination_policy_get_property;
  object_class->set_property = swarm_destination_policy_set_property;

  /**
   * SwarmDestinationPolicy:allow-private:
   *
   * Whether the provider may connect to non-public addresses (loopback,
   * private, link-local, …) as well as public ones.
   */
  properties[PROP_ALLOW_PRIVATE] =
    g_param_spec_boolean ("allow-private", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * SwarmDestinationPolicy:hint:
   *
   * Advice that ends the message of a rejected destination, such as how to
   * allow non-public addresses where the policy is used.  NULL restores
   * %SWARM_DESTINATION_POLICY_DEFAULT_HINT, which names the --allow-private
   * flag of the command line, and "" leaves the advice out.
   */
  properties[PROP_HINT] =
    g_param_spec_string ("hint", NULL, NULL, SWARM_DESTINATION_POLICY_DEFAULT_HINT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
swarm_destination_policy_init (SwarmDestinationPolicy *self)
{
}

SwarmDestinationPolicy *
swarm_destination_policy_new (gboolean allow_private)
{
  return g_object_new (SWARM_TYPE_DESTINATION_POLICY,
                       "allow-private", allow_private,
                       NULL);
}

gboolean
swarm_destination_policy_get_allow_private (SwarmDestinationPolicy *self)
{
  g_return_val_if_fail (SWARM_IS_DESTINATION_POLICY (self), FALSE);

  return self->allow_private;
}

void
swarm_destination_policy_set_allow_private (SwarmDestinationPolicy *self,
                                            gboolean                allow_private)
{
  g_return_if_fail (SWARM_IS_DESTINATION_POLICY (self));

  allow_private = !!allow_private;
  if (self->allow_private == allow_private)
    return;

  self->allow_private = allow_private;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALLOW_PRIVATE]);
}

const char *
swarm_destination_policy_get_hint (SwarmDestinationPolicy *self)
{
  g_return_val_if_fail (SWARM_IS_DESTINATION_POLICY (self), NULL);

  return self->hint;
}

void
swarm_destination_policy_set_hint (SwarmDestinationPolicy *self,
                                   const char             *hint)
{
  g_return_if_fail (SWARM_IS_DESTINATION_POLICY (self));

  if (hint == NULL)
    hint = SWARM_DESTINATION_POLICY_DEFAULT_HINT;

  if (g_strcmp0 (self->hint, hint) == 0)
    return;

  g_free (self->hint);
  self->hint = g_strdup (hint);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HINT]);
}

gboolean
swarm_destination_policy_check (SwarmDestinationPolicy  *self,
                                GInetAddress            *address,
                                GError                 **error)
{
  const Range *range;
  g_autofree char *text = NULL;

  g_return_val_if_fail (SWARM_IS_DESTINATION_POLICY (self), FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->allow_private)
    return TRUE;

  range = classify (address);
  if (range == NULL)
    return TRUE;

  text = g_inet_address_to_string (address);
  if (self->hint[0] == '\0')
    g_set_error (error, SWARM_POLICY_ERROR, SWARM_POLICY_ERROR_FORBIDDEN,
                 "destination %s is %s %s address", text, range->article, range->name);
  else
    g_set_error (error, SWARM_POLICY_ERROR, SWARM_POLICY_ERROR_FORBIDDEN,
                 "destination %s is %s %s address; %s",
                 text, range->article, range->name, self->hint);
  return FALSE;
}
