/*
 * aic.h — the worker API: what a stage's process uses to move data.
 *
 * A worker started by aic's engine finds its node agent in the environment
 * (AIC_AGENT_UNIX, a Unix domain socket, else AIC_AGENT over TCP, and
 * AIC_TOKEN, a credential for its stage); aic_worker_connect()
 * opens a connection to it on which both sides prove they know it. Channels are named as in the job spec. Items are bytes
 * with an id (unique per producer), the id of their producer and the weight
 * version they were made with.
 *
 * Delivery is at least once: an item a consumer got and did not ack before
 * it exited goes to another consumer. Each item is delivered to exactly one
 * consumer at a time; (producer, id) identifies it for deduplication.
 *
 * Calls block (with a timeout where given) and are not thread-safe: one
 * struct aic_worker per thread. Every function returns 0 or a negative code
 * (-errno or AIC_E*; aic_strerror() gives text). A channel whose producers
 * have all finished and that is drained makes aic_get() return AIC_ECLOSED.
 *
 * This is libaic's one public header (#include <aic.h>, link with -laic),
 * and libaic.so exports exactly what it declares.
 */
#ifndef AIC_H
#define AIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Errors: a negative code is either -errno (from the system call that
 * failed) or one of the AIC_E* codes below, which are far below any errno
 * value so the two never collide. The AIC_E* codes are consecutive, from
 * -1000 down to AIC_ERROR_MIN; a new one goes below the last, and a value
 * is never reused.
 */
enum aic_error {
	AIC_ESPEC = -1000,	/* the job spec is invalid */
	AIC_ETOPO = -1001,	/* the topology cannot be read or makes no sense */
	AIC_ENOFIT = -1002,	/* no placement satisfies the job's demands */
	AIC_EPROTO = -1003,	/* a peer broke the wire protocol */
	AIC_EAUTH = -1004,	/* a peer did not present the job's token */
	AIC_ENOLIB = -1005,	/* an optional run-time library could not be loaded */
	AIC_ECLOSED = -1006,	/* the channel or connection is closed */
	AIC_ENOSUPPORT = -1007, /* this build lacks the dependency the call needs */
	AIC_ENCCL = -1008,	/* an NCCL or CUDA call failed */
};

/* The smallest AIC_E* value, for range checks. */
#define AIC_ERROR_MIN AIC_ENCCL

/*
 * Returns a static, constant description of the code `err` (0, -errno or
 * AIC_E*). Never returns NULL; an unknown code gives "unknown error".
 * Thread-safe.
 */
const char *aic_strerror(int err);

/*
 * Returns the name of an AIC_E* code as this header spells it
 * ("AIC_ECLOSED"), static and constant, or NULL for any other value (0 and
 * -errno too): how a binding that cannot read this header (python/aic)
 * learns the codes, from -1000 down until NULL. Thread-safe.
 */
const char *aic_error_name(int err);

struct aic_worker;

struct aic_item {
	uint32_t producer; /* who made it */
	uint64_t id;	   /* unique per producer */
	uint64_t version;  /* weight version it was made with */
	size_t len;
	/*
	 * Valid until the item is acked, the next aic_get() or aic_worker_close(),
	 * whichever comes first: a large item from this node may be read in
	 * place, in memory its producer reuses once it is acked.
	 */
	const void *data;
	/*
	 * Where it comes from (aic_item_origin gives the source's name): line
	 * origin_line (1-based) of pass origin_epoch (0-based) over the source
	 * of channel id origin_chan, or origin_chan UINT32_MAX: no source line.
	 */
	uint32_t origin_chan;
	uint32_t origin_epoch;
	uint64_t origin_line;
};

/*
 * Connects to this process's agent from AIC_AGENT_UNIX ("@name" in the
 * abstract namespace, or a path) and AIC_TOKEN, or over TCP to AIC_AGENT
 * (host:port) when there is no such variable or no one listens there;
 * either may be missing, not both (-EINVAL: one is malformed). Returns 0
 * and *out (close with aic_worker_close), -ENOENT outside an aic job,
 * AIC_EAUTH when the agent refuses the credential or cannot prove it
 * knows it, or the connection's error. A connection the agent drops during
 * the handshake (a flood of strangers) is tried again a few times.
 */
int aic_worker_connect(struct aic_worker **out);
/*
 * Waits for the worker's pipelined puts to be accepted, then closes. A
 * process that exits (exit(), a return from main) without closing still
 * gets every put it made to its agent: libaic flushes open workers at
 * exit. Only _exit() or a signal can lose the last ones.
 */
void aic_worker_close(struct aic_worker *w);

/* Identity: the stage's name; replica number or rank (AIC_INDEX). */
const char *aic_worker_stage(const struct aic_worker *w);
int aic_worker_index(const struct aic_worker *w);

/*
 * Puts len bytes on channel `chan`. Puts are pipelined: with timeout_ms < 0
 * and id NULL, the call returns once the item is on its way (small puts
 * that come fast are written together, within microseconds), and blocks
 * while 64 earlier puts (512 of items up to 4 KiB) are not yet accepted
 * (a full channel stops the producer: that is the backpressure); an error
 * of such a put is returned by a later aic_put, and aic_worker_close() waits for all of them. With
 * timeout_ms >= 0 or an id pointer the call waits for this item's
 * acceptance: -ETIMEDOUT when the channel stayed full, else *id is its id.
 * An item is at most 64 MiB - 64 bytes (-EMSGSIZE: refused at once), so
 * that any frame can carry it alone; aic_put_buffer and aic_put_commit
 * refuse larger ones the same way.
 */
int aic_put(struct aic_worker *w, const char *chan, const void *data, size_t len, uint64_t version,
	    int timeout_ms, uint64_t *id);

/*
 * Reports a metric (a loss, a reward, tokens/s): name = value at `step`
 * (< 0: none). The agent passes points to the head in batches: the job
 * directory's metrics.jsonl gets a line per point ({"t", "stage", "index",
 * "name", "value", "step"}; a value that is not finite is written as the
 * string "nan", "inf" or "-inf") and summary.json the count, last, min and
 * max per stage and name. Never waits for an answer. name: 1 to 128 bytes
 * of UTF-8 without control characters (else -EINVAL).
 */
int aic_metric(struct aic_worker *w, const char *name, double value, int64_t step);

/*
 * Zero-copy puts, for producers that can build an item where it will be
 * read: aic_put_buffer gives a buffer of len bytes to fill, in this node's
 * shared memory when it can be (a consumer on this node then reads it where
 * it was written, and an agent sends it to other nodes from there), else in
 * the heap. aic_put_commit puts its first len bytes (at most the buffer's)
 * on `chan` exactly as aic_put would, and the buffer is no longer the
 * caller's, also when it fails; aic_put_discard gives back one that will
 * not be put. Several may be outstanding; each is committed or discarded
 * once.
 */
int aic_put_buffer(struct aic_worker *w, size_t len, void **buf);
int aic_put_commit(struct aic_worker *w, const char *chan, void *buf, size_t len,
		   uint64_t version, int timeout_ms, uint64_t *id);
void aic_put_discard(struct aic_worker *w, void *buf);

/*
 * Gets up to max items from `chan` into items[]; *n is how many. Waits up to
 * timeout_ms (< 0: forever) for at least one; returns -ETIMEDOUT when none
 * came, AIC_ECLOSED when the channel is closed and drained: every producer
 * has finished and nothing is left but items this worker holds un-acked
 * (ack them before exiting: a worker that exits holding items gives them
 * back to the channel). Large items that are not read in place come fewer
 * at a time than max: the answer stays under 64 MiB.
 */
int aic_get(struct aic_worker *w, const char *chan, struct aic_item *items, size_t max, size_t *n,
	    int timeout_ms);

/*
 * aic_get() that waits until at least `min` items can go (1 <= min <= max;
 * 0 is 1; min > max: -EINVAL), then gives up to max: one round trip where
 * a loop of aic_get() makes one per item that trickles in. It answers with
 * fewer (at least one) when the timeout passes, when the channel is closed
 * and every producer has finished, or when the channel is full on this
 * node (its producers wait for room, perhaps for this worker's acks; a
 * full producer on another node is not seen: the timeout ends that wait);
 * with none, as aic_get(). Items are not kept back for a get that waits: another
 * consumer's get that can be answered now takes them, so replicas that
 * each wait for more than there is take what there is at their deadlines
 * (with no timeout, such a get may wait until more come). A get of a
 * worker that is draining is answered at once, as aic_get().
 */
int aic_get_min(struct aic_worker *w, const char *chan, struct aic_item *items, size_t max,
		size_t min, size_t *n, int timeout_ms);

/*
 * Acknowledges items got from `chan`: they will never be delivered again.
 * The ack goes with the next frame sent, or within microseconds.
 */
int aic_ack(struct aic_worker *w, const char *chan, const struct aic_item *items, size_t n);

/*
 * Where an item aic_get() gave comes from: the source line its processing
 * started from (an item put while holding items has the origin of the one
 * got last). *source: the name of the source's channel (static until
 * aic_worker_close), *line: the line's number in the file (1-based,
 * counting every line), *epoch: the pass over the file (0-based); any of
 * them may be NULL. Returns 0, or -ENOENT for an item from no source line.
 * A source line read again after a node was lost keeps its origin: two
 * items with the same origin are the same work done twice.
 */
int aic_item_origin(const struct aic_worker *w, const struct aic_item *item, const char **source,
		    uint64_t *line, uint32_t *epoch);

/*
 * Weight streams: a named stream of versioned blobs (the writer stage's
 * parameters, serialised however the job likes; python/aic writes named
 * numpy arrays). The `weights_to` stage publishes; every process of a
 * `weights_from` stage receives the newest version. Each node's agent keeps
 * one copy, so N local readers cost one transfer to the node.
 */

/* Publishes version `version` of stream `name`; older versions than the newest are ignored. */
int aic_weights_publish(struct aic_worker *w, const char *name, const void *blob, size_t len,
			uint64_t version);

/*
 * Publishing in place: aic_weights_buffer gives a buffer of len bytes for
 * version `version` of stream `name` to fill (the node's copy itself, in
 * shared memory, when it can be: nothing is copied after the caller's own
 * writes; else the heap), and aic_weights_commit publishes its first len
 * bytes. One buffer at a time per worker (-EBUSY): commit it before asking
 * for the next. A version not newer than the node's is accepted and
 * dropped, as aic_weights_publish does.
 */
int aic_weights_buffer(struct aic_worker *w, const char *name, size_t len, uint64_t version,
		       void **buf);
/*
 * Optional, while filling: bytes [0, bytes) of the buffer are written and
 * will not change, so the agent may start sending them to other nodes
 * while the rest is written (a version then costs about its copy or its
 * transfer, not both). Commit with the buffer's whole length after this.
 */
int aic_weights_written(struct aic_worker *w, const char *name, void *buf, size_t bytes);
int aic_weights_commit(struct aic_worker *w, const char *name, void *buf, size_t len);
/* Gives up a buffer from aic_weights_buffer without publishing it. */
void aic_weights_discard(struct aic_worker *w, void *buf);

/*
 * Weights on GPUs, broadcast by NCCL (dlopen'ed: $AIC_NCCL_LIBRARY or
 * libnccl.so.2) straight from the writer's device memory into every
 * reader's; only a small descriptor (the communicator's id, the version,
 * the size) goes through the engine. The group is the writer stage's rank 0
 * and every process of the reader stages (AIC_WEIGHTS_NCCL, set by aic),
 * but an autoscaled stage's: its replicas come and go, so they read the
 * stream through the agents (aic_weights_recv; receive here is -EPERM).
 * A broadcast is collective: the writer's publish returns once every
 * reader has received the version, so each reader must call receive for
 * every version (min_version = the last one + 1). `stream` is a
 * cudaStream_t (NULL: the default stream); both calls wait for it.
 * AIC_ENOLIB when NCCL cannot be loaded, AIC_ENCCL when a call fails,
 * -EPERM when this process is not the stream's writer rank 0 (publish) or
 * one of its readers (receive).
 */
int aic_weights_nccl_publish(struct aic_worker *w, const char *name, void *dev, size_t len,
			     uint64_t version, void *stream);

/* Receives a version >= min_version into dev (cap bytes); *len is its size (-EMSGSIZE: > cap). */
int aic_weights_nccl_receive(struct aic_worker *w, const char *name, void *dev, size_t cap,
			     uint64_t min_version, int timeout_ms, size_t *len, uint64_t *version,
			     void *stream);

/* After AIC_ENOLIB or AIC_ENCCL from the two above: the loader's or NCCL's own words. */
const char *aic_nccl_last_error(void);

/*
 * Receives the newest version of `name` that is >= min_version, waiting up to
 * timeout_ms (< 0: forever; -ETIMEDOUT then). *blob stays valid until the
 * next call on w.
 */
int aic_weights_receive(struct aic_worker *w, const char *name, uint64_t min_version,
			int timeout_ms, const void **blob, size_t *len, uint64_t *version);

/*
 * Whether bytes aic_get() or aic_weights_receive() gave are read in place
 * from the node's shared memory (read-only). An item's then stay valid
 * until it is acked (not only until the next aic_get()); a weight
 * version's until a later receive on the same stream gives this worker a
 * newer version (not only until the next call): the memory is not reused
 * before that.
 */
int aic_in_place(const struct aic_worker *w, const void *p);

/*
 * Checkpoints, so that a job outlives its allocation (doc/aic-job.5,
 * CHECKPOINTS). When SLURM gives notice of the job's end (a time limit,
 * preemption) or `aic stop --checkpoint` is run, the engine stops feeding
 * sources and asks every worker for a checkpoint; it waits up to the spec's
 * checkpoint.grace_s, records which ones every worker saved, and ends so
 * the job can be requeued. The next run starts every worker with
 * AIC_RESUME naming the checkpoint to load. What a worker does not
 * checkpoint is redone.
 *
 * SIGTERM: in a job whose spec sets checkpoint.term_grace_s, the worker
 * starts with AIC_TERM_NOTICE set (to those seconds), and SLURM's SIGTERM
 * (preemption, scancel, a requeue), which reaches every process of the
 * step, is a notice too. This library installs no signal handler: a C
 * worker that wants its state saved then catches SIGTERM itself (a
 * handler that sets a flag), saves when the flag or
 * aic_checkpoint_requested says so (aic_checkpoint_begin, its files,
 * aic_checkpoint_done), and exits after aic_checkpoint_done returns,
 * within term_grace_s; a SIGTERM after it has answered a request is the
 * engine's own stop, to exit on at once. Without AIC_TERM_NOTICE, keep
 * SIGTERM's default action.
 *
 * aic_checkpoint_requested: 1 when a checkpoint is asked of this worker
 * and it has not reported one since, 0 when not, or a negative code. Ask
 * between steps (once per step is cheap: a "no" is a round trip to the
 * node's agent the first time, after which the agent tells the worker of
 * the next request and "no" is answered without one).
 *
 * aic_checkpoint_done: the worker has saved, durably (files written and
 * fsynced under aic_checkpoint_dir()), the checkpoint it calls `version`
 * (its step, say): a later run may be told to load it. It may also be
 * called unasked (a trainer that saves every N steps), so that a job
 * killed without notice resumes from there. A gang's checkpoint counts
 * only once every rank has reported the same version; a replica's counts
 * alone. A worker that keeps no state answers a request with
 * AIC_CHECKPOINT_NONE: it counts as answered, and the worker starts afresh
 * (no AIC_RESUME) and holds no source line back (see below). Returns 0 or
 * a negative code.
 *
 * aic_checkpoint_begin: the state the next aic_checkpoint_done reports is
 * taken from now on. A resumed run reads the source lines again whose
 * processing was done after the worker's mark: its first
 * aic_checkpoint_begin since its last aic_checkpoint_done, else the first
 * aic_checkpoint_requested that returned 1 since then, else that last
 * aic_checkpoint_done (or the run's start). Lines done before the mark are
 * not read again, which is right when the worker acks an item only once
 * its state has taken it in. A worker that takes its state before it asks
 * (one that saves in the background, say) calls this when it takes it;
 * calling it just before a save keeps what is read again small. A gang's
 * checkpoint holds the lines done at every rank's mark: where a line's
 * items are acked by several ranks, each rank marks once the others'
 * acks are in (an aic_checkpoint_requested round trip after its acks,
 * then a barrier of the gang's; examples/grpo-toy/train.py, sync_acks;
 * ranks on other nodes too: rank 0's agent gathers every agent's updates
 * before it takes a mark's snapshot), or a rank that marks first leaves
 * those lines to be read again. Returns
 * 0 or a negative code.
 */
#define AIC_CHECKPOINT_NONE UINT64_MAX
int aic_checkpoint_requested(struct aic_worker *w);
int aic_checkpoint_done(struct aic_worker *w, uint64_t version);
int aic_checkpoint_begin(struct aic_worker *w);

/*
 * The callback form: when a checkpoint is asked of this worker, calls
 * save(w, dir, &version, arg) to write one under dir (aic_checkpoint_dir())
 * and set its version, then reports it (aic_checkpoint_done). Returns 1
 * when a checkpoint was saved, 0 when none was asked, save's own negative
 * return (nothing is reported), -ENOENT when there is no checkpoint
 * directory, or another negative code.
 */
typedef int (*aic_checkpoint_fn)(struct aic_worker *w, const char *dir, uint64_t *version,
				 void *arg);
int aic_checkpoint(struct aic_worker *w, aic_checkpoint_fn save, void *arg);

/*
 * The directory where this worker's stage keeps its checkpoints
 * (AIC_CHECKPOINT_DIR: the job directory's checkpoints/STAGE, shared by the
 * stage's processes, which name their files by AIC_INDEX), or NULL outside
 * an aic job. The string is the environment's: do not free it.
 */
const char *aic_checkpoint_dir(void);

/*
 * Which checkpoint to load (AIC_RESUME): 1 and *version on a restart that
 * has one for this worker, 0 on a fresh start (or when it saved none),
 * -EINVAL when AIC_RESUME is not a number.
 */
int aic_checkpoint_resume(uint64_t *version);

/*
 * Phases: two stages that share GPUs in turns (colocate_with: {stage,
 * mode: alternate}; doc/aic-job.5, PHASES), such as a trainer and a
 * rollout engine on the same devices. On each set of shared GPUs one
 * stage holds them at a time; every process of the holding stage there may
 * be inside its phase at once, and a gang's ranks are let in together.
 *
 * aic_phase_begin blocks until this worker's stage holds its GPUs (no
 * timeout: the other stage's processes give them up when they end their
 * phase, or exit). Returns 0, -EALREADY when this worker is inside a phase
 * already, or a negative code. A worker of a stage that alternates with no
 * other holds them always: it returns at once. After it, a receive on a
 * weight stream the other stage published to during its turn returns that
 * version or a newer one (aic_weights_receive waits for it): a rollout
 * that wakes after a training step sees that step's weights.
 *
 * aic_phase_end gives the GPUs up (free device memory first: the other
 * stage may allocate as soon as this returns) and reports the weight
 * versions this worker published in the phase. Returns 0, -EINVAL when
 * not inside a phase, or a negative code.
 *
 * aic_phase_should_yield: 1 when the other stage waits for the GPUs this
 * worker's stage holds (end the phase at the next batch boundary), 0 when
 * not, or a negative code. One round trip to the node's agent.
 */
int aic_phase_begin(struct aic_worker *w);
int aic_phase_end(struct aic_worker *w);
int aic_phase_should_yield(struct aic_worker *w);

/*
 * Services: stages with `service:` (doc/aic-job.5, SERVICES) whose
 * replicas serve on a port. aic_endpoints fills out[0..max) with the
 * service `stage`'s replicas that run now, as the engine last saw them:
 * each one's "host:port", its replica number, and whether it passes its
 * readiness check. The list changes as replicas start, pass or fail their
 * check, exit, restart or move after a node loss; ask again before each
 * batch of requests. One round trip to the node's agent. Returns how many
 * replicas there are (more than max when out was too short), -ENOENT when
 * `stage` is no service, -EINVAL, or another negative code.
 */
struct aic_endpoint {
	char addr[64]; /* "host:port", NUL-terminated */
	int replica;
	int ready;     /* 1: it passes its readiness check */
};
int aic_endpoints(struct aic_worker *w, const char *stage, struct aic_endpoint *out, size_t max);

/*
 * Sandboxes: a replica of a stage with `sandbox:` (doc/aic-job.5,
 * SANDBOXES; the threat model is doc/SECURITY.md) runs untrusted tasks in
 * one, made once and reused. The sandbox is the Python package's
 * (python/aic/sandbox.py, run by the node's python3 with the aic package):
 * C and Python sandboxes are the same one, runtimes and images included.
 * A struct aic_sandbox is one thread's; its tasks run one at a time.
 *
 * aic_sandbox_open: makes a sandbox from `config`, JSON as AIC_SANDBOX
 * holds, or AIC_SANDBOX itself when NULL, and sets *out. Returns 0, -EINVAL,
 * -ENOENT when config is NULL and there is no AIC_SANDBOX, -EIO when the
 * sandbox cannot be made (why is on the process's standard error: the image
 * or runtime named), or another negative code.
 *
 * aic_sandbox_run: runs argv (argv[0] looked up in the sandbox's PATH,
 * NULL-terminated) with `in` (text, or NULL) on its standard input, killing
 * it with its process group after timeout_s seconds (0: the spec's
 * timeout_s), and fills *task; the caller releases it with
 * aic_sandbox_task_release. Returns 0 whether the task succeeded or not (see
 * task->status), -EIO when the sandbox ended under it (the next run or
 * reset makes it anew), or another negative code, *task then untouched.
 *
 * aic_sandbox_reset: ends the sandbox and makes it anew (a clean /tmp, no
 * process left), as between episodes. Returns 0 or a negative code.
 *
 * aic_sandbox_close: ends the sandbox and frees sb; NULL is a no-op.
 */
struct aic_sandbox;
struct aic_sandbox_task {
	int status;    /* the exit code, or -SIGNAL when a signal ended it */
	int timed_out; /* 1: killed at its time limit */
	char *out;     /* its standard output, NUL-terminated (see aic_sandbox_task_release) */
	char *err;     /* its standard error, likewise */
};
int aic_sandbox_open(const char *config, struct aic_sandbox **out);
int aic_sandbox_run(struct aic_sandbox *sb, const char *const *argv, const char *in,
		    double timeout_s, struct aic_sandbox_task *task);
int aic_sandbox_reset(struct aic_sandbox *sb);
void aic_sandbox_close(struct aic_sandbox *sb);
/* Frees what task holds and clears it; a cleared task is a no-op. */
void aic_sandbox_task_release(struct aic_sandbox_task *task);

#ifdef __cplusplus
}
#endif

#endif
