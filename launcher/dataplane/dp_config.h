/*
 * The data plane's CONFIG message (head -> every agent, once, before any
 * worker starts): which channels and weight streams the job has, who
 * produces and receives them, and where every agent listens. Its schema is
 * written once, as the key tables of dp_config.c: the head fills these
 * structs and sends dp_config_to_json(); an agent reads the message back
 * with dp_config_from_json(), which refuses anything that does not match.
 *
 * On the wire: {"channels": [{name, capacity, closed, compress, producers:
 * [rank], stale?: {stream, k}, sink?, sink_agent, source?, epochs, feeder,
 * resume?: {done, epoch, next, pending: [{epoch, line}]}}],
 * "agents": [{rank, addr, port}], "weights": [{name, receivers: [rank]}],
 * "failure_timeout_ms"?}.
 *
 * Ownership: strings are borrowed (the head's, or the parsed json_t's:
 * valid while it is); arrays are the filler's. dp_config_release() frees
 * the arrays dp_config_from_json() allocated, not the strings.
 */
#ifndef AIC_DATAPLANE_DP_CONFIG_H
#define AIC_DATAPLANE_DP_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Items written by a stage that reads weights carry their version: older than newest - k are
 * dropped. */
struct dp_stale {
	uint32_t stream; /* index into dp_config.weights */
	uint64_t k;	 /* the stream's max_staleness */
};

/* A source line: its pass (from 0) and number (from 1, every line of the file counted). */
struct dp_line {
	uint32_t epoch;
	uint64_t line;
};

/*
 * Where a resumed run continues a source (the journal's progress,
 * state.json): every line before (epoch, next) is done but those of
 * `pending` (sorted), which are read again with every line from (epoch,
 * next) on; done: every line is done, nothing is read.
 */
struct dp_resume {
	bool done;
	uint32_t epoch;
	uint64_t next;
	struct dp_line *pending;
	size_t n_pending;
};

/*
 * A channel's prefetch unless its spec says: with one reading process, a
 * quarter of its capacity, at least 1 and at most DP_PREFETCH_MAX, so that
 * the network works while the reader computes; with several, none: items
 * pulled ahead to one node wait there while readers elsewhere ask for
 * them (a gang's rank, say, whose step then lacks them), and work goes to
 * whoever asks.
 */
#define DP_PREFETCH_MAX 64

struct dp_channel {
	const char *name;
	uint32_t capacity;   /* items queued or in flight, per producing agent; 0 counts as 1 */
	uint64_t capacity_bytes; /* and their bytes at most (one item always fits) */
	bool closed;	     /* every producer has finished already */
	bool compress;	     /* zstd between agents (where the link allows it) */
	uint32_t prefetch;   /* items an agent with readers of it pulls ahead of their gets */
	uint32_t *producers; /* agent ranks whose workers (or source) put items */
	size_t n_producers;
	bool has_stale;
	struct dp_stale stale;
	const char *sink; /* NULL: none; else the file the agent `sink_agent` appends items to */
	uint32_t sink_agent;
	const char *source; /* NULL: none; else the JSONL file the agent `feeder` reads */
	uint32_t epochs;    /* passes over the source; 0 counts as 1 */
	uint32_t feeder;
	bool has_resume; /* a resumed run's source: where it continues */
	struct dp_resume resume;
};

/* Another agent's data-plane endpoint (port 0: it has none). */
struct dp_agent {
	uint32_t rank;
	const char *addr;
	uint32_t port;
};

/* A weight stream and the agents that get every version, in chain order. */
struct dp_weights {
	const char *name;
	uint32_t *receivers;
	size_t n_receivers;
};

struct dp_config {
	struct dp_channel *channels;
	size_t n_channels;
	struct dp_agent *agents;
	size_t n_agents;
	struct dp_weights *weights;
	size_t n_weights;
	/* The spec's failure_timeout: the liveness timeout of links between agents (0: the default). */
	uint64_t failure_timeout_ms;
};

/* The message for cfg (a new reference), or NULL when out of memory. */
json_t *dp_config_to_json(const struct dp_config *cfg);

/*
 * Reads a CONFIG message into *cfg (its strings point into j). Returns 0, or
 * -EINVAL with a message in err ("channels[2]: 'capacity': expected an
 * integer from 0 to 4294967295") and *cfg empty, or -ENOMEM.
 */
int dp_config_from_json(const json_t *j, struct dp_config *cfg, char *err, size_t err_size);

/* Frees the arrays dp_config_from_json() allocated; *cfg is empty after. */
void dp_config_release(struct dp_config *cfg);

#endif
