/*
 * Mutual authentication over a shared key: the handshake every connection
 * to a head or an agent starts with, and the per-stage credential a worker
 * gets instead of the job token.
 *
 * The handshake (launcher/net/conn.h has it step by step): the client's
 * HELLO carries a nonce cn; the server answers CHALLENGE with its nonce sn
 * and proof_server = aic_auth_proof(key, "server", cn, sn); the client
 * checks it and answers AUTH with proof_client = aic_auth_proof(key,
 * "client", cn, sn); only then WELCOME. The key never travels, each side
 * proves it knows it, and a proof for one connection is worthless on
 * another (both nonces are in it) or in the other direction (the label).
 *
 * Keys, nonces and proofs are lowercase hex strings. HMAC-SHA256 is
 * nettle's; comparisons of secrets take the same time wherever they differ.
 */
#ifndef AIC_AUTH_H
#define AIC_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define AIC_AUTH_KEY_LEN   64 /* hex digits of a key (the job token or a credential) */
#define AIC_AUTH_NONCE_LEN 32 /* hex digits of a nonce (16 random bytes) */
#define AIC_AUTH_PROOF_LEN 64 /* hex digits of a proof (an HMAC-SHA256) */

/*
 * A frame before the handshake is over carries at most this many payload
 * bytes, so that a stranger's connection costs a server one such buffer
 * (AIC_NET_MAX_PENDING of them: 256 KiB together). Every HELLO, CHALLENGE,
 * AUTH and REJECT is a few hundred bytes at most; what an agent has (its
 * topology, free ports: 4.3 KiB on an 8-GPU node) goes in REGISTER, after
 * WELCOME (wire.h).
 */
#define AIC_AUTH_FRAME_MAX (4u << 10)

/*
 * Fills out[digits + 1] with `digits` random lowercase hex digits (an even
 * number, at most 128) from getrandom(). Returns 0, -EINVAL or -errno.
 * Nonces and the job token are made with it.
 */
int aic_auth_random_hex(char *out, size_t digits);

/* Fills out[AIC_AUTH_NONCE_LEN + 1] with a fresh nonce. Returns 0 or -errno. */
int aic_auth_nonce(char *out);

/* Whether s is a well-formed nonce (exactly AIC_AUTH_NONCE_LEN hex digits). */
bool aic_auth_nonce_valid(const char *s);

/*
 * out[AIC_AUTH_PROOF_LEN + 1] = hex(HMAC-SHA256(key, "aic-" side "|" cn "|" sn)),
 * side "server" or "client".
 */
void aic_auth_proof(const char *key, const char *side, const char *cn, const char *sn, char *out);

/*
 * A worker's credential (its AIC_TOKEN): out[AIC_AUTH_KEY_LEN + 1] =
 * hex(HMAC-SHA256(token, "aic-worker|" stage)). An agent, knowing the job
 * token, derives it again from the stage a worker's HELLO names; the
 * credential opens nothing else (not the head, not an agent as an agent),
 * and the job token cannot be recovered from it.
 */
void aic_auth_worker_key(const char *token, const char *stage, char *out);

/* Compares two strings of n bytes in time independent of where they differ; NULL is unequal. */
bool aic_auth_equal(const char *a, const char *b, size_t n);

/*
 * The client's side of the handshake on a blocking socket fd: sends HELLO
 * (`hello`, borrowed, with a nonce added), checks the server's proof,
 * proves the key, and waits for WELCOME, whose object is returned in
 * *welcome (the caller's to json_decref). Waits at most timeout_ms for
 * each frame. Reads exactly the handshake's frames, nothing after them.
 * Returns 0; AIC_EAUTH when the server refused (REJECT: its reason in
 * err) or failed to prove the key (then nothing more is sent to it);
 * -EAGAIN when the server dropped the connection but says to try again
 * (REJECT with "retry": true: pushed out by a flood, or too slow);
 * AIC_EPROTO for anything else it sent; -ETIMEDOUT; or -errno.
 */
int aic_auth_client(int fd, const char *key, json_t *hello, int timeout_ms, json_t **welcome,
		    char *err, size_t errlen);

#endif
