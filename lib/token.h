/*
 * The job token: 32 random bytes as 64 hex digits, made by the head (rank 0)
 * and shared with agents through PMIx and with the user's tools through a
 * 0600 file in the 0700 job directory. Every connection to a head or an
 * agent proves it, or a credential derived from it, without sending it
 * (lib/auth.h); workers get only their stage's credential.
 */
#ifndef AIC_TOKEN_H
#define AIC_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define AIC_TOKEN_LEN 64

/* Fills buf[AIC_TOKEN_LEN + 1] with a new token. Returns 0 or -errno. */
int aic_token_new(char *buf);

/* Compares in time independent of where a and b differ. */
bool aic_token_equal(const char *a, const char *b);

/* Writes the token to path with mode 0600 (failing if it exists). Returns 0 or -errno. */
int aic_token_write(const char *path, const char *token);

/* Reads a token from path into buf[AIC_TOKEN_LEN + 1]. Returns 0, -errno or AIC_EAUTH. */
int aic_token_read(const char *path, char *buf);

#endif
