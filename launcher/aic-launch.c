/*
 * aic-launch: the per-node launcher. Started once per node inside a SLURM
 * allocation:
 *
 *     srun --ntasks-per-node=1 --mpi=pmix aic-launch [SPEC]
 *
 * Bootstrap over PMIx (SLURM's mpi/pmix is the server): rank 0 listens for
 * agents on an ephemeral port, makes the job token and the job directory,
 * and Puts the head's address, the token and the directory; every rank
 * Fences, Gets them, and its agent connects to the head. No fixed ports, no
 * sleeps, no addresses passed by hand. SPEC defaults to --aic-job's
 * (AIC_JOB_SPEC, set by the SPANK plugin).
 *
 * A satellite allocation (launcher/engine/satellite.c) runs
 *
 *     srun aic-launch --join JOBDIR --rank R
 *
 * instead: no PMIx; the agent finds the head and the job token in the
 * running job's directory (after jobdir.c's trust checks: this user's,
 * private) and joins as rank R, which the head submitted it as.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pmix.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/jobdir.h"
#include "log.h"
#include "error.h"
#include "token.h"

#define KEY_HEAD "aic.head"
#define KEY_TOKEN "aic.token"
#define KEY_JOBDIR "aic.jobdir"
#define KEY_ERROR "aic.error"

struct boot {
	pmix_proc_t me;
	char token[AIC_TOKEN_LEN + 1];
	char jobdir[PATH_MAX];
	char addr[64];
	char error[512];
	const char *node; /* this node's name */
};

static int put_str(const char *key, const char *value)
{
	pmix_value_t v;

	PMIX_VALUE_CONSTRUCT(&v);
	v.type = PMIX_STRING;
	v.data.string = (char *)value;
	return PMIx_Put(PMIX_GLOBAL, key, &v) == PMIX_SUCCESS ? 0 : -1;
}

static int get_str(const pmix_proc_t *me, int rank, const char *key, char *buf, size_t len)
{
	pmix_proc_t p;
	pmix_value_t *v = NULL;
	int rc;

	PMIX_LOAD_PROCID(&p, me->nspace, (pmix_rank_t)rank);
	rc = PMIx_Get(&p, key, NULL, 0, &v);
	if (rc != PMIX_SUCCESS || v->type != PMIX_STRING) {
		if (rc == PMIX_SUCCESS)
			PMIX_VALUE_RELEASE(v);
		return -1;
	}
	snprintf(buf, len, "%s", v->data.string);
	PMIX_VALUE_RELEASE(v);
	return 0;
}

static int fence(void)
{
	pmix_proc_t all;
	pmix_info_t collect;
	bool yes = true;

	PMIX_PROC_CONSTRUCT(&all);
	PMIX_LOAD_PROCID(&all, "", PMIX_RANK_WILDCARD);
	PMIX_INFO_LOAD(&collect, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
	return PMIx_Fence(NULL, 0, &collect, 1) == PMIX_SUCCESS ? 0 : -1;
}

/* Rank 0, once the head listens: publish where, and the token, then fence. */
static int publish(int port, void *arg)
{
	struct boot *b = arg;
	char head[128];

	snprintf(head, sizeof(head), "%s:%d", b->addr, port);
	if (port == 0 && !b->error[0])
		snprintf(b->error, sizeof(b->error), "the head did not start");
	if ((b->error[0] ? put_str(KEY_ERROR, b->error) : put_str(KEY_HEAD, head)) != 0 ||
	    put_str(KEY_TOKEN, b->token) != 0 || put_str(KEY_JOBDIR, b->jobdir) != 0 ||
	    PMIx_Commit() != PMIX_SUCCESS || fence() != 0) {
		aic_log_error("PMIx put/fence failed");
		return -1;
	}
	if (port)
		jobdir_write_text(b->jobdir, "head", head);
	return b->error[0] ? -1 : 0;
}

/*
 * Tells the batch script of `aic submit` that the head has ended (status.json
 * holds the outcome), so that it ends the job at once: srun waits for every
 * node's task, and the task of a node lost near the end never reports until
 * SLURM declares the node down (SlurmdTimeout, 300 s by default), holding
 * the whole allocation that long. The script exports its pid and node as
 * AIC_BATCH_PID and AIC_BATCH_NODE (launcher/cli/submit.c); the batch host
 * is the allocation's first node, which is rank 0's. The signal goes only
 * to a process of this job on this node: a pid from another PID namespace,
 * or one reused, is left alone.
 */
static void batch_notify(const char *node)
{
	const char *pid_s = getenv("AIC_BATCH_PID"), *batch_node = getenv("AIC_BATCH_NODE");
	const char *job = getenv("SLURM_JOB_ID");
	char path[64], want[80], env[65536], *end;
	size_t n, len, i;
	long pid;
	FILE *f;

	if (!pid_s || !batch_node || !job || strcmp(batch_node, node) != 0)
		return;
	pid = strtol(pid_s, &end, 10);
	if (*end || pid <= 1)
		return;
	snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
	len = (size_t)snprintf(want, sizeof(want), "SLURM_JOB_ID=%s", job) + 1;
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(env, 1, sizeof(env) - 1, f);
	fclose(f);
	env[n] = '\0';
	for (i = 0; i < n; i += strlen(env + i) + 1)
		if (i + len <= n + 1 && memcmp(env + i, want, len) == 0) {
			aic_log_debug("telling the batch script (pid %ld) the job has ended", pid);
			kill((pid_t)pid, SIGUSR2);
			return;
		}
}

/*
 * The head: the node of a rank that has not registered, for its message.
 * Every rank but 0 Puts its node before the fence; after it the data is
 * here (the fence collected it), so this never waits on a lost node.
 */
static int node_name(int rank, char *buf, size_t len, void *arg)
{
	struct boot *b = arg;

	if (rank == (int)b->me.rank) {
		snprintf(buf, len, "%s", b->node);
		return 0;
	}
	return get_str(&b->me, rank, "aic.node", buf, len);
}

/* SLURM_RESTART_COUNT: how many times SLURM has requeued this job (0 on its first run). */
static long restart_count(void)
{
	const char *s = getenv("SLURM_RESTART_COUNT");
	char *end;
	long n;

	if (!s || !*s)
		return 0;
	n = strtol(s, &end, 10);
	return *end || n < 0 ? 0 : n;
}

/* One line of dir/file (a trusted file of the job directory) into buf; 0 or -1 after saying why. */
static int read_line(const char *dir, const char *file, char *buf, size_t len)
{
	int rc = 0;
	FILE *f = jobdir_open(dir, file, &rc);
	char *nl;

	if (!f || !fgets(buf, (int)len, f)) {
		aic_log_error("cannot read %s/%s: %s", dir, file,
			      f ? "it is empty" : aic_strerror(rc));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return 0;
}

/* aic-launch --join DIR --rank R: a satellite's agent joins the job of DIR. */
static int join(const char *dir, const char *rank_s, const char *node)
{
	struct engine_opts o = {0};
	struct aic_topo *topo = NULL;
	struct aic_cpuset cpus;
	char path[PATH_MAX], err[512], token[AIC_TOKEN_LEN + 2], head[128], addr[64], *colon,
		*end, *errors = NULL;
	const char *xml = getenv("AIC_TOPO_XML");
	int gpus[64], code;
	long rank = strtol(rank_s, &end, 10);

	if (*end || rank < 1 || rank > 4096) {
		aic_log_error("--rank '%s': expected a satellite's rank (a number above 0)", rank_s);
		return 2;
	}
	if (jobdir_find(dir, path, sizeof(path), err, sizeof(err)) != 0) {
		aic_log_error("%s", err);
		return 1;
	}
	if (read_line(path, "token", token, sizeof(token)) != 0 ||
	    read_line(path, "head", head, sizeof(head)) != 0)
		return 1;
	colon = strrchr(head, ':');
	if (strlen(token) != AIC_TOKEN_LEN || !colon) {
		aic_log_error("%s: no usable token or head address", path);
		return 1;
	}
	*colon = '\0';
	/* This node's address is the one the route to the head leaves from. */
	if (!getenv("AIC_NODE_ADDR"))
		setenv("SLURM_LAUNCH_NODE_IPADDR", head, 1);
	engine_node_addr(addr, sizeof(addr));
	if (xml && *xml ? aic_topo_load_xml(xml, &topo, &errors) : aic_topo_load_live(&topo, &errors)) {
		aic_log_error("%s", errors ? errors : "cannot load the node topology");
		free(errors);
		return 1;
	}
	aic_cpuset_get_affinity(&cpus);
	o.rank = (int)rank;
	o.node = node;
	o.addr = addr;
	o.topo = topo;
	o.n_gpus = engine_step_gpus(gpus, 64);
	o.gpus = o.n_gpus ? gpus : NULL;
	o.cvd = getenv("CUDA_VISIBLE_DEVICES");
	o.cpus = &cpus;
	o.token = token;
	o.head_host = head;
	o.head_port = atoi(colon + 1);
	aic_log_info("joining the job of %s as rank %ld (satellite job %s)", path, rank,
		     getenv("SLURM_JOB_ID") ?: "?");
	code = engine_run(&o);
	aic_topo_free(topo);
	return code;
}

static void usage(FILE *f)
{
	fputs("usage: srun --ntasks-per-node=1 --mpi=pmix aic-launch [SPEC]\n"
	      "       srun aic-launch --join JOBDIR --rank R   (a satellite allocation)\n"
	      "\n"
	      "Starts aic's engine, one aic-launch per node of the allocation: node agents,\n"
	      "and the head on the first node, which places SPEC's stages on the allocated\n"
	      "GPUs and runs them. SPEC defaults to srun/sbatch --aic-job's.\n",
	      f);
}

int main(int argc, char **argv)
{
	struct boot b;
	struct engine_opts o = {0};
	struct aic_spec *spec = NULL;
	struct aic_topo *topo = NULL;
	struct aic_cpuset cpus;
	int gpus[64], rc, code = 1;
	uint32_t size = 0, local = 1;
	pmix_value_t *v;
	pmix_proc_t wild;
	const char *spec_path = NULL, *xml, *node;
	char host[256], head[128], *errors = NULL, *line, *save = NULL, *colon;

	memset(&b, 0, sizeof(b));
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("aic-launch %s\n", PACKAGE_VERSION);
		return 0;
	}
	if ((argc > 2 || (argc == 2 && argv[1][0] == '-')) &&
	    !(argc == 5 && !strcmp(argv[1], "--join") && !strcmp(argv[3], "--rank"))) {
		usage(stderr);
		return 2;
	}
	spec_path = argc == 2 ? argv[1] : getenv("AIC_JOB_SPEC");
	node = getenv("SLURMD_NODENAME");
	if (!node) {
		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = '\0';
		node = host;
	}
	aic_log_set_name("aic-launch", node);
	if (argc == 5 && !strcmp(argv[1], "--join") && !strcmp(argv[3], "--rank"))
		return join(argv[2], argv[4], node);
	if (!getenv("PMIX_NAMESPACE")) {
		aic_log_error("no PMIx server: start aic-launch with 'srun --mpi=pmix' (one task per "
			      "node), or use 'aic run SPEC' outside SLURM");
		return 2;
	}
	rc = PMIx_Init(&b.me, NULL, 0);
	if (rc != PMIX_SUCCESS) {
		aic_log_error("PMIx_Init: %s", PMIx_Error_string(rc));
		return 1;
	}
	aic_log_set_name("aic-launch", node);
	PMIX_LOAD_PROCID(&wild, b.me.nspace, PMIX_RANK_WILDCARD);
	if (PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &v) == PMIX_SUCCESS) {
		size = v->data.uint32;
		PMIX_VALUE_RELEASE(v);
	}
	if (PMIx_Get(&wild, PMIX_LOCAL_SIZE, NULL, 0, &v) == PMIX_SUCCESS) {
		local = v->data.uint32;
		PMIX_VALUE_RELEASE(v);
	}
	engine_node_addr(b.addr, sizeof(b.addr));
	aic_log_debug("node '%s': address %s", node, b.addr);

	/* Every rank must reach the fence, even with an error to report. */
	if (local != 1)
		snprintf(b.error, sizeof(b.error),
			 "%u aic-launch tasks on node '%s': run exactly one per node "
			 "(srun --ntasks-per-node=1)",
			 local, node);
	if (b.me.rank == 0 && !b.error[0]) {
		if (!spec_path) {
			snprintf(b.error, sizeof(b.error),
				 "no job spec: give one (aic-launch SPEC) or use srun/sbatch --aic-job");
		} else if ((rc = aic_spec_load(spec_path, &spec, &errors)) != 0) {
			for (line = strtok_r(errors, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
				aic_log_error("%s", line);
			snprintf(b.error, sizeof(b.error), "invalid job spec '%s'", spec_path);
		} else if (aic_token_new(b.token) != 0) {
			snprintf(b.error, sizeof(b.error), "cannot make a job token");
		} else {
			const char *base = getenv("SLURM_SUBMIT_DIR");
			char name[128], cwd[PATH_MAX];
			snprintf(name, sizeof(name), "%s.%s", getenv("SLURM_JOB_ID") ?: "0",
				 getenv("SLURM_STEP_ID") ?: "0");
			if (!base)
				base = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
			/*
			 * A requeued job (same job and step ids) continues in the
			 * directory its earlier run made; a new job never takes over
			 * one that exists.
			 */
			/* aic submit --resume DIR, --chain N: an earlier job's directory. */
			const char *resume = getenv("AIC_RESUME_DIR");
			if (resume && *resume
				    ? jobdir_resume(resume, b.token, b.jobdir, sizeof(b.jobdir)) != 0
				    : restart_count() > 0
				    ? jobdir_reuse(base, name, b.token, b.jobdir, sizeof(b.jobdir), NULL) != 0
				    : jobdir_create(base, name, b.token, b.jobdir, sizeof(b.jobdir)) != 0)
				snprintf(b.error, sizeof(b.error), "cannot make the job directory");
		}
		free(errors);
	}

	xml = getenv("AIC_TOPO_XML");
	rc = xml && *xml ? aic_topo_load_xml(xml, &topo, &errors) : aic_topo_load_live(&topo, &errors);
	if (rc) {
		aic_log_error("%s", errors ? errors : "cannot load the node topology");
		free(errors);
		if (!b.error[0])
			snprintf(b.error, sizeof(b.error), "no topology on node '%s'", node);
	}
	aic_cpuset_get_affinity(&cpus);

	o.rank = (int)b.me.rank;
	o.node = node;
	o.addr = b.addr;
	o.topo = topo;
	o.n_gpus = engine_step_gpus(gpus, 64);
	o.gpus = o.n_gpus ? gpus : NULL;
	o.cvd = getenv("CUDA_VISIBLE_DEVICES");
	o.cpus = &cpus;
	if (b.me.rank == 0) {
		if (b.error[0]) {
			publish(0, &b);
			aic_log_error("%s", b.error);
			goto out_finalize;
		}
		o.is_head = true;
		/* Agents reach the head at the node's address: it listens there only. */
		o.listen_addr = b.addr;
		o.spec = spec;
		o.jobdir = b.jobdir;
		o.n_nodes = (int)size;
		o.token = b.token;
		o.publish = publish;
		o.publish_arg = &b;
		o.node_name = node_name;
		b.node = node;
		aic_log_info("head for '%s' on %d node%s, job directory %s",
			     spec->name ? spec->name : spec_path, (int)size, size == 1 ? "" : "s", b.jobdir);
		code = engine_run(&o);
		batch_notify(node);
		goto out_finalize;
	}
	if (put_str("aic.node", node) != 0 || PMIx_Commit() != PMIX_SUCCESS || fence() != 0) {
		aic_log_error("PMIx put/fence failed");
		goto out_finalize;
	}
	if (get_str(&b.me, 0, KEY_ERROR, b.error, sizeof(b.error)) == 0) {
		/* Rank 0 said why; it reports it. */
		goto out_finalize;
	}
	if (b.error[0] || get_str(&b.me, 0, KEY_HEAD, head, sizeof(head)) != 0 ||
	    get_str(&b.me, 0, KEY_TOKEN, b.token, sizeof(b.token)) != 0 ||
	    !(colon = strrchr(head, ':'))) {
		aic_log_error("%s", b.error[0] ? b.error : "rank 0 published no head address");
		goto out_finalize;
	}
	*colon = '\0';
	o.token = b.token;
	o.head_host = head;
	o.head_port = atoi(colon + 1);
	code = engine_run(&o);

out_finalize:
	aic_spec_free(spec);
	aic_topo_free(topo);
	PMIx_Finalize(NULL, 0);
	return code;
}
