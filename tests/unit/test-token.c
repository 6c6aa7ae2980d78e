/* test-token.c: random secrets and their comparison
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "swarm-token.h"

/* Draws per uniqueness test: enough to catch a constant or badly seeded
 * generator, small enough to stay well under a second. */
#define N_DRAWS 2000

static gboolean
is_base64url_char (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_';
}

static void
test_random_bytes_fill (void)
{
  guint8 buffer[4096];
  g_autoptr(GError) error = NULL;
  gboolean filled;
  guint zeros = 0;

  memset (buffer, 0, sizeof buffer);
  filled = swarm_random_bytes (buffer, sizeof buffer, &error);
  g_assert_no_error (error);
  g_assert_true (filled);

  /* About 16 of 4096 random bytes are zero, so far more means the buffer
   * was not written. */
  for (gsize i = 0; i < sizeof buffer; i++)
    zeros += buffer[i] == 0;
  g_assert_cmpuint (zeros, <, 200);
}

static void
test_random_bytes_empty (void)
{
  g_autoptr(GError) error = NULL;
  gboolean filled;

  filled = swarm_random_bytes (NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_true (filled);
}

static void
test_token_length (void)
{
  g_autofree char *token = swarm_token_generate ();

  g_assert_cmpuint (strlen (token), ==, 32);
  g_assert_cmpuint (strlen (token), ==, (SWARM_TOKEN_BYTES * 4 + 2) / 3);
}

static void
test_token_alphabet (void)
{
  for (guint draw = 0; draw < 200; draw++)
    {
      g_autofree char *token = swarm_token_generate ();

      for (const char *p = token; *p != '\0'; p++)
        {
          if (!is_base64url_char (*p))
            g_error ("token character '%c' is outside the base64url alphabet", *p);
        }
      g_assert_null (strchr (token, '='));
    }
}

static void
test_token_uniqueness (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint draw = 0; draw < N_DRAWS; draw++)
    {
      char *token = swarm_token_generate ();

      g_assert_false (g_hash_table_contains (seen, token));
      g_hash_table_add (seen, token);
    }

  g_assert_cmpuint (g_hash_table_size (seen), ==, N_DRAWS);
}

static void
test_nonce_format (void)
{
  for (guint draw = 0; draw < 200; draw++)
    {
      g_autofree char *nonce = swarm_nonce_generate ();

      g_assert_cmpuint (strlen (nonce), ==, SWARM_NONCE_BYTES * 2);
      for (const char *p = nonce; *p != '\0'; p++)
        {
          if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
            g_error ("nonce character '%c' is not a lowercase hex digit", *p);
        }
    }
}

static void
test_nonce_uniqueness (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint draw = 0; draw < N_DRAWS; draw++)
    {
      char *nonce = swarm_nonce_generate ();

      g_assert_false (g_hash_table_contains (seen, nonce));
      g_hash_table_add (seen, nonce);
    }

  g_assert_cmpuint (g_hash_table_size (seen), ==, N_DRAWS);
}

static void
test_equal_same (void)
{
  g_autofree char *token = swarm_token_generate ();
  g_autofree char *copy = g_strdup (token);

  g_assert_true (swarm_token_equal (token, copy));
  g_assert_true (swarm_token_equal ("", ""));
}

static void
test_equal_different (void)
{
  g_assert_false (swarm_token_equal ("abcdef", "abcdeg"));
  g_assert_false (swarm_token_equal ("abcdef", "bbcdef"));
  g_assert_false (swarm_token_equal ("abcdef", "ABCDEF"));
}

static void
test_equal_different_length (void)
{
  g_assert_false (swarm_token_equal ("abc", "abcd"));
  g_assert_false (swarm_token_equal ("abcd", "abc"));
  g_assert_false (swarm_token_equal ("", "a"));
  g_assert_false (swarm_token_equal ("a", ""));
}

static void
test_equal_null (void)
{
  g_assert_false (swarm_token_equal (NULL, "abc"));
  g_assert_false (swarm_token_equal ("abc", NULL));
  g_assert_false (swarm_token_equal (NULL, NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/token/random-bytes/fill", test_random_bytes_fill);
  g_test_add_func ("/token/random-bytes/empty", test_random_bytes_empty);
  g_test_add_func ("/token/generate/length", test_token_length);
  g_test_add_func ("/token/generate/base64url-alphabet", test_token_alphabet);
  g_test_add_func ("/token/generate/unique-draws", test_token_uniqueness);
  g_test_add_func ("/token/nonce/lowercase-hex", test_nonce_format);
  g_test_add_func ("/token/nonce/unique-draws", test_nonce_uniqueness);
  g_test_add_func ("/token/equal/same", test_equal_same);
  g_test_add_func ("/token/equal/different", test_equal_different);
  g_test_add_func ("/token/equal/different-length", test_equal_different_length);
  g_test_add_func ("/token/equal/null", test_equal_null);

  return g_test_run ();
}
