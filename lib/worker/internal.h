/*
 * Private to lib/worker/: struct aic_worker, and what its files share.
 *
 * The worker API (aic.h) is one blocking socket to the node agent, plus
 * the node's shared-memory arena when the agent gives one. conn.c opens and
 * closes it and reads and writes its frames; chan.c puts, gets and acks
 * channel items; weights.c publishes and receives weight versions;
 * nccl.c broadcasts them between GPUs; metric.c reports metrics;
 * checkpoint.c asks whether a checkpoint is due and reports one; phase.c
 * takes and yields the GPUs a stage shares in turns with another;
 * sandbox.c runs a sandbox's host process (python/aic/sandbox.py). Nothing
 * here is exported from libaic.so (lib/libaic.lds), nor installed.
 *
 * A struct aic_worker is one thread's: nothing here locks, but for the
 * batch of puts that batch.c's thread may send (tx_lock).
 */
#ifndef AIC_WORKER_INTERNAL_H
#define AIC_WORKER_INTERNAL_H

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "aic.h"
#include "arena.h"
#include "nccl.h"
#include "wire.h"

/* This process's place in a weight stream's NCCL group, and its communicator. */
struct nccl_group {
	char stream[64];
	int rank, nranks;
	void *comm;		/* NULL until the first broadcast */
	struct aic_nccl_id id;	/* the communicator's */
};

#define MAX_NCCL_GROUPS 8

struct aic_worker {
	int fd;
	uint64_t spin_ns; /* how long a read polls before it sleeps (conn.c), */
	bool spin_wait;	  /* which it does only for a control request's answer */
	/* Frames read ahead of the one in w->frame (conn.c): in[in_off, in_len). */
	uint8_t *in;
	size_t in_off, in_len;
	/* Puts written together (batch.c), under tx_lock: the batch, and its thread. */
	pthread_mutex_t tx_lock;
	pthread_cond_t tx_cond;
	uint8_t *tx;
	size_t tx_len;
	unsigned tx_frames;		  /* the puts in it */
	uint64_t tx_first_ns, tx_last_ns; /* the batch's first put, the last write */
	int tx_error;			  /* a write of the thread's failed: the next call's */
	bool tx_thread, tx_idle, tx_stop;
	pthread_t tx_thread_id;
	int puts_out;	/* puts sent, not yet answered */
	int put_error;	/* the first failure of a pipelined put, reported by the next call */
	/*
	 * checkpoint.c: the agent will send CKPT_NOTICE on the next request
	 * (its last CKPT_STATE said so), and whether one came (conn.c reads it).
	 */
	bool ckpt_watched, ckpt_notice;
	char stage[64];
	int index;
	json_t *channels; /* name -> id, from the agent's WELCOME */
	json_t *weights;  /* stream name -> id */
	uint8_t *rx;	  /* the last frame read; items point into it */
	size_t rx_cap;
	struct aic_arena arena; /* base NULL: none */
	size_t region;		/* this worker's region of it */
	struct nccl_group nccl[MAX_NCCL_GROUPS]; /* from AIC_WEIGHTS_NCCL */
	int n_nccl;
	struct aic_frame frame;
	pid_t pid;			/* the process that connected (a fork's child is not it) */
	struct aic_worker *exit_next;	/* the open workers flushed at exit (chan.c) */
	bool stalled;	     /* a wait for room in the ring timed out, */
	uint32_t stalled_at; /* with the ring's free count at this */
	/*
	 * Phases (phase.c): the weight versions this worker published since its
	 * phase began, reported when it ends, and those the other stage
	 * published in its turn, which this worker's receives wait for.
	 */
	bool in_phase;
	struct aic_phase_version {
		uint32_t stream;
		uint64_t version;
	} phase_pub[AIC_PHASE_VERSIONS_MAX], phase_min[AIC_PHASE_VERSIONS_MAX];
	int n_phase_pub, n_phase_min;
	/* The version being written in place (aic_weights_buffer), until committed. */
	struct {
		void *buf; /* NULL: none */
		uint64_t off; /* its arena slot, or 0: buf is in the heap */
		uint64_t version;
		size_t len;
		size_t written; /* announced by aic_weights_written */
		uint32_t stream;
		bool skip; /* not newer than the agent's: commit sends nothing */
	} wbuf;
};

/*
 * chan.c: a process that exits without aic_worker_close still gets its last
 * pipelined puts to the agent: aic__exit_track (at connect) lists the
 * worker, and at exit its socket is shut for writing and read to the
 * agent's end, so nothing it wrote is lost to a reset; aic__exit_untrack
 * (at close) takes it off. Both lock: workers of several threads.
 */
void aic__exit_track(struct aic_worker *w);
void aic__exit_untrack(struct aic_worker *w);

/*
 * conn.c: frames on the connection to the agent. Each returns 0 or a
 * negative code; a failure leaves the connection unusable.
 */

/* Writes the n pieces (n <= 4) whole. */
int aic__write_all(int fd, const struct iovec *iov, int n);
/*
 * Reads the next frame into w->frame, after sending the batch of puts. An
 * answer to a put is valid until the next read; any other frame's payload
 * is in w->rx, valid until the next such frame (items inline stay valid
 * while the answers to puts are read).
 */
int aic__recv_frame(struct aic_worker *w);
/* Whether the agent has sent something not read yet (or the connection ended): never blocks. */
bool aic__input_waiting(struct aic_worker *w);
/*
 * Reads the next frame that is not the answer to a pipelined put; answers
 * to puts met on the way are counted (and their first error kept).
 */
int aic__recv_reply(struct aic_worker *w);
/*
 * aic__recv_reply for the answer to a control request (a phase or
 * checkpoint call, endpoints), which comes within microseconds: polls a
 * while before it sleeps (lib/spin.h). A wait for data (a get, a put's
 * answer, anything about weights) uses aic__recv_reply and sleeps at once.
 */
int aic__recv_answer(struct aic_worker *w);
/* Waits until at most `left` puts are unanswered. */
int aic__settle_puts(struct aic_worker *w, int left);
/* A PUT_ERR or ERROR frame's code (its JSON's "code"), AIC_EPROTO when it has none. */
int aic__json_code(const struct aic_frame *f);
/* An ERROR frame's code, or AIC_EPROTO for an unexpected frame. */
int aic__frame_error(const struct aic_worker *w);

/*
 * batch.c: aic__send_frame sends one frame of `type` whose payload is a
 * then b (either may be empty), after the batch; aic__send_batched sends
 * a put's or an ack's, or adds it to the batch (see batch.c). aic__batch_flush sends
 * the batch now (and reports a failure of the thread's); aic__batch_frames
 * counts the puts in it; init and release
 * make and end the lock and the thread.
 */
int aic__send_frame(struct aic_worker *w, uint16_t type, const void *a, size_t alen, const void *b,
		    size_t blen);
int aic__send_batched(struct aic_worker *w, uint16_t type, const void *a, size_t alen,
		      const void *b, size_t blen);
int aic__batch_flush(struct aic_worker *w);
void aic__batch_flush_at_exit(struct aic_worker *w); /* gives up after 1 s */
unsigned aic__batch_frames(struct aic_worker *w);
void aic__batch_init(struct aic_worker *w);
void aic__batch_release(struct aic_worker *w);

/* nccl.c: AIC_WEIGHTS_NCCL ("stream:rank:nranks[,...]") into w->nccl. */
void aic__nccl_groups_parse(struct aic_worker *w, const char *v);
/* Destroys the groups' communicators (aic_worker_close). */
void aic__nccl_groups_release(struct aic_worker *w);

/*
 * phase.c, for weights.c: aic__phase_published records a version this
 * worker published (sent with its phase's end); aic__phase_min_version
 * raises a receive's min_version to what the other stage published before
 * this worker's phase began.
 */
void aic__phase_published(struct aic_worker *w, uint32_t stream, uint64_t version);
uint64_t aic__phase_min_version(const struct aic_worker *w, uint32_t stream, uint64_t min_version);

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t aic__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A wait in the wire's terms: < 0 is forever. */
static inline uint32_t aic__wire_timeout(int ms)
{
	return ms < 0 ? AIC_WIRE_FOREVER : (uint32_t)ms;
}

/*
 * A heap buffer that knows its length (HEAP_PREFIX bytes before it): what
 * aic_put_buffer and aic_weights_buffer give when the arena cannot. Freed
 * with aic__heap_free (NULL: nothing).
 */
#define HEAP_PREFIX 16
static inline int aic__heap_buffer(size_t len, void **buf)
{
	uint8_t *p = len < SIZE_MAX - HEAP_PREFIX ? malloc(HEAP_PREFIX + len) : NULL;

	if (!p)
		return -ENOMEM;
	memcpy(p, &len, sizeof(len));
	*buf = p + HEAP_PREFIX;
	return 0;
}

static inline size_t aic__heap_len(const void *buf)
{
	size_t len;

	memcpy(&len, (const uint8_t *)buf - HEAP_PREFIX, sizeof(len));
	return len;
}

static inline void aic__heap_free(void *buf)
{
	if (buf)
		free((uint8_t *)buf - HEAP_PREFIX);
}

#endif
