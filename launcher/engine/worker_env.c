/*
 * What a node agent gives its workers besides their command: the
 * environment (its own variables under the head's, the CUDA devices of
 * their GPUs); and what it tells the head of its node in REGISTER, free
 * ports for gangs' rendezvous among it. Called by agent.c only; calls
 * nothing of the engine's.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "agent.h"
#include "auth.h"
#include "dataplane.h"
#include "error.h"
#include "internal.h"
#include "log.h"
#include "procenv.h"
#include "strbuf.h"
#include "topo_json.h"

extern char **environ;

/*
 * CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER for a worker on GPUs given as
 * topology indices (lib/procenv.h: entries of this node's own
 * CUDA_VISIBLE_DEVICES, which device cgroups renumber), set in env over
 * what the head sent.
 */
static void cuda_devices(const struct agent_config *cfg, const json_t *gpus, json_t *env)
{
	struct aic_proc proc;
	struct aic_procenv_in pe = {.topo = cfg->topo,
				    .proc = &proc,
				    .node_gpus = cfg->gpus,
				    .n_node_gpus = cfg->n_gpus,
				    .visible = cfg->cvd,
				    .what = AIC_PROCENV_CUDA_VISIBLE};
	char **vars = NULL, **e;
	size_t i;
	json_t *v;

	memset(&proc, 0, sizeof(proc));
	proc.numa = proc.nic = -1;
	json_array_foreach(gpus, i, v)
		if (proc.n_gpus < AIC_PLACE_MAX_GPUS)
			proc.gpus[proc.n_gpus++] = (int)json_integer_value(v);
	if (aic_procenv(&pe, &vars) != 0)
		return;
	for (e = vars; *e; e++) {
		char *eq = strchr(*e, '=');
		*eq = '\0';
		json_object_set_new(env, *e, json_string(eq + 1));
	}
	aic_strv_free(vars);
}

/* The worker's environment: ours, with the head's variables on top. */
char **agent__worker_env(const json_t *over)
{
	size_t n = 0, k = 0, i;
	const char *key;
	json_t *v;
	char **env;

	for (i = 0; environ[i]; i++)
		n++;
	env = calloc(n + json_object_size(over) + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; environ[i]; i++) {
		size_t kl = strcspn(environ[i], "=");
		char name[256];
		if (kl >= sizeof(name))
			continue;
		memcpy(name, environ[i], kl);
		name[kl] = '\0';
		if (json_object_get(over, name))
			continue;
		env[k++] = strdup(environ[i]);
	}
	json_object_foreach((json_t *)over, key, v) {
		size_t l = strlen(key) + strlen(json_string_value(v) ?: "") + 2;
		char *e = malloc(l);
		if (e)
			snprintf(e, l, "%s=%s", key, json_string_value(v) ?: "");
		env[k++] = e;
	}
	return env;
}

/* Free TCP ports on this node for gang rendezvous (MASTER_PORT). */
static json_t *free_ports(const char *addr)
{
	json_t *ports = json_array();
	int fds[GANG_PORTS], n = 0, i;

	/* The kernel's choice of a free port (bind to 0); all held at once, so all differ. */
	for (i = 0; i < GANG_PORTS; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		fds[n++] = fd;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		if (uv_ip4_addr(addr, 0, &sa) != 0)
			uv_ip4_addr("0.0.0.0", 0, &sa);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
			json_array_append_new(ports, json_integer(ntohs(sa.sin_port)));
	}
	while (n > 0)
		close(fds[--n]);
	return ports;
}

json_t *agent__registration(const struct agent_config *cfg, int port)
{
	json_t *gpus = cfg->gpus ? json_array() : json_null();
	char cpus[4096] = "";
	size_t i;

	for (i = 0; cfg->gpus && i < cfg->n_gpus; i++)
		json_array_append_new(gpus, json_integer(cfg->gpus[i]));
	if (cfg->cpus)
		aic_cpuset_format(cfg->cpus, cpus, sizeof(cpus));
	/* slurm_job: the SLURM job it runs in; a satellite's proves it is the one submitted. */
	return json_pack("{s:i,s:s,s:s,s:i,s:o,s:o,s:s,s:o,s:s?}", "rank", cfg->rank, "node",
			 cfg->node, "addr", cfg->addr, "port", port, "topo",
			 aic_topo_to_json(cfg->topo), "gpus", gpus, "cpus", cpus, "ports",
			 free_ports(cfg->addr), "slurm_job", getenv("SLURM_JOB_ID"));
}

int agent__spawn_env(const struct agent_config *cfg, const struct aic_server *srv,
		     struct chan_set *chans, long id, const char *stage, const json_t *gpus,
		     json_t *env)
{
	char arena[96];
	int fd;

	cuda_devices(cfg, gpus, env);
	if (srv && srv->port > 0) {
		char ep[96], key[AIC_AUTH_KEY_LEN + 1];
		snprintf(ep, sizeof(ep), "%s:%d", cfg->addr, srv->port);
		json_object_set_new(env, "AIC_AGENT", json_string(ep));
		/* The same endpoint without TCP's cost; AIC_AGENT stays the fallback. */
		if (srv->unix_name[0])
			json_object_set_new(env, "AIC_AGENT_UNIX", json_string(srv->unix_name));
		/* Its stage's credential, not the job token (conn.h). */
		aic_auth_worker_key(cfg->token, stage, key);
		json_object_set_new(env, "AIC_TOKEN", json_string(key));
	}
	fd = chan_set_arena_env(chans, id, arena, sizeof(arena));
	if (fd >= 0)
		json_object_set_new(env, "AIC_ARENA", json_string(arena));
	return fd;
}

void agent__spawn_failed(const char *stage, int index, const char *argv0, const char *log_path,
			 int rc)
{
	FILE *f = log_path ? fopen(log_path, "a") : NULL;

	aic_log_error("stage '%s' %d: cannot run '%s': %s", stage, index, argv0 ? argv0 : "?",
		      aic_strerror(rc));
	if (f) {
		fprintf(f, "aic: cannot run '%s': %s\n", argv0 ? argv0 : "?", aic_strerror(rc));
		fclose(f);
	}
}
