/*
 * SLURM's client commands for satellite.c (internal.h): sbatch, squeue
 * and scancel run as children of the head's loop, never blocking it, with
 * the environment of the head minus the job's SLURM variables (they would
 * be taken as options of the new job: SLURM_CPUS_PER_TASK, the step's
 * GPUs...); SLURM_CONF stays, so they reach the job's cluster, as the
 * job's user. What a command writes (stdout and stderr, at most OUT_MAX
 * bytes) goes to its callback with its exit status.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"

#define OUT_MAX 4096

struct cmd {
	uv_process_t proc;
	uv_pipe_t out, err;
	struct head *h;
	int *live;
	int slot;
	head_cmd_done done;
	char **env;
	char buf[OUT_MAX];
	size_t len;
	int64_t status;
	bool exited;
	int eofs; /* of out and err */
	int open; /* handles not closed yet */
};

/* An environment variable the children do not get: the main job's, or its step's. */
static bool job_var(const char *e)
{
	static const char *const drop[] = {"SLURM_",	"SBATCH_",	 "SRUN_",
					   "SALLOC_",	"PMIX_",	 "PMI_",
					   "OMPI_",	"AIC_TOPO_XML=", "AIC_JOB",
					   "AIC_NODE_", "AIC_BATCH_",	 "CUDA_VISIBLE_DEVICES=",
					   NULL};
	size_t i;

	if (!strncmp(e, "SLURM_CONF=", 11))
		return false;
	for (i = 0; drop[i]; i++)
		if (!strncmp(e, drop[i], strlen(drop[i])))
			return true;
	return false;
}

static void cmd_closed(uv_handle_t *x)
{
	struct cmd *k = x->data;

	if (--k->open == 0) {
		(*k->live)--;
		free(k->env);
		free(k);
	}
}

static void cmd_finish(struct cmd *k)
{
	if (!k->exited || k->eofs < 2)
		return;
	k->buf[k->len < OUT_MAX ? k->len : OUT_MAX - 1] = '\0';
	k->done(k->h, k->slot, k->status, k->buf);
	uv_close((uv_handle_t *)&k->proc, cmd_closed);
	uv_close((uv_handle_t *)&k->out, cmd_closed);
	uv_close((uv_handle_t *)&k->err, cmd_closed);
}

static void cmd_exit(uv_process_t *p, int64_t status, int sig)
{
	struct cmd *k = p->data;

	k->exited = true;
	k->status = sig ? -sig : status;
	cmd_finish(k);
}

static void cmd_alloc(uv_handle_t *x, size_t want, uv_buf_t *b)
{
	struct cmd *k = x->data;

	(void)want;
	*b = uv_buf_init(k->buf + k->len, (unsigned)(OUT_MAX - 1 - k->len));
}

static void cmd_read(uv_stream_t *x, ssize_t n, const uv_buf_t *b)
{
	struct cmd *k = x->data;

	(void)b;
	if (n > 0)
		k->len += (size_t)n;
	if (n < 0) {
		/* The end, an error, or a full buffer (UV_ENOBUFS): what came is kept. */
		uv_read_stop(x);
		k->eofs++;
		cmd_finish(k);
	}
}

int head__slurm_cmd(struct head *h, char *const argv[], int *live, int slot, head_cmd_done done)
{
	extern char **environ;
	struct cmd *k = calloc(1, sizeof(*k));
	uv_stdio_container_t io[3];
	uv_process_options_t o = {0};
	size_t i, n = 0;
	int rc;

	for (i = 0; environ[i]; i++)
		n++;
	if (k)
		k->env = calloc(n + 1, sizeof(*k->env));
	if (!k || !k->env) {
		free(k);
		return -ENOMEM;
	}
	for (i = 0, n = 0; environ[i]; i++)
		if (!job_var(environ[i]))
			k->env[n++] = environ[i];
	k->h = h;
	k->live = live;
	k->slot = slot;
	k->done = done;
	uv_pipe_init(h->loop, &k->out, 0);
	uv_pipe_init(h->loop, &k->err, 0);
	k->out.data = k->err.data = k->proc.data = k;
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[1].data.stream = (uv_stream_t *)&k->out;
	io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[2].data.stream = (uv_stream_t *)&k->err;
	o.file = argv[0];
	o.args = (char **)argv;
	o.env = k->env;
	o.exit_cb = cmd_exit;
	o.stdio = io;
	o.stdio_count = 3;
	rc = uv_spawn(h->loop, &k->proc, &o);
	(*live)++;
	k->open = 3;
	if (rc) {
		/* The handles are made even when the spawn fails: each is closed. */
		uv_close((uv_handle_t *)&k->proc, cmd_closed);
		uv_close((uv_handle_t *)&k->out, cmd_closed);
		uv_close((uv_handle_t *)&k->err, cmd_closed);
		aic_log_error("autoscale: cannot run %s: %s", argv[0], uv_strerror(rc));
		return rc;
	}
	uv_read_start((uv_stream_t *)&k->out, cmd_alloc, cmd_read);
	uv_read_start((uv_stream_t *)&k->err, cmd_alloc, cmd_read);
	return 0;
}

long head__slurm_time_left(const char *t)
{
	long d = 0, x[3] = {0, 0, 0};
	int n = 0;
	const char *p = t, *dash = strchr(t, '-');
	char *end;

	if (dash) {
		d = strtol(t, &end, 10);
		if (end != dash)
			return -1;
		p = dash + 1;
	}
	while (n < 3) {
		x[n++] = strtol(p, &end, 10);
		if (end == p)
			return -1;
		if (*end != ':')
			break;
		p = end + 1;
	}
	if (*end && *end != '\n')
		return -1;
	if (n == 3 || dash)
		return d * 86400 + x[0] * 3600 + x[1] * 60 + x[2];
	return n == 2 ? x[0] * 60 + x[1] : x[0];
}
