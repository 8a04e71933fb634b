/*
 * The CLI's connection to a job's head (aic status, aic stop): blocking, one
 * request and one reply per connection, as a tool that runs for a moment
 * needs nothing more than that.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "engine/jobdir.h"
#include "error.h"
#include "token.h"
#include "wire.h"

static int send_frame(int fd, uint16_t type, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t n = text ? strlen(text) : 0, off = 0;
	uint8_t *buf = malloc(AIC_WIRE_HEADER + n);
	int rc = 0;

	if (!text || !buf) {
		free(text);
		free(buf);
		return -ENOMEM;
	}
	aic_wire_header(buf, type, (uint32_t)n);
	memcpy(buf + AIC_WIRE_HEADER, text, n);
	while (off < AIC_WIRE_HEADER + n) {
		ssize_t w = write(fd, buf + off, AIC_WIRE_HEADER + n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(text);
	free(buf);
	return rc;
}

/* Reads frames until one of `want` arrives (REJECT ends it too). */
static int read_frame(int fd, uint16_t want, json_t **out, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -ETIMEDOUT;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct aic_frame f;
		long used;
		ssize_t r;

		while ((used = aic_wire_decode(buf, len, &f)) > 0) {
			json_t *m = json_loadb((const char *)f.payload, f.length, 0, NULL);
			if (f.type == AIC_MSG_REJECT) {
				snprintf(err, errlen, "aic: the head refused the connection: %s",
					 m ? json_string_value(json_object_get(m, "error")) : "?");
				json_decref(m);
				rc = AIC_EAUTH;
				goto out;
			}
			if (f.type == want) {
				*out = m ? m : json_object();
				rc = 0;
				goto out;
			}
			json_decref(m);
			memmove(buf, buf + used, len - (size_t)used);
			len -= (size_t)used;
		}
		if (used < 0) {
			snprintf(err, errlen, "aic: the head spoke another protocol");
			rc = AIC_EPROTO;
			goto out;
		}
		if (poll(&p, 1, 10000) <= 0) {
			snprintf(err, errlen, "aic: the head did not answer within 10 s");
			goto out;
		}
		if (cap - len < 65536) {
			uint8_t *nb = realloc(buf, cap + 131072);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap += 131072;
		}
		r = read(fd, buf + len, cap - len);
		if (r <= 0) {
			snprintf(err, errlen, "aic: the head closed the connection");
			rc = -ECONNRESET;
			goto out;
		}
		len += (size_t)r;
	}
out:
	free(buf);
	return rc;
}

int client_request(const char *jobdir, uint16_t type, json_t *msg, uint16_t reply_type,
		   json_t **reply, char *err, size_t errlen)
{
	char path[PATH_MAX + 16], head[128], token[AIC_TOKEN_LEN + 1], *colon, why[256];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	json_t *hello, *empty = NULL, *w = NULL;
	FILE *f;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/token", jobdir);
	rc = aic_token_read(path, token);
	if (rc) {
		snprintf(err, errlen, "aic: cannot read the job token '%s': %s", path, aic_strerror(rc));
		return rc;
	}
	/* The token goes to this address: only a head file of this user's is believed. */
	f = jobdir_open(jobdir, "head", &rc);
	if (!f && rc == -EPERM) {
		snprintf(err, errlen, "aic: '%s/head' is not a file of yours: not trusted", jobdir);
		return rc;
	}
	if (!f || !fgets(head, sizeof(head), f) || !(colon = strrchr(head, ':'))) {
		if (f)
			fclose(f);
		snprintf(err, errlen, "aic: the job in '%s' has no head address (not started?)", jobdir);
		return -ENOENT;
	}
	fclose(f);
	*colon = '\0';
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, head, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "aic: bad head address '%s'", head);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "aic: cannot reach the head at %s:%s: %s (has the job ended?)", head,
			 colon + 1, aic_strerror(rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* Both sides prove the token; it never travels (lib/auth.h). */
	hello = json_pack("{s:s}", "role", "cli");
	rc = hello ? aic_auth_client(fd, token, hello, 10000, &w, why, sizeof(why)) : -ENOMEM;
	json_decref(hello);
	if (rc)
		snprintf(err, errlen, "aic: cannot authenticate with the head at %s:%s: %s", head,
			 colon + 1, rc == AIC_EAUTH || rc == AIC_EPROTO ? why : aic_strerror(rc));
	json_decref(w);
	if (!msg)
		msg = empty = json_object();
	if (!rc)
		rc = send_frame(fd, type, msg);
	if (!rc && reply_type)
		rc = read_frame(fd, reply_type, reply, err, errlen);
	json_decref(empty);
	close(fd);
	return rc;
}
