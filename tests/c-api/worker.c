/*
 * A worker written against lib/aic.h, for tests/c-api/zero-copy.sh: the
 * zero-copy halves of the C API (aic_put_buffer/commit/discard,
 * aic_weights_buffer/written/commit, and aic_weights_publish, which sends
 * large versions on piece by piece) with every byte checked at the other end.
 *
 *   worker put N       N items of sizes cycling through 10 B, 5000 B and
 *                      1 MiB + 3 on channel "c", built in place; every 7th
 *                      discarded, every 5th put with aic_put instead; then the
 *                      misuses (a commit longer than its buffer, a second
 *                      weight buffer at once, a commit of another buffer, a
 *                      commit of a discarded one)
 *   worker get         check and ack items until the channel ends; one line
 *                      "PRODUCER ID INDEX ok|BAD" each
 *   worker wpub N SIZE  versions 1..N of stream "w": odd ones published from
 *                      a buffer (overwritten as soon as publish returns),
 *                      even ones written in place, announced every
 *                      3 MiB (aic_weights_written); a slot still mapped
 *                      writable after its commit is a line in the log
 *   worker wrecv N     receive until version N; one line "VERSION ok|BAD" each
 *   worker ckpt        steps (writing "ready" in the cwd after 3) until a
 *                      checkpoint is asked; saves the step through the
 *                      callback form (aic_checkpoint) into INDEX.STEP under
 *                      aic_checkpoint_dir() and waits for the end; started
 *                      with AIC_RESUME, loads that file and ends 3 steps on;
 *                      never asked in 1500 steps, fails. First, told no
 *                      once, it asks 100 times more and prints "polls
 *                      wrote N": the write system calls those made
 *   worker endpoints STAGE N  waits for N ready replicas of service STAGE
 *                      (aic_endpoints) and prints them, then misuses
 *   worker sandbox     tasks in the stage's sandbox (aic_sandbox_open, _run,
 *                      _reset, _close): a line "NAME STATUS TIMED_OUT OUT" per
 *                      task, what is out of reach beside the same outside,
 *                      a loop past its timeout, a reset, then the misuses
 *   worker phase N     N turns on GPUs shared in turns (aic_phase_begin,
 *                      aic_phase_end): stage "t" publishes version 1 of
 *                      stream "w", then version K + 2 in turn K; any other
 *                      stage receives "w" (min_version 0) and works up to 100
 *                      batches of 20 ms, ending the turn at the first
 *                      aic_phase_should_yield() yes. A line per turn as
 *                      tests/lib/workers/phase_turns.py prints it; first the
 *                      misuses (an end outside a phase, a begin inside one)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "aic.h"

/* The byte at i of item or version k: a pattern no shifted copy matches. */
static unsigned char pattern(uint64_t k, size_t i)
{
	return (unsigned char)(i * 31 + k * 7 + (i >> 12) + (i >> 20));
}

static void fill(unsigned char *p, size_t len, uint64_t k, size_t from)
{
	for (size_t i = from; i < len; i++)
		p[i] = pattern(k, i);
}

static int check(const unsigned char *p, size_t len, uint64_t k, size_t from)
{
	for (size_t i = from; i < len; i++)
		if (p[i] != pattern(k, i))
			return 0;
	return 1;
}

static const size_t sizes[] = {10, 5000, (1u << 20) + 3};

/* Items carry their index first (8 bytes), then the pattern of that index. */
static int put_items(struct aic_worker *w, long n)
{
	void *b, *b2;
	int rc;

	for (long i = 0; i < n; i++) {
		size_t len = sizes[i % 3];
		uint64_t k = (uint64_t)i;
		if (i % 5 == 4) {
			unsigned char *tmp = malloc(len);
			memcpy(tmp, &k, 8);
			fill(tmp, len, k, 8);
			rc = aic_put(w, "c", tmp, len, 0, -1, NULL);
			free(tmp);
		} else {
			if ((rc = aic_put_buffer(w, len + 100, &b)))
				return rc;
			memcpy(b, &k, 8);
			fill(b, len, k, 8);
			if (i % 7 == 6) {
				aic_put_discard(w, b);
				continue;
			}
			rc = aic_put_commit(w, "c", b, len, 0, i % 2 ? -1 : 5000, NULL);
		}
		if (rc)
			return rc;
	}
	/* Misuses, each refused with -EINVAL or -EBUSY. */
	if ((rc = aic_put_buffer(w, 5000, &b)))
		return rc;
	printf("long commit: %s\n", aic_strerror(aic_put_commit(w, "c", b, 5001, 0, -1, NULL)));
	if ((rc = aic_weights_buffer(w, "w", 100, 1, &b)))
		return rc;
	printf("second weight buffer: %s\n", aic_strerror(aic_weights_buffer(w, "w", 100, 2, &b2)));
	printf("commit of another buffer: %s\n", aic_strerror(aic_weights_commit(w, "w", &rc, 1)));
	memset(b, 0, 100);
	if ((rc = aic_weights_commit(w, "w", b, 100)))
		return rc;
	/* A buffer given up: nothing published, and the next one can be had. */
	if ((rc = aic_weights_buffer(w, "w", 100, 2, &b)))
		return rc;
	aic_weights_discard(w, b);
	printf("commit after discard: %s\n", aic_strerror(aic_weights_commit(w, "w", b, 100)));
	if ((rc = aic_weights_buffer(w, "w", 100, 3, &b)))
		return rc;
	memset(b, 3, 100);
	return aic_weights_commit(w, "w", b, 100);
}

static int get_items(struct aic_worker *w)
{
	struct aic_item items[8];
	size_t n;
	int rc;

	/* A least over the most is refused, not clamped. */
	if ((rc = aic_get_min(w, "c", items, 2, 3, &n, 0)) != -EINVAL) {
		fprintf(stderr, "worker: get of min 3, max 2: %s, not refused\n", aic_strerror(rc));
		return rc ? rc : -EPROTO;
	}
	/* Half a batch at least: the channel's end and its full capacity answer with fewer. */
	while ((rc = aic_get_min(w, "c", items, 8, 4, &n, 30000)) == 0) {
		for (size_t i = 0; i < n; i++) {
			uint64_t k = 0;
			int ok = items[i].len >= 8;
			if (ok) {
				memcpy(&k, items[i].data, 8);
				ok = items[i].len == sizes[k % 3] && check(items[i].data, items[i].len, k, 8);
			}
			printf("%u %llu %llu %s\n", items[i].producer, (unsigned long long)items[i].id,
			       (unsigned long long)k, ok ? "ok" : "BAD");
		}
		if ((rc = aic_ack(w, "c", items, n)))
			return rc;
	}
	return rc == AIC_ECLOSED ? 0 : rc;
}

/* Each item of `chan` as "SOURCE EPOCH LINE DATA" (aic_item_origin), or "none". */
static int origins(struct aic_worker *w, const char *chan)
{
	struct aic_item items[8];
	size_t n;
	int rc;

	while ((rc = aic_get(w, chan, items, 8, &n, 30000)) == 0) {
		for (size_t i = 0; i < n; i++) {
			const char *source = NULL;
			uint64_t line = 0;
			uint32_t epoch = 0;
			rc = aic_item_origin(w, &items[i], &source, &line, &epoch);
			if (rc == -ENOENT)
				printf("none\n");
			else if (rc)
				return rc;
			else
				printf("%s %u %llu %.*s\n", source, epoch, (unsigned long long)line,
				       (int)items[i].len, (const char *)items[i].data);
		}
		if ((rc = aic_ack(w, chan, items, n)))
			return rc;
	}
	return rc == AIC_ECLOSED ? 0 : rc;
}

/* Whether this process maps the page at p writable (/proc/self/maps). */
static bool mapped_writable(const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, at = (unsigned long)p;
	char line[512], perms[5];
	bool writable = false;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && at >= lo && at < hi)
			writable = perms[1] == 'w';
	if (f)
		fclose(f);
	return writable;
}

static int publish(struct aic_worker *w, long n, size_t size)
{
	unsigned char *blob = malloc(size);
	void *b;
	int rc = blob ? 0 : -ENOMEM;

	for (long v = 1; v <= n && !rc; v++) {
		if (v % 2) {
			fill(blob, size, (uint64_t)v, 0);
			rc = aic_weights_publish(w, "w", blob, size, (uint64_t)v);
			/* Once publish returns, the buffer is the caller's again. */
			memset(blob, 0xa5, size);
			continue;
		}
		if ((rc = aic_weights_buffer(w, "w", size, (uint64_t)v, &b)))
			break;
		for (size_t at = 0; at < size && !rc; at += 3u << 20) {
			size_t end = at + (3u << 20) < size ? at + (3u << 20) : size;
			fill(b, end, (uint64_t)v, at);
			rc = aic_weights_written(w, "w", b, end);
		}
		rc = rc ? rc : aic_weights_commit(w, "w", b, size);
		/* A slot in the arena is the readers' now: this process cannot write it. */
		if (!rc && aic_in_place(w, b) && mapped_writable(b))
			printf("version %ld: its slot is still writable after the commit\n", v);
	}
	free(blob);
	return rc;
}

static int receive(struct aic_worker *w, long n)
{
	uint64_t v = 0;
	int rc = 0;

	while ((long)v < n && !rc) {
		const void *blob;
		size_t len;
		if ((rc = aic_weights_receive(w, "w", v + 1, 60000, &blob, &len, &v)))
			break;
		printf("%llu %s\n", (unsigned long long)v, check(blob, len, v, 0) ? "ok" : "BAD");
	}
	return rc;
}

/* aic_checkpoint's callback: the step into dir/INDEX.STEP, on disk before it counts. */
static int save_step(struct aic_worker *w, const char *dir, uint64_t *version, void *arg)
{
	long step = *(long *)arg;
	char path[4096], text[32];
	int fd, n = snprintf(text, sizeof(text), "%ld", step);

	/* The state is taken now (a mark after the request's: it must be accepted all the same). */
	if (aic_checkpoint_begin(w) != 0)
		return -EPROTO;
	snprintf(path, sizeof(path), "%s/%d.%ld", dir, aic_worker_index(w), step);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
		close(fd);
		return -EIO;
	}
	close(fd);
	*version = (uint64_t)step;
	return 0;
}

/* This process's write system calls so far (/proc/self/io's syscw), or -1. */
static long writes_made(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/self/io", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "syscw: %ld", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static int checkpoints(struct aic_worker *w)
{
	uint64_t v = 0;
	long step = 0, first;
	int rc = aic_checkpoint_resume(&v);

	if (rc < 0)
		return rc;
	if (rc == 1) {
		char path[4096];
		FILE *f;
		snprintf(path, sizeof(path), "%s/%d.%llu", aic_checkpoint_dir(), aic_worker_index(w),
			 (unsigned long long)v);
		f = fopen(path, "r");
		if (!f || fscanf(f, "%ld", &step) != 1)
			return -ENOENT;
		fclose(f);
	}
	printf("resume %s step %ld\n", rc == 1 ? "yes" : "no", step);
	fflush(stdout);
	if (aic_checkpoint(w, NULL, NULL) != -EINVAL)
		return -EPROTO;
	/* Told no, a worker asks again without a round trip (lib/worker/checkpoint.c). */
	rc = aic_checkpoint_requested(w);
	if (rc == 0) {
		long before = writes_made(), i;
		for (i = 0; i < 100 && rc == 0; i++)
			rc = aic_checkpoint_requested(w);
		printf("polls wrote %ld\n", writes_made() - before);
		fflush(stdout);
	}
	if (rc < 0)
		return rc;
	first = step;
	for (;;) {
		step++;
		if (step == first + 3)
			fclose(fopen("ready", "a"));
		rc = aic_checkpoint(w, save_step, &step);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			printf("saved %ld\n", step);
			fflush(stdout);
			for (;;)
				pause(); /* the job ends now */
		}
		if (v && step >= first + 3)
			return 0;
		/* Never asked in 1500 steps (15 s or more): fail rather than hang. */
		if (step > first + 1500)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int phases(struct aic_worker *w, long n)
{
	bool train = !strcmp(aic_worker_stage(w), "t");
	const char *cvd = getenv("CUDA_VISIBLE_DEVICES"), *node = getenv("AIC_NODE");
	uint64_t version = 1;
	unsigned char blob[64];
	int rc;

	rc = aic_phase_end(w);
	printf("misuse end-outside %s\n", rc == -EINVAL ? "ok" : aic_strerror(rc));
	if (train && (rc = aic_weights_publish(w, "w", blob, sizeof(blob), version)))
		return rc;
	for (long k = 0; k < n; k++) {
		long long ask = now_ns(), begin, end;
		int batches = 0, yeses = 0;
		if ((rc = aic_phase_begin(w)))
			return rc;
		begin = now_ns();
		if (k == 0) {
			rc = aic_phase_begin(w);
			printf("misuse begin-inside %s\n",
			       rc == -EALREADY ? "ok" : aic_strerror(rc));
		}
		if (train) {
			usleep(50000);
			version = (uint64_t)k + 2;
			if ((rc = aic_weights_publish(w, "w", blob, sizeof(blob), version)))
				return rc;
		} else {
			const void *b;
			size_t len;
			if ((rc = aic_weights_receive(w, "w", 0, 60000, &b, &len, &version)))
				return rc;
			while (batches < 100) {
				usleep(20000);
				batches++;
				if ((rc = aic_phase_should_yield(w)) < 0)
					return rc;
				if (rc == 1) {
					yeses++;
					break;
				}
			}
		}
		end = now_ns();
		if ((rc = aic_phase_end(w)))
			return rc;
		printf("turn %s %d %ld %lld %lld %lld %llu %d %d %s:%s\n", aic_worker_stage(w),
		       aic_worker_index(w), k, begin, end, ask, (unsigned long long)version,
		       batches, yeses, node ? node : "-", cvd ? cvd : "-");
		fflush(stdout);
	}
	return 0;
}

/*
 * Waits until `n` replicas of service `stage` are ready (aic_endpoints),
 * then prints "endpoints N", each "REPLICA HOST:PORT", what a one-entry
 * buffer returns (the total) and the codes of an unknown stage and of
 * no stage.
 */
static int endpoints(struct aic_worker *w, const char *stage, int n)
{
	struct aic_endpoint e[8], one;
	int rc, i, ready;

	do {
		rc = aic_endpoints(w, stage, e, 8);
		if (rc < 0)
			return rc;
		for (i = ready = 0; i < rc && i < 8; i++)
			ready += e[i].ready;
		if (ready < n)
			usleep(20000);
	} while (ready < n);
	printf("endpoints %d\n", rc);
	for (i = 0; i < rc && i < 8; i++)
		printf("%d %s\n", e[i].replica, strchr(e[i].addr, ':') ? "host:port" : e[i].addr);
	printf("short %d\n", aic_endpoints(w, stage, &one, 1));
	printf("unknown %d\n", aic_endpoints(w, "no-such-stage", e, 8));
	printf("null %d\n", aic_endpoints(w, NULL, e, 8));
	fflush(stdout);
	return 0;
}

/* Runs argv in sb and prints "NAME STATUS TIMED_OUT OUT" (OUT's first line). */
static int task(struct aic_sandbox *sb, const char *name, const char *const *argv, const char *in,
		double timeout_s)
{
	struct aic_sandbox_task t;
	int rc = aic_sandbox_run(sb, argv, in, timeout_s, &t);

	if (rc) {
		printf("%s error %d\n", name, rc);
		return rc;
	}
	t.out[strcspn(t.out, "\n")] = '\0';
	printf("%s %d %d '%s'\n", name, t.status, t.timed_out, t.out);
	aic_sandbox_task_release(&t);
	aic_sandbox_task_release(&t); /* a released task is a no-op */
	return 0;
}

/*
 * Tasks in the stage's sandbox (AIC_SANDBOX), each printed by task():
 * what it reads from stdin, an exit code, the job directory, the agent and
 * this process out of reach (beside the same from outside), no AIC_
 * variable, a loop killed at its time limit, /tmp cleared by a reset; a
 * sandbox made from a config of its own (network: job) reaches the agent;
 * then the misuses' codes.
 */
static int sandboxes(void)
{
	const char *agent = getenv("AIC_AGENT"), *job = getenv("AIC_JOB_DIR");
	char host[256], pid[32], proc[64], cfg[512], *port;
	struct aic_sandbox *sb, *bad;
	struct aic_sandbox_task t;
	int rc;

	snprintf(host, sizeof(host), "%s", agent ? agent : "");
	port = strrchr(host, ':');
	if (!port || !job)
		return -EINVAL;
	*port++ = '\0';
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(proc, sizeof(proc), "/proc/%d", (int)getpid());
	const char *connect[] = {"python3", "-c",
				 "import socket, sys; s = socket.socket(); "
				 "print(s.connect_ex((sys.argv[1], int(sys.argv[2]))))",
				 host, port, NULL};
	rc = aic_sandbox_open(NULL, &sb);
	if (rc)
		return rc;
	printf("outside job %d proc %d\n", access(job, F_OK) == 0, access(proc, F_OK) == 0);
	task(sb, "stdin", (const char *[]){"cat", NULL}, "hello sandbox\n", 0);
	task(sb, "exit", (const char *[]){"sh", "-c", "exit 3", NULL}, NULL, 0);
	task(sb, "job-dir", (const char *[]){"ls", job, NULL}, NULL, 0);
	task(sb, "host-pid", (const char *[]){"test", "-e", proc, NULL}, NULL, 0);
	task(sb, "token-env", (const char *[]){"sh", "-c", "env | grep -c AIC_", NULL}, NULL, 0);
	task(sb, "agent", connect, NULL, 0);
	task(sb, "loop", (const char *[]){"sh", "-c", "while :; do :; done", NULL}, NULL, 1);
	task(sb, "tmp", (const char *[]){"sh", "-c", "echo kept >/tmp/f; cat /tmp/f", NULL}, NULL,
	     0);
	printf("reset %d\n", aic_sandbox_reset(sb));
	task(sb, "after-reset", (const char *[]){"sh", "-c", "cat /tmp/f || echo gone", NULL}, NULL,
	     0);
	printf("run-null %d\n", aic_sandbox_run(sb, NULL, NULL, 0, &t));
	printf("run-negative %d\n",
	       aic_sandbox_run(sb, (const char *[]){"true", NULL}, NULL, -1, &t));
	aic_sandbox_close(sb);
	aic_sandbox_close(NULL);
	snprintf(cfg, sizeof(cfg), "{\"network\": \"job\"}");
	rc = aic_sandbox_open(cfg, &sb);
	printf("open-config %d\n", rc);
	if (!rc) {
		task(sb, "agent-job", connect, NULL, 0);
		aic_sandbox_close(sb);
	}
	printf("open-missing-image %d\n",
	       aic_sandbox_open("{\"image\": \"/nonexistent/env.sqsh\"}", &bad));
	unsetenv("AIC_SANDBOX");
	printf("open-no-env %d\n", aic_sandbox_open(NULL, &bad));
	printf("open-null %d\n", aic_sandbox_open(NULL, NULL));
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct aic_worker *w;
	int rc = aic_worker_connect(&w);

	if (rc) {
		fprintf(stderr, "worker: connect: %s\n", aic_strerror(rc));
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "put"))
		rc = put_items(w, atol(argv[2]));
	else if (argc == 2 && !strcmp(argv[1], "get"))
		rc = get_items(w);
	else if (argc == 4 && !strcmp(argv[1], "wpub"))
		rc = aic_worker_index(w) == 0 ? publish(w, atol(argv[2]), (size_t)atol(argv[3])) : 0;
	else if (argc == 3 && !strcmp(argv[1], "wrecv"))
		rc = receive(w, atol(argv[2]));
	else if (argc == 3 && !strcmp(argv[1], "origins"))
		rc = origins(w, argv[2]);
	else if (argc == 2 && !strcmp(argv[1], "ckpt"))
		rc = checkpoints(w);
	else if (argc == 3 && !strcmp(argv[1], "phase"))
		rc = phases(w, atol(argv[2]));
	else if (argc == 4 && !strcmp(argv[1], "endpoints"))
		rc = endpoints(w, argv[2], atoi(argv[3]));
	else if (argc == 2 && !strcmp(argv[1], "sandbox"))
		rc = sandboxes();
	else
		rc = -EINVAL;
	aic_worker_close(w);
	if (rc)
		fprintf(stderr, "worker: %s\n", aic_strerror(rc));
	return rc ? 1 : 0;
}
