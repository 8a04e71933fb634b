/*
 * A server's Unix domain socket (aic_server_listen_unix, conn.h): the same
 * connections as its TCP port, for processes on its node. Its connections
 * are tcp.c's stream links over a uv_pipe_t; the handshake and the framing
 * are conn.c's, as over TCP.
 *
 * The socket is in the abstract namespace: it has no file, so nothing is
 * left behind by an agent that dies, no path length or shared job
 * directory gets in the way, and it belongs to the network namespace the
 * server runs in. Who can reach it is who can reach the loopback TCP port:
 * the processes in that namespace (not a sandbox with a network namespace
 * of its own), each of them still proving the key before anything else.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

static void on_connection(uv_stream_t *server, int status)
{
	struct aic_server *srv = server->data;
	struct aic_conn *c;

	if (status < 0)
		return;
	c = aic__stream_accept(server, srv);
	if (c)
		snprintf(c->peer, sizeof(c->peer), "%s", srv->unix_name);
}

int aic_server_listen_unix(struct aic_server *srv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char nonce[AIC_AUTH_NONCE_LEN + 1];
	socklen_t len;
	int fd, rc;

	srv->unix_name[0] = '\0';
	rc = aic_auth_nonce(nonce);
	if (rc)
		return rc;
	/* sun_path[0] stays '\0': the abstract namespace; the name is what follows, unterminated. */
	len = (socklen_t)snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "aic-%s", nonce);
	len += (socklen_t)offsetof(struct sockaddr_un, sun_path) + 1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	uv_pipe_init(srv->tcp.loop, &srv->pipe, 0);
	srv->pipe.data = srv;
	rc = uv_pipe_open(&srv->pipe, fd);
	if (rc)
		close(fd); /* once opened, the handle owns fd: closing it closes fd */
	else
		rc = uv_listen((uv_stream_t *)&srv->pipe, 1024, on_connection);
	if (rc) {
		uv_close((uv_handle_t *)&srv->pipe, NULL);
		return rc;
	}
	snprintf(srv->unix_name, sizeof(srv->unix_name), "@aic-%s", nonce);
	return 0;
}

void aic__unix_stop(struct aic_server *srv)
{
	if (srv->unix_name[0] && !uv_is_closing((uv_handle_t *)&srv->pipe))
		uv_close((uv_handle_t *)&srv->pipe, NULL);
}
