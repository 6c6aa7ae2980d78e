/* test-token.c: random secrets and their comparison
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <string.h>

#if defined(__linux__)
#include <stddef.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#endif

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

#if defined(__linux__)
/* Exit statuses of the child in test_random_bytes_fallback(). */
enum {
  CHILD_PASSED = 0,
  CHILD_FAILED = 1,
  CHILD_NO_SECCOMP = 77,
};

/* Runs in a forked child: makes getrandom(2) fail with `error_number`, as an
 * old kernel (ENOSYS) or a container's seccomp profile (EPERM) does, and
 * checks that swarm_random_bytes() still fills its buffer from /dev/urandom. */
static int
run_without_getrandom (int error_number)
{
  struct sock_filter filter[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, __NR_getrandom, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((guint) error_number & SECCOMP_RET_DATA)),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = { G_N_ELEMENTS (filter), filter };
  guint8 buffer[64] = { 0 };
  guint8 probe;
  guint zeros = 0;

  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
    return CHILD_NO_SECCOMP;

  /* The filter must really be in force, or the test proves nothing. */
  if (syscall (__NR_getrandom, &probe, 1, 0) != -1 || errno != error_number)
    return CHILD_FAILED;

  if (!swarm_random_bytes (buffer, sizeof buffer, NULL))
    return CHILD_FAILED;

  for (gsize i = 0; i < sizeof buffer; i++)
    zeros += buffer[i] == 0;

  /* 64 random bytes are all zero with probability 2^-512. */
  return zeros < sizeof buffer ? CHILD_PASSED : CHILD_FAILED;
}

static void
test_random_bytes_fallback (void)
{
  static const int error_numbers[] = { ENOSYS, EPERM };

  for (guint i = 0; i < G_N_ELEMENTS (error_numbers); i++)
    {
      int status = 0;
      pid_t pid;

      g_test_message ("getrandom fails with %s", g_strerror (error_numbers[i]));

      /* A plain fork(), because the seccomp filter must not reach this
       * process and g_test_trap_subprocess() would start a helper thread. */
      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        _exit (run_without_getrandom (error_numbers[i]));

      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_assert_true (WIFEXITED (status));

      if (WEXITSTATUS (status) == CHILD_NO_SECCOMP)
        {
          g_test_skip ("seccomp filters are not available here");
          return;
        }
      g_assert_cmpint (WEXITSTATUS (status), ==, CHILD_PASSED);
    }
}
#endif

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
#if defined(__linux__)
  g_test_add_func ("/token/random-bytes/urandom-fallback", test_random_bytes_fallback);
#endif
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
