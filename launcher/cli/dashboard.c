/*
 * aic dashboard: one page for a running or ended job, served over HTTP by
 * libmicrohttpd. The page (launcher/dashboard/: index.html, dashboard.js,
 * dashboard.css, installed in $(pkgdatadir)/dashboard, no CDN) draws its
 * own SVG charts from the job directory's files, which it fetches through
 * /api/FILE?from=OFFSET: status.json, summary.json, events.jsonl and
 * metrics.jsonl, from a byte offset on, so that a live page only fetches
 * what was appended since (the next offset is in X-Aic-Next).
 *
 * Bound to 127.0.0.1 by default; with --listen off the loopback, every
 * request must carry ?key=KEY (the URL printed says it): an HMAC of the
 * job token that opens nothing else (doc/SECURITY.md).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_MHD
#include <microhttpd.h>
#endif

#include "auth.h"
#include "cli.h"
#include "engine/jobdir.h"
#include "token.h"

const char cmd_dashboard_usage[] =
	"aic dashboard [--job DIR] [--port P] [--listen ADDR]\n"
	"  --job DIR     the job directory (default: .aic/latest in this directory)\n"
	"  --port P      the port to serve on (default: 0, any free one; the URL is printed)\n"
	"  --listen ADDR the address to bind (default: 127.0.0.1; elsewhere the URL\n"
	"                carries a key, which every request needs)\n";

#ifdef HAVE_MHD

/* At most this much of a file per request: a live page asks again for the rest. */
#define CHUNK_MAX (8u << 20)

struct dash {
	char dir[PATH_MAX];    /* the job directory */
	char assets[PATH_MAX]; /* where index.html is */
	bool need_key;
	char key[AIC_AUTH_KEY_LEN + 1];
};

/* The page's files: the dashboard's own directory, else the source tree's (uninstalled). */
static int find_assets(char *buf, size_t len)
{
	const char *dirs[] = {getenv("AIC_DASHBOARD_DIR"), AIC_DASHBOARD_DIR,
			      AIC_DASHBOARD_SRC_DIR};
	char path[PATH_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		snprintf(path, sizeof(path), "%s/index.html", dirs[i]);
		if (access(path, R_OK) == 0) {
			snprintf(buf, len, "%s", dirs[i]);
			return 0;
		}
	}
	return -ENOENT;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     char *body, size_t len, long long next)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;
	char n[32];

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (next >= 0) {
		snprintf(n, sizeof(n), "%lld", next);
		MHD_add_response_header(r, "X-Aic-Next", n);
	}
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	char *b = strdup(msg);

	return b ? reply(conn, status, "text/plain; charset=utf-8", b, strlen(b), -1) : MHD_NO;
}

/* Bytes [from, from + CHUNK_MAX) of f, or NULL with *len 0 at its end. */
static char *read_from(FILE *f, long long from, size_t *len)
{
	char *b = malloc(CHUNK_MAX);
	size_t n;

	*len = 0;
	if (!b || fseeko(f, (off_t)from, SEEK_SET) != 0) {
		free(b);
		return NULL;
	}
	n = fread(b, 1, CHUNK_MAX, f);
	/* Only whole lines: the head may be writing the last one. */
	while (n > 0 && b[n - 1] != '\n')
		n--;
	*len = n;
	return b;
}

static enum MHD_Result api(struct dash *d, struct MHD_Connection *conn, const char *file)
{
	static const char *const files[] = {"status.json", "summary.json", "events.jsonl",
					    "metrics.jsonl"};
	const char *from_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
	long long from = from_s ? atoll(from_s) : 0;
	bool lines = strstr(file, ".jsonl") != NULL;
	size_t i, len = 0;
	char *body;
	FILE *f;
	int rc;

	for (i = 0; i < sizeof(files) / sizeof(*files) && strcmp(file, files[i]); i++)
		;
	if (i == sizeof(files) / sizeof(*files) || from < 0)
		return text(conn, MHD_HTTP_NOT_FOUND, "no such file\n");
	f = jobdir_open(d->dir, file, &rc);
	if (!f) /* not written yet (summary.json of a running job): empty */
		return reply(conn, MHD_HTTP_OK, "application/json", strdup(""), 0, from);
	if (lines) {
		body = read_from(f, from, &len);
	} else {
		struct stat st;
		body = fstat(fileno(f), &st) == 0 && st.st_size < CHUNK_MAX
			       ? malloc((size_t)st.st_size + 1)
			       : NULL;
		if (body)
			len = fread(body, 1, (size_t)st.st_size, f);
		from = 0;
	}
	fclose(f);
	if (!body)
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the file\n");
	return reply(conn, MHD_HTTP_OK, lines ? "application/x-ndjson" : "application/json", body,
		     len, from + (long long)len);
}

static enum MHD_Result asset(struct dash *d, struct MHD_Connection *conn, const char *url)
{
	static const struct {
		const char *url, *file, *type;
	} assets[] = {
		{"/", "index.html", "text/html; charset=utf-8"},
		{"/index.html", "index.html", "text/html; charset=utf-8"},
		{"/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"},
		{"/dashboard.css", "dashboard.css", "text/css; charset=utf-8"},
	};
	char path[PATH_MAX + 32], *body;
	size_t i, len;
	FILE *f;

	for (i = 0; i < sizeof(assets) / sizeof(*assets) && strcmp(url, assets[i].url); i++)
		;
	if (i == sizeof(assets) / sizeof(*assets))
		return text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	snprintf(path, sizeof(path), "%s/%s", d->assets, assets[i].file);
	f = fopen(path, "re");
	body = f ? read_from(f, 0, &len) : NULL;
	if (f)
		fclose(f);
	if (!body)
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the page\n");
	return reply(conn, MHD_HTTP_OK, assets[i].type, body, len, -1);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct dash *d = cls;
	const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (d->need_key && !aic_auth_equal(key, d->key, AIC_AUTH_KEY_LEN))
		return text(conn, MHD_HTTP_UNAUTHORIZED,
			    "the URL aic dashboard printed has the key\n");
	if (!strncmp(url, "/api/", 5))
		return api(d, conn, url + 5);
	return asset(d, conn, url);
}

/* The job's token, for the key a non-loopback dashboard wants. */
static int job_token(const char *dir, char *buf)
{
	int rc;
	FILE *f = jobdir_open(dir, "token", &rc);
	size_t n;

	if (!f)
		return rc;
	n = fread(buf, 1, AIC_TOKEN_LEN, f);
	fclose(f);
	buf[n] = '\0';
	return n == AIC_TOKEN_LEN ? 0 : -EINVAL;
}

static int serve(struct dash *d, const char *listen, int port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *mhd;
	sigset_t stop;
	int sig;

	if (inet_pton(AF_INET, listen, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		d->need_key = (ntohl(in4->sin_addr.s_addr) >> 24) != 127;
	} else if (inet_pton(AF_INET6, listen, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
		d->need_key = !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else {
		fprintf(stderr, "aic dashboard: '%s' is not an IPv4 or IPv6 address\n", listen);
		return 2;
	}
	if (d->need_key) {
		char token[AIC_TOKEN_LEN + 1];
		if (job_token(d->dir, token) != 0) {
			fprintf(stderr, "aic dashboard: cannot read the token of '%s'\n", d->dir);
			return 1;
		}
		aic_auth_worker_key(token, "|dashboard", d->key);
	}
	/* The server's thread must not take the signals that stop it: they are waited for here. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, answer, d, MHD_OPTION_SOCK_ADDR,
			       (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
			       MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!mhd) {
		fprintf(stderr, "aic dashboard: cannot listen on '%s' port %d: %s\n", listen, port,
			strerror(errno));
		return 1;
	}
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
	printf(strchr(listen, ':') ? "aic dashboard: http://[%s]:%d/%s%s\n"
				   : "aic dashboard: http://%s:%d/%s%s\n",
	       listen, info ? info->port : port, d->need_key ? "?key=" : "",
	       d->need_key ? d->key : "");
	fflush(stdout);
	sigwait(&stop, &sig);
	MHD_stop_daemon(mhd);
	return 0;
}
#endif

int cmd_dashboard(int argc, char **argv)
{
	static const struct option opts[] = {
		{"job", required_argument, NULL, 'J'},
		{"port", required_argument, NULL, 'p'},
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *given = NULL, *listen = "127.0.0.1";
	char err[512], *end;
	long port = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			given = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || end == optarg || port < 0 || port > 65535) {
				fprintf(stderr,
					"aic dashboard: --port '%s' is not a port (0 to 65535)\n",
					optarg);
				return 2;
			}
			break;
		case 'l':
			listen = optarg;
			break;
		case 'h':
			return cli_help(stdout, argv[0]);
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "aic dashboard: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
#ifdef HAVE_MHD
	{
		static struct dash d;
		if (jobdir_find(given, d.dir, sizeof(d.dir), err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		if (find_assets(d.assets, sizeof(d.assets)) != 0) {
			fprintf(stderr,
				"aic dashboard: cannot find the page (index.html) in '%s' or "
				"'%s' (AIC_DASHBOARD_DIR names another place)\n",
				AIC_DASHBOARD_DIR, AIC_DASHBOARD_SRC_DIR);
			return 1;
		}
		return serve(&d, listen, (int)port);
	}
#else
	(void)given;
	(void)listen;
	(void)err;
	fprintf(stderr, "aic dashboard: this aic was built without libmicrohttpd (configure "
			"--with-microhttpd)\n");
	return 1;
#endif
}
