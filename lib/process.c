#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"

/* The policy children get (aic_spawn_set_policy); -1: the caller's. */
static int child_policy = -1;

void aic_spawn_set_policy(int policy)
{
	child_policy = policy;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child(const struct aic_spawn_opts *o, pid_t parent, int report)
{
	struct sched_param sp = {0};
	sigset_t all;
	int fd, err, sig;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/*
	 * SIGUSR1 is ignored: it is SLURM's notice of the job's end, which
	 * reaches every process of the step, and the engine passes it on to
	 * workers as a checkpoint request instead (a worker may still install
	 * a handler of its own).
	 */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, sig == SIGUSR1 ? SIG_IGN : SIG_DFL);
	if (o->cpus && !aic_cpuset_empty(o->cpus) && aic_cpuset_set_affinity(o->cpus) != 0)
		goto fail;
	if (child_policy >= 0 && sched_setscheduler(0, child_policy, &sp) != 0)
		goto fail;
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0)
		goto fail;
	if (fd > 2)
		close(fd);
	if (o->log_path) {
		fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			goto fail;
		if (fd > 2)
			close(fd);
	}
	if (o->cwd && chdir(o->cwd) != 0)
		goto fail;
	if (o->keep_fd > 2 && fcntl(o->keep_fd, F_SETFD, 0) != 0)
		goto fail;
	execvpe(o->argv[0], o->argv, o->envp);
fail:
	err = errno;
	if (write(report, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

int aic_spawn(const struct aic_spawn_opts *o, struct aic_child *out)
{
	pid_t parent = getpid(), pid;
	int pipefd[2], err = 0, status;
	ssize_t n;

	out->pid = -1;
	out->pidfd = -1;
	if (!o->argv || !o->argv[0])
		return -EINVAL;
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return -err;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child(o, parent, pipefd[1]);
	}
	close(pipefd[1]);
	/* Either exec closes the pipe (success) or the child reports errno. */
	do
		n = read(pipefd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return -err;
	}
	out->pid = pid;
	out->pidfd = pidfd_open(pid, 0);
	return 0;
}

int aic_child_wait(struct aic_child *c, int *status)
{
	pid_t r;

	if (c->pid <= 0)
		return -ECHILD;
	r = waitpid(c->pid, status, WNOHANG);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	c->pid = -1;
	return 1;
}
