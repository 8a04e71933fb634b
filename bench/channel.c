/*
 * Channel throughput, run as a stage's worker by bench/channels.sh:
 *
 *   channel put N SIZE     put N items of SIZE bytes on channel "bench"
 *   channel get            get (batches of 64) and ack until the channel ends;
 *                          print items, bytes, seconds and put->get latency
 *                          percentiles (the producer stamps each item; of
 *                          a uniform sample of 65,536 of the whole run's)
 *   channel local N SIZE RING COPY  the baseline of a channel on one node: the
 *                          same bytes in one process, round a RING-byte ring
 *                          (the memory a producer's arena region cycles
 *                          through). COPY=1: fill a buffer, memcpy it into
 *                          the next slot, read the slot (as put with TOUCH=1);
 *                          COPY=0: fill the next slot, read it (as put with
 *                          INPLACE=1 TOUCH=1)
 *   channel rtt N          N calls of aic_phase_should_yield, each a frame
 *                          (PHASE_POLL) to the agent and its answer (a
 *                          checkpoint poll's "no" makes no round trip any
 *                          more, lib/worker/checkpoint.c): the control round
 *                          trip worker -> agent -> worker, idle; prints its
 *                          p50/p99 (the channel is left alone)
 *   channel hold           get every item without acking any until the
 *                          channel ends, then ack them all: the agent holds
 *                          them all in flight at once (for its memory)
 *   channel soak SECONDS   put items of mixed sizes (a round of 8 x 64 B,
 *                          4 x 4 KiB, 2 x 64 KiB and 1 x 1 MiB, half of
 *                          the rounds built in place) for SECONDS
 *   channel words N SIZE   write to stdout the N items of SIZE bytes that a
 *                          put with FILL=words sends (for `zstd -b`)
 *   channel wpub N SIZE    publish N versions of SIZE bytes on weight stream
 *                          "w" (rank 0 only), each stamped with the wall
 *                          clock, waiting GAP_MS (env, default 1000) between
 *   channel wrecv N        receive versions 1..N; print each one's time from
 *                          publish to arrival here (one JSON line per version)
 *
 * Prints one JSON line (the consumer, or local). With FILL=words in the
 * environment, put sends text-like items (random words from a small
 * vocabulary: compressible about 3:1, like JSON or token text) instead of
 * zeros. With INPLACE=1, put and wpub write each item or version where it
 * will be read (aic_put_buffer/aic_put_commit, aic_weights_buffer/
 * aic_weights_commit) instead of handing over a buffer to copy: only the
 * stamp (and FILL's bytes) are written, as a raw socket sends a buffer as
 * it is; a version's clock starts at its commit. With TOUCH=1, put writes
 * every byte of every item (into its buffer, or in place into the item)
 * and get reads every byte of every item: data made and used, not only
 * handed over. With GAP_US=G, put sleeps G microseconds before each item,
 * so that one item at a time is in flight and get's latency is the
 * channel's, not a queue's (a ping-pong would need a cycle of channels,
 * which the spec refuses). With RATE=R, put puts R items per second on
 * average (sleeping whenever it is 20 us ahead of that schedule): a
 * producer at a set fraction of the channel's peak rate (its timer slack
 * cut to 1 us, so that it runs in bursts of about 20 us of items).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "aic.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CORPUS (64u << 20)

/* 64 MiB of random words (fixed seed); item i is the window at i * SIZE. */
static char *words_corpus(void)
{
	static const char *const vocab[] = {
		"the", "policy", "reward", "token", "model", "of", "and", "gradient", "step",
		"answer", "prompt", "is", "to", "sample", "value", "a", "in", "loss", "batch",
		"rollout", "weights", "for", "with", "GPU", "node", "{\"id\":", "},", "0.", "1", "7",
	};
	char *c = malloc(CORPUS);
	unsigned long x = 88172645463325252UL;
	size_t at = 0;

	while (c && at < CORPUS) {
		const char *w;
		size_t n;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
		w = vocab[x % (sizeof(vocab) / sizeof(vocab[0]))];
		n = strlen(w);
		if (at + n + 1 > CORPUS)
			n = CORPUS - at - 1;
		memcpy(c + at, w, n);
		c[at + n] = (x >> 32) % 11 ? ' ' : '\n';
		at += n + 1;
	}
	return c;
}

static const char *item_bytes(const char *corpus, long i, long size)
{
	return corpus + (size_t)(i * size) % (CORPUS - (size_t)size + 1);
}

/* The wall clock: the same on every node of one machine's cluster. */
static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads every byte of an item (as 64-bit words), so that the compiler cannot skip it. */
static uint64_t read_all(const void *p, size_t len)
{
	const unsigned char *c = p;
	uint64_t sum = 0, w;
	size_t i;

	for (i = 0; i + sizeof(w) <= len; i += sizeof(w)) {
		memcpy(&w, c + i, sizeof(w));
		sum += w;
	}
	return sum;
}

static bool env_is(const char *name, const char *value)
{
	const char *v = getenv(name);

	return v && !strcmp(v, value);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Latencies kept for the percentiles: a uniform sample of the whole run past this many. */
#define LAT_KEEP 65536

/*
 * Offers the seen-th latency (1-based) to a sample of at most LAT_KEEP
 * (reservoir sampling, Vitter's Algorithm R): the first LAT_KEEP are kept,
 * then each with probability LAT_KEEP / seen in place of one at random, so
 * that the sample is uniform over every item of the run, in memory that
 * does not grow with it. Returns how many the sample holds.
 */
static size_t lat_offer(double *lat, uint64_t seen, double v, uint64_t *rng)
{
	uint64_t j;

	if (seen <= LAT_KEEP) {
		lat[seen - 1] = v;
		return (size_t)seen;
	}
	*rng ^= *rng << 13; /* xorshift64: any fixed, cheap, uniform enough generator */
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	j = *rng % seen;
	if (j < LAT_KEEP)
		lat[j] = v;
	return LAT_KEEP;
}

int main(int argc, char **argv)
{
	struct aic_worker *w;
	int rc;

	if (argc == 6 && !strcmp(argv[1], "local")) {
		/* What a channel on one node does with each item, in one process. */
		long n = atol(argv[2]), size = atol(argv[3]), ring = atol(argv[4]), i;
		bool copy = atoi(argv[5]) == 1;
		long slots = ring / size > 0 ? ring / size : 1;
		char *a = malloc((size_t)size), *b = malloc((size_t)(slots * size));
		uint64_t sum = 0;
		double t0;
		if (!a || !b || size < 8)
			return 1;
		memset(a, 1, (size_t)size);
		memset(b, 2, (size_t)(slots * size));
		t0 = now();
		for (i = 0; i < n; i++) {
			char *slot = b + (i % slots) * size;
			memset(copy ? a : slot, (int)(i & 0xff), (size_t)size);
			if (copy)
				memcpy(slot, a, (size_t)size);
			sum += read_all(slot, (size_t)size);
		}
		t0 = now() - t0;
		printf("{\"what\": \"local %s\", \"items\": %ld, \"bytes\": %ld, \"ring_bytes\": %ld, "
		       "\"seconds\": %.4f, \"GBps\": %.3f, \"items_per_s\": %.0f, \"check\": %llu}\n",
		       copy ? "copy" : "fill", n, n * size, slots * size, t0, (double)(n * size) / t0 / 1e9,
		       (double)n / t0, (unsigned long long)(sum & 0xff));
		free(a);
		free(b);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "words")) {
		long n = atol(argv[2]), size = atol(argv[3]), i;
		char *corpus = size > 0 && (size_t)size <= CORPUS ? words_corpus() : NULL;
		for (i = 0; corpus && i < n; i++)
			fwrite(item_bytes(corpus, i, size), 1, (size_t)size, stdout);
		free(corpus);
		return corpus ? 0 : 1;
	}
	rc = aic_worker_connect(&w);
	if (rc) {
		fprintf(stderr, "channel: connect: %s\n", aic_strerror(rc));
		return 1;
	}
	if (argc == 4 && !strcmp(argv[1], "wpub")) {
		long n = atol(argv[2]), size = atol(argv[3]), v;
		int gap = atoi(getenv("GAP_MS") ?: "1000");
		char *buf = calloc(1, (size_t)size < 8 ? 8 : (size_t)size);
		bool in_place = getenv("INPLACE") && !strcmp(getenv("INPLACE"), "1");
		for (v = 1; v <= n && rc == 0 && aic_worker_index(w) == 0; v++) {
			struct timespec ts = {gap / 1000, (long)(gap % 1000) * 1000000L};
			void *slot = NULL;
			double t;
			nanosleep(&ts, NULL); /* receivers are waiting for it */
			if (in_place && (rc = aic_weights_buffer(w, "w", (size_t)size, (uint64_t)v, &slot)))
				break;
			t = wall();
			memcpy(in_place ? slot : buf, &t, sizeof(t));
			rc = in_place ? aic_weights_commit(w, "w", slot, (size_t)size)
				      : aic_weights_publish(w, "w", buf, (size_t)size, (uint64_t)v);
		}
		free(buf);
	} else if (argc == 3 && !strcmp(argv[1], "wrecv")) {
		long n = atol(argv[2]);
		uint64_t v = 0;
		while ((long)v < n && rc == 0) {
			const void *blob;
			size_t len;
			double t;
			rc = aic_weights_receive(w, "w", v + 1, 60000, &blob, &len, &v);
			if (rc || len < sizeof(t))
				break;
			memcpy(&t, blob, sizeof(t));
			printf("{\"what\": \"weights\", \"version\": %llu, \"bytes\": %zu, "
			       "\"seconds\": %.4f}\n",
			       (unsigned long long)v, len, wall() - t);
			fflush(stdout);
		}
	} else if (argc == 4 && !strcmp(argv[1], "put")) {
		long n = atol(argv[2]), size = atol(argv[3]), i;
		char *buf = calloc(1, (size_t)size < 8 ? 8 : (size_t)size);
		const char *fill = getenv("FILL");
		char *corpus = fill && !strcmp(fill, "words") && (size_t)size <= CORPUS ? words_corpus() : NULL;
		bool in_place = env_is("INPLACE", "1"), touch = env_is("TOUCH", "1");
		long gap = atol(getenv("GAP_US") ?: "0");
		double rate = atof(getenv("RATE") ?: "0"), start = now();
		/* Sleeps of tens of microseconds: 50 us of slack would make bursts. */
		if (rate > 0)
			prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
		for (i = 0; i < n && rc == 0; i++) {
			struct timespec ts = {gap / 1000000, (gap % 1000000) * 1000};
			char *b = buf;
			double t;
			if (gap > 0)
				nanosleep(&ts, NULL);
			if (rate > 0 && (t = start + (double)i / rate - now()) > 20e-6) {
				struct timespec ahead = {(time_t)t,
							 (long)((t - (double)(time_t)t) * 1e9)};
				nanosleep(&ahead, NULL);
			}
			if (in_place && (rc = aic_put_buffer(w, (size_t)size, (void **)&b)))
				break;
			if (touch)
				memset(b, (int)(i & 0xff), (size_t)size);
			if (corpus)
				memcpy(b, item_bytes(corpus, i, size), (size_t)size);
			t = now();
			memcpy(b, &t, sizeof(t) <= (size_t)size ? sizeof(t) : 0);
			rc = in_place ? aic_put_commit(w, "bench", b, (size_t)size, 0, -1, NULL)
				      : aic_put(w, "bench", buf, (size_t)size, 0, -1, NULL);
		}
		free(buf);
		free(corpus);
	} else if (argc == 3 && !strcmp(argv[1], "rtt")) {
		long n = atol(argv[2]), i;
		double *lat = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
		for (i = 0; lat && i < n && rc == 0; i++) {
			double t = now();
			rc = aic_phase_should_yield(w);
			rc = rc < 0 ? rc : 0;
			lat[i] = (now() - t) * 1e6;
		}
		if (lat && !rc && n > 0) {
			qsort(lat, (size_t)n, sizeof(double), cmp);
			printf("{\"what\": \"control rtt\", \"items\": %ld, \"lat_p50_us\": %.1f, "
			       "\"lat_p99_us\": %.1f}\n",
			       n, lat[n / 2], lat[n * 99 / 100]);
		}
		free(lat);
	} else if (argc == 3 && !strcmp(argv[1], "soak")) {
		static const size_t sizes[] = {64,   64,   64,	 64,   64,    64,    64,     64,
					       4096, 4096, 4096, 4096, 65536, 65536, 1048576};
		double end = now() + atof(argv[2]);
		char *buf = calloc(1, 1048576);
		long round;
		size_t k;
		for (round = 0; buf && rc == 0 && now() < end; round++)
			for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && rc == 0; k++) {
				void *b;
				if (round % 2 == 0) {
					rc = aic_put(w, "bench", buf, sizes[k], 0, -1, NULL);
				} else if ((rc = aic_put_buffer(w, sizes[k], &b)) == 0) {
					memset(b, (int)(round & 0xff),
					       sizes[k] < 64 ? sizes[k] : 64);
					rc = aic_put_commit(w, "bench", b, sizes[k], 0, -1, NULL);
				}
			}
		free(buf);
	} else if (argc == 2 && !strcmp(argv[1], "hold")) {
		size_t cap = 1 << 16, n = 0, got;
		struct aic_item *held = malloc(cap * sizeof(*held));
		while (held && (rc = aic_get(w, "bench", held + n, cap - n < 64 ? cap - n : 64,
					     &got, -1)) == 0) {
			n += got;
			if (n == cap) {
				struct aic_item *more = realloc(held, 2 * cap * sizeof(*held));
				if (!more)
					break;
				held = more;
				cap *= 2;
			}
		}
		if (rc == AIC_ECLOSED)
			rc = aic_ack(w, "bench", held, n);
		printf("{\"what\": \"hold\", \"items\": %zu}\n", n);
		free(held);
	} else if (argc == 2 && !strcmp(argv[1], "get")) {
		struct aic_item items[64];
		size_t n, i, count = 0, nl = 0;
		uint64_t stamped = 0, rng = 88172645463325252u;
		double *lat = malloc(LAT_KEEP * sizeof(double)), t0 = 0, t1;
		long bytes = 0;
		bool touch = env_is("TOUCH", "1");
		uint64_t sum = 0;
		for (;;) {
			rc = aic_get(w, "bench", items, 64, &n, -1);
			if (rc)
				break;
			t1 = now();
			if (!count)
				t0 = t1;
			for (i = 0; i < n; i++) {
				double t;
				bytes += (long)items[i].len;
				if (touch)
					sum += read_all(items[i].data, items[i].len);
				if (items[i].len >= sizeof(t) && lat) {
					memcpy(&t, items[i].data, sizeof(t));
					nl = lat_offer(lat, ++stamped, (t1 - t) * 1e6, &rng);
				}
			}
			count += n;
			aic_ack(w, "bench", items, n);
		}
		t1 = now() - t0;
		qsort(lat, nl, sizeof(double), cmp);
		printf("{\"what\": \"channel\", \"items\": %zu, \"bytes\": %ld, \"seconds\": %.4f, "
		       "\"GBps\": %.3f, \"items_per_s\": %.0f, \"lat_p50_us\": %.0f, \"lat_p99_us\": %.0f, "
		       "\"check\": %llu}\n",
		       count, bytes, t1, (double)bytes / t1 / 1e9, (double)count / t1,
		       nl ? lat[nl / 2] : 0.0, nl ? lat[nl * 99 / 100] : 0.0,
		       (unsigned long long)(sum & 0xff));
		free(lat);
		rc = rc == AIC_ECLOSED ? 0 : rc;
	}
	aic_worker_close(w);
	if (rc)
		fprintf(stderr, "channel: %s\n", aic_strerror(rc));
	return rc ? 1 : 0;
}
