/* swarm-token.h: secrets from the system CSPRNG and their comparison */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Random bytes in a token: 24 bytes are 192 bits, encoded as 32 characters
 * of unpadded base64url. */
#define SWARM_TOKEN_BYTES 24
/* Random bytes in a nonce: 16 bytes are 128 bits, encoded as 32 hex digits. */
#define SWARM_NONCE_BYTES 16

/* Fills `buffer` from the kernel's CSPRNG (getrandom(2), or /dev/urandom
 * where that call does not exist).  Never falls back to g_random_*. */
gboolean  swarm_random_bytes   (guint8      *buffer,
                                gsize        length,
                                GError     **error);

/* A fresh token: unpadded base64url, so it needs no escaping in a URL, a
 * shell word or a JSON string.  Aborts only if the CSPRNG cannot be read. */
char     *swarm_token_generate (void);
char     *swarm_nonce_generate (void);

/* Compares two NUL-terminated secrets in time that depends only on their
 * lengths, not on where they differ.  NULL equals nothing. */
gboolean  swarm_token_equal    (const char  *a,
                                const char  *b);

G_END_DECLS
