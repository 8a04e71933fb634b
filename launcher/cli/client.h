/*
 * A blocking client for the user's tools (aic status, aic stop): finds the
 * head through the job directory's `head` and `token` files, introduces
 * itself with the token, sends one request and reads one reply.
 */
#ifndef AIC_CLI_CLIENT_H
#define AIC_CLI_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Sends `msg` (borrowed; NULL for an empty object) as `type` to the head of
 * the job in `jobdir`. When reply_type is not 0, waits (up to 10 s) for a
 * frame of that type and returns its object in *reply (the caller's).
 * Returns 0, or -errno / AIC_EAUTH / AIC_EPROTO with a message in err.
 */
int client_request(const char *jobdir, uint16_t type, json_t *msg, uint16_t reply_type,
		   json_t **reply, char *err, size_t errlen);

#endif
