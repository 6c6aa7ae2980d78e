/* test-policy.c: classification of destination addresses
 *
 * The public addresses below are only classified as values, and no test
 * connects anywhere.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "swarm-policy.h"

typedef struct {
  const char *address;
  const char *range;  /* expected swarm_address_classify() result, NULL for public */
} AddressCase;

static const AddressCase cases[] = {
  /* Public addresses, including the neighbours of each non-public range. */
  { "8.8.8.8", NULL },
  { "1.1.1.1", NULL },
  { "1.0.0.0", NULL },
  { "9.255.255.255", NULL },
  { "11.0.0.0", NULL },
  { "100.63.255.255", NULL },
  { "100.128.0.0", NULL },
  { "126.255.255.255", NULL },
  { "128.0.0.0", NULL },
  { "169.253.255.255", NULL },
  { "169.255.0.0", NULL },
  { "172.15.255.255", NULL },
  { "172.32.0.0", NULL },
  { "191.255.255.255", NULL },
  { "192.0.1.0", NULL },
  { "192.0.2.1", NULL },
  { "192.167.255.255", NULL },
  { "192.169.0.0", NULL },
  { "223.255.255.255", NULL },
  { "2001:4860:4860::8888", NULL },
  { "2606:4700:4700::1111", NULL },
  { "fbff:ffff::1", NULL },
  { "fe7f:ffff::1", NULL },
  { "::ffff:8.8.8.8", NULL },
  { "::8.8.8.8", NULL },
  { "64:ff9b::8.8.8.8", NULL },
  { "64:ff9b:0:0:0:1::", NULL },

  /* IPv4 ranges. */
  { "0.0.0.0", "unspecified" },
  { "0.1.2.3", "\"this network\" (0.0.0.0/8)" },
  { "0.255.255.255", "\"this network\" (0.0.0.0/8)" },
  { "127.0.0.1", "loopback" },
  { "127.255.255.254", "loopback" },
  { "10.0.0.0", "private (RFC 1918)" },
  { "10.255.255.255", "private (RFC 1918)" },
  { "172.16.0.1", "private (RFC 1918)" },
  { "172.31.255.255", "private (RFC 1918)" },
  { "192.168.0.1", "private (RFC 1918)" },
  { "192.168.255.255", "private (RFC 1918)" },
  { "169.254.0.1", "link-local" },
  { "169.254.255.255", "link-local" },
  { "169.254.169.254", "link-local (cloud metadata service)" },
  { "100.64.0.0", "carrier-grade NAT" },
  { "100.127.255.255", "carrier-grade NAT" },
  { "192.0.0.0", "IETF-reserved (192.0.0.0/24)" },
  { "192.0.0.255", "IETF-reserved (192.0.0.0/24)" },
  { "224.0.0.1", "multicast" },
  { "239.255.255.255", "multicast" },
  { "240.0.0.1", "reserved (240.0.0.0/4)" },
  { "255.255.255.254", "reserved (240.0.0.0/4)" },
  { "255.255.255.255", "broadcast" },

  /* IPv6 ranges. */
  { "::", "unspecified" },
  { "::1", "loopback" },
  { "fe80::1", "link-local" },
  { "febf:ffff::1", "link-local" },
  { "fec0::1", "site-local" },
  { "feff::1", "site-local" },
  { "fc00::1", "unique local" },
  { "fd12:3456:789a::1", "unique local" },
  { "ff02::1", "multicast" },
  { "ff0e::1", "multicast" },

  /* IPv6 forms that carry an IPv4 address are classified by that address. */
  { "::ffff:127.0.0.1", "loopback" },
  { "::ffff:10.1.2.3", "private (RFC 1918)" },
  { "::ffff:169.254.169.254", "link-local (cloud metadata service)" },
  { "::ffff:0.0.0.0", "unspecified" },
  { "::ffff:7f00:1", "loopback" },
  { "::127.0.0.1", "loopback" },
  { "::192.168.1.1", "private (RFC 1918)" },
  { "::0.0.0.2", "\"this network\" (0.0.0.0/8)" },
  { "64:ff9b::127.0.0.1", "loopback" },
  { "64:ff9b::10.0.0.1", "private (RFC 1918)" },
  { "64:ff9b::100.64.0.1", "carrier-grade NAT" },
};

static GInetAddress *
address_from_string (const char *text)
{
  GInetAddress *address = g_inet_address_new_from_string (text);

  g_assert_nonnull (address);
  return address;
}

static void
test_classify_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) address = address_from_string (cases[i].address);

      g_test_message ("address: %s", cases[i].address);
      g_assert_cmpstr (swarm_address_classify (address), ==, cases[i].range);
    }
}

static void
test_check_default_policy (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) address = address_from_string (cases[i].address);
      g_autoptr(GError) error = NULL;
      gboolean allowed;

      g_test_message ("address: %s", cases[i].address);
      allowed = swarm_destination_policy_check (policy, address, &error);

      if (cases[i].range == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (allowed);
        }
      else
        {
          g_assert_error (error, SWARM_POLICY_ERROR, SWARM_POLICY_ERROR_FORBIDDEN);
          g_assert_false (allowed);
        }
    }
}

static void
test_check_allow_private (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) address = address_from_string (cases[i].address);
      g_autoptr(GError) error = NULL;
      gboolean allowed;

      g_test_message ("address: %s", cases[i].address);
      allowed = swarm_destination_policy_check (policy, address, &error);
      g_assert_no_error (error);
      g_assert_true (allowed);
    }
}

static void
test_check_error_message (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (FALSE);
  g_autoptr(GInetAddress) address = address_from_string ("10.0.0.5");
  g_autoptr(GError) error = NULL;

  g_assert_false (swarm_destination_policy_check (policy, address, &error));
  g_assert_error (error, SWARM_POLICY_ERROR, SWARM_POLICY_ERROR_FORBIDDEN);
  g_assert_cmpstr (error->message, ==,
                   "destination 10.0.0.5 is a private (RFC 1918) address; start the "
                   "provider with --allow-private to allow it");
}

static void
test_check_default_hint (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (FALSE);
  g_autoptr(GInetAddress) address = address_from_string ("127.0.0.1");
  g_autoptr(GError) error = NULL;
  g_autofree char *hint = NULL;

  g_assert_cmpstr (swarm_destination_policy_get_hint (policy), ==,
                   SWARM_DESTINATION_POLICY_DEFAULT_HINT);
  g_object_get (policy, "hint", &hint, NULL);
  g_assert_cmpstr (hint, ==, SWARM_DESTINATION_POLICY_DEFAULT_HINT);

  g_assert_false (swarm_destination_policy_check (policy, address, &error));
  g_assert_cmpstr (error->message, ==,
                   "destination 127.0.0.1 is a loopback address; "
                   SWARM_DESTINATION_POLICY_DEFAULT_HINT);
}

static void
test_check_custom_hint (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (FALSE);
  g_autoptr(GInetAddress) address = address_from_string ("192.168.1.1");
  g_autoptr(GError) error = NULL;

  swarm_destination_policy_set_hint (policy, "turn on local network access in the app");
  g_assert_false (swarm_destination_policy_check (policy, address, &error));
  g_assert_error (error, SWARM_POLICY_ERROR, SWARM_POLICY_ERROR_FORBIDDEN);
  g_assert_cmpstr (error->message, ==,
                   "destination 192.168.1.1 is a private (RFC 1918) address; turn on "
                   "local network access in the app");
  g_assert_null (strstr (error->message, "--allow-private"));
  g_clear_error (&error);

  /* An empty hint leaves the advice out, separator included. */
  swarm_destination_policy_set_hint (policy, "");
  g_assert_false (swarm_destination_policy_check (policy, address, &error));
  g_assert_cmpstr (error->message, ==,
                   "destination 192.168.1.1 is a private (RFC 1918) address");
  g_clear_error (&error);

  /* NULL restores the default advice. */
  swarm_destination_policy_set_hint (policy, NULL);
  g_assert_cmpstr (swarm_destination_policy_get_hint (policy), ==,
                   SWARM_DESTINATION_POLICY_DEFAULT_HINT);
  g_assert_false (swarm_destination_policy_check (policy, address, &error));
  g_assert_nonnull (strstr (error->message, "--allow-private"));
}

static void
test_check_error_mapped_address (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (FALSE);
  g_autoptr(GInetAddress) address = address_from_string ("::ffff:127.0.0.1");
  g_autoptr(GError) error = NULL;

  g_assert_false (swarm_destination_policy_check (policy, address, &error));
  g_assert_nonnull (strstr (error->message, "::ffff:127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "loopback"));
  g_assert_nonnull (strstr (error->message, "--allow-private"));
}

static void
test_check_error_article (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (FALSE);
  g_autoptr(GInetAddress) address = address_from_string ("::");
  g_autoptr(GError) error = NULL;

  g_assert_false (swarm_destination_policy_check (policy, address, &error));
  g_assert_nonnull (strstr (error->message, "destination :: is an unspecified address"));
}

static void
on_notify_cb (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  guint *count = user_data;

  (*count)++;
}

static void
test_property_allow_private (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = swarm_destination_policy_new (FALSE);
  g_autoptr(GInetAddress) address = address_from_string ("192.168.1.1");
  gboolean allow_private = TRUE;
  guint notified = 0;

  g_object_get (policy, "allow-private", &allow_private, NULL);
  g_assert_false (allow_private);
  g_assert_false (swarm_destination_policy_check (policy, address, NULL));

  g_signal_connect (policy, "notify::allow-private", G_CALLBACK (on_notify_cb), &notified);

  g_object_set (policy, "allow-private", TRUE, NULL);
  g_assert_true (swarm_destination_policy_get_allow_private (policy));
  g_assert_cmpuint (notified, ==, 1);
  g_assert_true (swarm_destination_policy_check (policy, address, NULL));

  /* Setting the same value again is not a change. */
  swarm_destination_policy_set_allow_private (policy, TRUE);
  g_assert_cmpuint (notified, ==, 1);

  swarm_destination_policy_set_allow_private (policy, FALSE);
  g_assert_cmpuint (notified, ==, 2);
  g_assert_false (swarm_destination_policy_check (policy, address, NULL));
}

static void
test_property_hint (void)
{
  g_autoptr(SwarmDestinationPolicy) policy = NULL;
  g_autofree char *hint = NULL;
  guint notified = 0;

  policy = g_object_new (SWARM_TYPE_DESTINATION_POLICY, "hint", "custom advice", NULL);
  g_assert_cmpstr (swarm_destination_policy_get_hint (policy), ==, "custom advice");

  g_signal_connect (policy, "notify::hint", G_CALLBACK (on_notify_cb), &notified);

  g_object_set (policy, "hint", "other advice", NULL);
  g_object_get (policy, "hint", &hint, NULL);
  g_assert_cmpstr (hint, ==, "other advice");
  g_assert_cmpuint (notified, ==, 1);

  /* Setting the same text again is not a change. */
  swarm_destination_policy_set_hint (policy, "other advice");
  g_assert_cmpuint (notified, ==, 1);

  g_object_set (policy, "hint", NULL, NULL);
  g_assert_cmpstr (swarm_destination_policy_get_hint (policy), ==,
                   SWARM_DESTINATION_POLICY_DEFAULT_HINT);
  g_assert_cmpuint (notified, ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/policy/classify/address-table", test_classify_table);
  g_test_add_func ("/policy/check/public-only-default", test_check_default_policy);
  g_test_add_func ("/policy/check/allow-private-all", test_check_allow_private);
  g_test_add_func ("/policy/check/error-message", test_check_error_message);
  g_test_add_func ("/policy/check/error-mapped-address", test_check_error_mapped_address);
  g_test_add_func ("/policy/check/default-hint", test_check_default_hint);
  g_test_add_func ("/policy/check/custom-hint", test_check_custom_hint);
  g_test_add_func ("/policy/property/hint", test_property_hint);
  g_test_add_func ("/policy/check/error-article", test_check_error_article);
  g_test_add_func ("/policy/property/allow-private", test_property_allow_private);

  return g_test_run ();
}
