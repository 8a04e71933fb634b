/*
 * Mutual authentication over a shared key (auth.h): nonces, proofs,
 * worker credentials, and the blocking client's side of the handshake
 * that libaic's workers and the CLI use.
 */
#include "config.h"

#include <errno.h>
#include <nettle/hmac.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth.h"
#include "error.h"
#include "wire.h"

static void hex(const uint8_t *raw, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

int aic_auth_random_hex(char *out, size_t digits)
{
	uint8_t raw[64];

	if (digits % 2 || digits / 2 > sizeof(raw))
		return -EINVAL;
	if (getrandom(raw, digits / 2, 0) != (ssize_t)(digits / 2))
		return -errno;
	hex(raw, digits / 2, out);
	return 0;
}

int aic_auth_nonce(char *out)
{
	return aic_auth_random_hex(out, AIC_AUTH_NONCE_LEN);
}

bool aic_auth_nonce_valid(const char *s)
{
	size_t i;

	if (!s || strnlen(s, AIC_AUTH_NONCE_LEN + 1) != AIC_AUTH_NONCE_LEN)
		return false;
	for (i = 0; i < AIC_AUTH_NONCE_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void mac(const char *key, const char *const *parts, size_t n, char *out)
{
	struct hmac_sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	size_t i;

	hmac_sha256_set_key(&ctx, strlen(key), (const uint8_t *)key);
	for (i = 0; i < n; i++)
		hmac_sha256_update(&ctx, strlen(parts[i]), (const uint8_t *)parts[i]);
	hmac_sha256_digest(&ctx, sizeof(digest), digest);
	hex(digest, sizeof(digest), out);
}

void aic_auth_proof(const char *key, const char *side, const char *cn, const char *sn, char *out)
{
	const char *parts[] = {"aic-", side, "|", cn, "|", sn};

	mac(key, parts, 6, out);
}

void aic_auth_worker_key(const char *token, const char *stage, char *out)
{
	const char *parts[] = {"aic-worker|", stage};

	mac(token, parts, 2, out);
}

bool aic_auth_equal(const char *a, const char *b, size_t n)
{
	unsigned char diff = 0;
	size_t i;

	if (!a || !b || strnlen(a, n) != n || strnlen(b, n) != n)
		return false;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* --- the blocking client ---------------------------------------------- */

static int send_json(int fd, uint16_t type, json_t *m)
{
	char *text = json_dumps(m, JSON_COMPACT);
	size_t n = text ? strlen(text) : 0, off = 0;
	uint8_t *buf;
	int rc = 0;

	if (!text || n > AIC_AUTH_FRAME_MAX) {
		free(text);
		return text ? -EMSGSIZE : -ENOMEM;
	}
	buf = malloc(AIC_WIRE_HEADER + n);
	if (!buf) {
		free(text);
		return -ENOMEM;
	}
	aic_wire_header(buf, type, (uint32_t)n);
	memcpy(buf + AIC_WIRE_HEADER, text, n);
	free(text);
	while (off < AIC_WIRE_HEADER + n) {
		ssize_t w = write(fd, buf + off, AIC_WIRE_HEADER + n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EPIPE;
			break;
		}
		off += (size_t)w;
	}
	free(buf);
	return rc;
}

static int read_exact(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, timeout_ms);
		ssize_t k;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		k = read(fd, buf + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 ? AIC_ECLOSED : -errno;
		got += (size_t)k;
	}
	return 0;
}

/*
 * One handshake frame: its type and JSON object (NULL when it has none). A
 * frame over `max` payload bytes is refused on its header.
 */
static int read_json(int fd, int timeout_ms, uint32_t max, uint16_t *type, json_t **m)
{
	uint8_t hdr[AIC_WIRE_HEADER], *payload;
	uint32_t n;
	int rc;

	*m = NULL;
	rc = read_exact(fd, hdr, AIC_WIRE_HEADER, timeout_ms);
	if (rc)
		return rc;
	n = aic_get_u32(hdr + 8);
	if (hdr[0] != 'A' || hdr[1] != 'I' || hdr[2] != 'C' || hdr[3] != AIC_WIRE_VERSION ||
	    n > max)
		return AIC_EPROTO;
	payload = malloc(n + 1);
	if (!payload)
		return -ENOMEM;
	rc = read_exact(fd, payload, n, timeout_ms);
	if (!rc) {
		*type = (uint16_t)(hdr[4] << 8 | hdr[5]);
		*m = json_loadb((const char *)payload, n, 0, NULL);
	}
	free(payload);
	return rc;
}

/* A REJECT: its reason in err; -EAGAIN when the server says to try again. */
static int rejected(json_t *m, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s",
		 m ? json_string_value(json_object_get(m, "error")) ?: "?" : "?");
	return json_is_true(json_object_get(m, "retry")) ? -EAGAIN : AIC_EAUTH;
}

int aic_auth_client(int fd, const char *key, json_t *hello, int timeout_ms, json_t **welcome,
		    char *err, size_t errlen)
{
	char cn[AIC_AUTH_NONCE_LEN + 1], proof[AIC_AUTH_PROOF_LEN + 1];
	json_t *h = NULL, *m = NULL, *a = NULL;
	const char *sn;
	uint16_t type;
	int rc;

	*welcome = NULL;
	snprintf(err, errlen, "the handshake failed");
	rc = aic_auth_nonce(cn);
	if (rc)
		return rc;
	h = hello ? json_deep_copy(hello) : json_object();
	if (!h || json_object_set_new(h, "nonce", json_string(cn)) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = send_json(fd, AIC_MSG_HELLO, h);
	if (!rc)
		rc = read_json(fd, timeout_ms, AIC_AUTH_FRAME_MAX, &type, &m);
	if (rc)
		goto out;
	if (type == AIC_MSG_REJECT) {
		rc = rejected(m, err, errlen);
		goto out;
	}
	sn = json_string_value(json_object_get(m, "nonce"));
	if (type != AIC_MSG_CHALLENGE || !aic_auth_nonce_valid(sn)) {
		snprintf(err, errlen, "the server sent %s, not CHALLENGE", aic_msg_name(type));
		rc = AIC_EPROTO;
		goto out;
	}
	aic_auth_proof(key, "server", cn, sn, proof);
	if (!aic_auth_equal(json_string_value(json_object_get(m, "proof")), proof,
			    AIC_AUTH_PROOF_LEN)) {
		snprintf(err, errlen, "the server does not know the job token");
		rc = AIC_EAUTH;
		goto out;
	}
	aic_auth_proof(key, "client", cn, sn, proof);
	a = json_pack("{s:s}", "proof", proof);
	rc = a ? send_json(fd, AIC_MSG_AUTH, a) : -ENOMEM;
	json_decref(m);
	m = NULL;
	/* The server has proved the key: its WELCOME may be large (channel names). */
	if (!rc)
		rc = read_json(fd, timeout_ms, AIC_WIRE_MAX_PAYLOAD, &type, &m);
	if (rc)
		goto out;
	if (type == AIC_MSG_REJECT) {
		rc = rejected(m, err, errlen);
	} else if (type != AIC_MSG_WELCOME) {
		snprintf(err, errlen, "the server sent %s, not WELCOME", aic_msg_name(type));
		rc = AIC_EPROTO;
	} else {
		*welcome = m ? m : json_object();
		m = NULL;
	}
out:
	json_decref(h);
	json_decref(m);
	json_decref(a);
	return rc;
}
