/*
 * Sandboxes for C workers (aic.h, aic_sandbox_open). A host process, the
 * node's python3 running python/aic/sandbox.py's _serve, makes and owns
 * the sandbox and answers one JSON line per request on a socket pair (its
 * standard input and output), in order. So C and Python workers share one
 * implementation of the sandbox, its runtimes and its threat model; the
 * host is trusted code outside the sandbox, as the worker is.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

static const char serve[] = "import aic.sandbox as s, sys; sys.exit(s._serve(sys.argv))";

struct aic_sandbox {
	pid_t pid;    /* the host, or 0 when it is not running */
	FILE *io;     /* our end of the socket pair: read by line, written with send */
	char *config; /* the JSON the sandbox is made from */
};

static void host_stop(struct aic_sandbox *sb)
{
	int status;

	/* The end of its input makes the host close the sandbox (unmount, remove) and exit. */
	if (sb->io)
		fclose(sb->io);
	sb->io = NULL;
	if (sb->pid > 0)
		while (waitpid(sb->pid, &status, 0) < 0 && errno == EINTR)
			;
	sb->pid = 0;
}

/* Reads the host's next line into *reply; on its end, stops it and returns -EIO. */
static int host_read(struct aic_sandbox *sb, json_t **reply)
{
	char *line = NULL;
	size_t cap = 0;

	if (getline(&line, &cap, sb->io) < 0) {
		free(line);
		host_stop(sb);
		return -EIO;
	}
	*reply = json_loads(line, 0, NULL);
	free(line);
	return *reply && json_is_object(*reply) ? 0 : AIC_EPROTO;
}

static int host_start(struct aic_sandbox *sb)
{
	char *argv[] = {"python3", "-c", (char *)serve, sb->config, NULL};
	posix_spawn_file_actions_t fa;
	json_t *hello = NULL;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	rc = -posix_spawn_file_actions_init(&fa);
	if (!rc)
		rc = -posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	if (!rc)
		rc = -posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	if (!rc)
		rc = -posix_spawnp(&sb->pid, "python3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc)
		goto out_close;
	sb->io = fdopen(sv[0], "r");
	if (!sb->io) {
		rc = -errno;
		kill(sb->pid, SIGKILL);
		goto out_close;
	}
	rc = host_read(sb, &hello);
	if (!rc && !json_object_get(hello, "ready")) {
		host_stop(sb);
		rc = -EIO;
	}
	json_decref(hello);
	return rc;
out_close:
	close(sv[0]);
	if (sb->pid > 0)
		waitpid(sb->pid, NULL, 0);
	sb->pid = 0;
	return rc;
}

/* Sends req (stolen) and reads the answer; a host that is gone is started first. */
static int host_ask(struct aic_sandbox *sb, json_t *req, json_t **reply)
{
	char *text = NULL;
	size_t len, off = 0;
	int rc = 0;

	if (!req)
		return -ENOMEM;
	if (!sb->pid)
		rc = host_start(sb);
	if (!rc) {
		text = json_dumps(req, JSON_COMPACT);
		rc = text ? 0 : -ENOMEM;
	}
	json_decref(req);
	if (rc)
		return rc;
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: the text is not a string from here on */
	while (off < len) {
		ssize_t n = send(fileno(sb->io), text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(text);
			host_stop(sb);
			return -EIO;
		}
		off += (size_t)n;
	}
	free(text);
	return host_read(sb, reply);
}

int aic_sandbox_open(const char *config, struct aic_sandbox **out)
{
	struct aic_sandbox *sb;
	int rc;

	if (!out)
		return -EINVAL;
	if (!config)
		config = getenv("AIC_SANDBOX");
	if (!config)
		return -ENOENT;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	sb->config = strdup(config);
	rc = sb->config ? host_start(sb) : -ENOMEM;
	if (rc) {
		free(sb->config);
		free(sb);
		return rc;
	}
	*out = sb;
	return 0;
}

static char *dup_text(const json_t *s)
{
	return strdup(json_is_string(s) ? json_string_value(s) : "");
}

int aic_sandbox_run(struct aic_sandbox *sb, const char *const *argv, const char *in,
		    double timeout_s, struct aic_sandbox_task *task)
{
	json_t *args, *reply = NULL, *status;
	int rc;

	if (!sb || !argv || !argv[0] || !task || timeout_s < 0)
		return -EINVAL;
	args = json_array();
	for (; args && *argv; argv++)
		if (json_array_append_new(args, json_string(*argv))) {
			json_decref(args);
			return -EINVAL; /* not UTF-8 */
		}
	rc = host_ask(sb,
		      json_pack("{s:o,s:s,s:o}", "argv", args, "stdin", in ? in : "", "timeout",
				timeout_s > 0 ? json_real(timeout_s) : json_null()),
		      &reply);
	if (rc)
		goto out;
	if (json_object_get(reply, "error")) {
		rc = -EIO;
		goto out;
	}
	status = json_object_get(reply, "status");
	task->status = json_is_integer(status) ? (int)json_integer_value(status) : -1;
	task->timed_out = json_is_true(json_object_get(reply, "timed_out"));
	task->out = dup_text(json_object_get(reply, "stdout"));
	task->err = dup_text(json_object_get(reply, "stderr"));
	if (!task->out || !task->err) {
		aic_sandbox_task_release(task);
		rc = -ENOMEM;
	}
out:
	json_decref(reply);
	return rc;
}

int aic_sandbox_reset(struct aic_sandbox *sb)
{
	json_t *reply = NULL;
	int rc;

	if (!sb)
		return -EINVAL;
	rc = host_ask(sb, json_pack("{s:s}", "op", "reset"), &reply);
	if (!rc && !json_is_true(json_object_get(reply, "ok")))
		rc = -EIO;
	json_decref(reply);
	return rc;
}

void aic_sandbox_close(struct aic_sandbox *sb)
{
	if (!sb)
		return;
	host_stop(sb);
	free(sb->config);
	free(sb);
}

void aic_sandbox_task_release(struct aic_sandbox_task *task)
{
	if (!task)
		return;
	free(task->out);
	free(task->err);
	task->out = task->err = NULL;
}
