/*
 * Starting a worker process the way the engine needs it: in its own process
 * group (so the whole tree can be signalled), killed by the kernel if its
 * agent dies (PR_SET_PDEATHSIG: no orphan survives a SIGKILLed agent),
 * bound to its CPUs before it runs a single instruction of its own, with
 * stdout and stderr appended to its log file. The caller watches the
 * returned pidfd (readable when the process exits) and reaps it with
 * aic_child_wait().
 */
#ifndef AIC_PROCESS_H
#define AIC_PROCESS_H

#include <sys/types.h>

#include "cpuset.h"

struct aic_spawn_opts {
	char *const *argv;	       /* argv[0] is looked up in the PATH of envp */
	char *const *envp;	       /* the whole environment */
	const char *cwd;	       /* NULL: the caller's */
	const char *log_path;	       /* stdout and stderr, appended; NULL: the caller's */
	const struct aic_cpuset *cpus; /* NULL or empty: the caller's affinity */
	int keep_fd;		       /* > 2: a close-on-exec descriptor the process inherits */
};

struct aic_child {
	pid_t pid;
	int pidfd; /* -1 when the kernel has no pidfd_open */
};

/*
 * Processes started from now on get scheduling policy `policy` (a SCHED_*
 * value, priority 0) before they exec, instead of inheriting the caller's;
 * -1 (the default): the caller's. The engine, which runs as SCHED_BATCH,
 * gives its workers SCHED_OTHER this way.
 */
void aic_spawn_set_policy(int policy);

/*
 * Starts the process. Returns 0 once it has exec'ed, or -errno when it could
 * not (-ENOENT for a command not found, the log file's open error, ...), in
 * which case no process is left.
 */
int aic_spawn(const struct aic_spawn_opts *o, struct aic_child *out);

/*
 * Reaps the child without blocking. Returns 1 and sets *status (as waitpid
 * reports it) when it has exited, 0 when it still runs, or -errno. Closes
 * the pidfd once reaped.
 */
int aic_child_wait(struct aic_child *c, int *status);

#endif
