/*
 * Puts written together: a worker that puts many small items in a row
 * sends them to its agent a batch per write instead of one frame per write
 * (a system call and a trip through the loopback stack each), and the
 * agent answers a batch with one write (launcher/net/cork.c).
 *
 * A put or an ack is sent at once when the previous write is older than
 * GAP_NS: a lone or paced one never waits, and a worker that computes
 * between its calls (a Python stage: tens of microseconds a put) does not
 * pay a wake-up of the thread below per call for batches of one or two
 * frames (grpo-toy: about 8% less CPU for the whole job on 2 cores).
 * Puts and acks that come faster are appended to the batch, which goes when it
 * holds BATCH_FRAMES puts or BATCH_BYTES bytes, when its first frame is
 * BATCH_NS old at the next put, with any other frame sent (in the same
 * write when it is small: an ACK and the next GET are one write) or
 * before any frame is read (an answer awaited: what the agent is asked to
 * answer it has), and at close and exit. Frames keep their order. A
 * worker that puts a burst and then computes without calling the library
 * would leave the burst's last puts waiting: a thread of the worker's own
 * (started at its first batch, asleep while nothing waits) sends a batch
 * whose first frame is TAIL_NS old. The lock (tx_lock) orders that
 * thread's writes with the worker's.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* As long as a batch waits (BATCH_NS): a frame after a longer pause would go alone anyway. */
#define GAP_NS	     5000
/*
 * As old as the thread lets a batch get (TAIL_NS): a worker that comes back
 * with its next put sends the batch itself rather than wait for the thread,
 * which on busy cores waits for a core before it writes.
 */
#define BATCH_NS     5000
#define TAIL_NS	     5000
#define BATCH_FRAMES 64
#define BATCH_BYTES  32768
/* Frames up to this size are batched; larger ones go alone. */
#define BATCH_FRAME_MAX 4096

/* Writes the batch (tx_lock held). */
static int flush_locked(struct aic_worker *w)
{
	struct iovec v = {w->tx, w->tx_len};
	int rc;

	if (!w->tx_len)
		return 0;
	rc = aic__write_all(w->fd, &v, 1);
	w->tx_len = 0;
	w->tx_frames = 0;
	w->tx_last_ns = aic__now_ns();
	return rc;
}

/* Appends a frame (header, a, b) to the batch, which has room for it (tx_lock held). */
static void append(struct aic_worker *w, const uint8_t *hdr, const void *a, size_t alen,
		   const void *b, size_t blen)
{
	memcpy(w->tx + w->tx_len, hdr, AIC_WIRE_HEADER);
	if (alen)
		memcpy(w->tx + w->tx_len + AIC_WIRE_HEADER, a, alen);
	if (blen)
		memcpy(w->tx + w->tx_len + AIC_WIRE_HEADER + alen, b, blen);
	w->tx_len += AIC_WIRE_HEADER + alen + blen;
}

static void *flusher(void *arg)
{
	struct aic_worker *w = arg;

	/* Its deadlines are short: the default 50 us of timer slack would double them. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	pthread_mutex_lock(&w->tx_lock);
	while (!w->tx_stop) {
		uint64_t due, now;
		struct timespec ts;
		if (!w->tx_len) {
			w->tx_idle = true;
			pthread_cond_wait(&w->tx_cond, &w->tx_lock);
			w->tx_idle = false;
			continue;
		}
		due = w->tx_first_ns + TAIL_NS;
		now = aic__now_ns();
		if (now >= due) {
			int rc = flush_locked(w);
			if (rc && !w->tx_error)
				w->tx_error = rc;
			continue;
		}
		ts.tv_sec = (time_t)(due / 1000000000u);
		ts.tv_nsec = (long)(due % 1000000000u);
		pthread_cond_timedwait(&w->tx_cond, &w->tx_lock, &ts);
	}
	pthread_mutex_unlock(&w->tx_lock);
	return NULL;
}

void aic__batch_init(struct aic_worker *w)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&w->tx_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->tx_cond, &ca);
	pthread_condattr_destroy(&ca);
}

int aic__batch_flush(struct aic_worker *w)
{
	int rc;

	pthread_mutex_lock(&w->tx_lock);
	rc = flush_locked(w);
	if (!rc && w->tx_error) {
		rc = w->tx_error;
		w->tx_error = 0;
	}
	pthread_mutex_unlock(&w->tx_lock);
	return rc;
}

int aic__send_frame(struct aic_worker *w, uint16_t type, const void *a, size_t alen, const void *b,
		    size_t blen)
{
	uint8_t hdr[AIC_WIRE_HEADER];
	struct iovec iov[3] = {{hdr, sizeof(hdr)}, {(void *)a, alen}, {(void *)b, blen}};
	int rc;

	if (alen + blen > AIC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	aic_wire_header(hdr, type, (uint32_t)(alen + blen));
	pthread_mutex_lock(&w->tx_lock);
	if (w->tx_len && AIC_WIRE_HEADER + alen + blen <= BATCH_FRAME_MAX) {
		/* A small frame after a batch goes in the same write. */
		append(w, hdr, a, alen, b, blen);
		rc = flush_locked(w);
	} else {
		rc = flush_locked(w);
		if (!rc)
			rc = aic__write_all(w->fd, iov, 3);
	}
	w->tx_last_ns = aic__now_ns();
	pthread_mutex_unlock(&w->tx_lock);
	return rc;
}

void aic__batch_flush_at_exit(struct aic_worker *w)
{
	struct timespec ts;

	/*
	 * exit() from a signal handler that interrupted a put holds the lock
	 * for good: give up after a second rather than hang the exit.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (pthread_mutex_timedlock(&w->tx_lock, &ts))
		return;
	flush_locked(w);
	pthread_mutex_unlock(&w->tx_lock);
}

unsigned aic__batch_frames(struct aic_worker *w)
{
	unsigned n;

	pthread_mutex_lock(&w->tx_lock);
	n = w->tx_frames;
	pthread_mutex_unlock(&w->tx_lock);
	return n;
}

void aic__batch_release(struct aic_worker *w)
{
	/* A fork's child has the worker's memory, not its thread. */
	if (w->tx_thread && w->pid == getpid()) {
		pthread_mutex_lock(&w->tx_lock);
		w->tx_stop = true;
		pthread_cond_signal(&w->tx_cond);
		pthread_mutex_unlock(&w->tx_lock);
		pthread_join(w->tx_thread_id, NULL);
		w->tx_thread = false;
	}
	pthread_mutex_destroy(&w->tx_lock);
	pthread_cond_destroy(&w->tx_cond);
	free(w->tx);
	w->tx = NULL;
}

int aic__send_batched(struct aic_worker *w, uint16_t type, const void *a, size_t alen,
		      const void *b, size_t blen)
{
	size_t n = AIC_WIRE_HEADER + alen + blen;
	uint8_t hdr[AIC_WIRE_HEADER];
	uint64_t now;
	int rc = 0;

	if (n > BATCH_FRAME_MAX)
		return aic__send_frame(w, type, a, alen, b, blen);
	now = aic__now_ns();
	pthread_mutex_lock(&w->tx_lock);
	if (w->tx_error) {
		rc = w->tx_error;
		w->tx_error = 0;
		goto out_unlock;
	}
	if (!w->tx_len && now - w->tx_last_ns >= GAP_NS) {
		/* Nothing sent lately: this frame goes now, alone. */
		pthread_mutex_unlock(&w->tx_lock);
		return aic__send_frame(w, type, a, alen, b, blen);
	}
	/* Batches are flushed from BATCH_BYTES on: a frame always fits after what is there. */
	if (!w->tx && !(w->tx = malloc(BATCH_BYTES + BATCH_FRAME_MAX))) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	aic_wire_header(hdr, type, (uint32_t)(alen + blen));
	if (!w->tx_len)
		w->tx_first_ns = now;
	append(w, hdr, a, alen, b, blen);
	if (type == AIC_MSG_PUT || type == AIC_MSG_PUT_SHM)
		w->tx_frames++;
	if (w->tx_frames >= BATCH_FRAMES || w->tx_len >= BATCH_BYTES ||
	    now - w->tx_first_ns >= BATCH_NS) {
		rc = flush_locked(w);
		goto out_unlock;
	}
	/* Left waiting: the thread sends it if the worker does not come back soon. */
	if (!w->tx_thread) {
		/* Signals are the worker's threads' business, not this one's. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		w->tx_thread = pthread_create(&w->tx_thread_id, NULL, flusher, w) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!w->tx_thread)
			rc = flush_locked(w);
	} else if (w->tx_idle) {
		pthread_cond_signal(&w->tx_cond);
	}
out_unlock:
	pthread_mutex_unlock(&w->tx_lock);
	return rc;
}
