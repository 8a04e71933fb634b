#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent.h"
#include "conn.h"
#include "engine.h"
#include "head.h"
#include "log.h"
#include "process.h"

struct engine {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sigusr1;
	uv_prepare_t check;
	struct head *head;
	struct agent *agent;
	bool closing;
};

static void on_signal(uv_signal_t *s, int sig)
{
	struct engine *e = s->data;

	/* In a job that checkpoints, the first SIGTERM is a notice (drain.c, term.c). */
	if (e->head && !(sig == SIGTERM && head_term_notice(e->head)))
		head_terminate(e->head, sig == SIGINT ? "interrupted (SIGINT)" : "cancelled (SIGTERM)");
	if (e->agent)
		agent_terminate(e->agent, sig);
}

/*
 * SIGUSR1 is the notice of the job's end that leaves time to checkpoint:
 * SLURM's --signal=B:USR1@SECONDS before a time limit, forwarded by the
 * batch script aic submit writes, or preemption's. The head drains; an
 * agent only must not die of it.
 */
static void on_notice(uv_signal_t *s, int sig)
{
	struct engine *e = s->data;

	(void)sig;
	if (e->head)
		head_drain(e->head, "notice of the job's end (SIGUSR1)");
}

/* The head's view of its sources: rank 0's agent, in this process, feeds them. */
static json_t *source_progress(size_t chan, void *arg)
{
	struct engine *e = arg;

	return e->agent ? agent_source_progress(e->agent, chan) : NULL;
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * The head and the local agent each need the other: the head cannot
 * finish without its agent (it waits for it to register, or to go), and
 * an agent does nothing without a head. When one of them has ended on its
 * own (the head refused its agent, or the agent could not reach it), the
 * other is ended too, with the reason, instead of waiting forever.
 */
static void end_orphan(struct engine *e)
{
	char why[320];

	if (!e->head || !e->agent)
		return;
	if (agent_done(e->agent) && !head_ending(e->head)) {
		snprintf(why, sizeof(why), "the local agent ended: %s",
			 *agent_error(e->agent) ? agent_error(e->agent) : "it stopped first");
		head_fail(e->head, why);
	} else if (head_done(e->head) && !agent_done(e->agent)) {
		agent_stop(e->agent, "the head has ended");
	}
}

/* After every loop iteration: once head and agent are done, close everything. */
static void check_done(uv_prepare_t *p)
{
	struct engine *e = p->data;

	if (e->closing)
		return;
	end_orphan(e);
	if ((e->head && !head_done(e->head)) || (e->agent && !agent_done(e->agent)))
		return;
	e->closing = true;
	/* Connections free themselves in their close callbacks; then the rest. */
	aic_conn_close_all();
	uv_walk(&e->loop, close_any, NULL);
}

/*
 * The engine's loop runs as SCHED_BATCH (AIC_SCHED_BATCH=0: not): a
 * worker's frame that wakes it does not preempt the worker, which goes on
 * to its next frame or its next wait; the loop then runs on a core that is
 * free, or once the worker waits, and reads what came meanwhile in one
 * turn. With as many busy processes as cores (grpo-toy's five workers on
 * two), a wake-up that preempted the sender made every put of a stage a
 * pair of context switches between it and the agent. The loop still has
 * its fair share of the CPU and an idle core at once; only the tick, not
 * each wake-up, preempts a busy worker for it. Workers get the policy the
 * engine had (aic_spawn_set_policy). Only from the normal policy: one the
 * engine was started with on purpose (chrt) stays, for workers too.
 */
static void sched_batch(void)
{
	const char *v = getenv("AIC_SCHED_BATCH");
	struct sched_param sp = {0};

	if (v && strcmp(v, "0") == 0)
		return;
	if (v && strcmp(v, "1") != 0)
		aic_log_warn("AIC_SCHED_BATCH=\"%s\" is neither 0 nor 1: the default, 1, is used", v);
	if (sched_getscheduler(0) != SCHED_OTHER)
		return;
	if (sched_setscheduler(0, SCHED_BATCH, &sp) == 0)
		aic_spawn_set_policy(SCHED_OTHER);
	else
		aic_log_debug("SCHED_BATCH: %s (the loop keeps its policy)", strerror(errno));
}

int engine_run(const struct engine_opts *o)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct agent_config ac = {0};
	const char *head_host = o->head_host;
	int port = o->head_port, code = 1;
	char grace_env[16];

	if (!e)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Under a file-size limit (ulimit -f), growing the arena or a sink past
	 * it must fail with EFBIG, reported, not kill the engine; workers get
	 * the default back (lib/process.c).
	 */
	signal(SIGXFSZ, SIG_IGN);
	sched_batch();
	uv_loop_init(&e->loop);
	uv_signal_init(&e->loop, &e->sigterm);
	uv_signal_init(&e->loop, &e->sigint);
	e->sigterm.data = e->sigint.data = e;
	uv_signal_start(&e->sigterm, on_signal, SIGTERM);
	uv_signal_start(&e->sigint, on_signal, SIGINT);
	uv_signal_init(&e->loop, &e->sigusr1);
	e->sigusr1.data = e;
	uv_signal_start(&e->sigusr1, on_notice, SIGUSR1);
	uv_prepare_init(&e->loop, &e->check);
	e->check.data = e;
	uv_prepare_start(&e->check, check_done);
	aic_spin_start(&e->loop);

	if (o->is_head) {
		struct head_config hc = {.spec = o->spec,
					 .jobdir = o->jobdir,
					 .token = o->token,
					 .listen_addr = o->listen_addr,
					 .n_agents = o->n_nodes,
					 .local = o->local,
					 .grace_ms = atoi(getenv("AIC_KILL_GRACE_MS") ?: "") > 0
							     ? atoi(getenv("AIC_KILL_GRACE_MS"))
							     : 5000,
					 .node_name = o->node_name,
					 .node_name_arg = o->publish_arg,
					 .source_progress = source_progress,
					 .source_progress_arg = e,
					 .metrics_textfile = o->metrics_textfile};
		e->head = head_start(&e->loop, &hc);
		if (!e->head) {
			if (o->publish)
				o->publish(0, o->publish_arg);
			goto out_close;
		}
		port = head_port(e->head);
		head_host = o->addr;
		if (o->publish && o->publish(port, o->publish_arg) != 0) {
			head_terminate(e->head, "bootstrap failed");
			goto out_run;
		}
	}
	snprintf(grace_env, sizeof(grace_env), "%s", getenv("AIC_KILL_GRACE_MS") ?: "5000");
	ac.token = o->token;
	ac.head_host = head_host;
	ac.head_port = port;
	ac.rank = o->rank;
	ac.node = o->node;
	ac.addr = o->addr;
	ac.topo = o->topo;
	ac.gpus = o->gpus;
	ac.n_gpus = o->n_gpus;
	ac.cvd = o->cvd;
	ac.cpus = o->cpus;
	ac.grace_ms = atoi(grace_env) > 0 ? atoi(grace_env) : 5000;
	e->agent = agent_start(&e->loop, &ac);
	if (!e->agent && e->head)
		head_terminate(e->head, "the local agent did not start");
out_run:
	uv_run(&e->loop, UV_RUN_DEFAULT);
	code = e->head ? head_exit_code(e->head) : 0;
	if (e->agent && agent_exit_code(e->agent) && !code)
		code = agent_exit_code(e->agent);
out_close:
	if (!e->closing) {
		e->closing = true;
		aic_conn_close_all();
		uv_walk(&e->loop, close_any, NULL);
		uv_run(&e->loop, UV_RUN_DEFAULT);
	}
	uv_loop_close(&e->loop);
	head_free(e->head);
	agent_free(e->agent);
	free(e);
	return code;
}

/*
 * The local address of the route to `to` (a UDP connect sends nothing: it
 * only asks the kernel for the route), into buf; false when there is none
 * or it is a loopback address.
 */
static bool route_src(const char *to, char *buf, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
	socklen_t sl = sizeof(sa);
	bool ok = false;
	int fd;

	if (!to || inet_pton(AF_INET, to, &sa.sin_addr) != 1)
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
	    ntohl(sa.sin_addr.s_addr) >> 24 != 127 && sa.sin_addr.s_addr != 0)
		ok = inet_ntop(AF_INET, &sa.sin_addr, buf, (socklen_t)len) != NULL;
	close(fd);
	return ok;
}

void engine_node_addr(char *buf, size_t len)
{
	const char *fixed = getenv("AIC_NODE_ADDR");
	struct in_addr ia;
	char host[256];
	struct addrinfo hints = {.ai_family = AF_INET}, *res = NULL;
	struct ifaddrs *ifs, *i;

	if (fixed && inet_pton(AF_INET, fixed, &ia) == 1) {
		snprintf(buf, len, "%s", fixed);
		return;
	}
	/*
	 * The interface SLURM's own traffic takes: the route to the node srun
	 * runs on. The hostname's address can be wrong (Debian maps it to
	 * 127.0.1.1), and the first interface may be a bridge such as docker0,
	 * with the same address on every node.
	 */
	if (route_src(getenv("SLURM_LAUNCH_NODE_IPADDR"), buf, len))
		return;
	if (gethostname(host, sizeof(host)) == 0 && getaddrinfo(host, NULL, &hints, &res) == 0 && res) {
		struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
		if (ntohl(sin->sin_addr.s_addr) >> 24 != 127) {
			inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
			freeaddrinfo(res);
			return;
		}
	}
	if (res)
		freeaddrinfo(res);
	/* The default route's interface (192.0.2.1 is TEST-NET: nothing is sent). */
	if (route_src("192.0.2.1", buf, len))
		return;
	snprintf(buf, len, "127.0.0.1");
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
		if (!sin || sin->sin_family != AF_INET || ntohl(sin->sin_addr.s_addr) >> 24 == 127)
			continue;
		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
		break;
	}
	freeifaddrs(ifs);
}

size_t engine_step_gpus(int *gpus, size_t max)
{
	const char *list = getenv("SLURM_STEP_GPUS");
	size_t n = 0;
	char *end;

	if (!list || !*list)
		list = getenv("SLURM_JOB_GPUS");
	if (!list || !*list)
		return 0;
	while (*list && n < max) {
		long g = strtol(list, &end, 10);
		if (end == list || g < 0)
			return 0;
		gpus[n++] = (int)g;
		list = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return 0;
	}
	return n;
}
