/* swarm-token.c: secrets from the system CSPRNG and their comparison
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* engine/meson.build sets one domain for the whole library, but each module logs under its own. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "swarm-token"

#include "swarm-token.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#ifdef G_OS_WIN32
/* BCryptGenRandom() from bcrypt.dll, which engine/meson.build links on
 * Windows.  It has been there since Windows Vista. */
#include <windows.h>
#include <bcrypt.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

/* getrandom(2) has been in Linux since 3.17 and in glibc since 2.25. */
#if defined(__linux__)
#include <sys/random.h>
#define SWARM_HAVE_GETRANDOM 1
#endif

/* Writes zeros through a volatile pointer, so that the compiler cannot drop the
 * stores as dead before the buffer is freed or goes out of scope. */
static void
wipe_bytes (guint8 *buffer,
            gsize   length)
{
  volatile guint8 *p = buffer;

  for (gsize i = 0; i < length; i++)
    p[i] = 0;
}

#ifdef G_OS_WIN32
static gboolean
read_bcrypt (guint8  *buffer,
             gsize    length,
             GError **error)
{
  gsize done = 0;

  /* The length parameter is a ULONG, 32 bits on Windows, so a larger
   * request goes in several calls. */
  while (done < length)
    {
      ULONG n = (ULONG) MIN (length - done, (gsize) G_MAXUINT32);
      NTSTATUS status = BCryptGenRandom (NULL, buffer + done, n,
                                         BCRYPT_USE_SYSTEM_PREFERRED_RNG);

      if (!BCRYPT_SUCCESS (status))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "Failed to read random bytes with BCryptGenRandom: NTSTATUS 0x%08lx",
                       (unsigned long) status);
          return FALSE;
        }

      done += n;
    }

  return TRUE;
}
#else
static gboolean
read_urandom (guint8  *buffer,
              gsize    length,
              GError **error)
{
  gsize done = 0;
  int fd;

  do
    fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);

  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Failed to open /dev/urandom: %s", g_strerror (saved_errno));
      return FALSE;
    }

  while (done < length)
    {
      gssize n = read (fd, buffer + done, length - done);

      if (n < 0 && errno == EINTR)
        continue;

      if (n <= 0)
        {
          int saved_errno = n < 0 ? errno : EIO;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Failed to read /dev/urandom: %s",
                       n < 0 ? g_strerror (saved_errno) : "unexpected end of file");
          g_close (fd, NULL);
          return FALSE;
        }

      done += (gsize) n;
    }

  g_close (fd, NULL);
  return TRUE;
}
#endif /* G_OS_WIN32 */

gboolean
swarm_random_bytes (guint8  *buffer,
                    gsize    length,
                    GError **error)
{
  g_return_val_if_fail (buffer != NULL || length == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

#ifdef SWARM_HAVE_GETRANDOM
  {
    gsize done = 0;

    /* Flags 0 blocks only until the kernel pool is first seeded, then reads
     * from the same source as /dev/urandom.  A signal can cut a read of more
     * than 256 bytes short, hence the loop. */
    while (done < length)
      {
        gssize n = getrandom (buffer + done, length - done, 0);

        if (n < 0 && errno == EINTR)
          continue;

        /* Kernels older than 3.17, and some seccomp sandboxes, lack the call. */
        if (n < 0 && (errno == ENOSYS || errno == EPERM))
          return read_urandom (buffer, length, error);

        if (n < 0)
          {
            int saved_errno = errno;

            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                         "Failed to read random bytes with getrandom: %s",
                         g_strerror (saved_errno));
            return FALSE;
          }

        done += (gsize) n;
      }

    return TRUE;
  }
#elif defined(G_OS_WIN32)
  return read_bcrypt (buffer, length, error);
#else
  return read_urandom (buffer, length, error);
#endif
}

static void
random_bytes_or_abort (guint8 *buffer,
                       gsize   length)
{
  g_autoptr(GError) error = NULL;

  /* Without a working CSPRNG no secret can be made.  A weaker source would
   * hand out guessable tokens, so the process stops instead. */
  if (!swarm_random_bytes (buffer, length, &error))
    g_error ("Cannot generate a secret: %s", error->message);
}

char *
swarm_token_generate (void)
{
  guint8 bytes[SWARM_TOKEN_BYTES];
  char *token;
  char *out;

  random_bytes_or_abort (bytes, sizeof bytes);
  token = g_base64_encode (bytes, sizeof bytes);
  wipe_bytes (bytes, sizeof bytes);

  /* Standard base64 to base64url (RFC 4648, section 5) without padding.
   * SWARM_TOKEN_BYTES is a multiple of 3, so no '=' appears, but dropping
   * them keeps the result right if the size ever changes. */
  out = token;
  for (const char *in = token; *in != '\0'; in++)
    {
      if (*in == '=')
        continue;
      if (*in == '+')
        *out++ = '-';
      else if (*in == '/')
        *out++ = '_';
      else
        *out++ = *in;
    }
  *out = '\0';

  return token;
}

char *
swarm_nonce_generate (void)
{
  static const char hex_digits[] = "0123456789abcdef";
  guint8 bytes[SWARM_NONCE_BYTES];
  char *nonce = g_malloc (SWARM_NONCE_BYTES * 2 + 1);

  random_bytes_or_abort (bytes, sizeof bytes);

  for (gsize i = 0; i < SWARM_NONCE_BYTES; i++)
    {
      nonce[2 * i] = hex_digits[bytes[i] >> 4];
      nonce[2 * i + 1] = hex_digits[bytes[i] & 0x0f];
    }
  nonce[SWARM_NONCE_BYTES * 2] = '\0';

  wipe_bytes (bytes, sizeof bytes);
  return nonce;
}

gboolean
swarm_token_equal (const char *a,
                   const char *b)
{
  gsize length_a;
  gsize length_b;
  gsize length;
  volatile guint8 difference = 0;

  if (a == NULL || b == NULL)
    return FALSE;

  length_a = strlen (a);
  length_b = strlen (b);
  length = MAX (length_a, length_b);

  /* Runs over the longer string and compares past the end of the shorter one
   * against zero bytes, so the loop never exits early on content, only its
   * length depends on the inputs' lengths. */
  for (gsize i = 0; i < length; i++)
    {
      guint8 byte_a = i < length_a ? (guint8) a[i] : 0;
      guint8 byte_b = i < length_b ? (guint8) b[i] : 0;

      difference |= byte_a ^ byte_b;
    }

  return difference == 0 && length_a == length_b;
}
