/*
 * An agent's registration with the head (launcher/engine/head.c, wire.h's
 * REGISTER), against a real head: the engine of a two-node job runs in a
 * child process (engine_run; its own agent is rank 0), and the test is the
 * other agent, over a real socket and the real handshake
 * (aic_auth_client). REGISTER comes after WELCOME, so a large one (the
 * 8-GPU HGX fixture's topology and 64 ports, over the 4 KiB cap before
 * WELCOME) is taken and the job placed; REGISTER from `aic status`'s kind
 * of connection, a second one, or one whose rank is not its HELLO's is
 * refused (REJECT, a line in the head's log saying why); HELLO for a rank
 * out of range or already held is refused too.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "aic_test.h"
#include "auth.h"
#include "engine.h"
#include "error.h"
#include "jobdir.h"
#include "spec.h"
#include "topo.h"
#include "topo_json.h"
#include "wire.h"

static const char token[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* A head in a child process: its port and where its log goes. */
struct head {
	pid_t pid;
	int port;
	char dir[PATH_MAX];
	char log[PATH_MAX + 16];
};

static const char *fixture(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/fixtures/topo/%s", getenv("AIC_SRC_DIR") ?: "..", name);
	return buf;
}

static int publish(int port, void *arg)
{
	int fd = *(int *)arg;

	return write(fd, &port, sizeof(port)) == sizeof(port) ? 0 : -1;
}

/* The child: a head for two nodes and its own agent (rank 0), logging to h->log. */
static void run_head(struct head *h, int pipe_fd)
{
	char spec_path[PATH_MAX + 16], xml[PATH_MAX], jobdir[PATH_MAX], *errors = NULL;
	struct aic_spec *spec = NULL;
	struct aic_topo *topo = NULL;
	struct engine_opts o = {0};
	FILE *f;
	int log;

	log = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(100);
	snprintf(spec_path, sizeof(spec_path), "%s/job.yaml", h->dir);
	f = fopen(spec_path, "w");
	if (!f)
		_exit(101);
	fputs("name: register\nstages:\n  w: {command: [sleep, '1000'], replicas: 2, cpus: 0}\n", f);
	fclose(f);
	if (aic_spec_load(spec_path, &spec, &errors) != 0 ||
	    aic_topo_load_xml(fixture("cpu-only.xml", xml, sizeof(xml)), &topo, &errors) != 0 ||
	    jobdir_create(h->dir, "register", token, jobdir, sizeof(jobdir)) != 0) {
		fprintf(stderr, "test: %s\n", errors ? errors : "no job directory");
		_exit(102);
	}
	o.is_head = true;
	o.local = true;
	o.spec = spec;
	o.jobdir = jobdir;
	o.n_nodes = 2;
	o.listen_addr = "127.0.0.1";
	o.token = token;
	o.rank = 0;
	o.node = "node0";
	o.addr = "127.0.0.1";
	o.topo = topo;
	o.publish = publish;
	o.publish_arg = &pipe_fd;
	_exit(engine_run(&o));
}

static void head_start(struct head *h)
{
	int p[2];
	ssize_t n;

	snprintf(h->dir, sizeof(h->dir), "%s/aic-test-register.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	assert_non_null(mkdtemp(h->dir));
	snprintf(h->log, sizeof(h->log), "%s/head.log", h->dir);
	assert_int_equal(pipe(p), 0);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		close(p[0]);
		run_head(h, p[1]);
	}
	close(p[1]);
	n = read(p[0], &h->port, sizeof(h->port));
	close(p[0]);
	assert_int_equal(n, sizeof(h->port));
}

/* The head's exit status once it has ended on its own. */
static int head_wait(struct head *h)
{
	int ws = 0;

	assert_int_equal(waitpid(h->pid, &ws, 0), h->pid);
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Stops the head if it still runs (pid > 0) and removes its directory. */
static void head_stop(struct head *h)
{
	char cmd[PATH_MAX + 16];

	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		head_wait(h);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	assert_int_equal(system(cmd), 0);
}

/* Whether the head's log has a line with both needles. */
static bool logged(const struct head *h, const char *a, const char *b)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(h->log, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, a) && strstr(line, b);
	if (f)
		fclose(f);
	if (!found)
		print_error("no line with '%s' and '%s' in %s\n", a, b, h->log);
	return found;
}

/* A connection that has had its WELCOME (rc 0), or the handshake's error and its reason. */
static int dial(const struct head *h, const char *role, int rank, int *fd, char *err, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
	json_t *hello = json_pack("{s:s}", "role", role), *welcome = NULL;
	int rc;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (rank >= 0)
		json_object_set_new(hello, "rank", json_integer(rank));
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*fd >= 0);
	assert_int_equal(connect(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	rc = aic_auth_client(*fd, token, hello, 60000, &welcome, err, len);
	json_decref(hello);
	json_decref(welcome);
	return rc;
}

static size_t send_json(int fd, uint16_t type, json_t *m)
{
	char *text = json_dumps(m, JSON_COMPACT);
	size_t n = strlen(text);
	uint8_t hdr[AIC_WIRE_HEADER];

	aic_wire_header(hdr, type, (uint32_t)n);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	free(text);
	return n;
}

static bool read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		/* Not a timing check: a bound on a hang, far above any run's time. */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;
		if (poll(&p, 1, 120000) != 1)
			return false;
		k = read(fd, buf + got, len - got);
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

/*
 * Reads frames until one of type `want`: its JSON (the caller's), or NULL
 * when the connection closed first.
 */
static json_t *recv_until(int fd, uint16_t want)
{
	uint8_t hdr[AIC_WIRE_HEADER];

	for (;;) {
		uint32_t n;
		uint16_t type;
		char *payload;
		json_t *m;
		if (!read_all(fd, hdr, sizeof(hdr)))
			return NULL;
		type = (uint16_t)(hdr[4] << 8 | hdr[5]);
		n = aic_get_u32(hdr + 8);
		payload = malloc(n + 1);
		assert_non_null(payload);
		if (!read_all(fd, (uint8_t *)payload, n)) {
			free(payload);
			return NULL;
		}
		m = type == want ? json_loadb(payload, n, 0, NULL) : NULL;
		free(payload);
		if (type == want)
			return m ? m : json_object();
	}
}

/* What a real agent of rank `rank` registers: the HGX fixture's topology and 64 ports. */
static json_t *registration(int rank)
{
	char xml[PATH_MAX], *errors = NULL;
	struct aic_topo *topo = NULL;
	json_t *ports = json_array(), *m;
	int i;

	assert_int_equal(aic_topo_load_xml(fixture("hgx-h100-8gpu.xml", xml, sizeof(xml)), &topo,
					   &errors),
			 0);
	for (i = 0; i < 64; i++)
		json_array_append_new(ports, json_integer(40000 + i));
	m = json_pack("{s:i,s:s,s:s,s:i,s:o,s:n,s:s,s:o}", "rank", rank, "node", "node1", "addr",
		      "127.0.0.1", "port", 1, "topo", aic_topo_to_json(topo), "gpus", "cpus", "",
		      "ports", ports);
	aic_topo_free(topo);
	return m;
}

static void expect_reject(int fd, const char *why)
{
	json_t *m = recv_until(fd, AIC_MSG_REJECT);

	assert_non_null(m);
	if (!strstr(json_string_value(json_object_get(m, "error")) ?: "", why))
		fail_msg("REJECT says '%s', not '%s'", json_string_value(json_object_get(m, "error")),
			 why);
	json_decref(m);
}

/* The big registration is taken after WELCOME; a second REGISTER is refused. */
static void register_twice(void **state)
{
	struct head h;
	char err[256];
	json_t *reg = registration(1), *config;
	int fd;

	(void)state;
	head_start(&h);
	assert_int_equal(dial(&h, "agent", 1, &fd, err, sizeof(err)), 0);
	assert_true(send_json(fd, AIC_MSG_REGISTER, reg) > AIC_AUTH_FRAME_MAX);
	config = recv_until(fd, AIC_MSG_CONFIG);
	assert_non_null(config); /* every agent registered: the job is placed */
	json_decref(config);
	send_json(fd, AIC_MSG_REGISTER, reg);
	expect_reject(fd, "agent 1 is already registered");
	assert_true(logged(&h, "refused REGISTER from 127.0.0.1:", "agent 1 is already registered"));
	close(fd);
	json_decref(reg);
	head_stop(&h);
}

/* REGISTER for another rank than HELLO's is refused, and the job cannot go on without it. */
static void register_bad_rank(void **state)
{
	struct head h;
	char err[256];
	json_t *reg = registration(0);
	int fd;

	(void)state;
	head_start(&h);
	assert_int_equal(dial(&h, "agent", 1, &fd, err, sizeof(err)), 0);
	send_json(fd, AIC_MSG_REGISTER, reg);
	expect_reject(fd, "rank 0, but its HELLO said 1");
	assert_true(logged(&h, "refused REGISTER from 127.0.0.1:", "rank 0, but its HELLO said 1"));
	close(fd);
	assert_int_equal(head_wait(&h), 1);
	assert_true(logged(&h, "job failed", "the agent of rank 1 (from 127.0.0.1:"));
	json_decref(reg);
	h.pid = 0;
	head_stop(&h);
}

/* REGISTER from a connection that is not an agent's; the job is then placed as usual. */
static void register_not_agent(void **state)
{
	struct head h;
	char err[256];
	json_t *reg = registration(1), *config;
	int fd, agent;

	(void)state;
	head_start(&h);
	assert_int_equal(dial(&h, "cli", -1, &fd, err, sizeof(err)), 0);
	send_json(fd, AIC_MSG_REGISTER, reg);
	expect_reject(fd, "not an agent's connection");
	assert_true(logged(&h, "refused REGISTER from 127.0.0.1:", "not an agent's connection"));
	close(fd);
	assert_int_equal(dial(&h, "agent", 1, &agent, err, sizeof(err)), 0);
	send_json(agent, AIC_MSG_REGISTER, reg);
	config = recv_until(agent, AIC_MSG_CONFIG);
	assert_non_null(config);
	json_decref(config);
	close(agent);
	json_decref(reg);
	head_stop(&h);
}

/* HELLO for a rank out of range, or one another connection holds. */
static void hello_bad_rank(void **state)
{
	struct head h;
	char err[256];
	int fd, second, third;

	(void)state;
	head_start(&h);
	assert_int_equal(dial(&h, "agent", 1, &fd, err, sizeof(err)), 0);
	assert_int_equal(dial(&h, "agent", 1, &second, err, sizeof(err)), AIC_EAUTH);
	assert_true(logged(&h, "refused an agent from 127.0.0.1:", "rank 1 is already connected"));
	assert_int_equal(dial(&h, "agent", 2, &third, err, sizeof(err)), AIC_EAUTH);
	assert_true(logged(&h, "refused an agent from 127.0.0.1:", "rank 2 is not one of this job's 2"));
	close(second);
	close(third);
	close(fd);
	head_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_twice),
		cmocka_unit_test(register_bad_rank),
		cmocka_unit_test(register_not_agent),
		cmocka_unit_test(hello_bad_rank),
	};

	signal(SIGPIPE, SIG_IGN);
	return aic_test_run(tests);
}
