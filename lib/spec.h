/*
 * The job spec: a YAML file that describes a job as a graph of stages
 * joined by channels, plus weight streams (doc/aic-job.5 documents every
 * field).
 *
 * aic_spec_parse() turns the text into a validated struct aic_spec or
 * explains, with file:line:column, every problem it found. It is a pure
 * function of its input: no files besides the one it is asked to read, no
 * globals, no SLURM. It never crashes or leaks on any input (the fuzz target
 * in tests/fuzz replays a corpus in `make check`).
 *
 * Each key a spec may hold is a row of a table in lib/spec/keys.c that
 * names the field below it fills.
 */
#ifndef AIC_SPEC_H
#define AIC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain.h"

/* A position in the spec file, 1-based; 0 when the item was not written. */
struct aic_mark {
	unsigned line;
	unsigned col;
};

struct aic_restart {
	int max;	/* restarts allowed, 0 = never restart */
	int backoff_ms; /* wait before the first restart, doubled each time */
};

/* What becomes of a stage's processes when their node is lost (on_node_failure). */
enum aic_node_failure {
	AIC_NODE_FAILURE_REPLACE, /* placed again on the nodes left (a gang: whole, or smaller) */
	AIC_NODE_FAILURE_FAIL,	  /* the job fails, naming the node and the stage */
};

/* How a stage shares its colocate_with stage's GPUs. */
enum aic_colocate_mode {
	AIC_COLOCATE_CONCURRENT, /* both run at once (the default) */
	AIC_COLOCATE_ALTERNATE,	 /* in turns: the engine runs one phase at a time (doc/aic-job.5) */
};

/*
 * Where a stage's replicas go among nodes whose GPUs serve them equally
 * well (placement:). A gang always packs.
 */
enum aic_placement {
	AIC_PLACEMENT_SPREAD, /* the node with the fewest of the stage's processes */
	AIC_PLACEMENT_PACK,   /* the fullest node (room stays whole for later) */
};

/*
 * How an autoscaled stage follows its load (autoscale:, doc/aic-job.5): a
 * replica more once its inputs have had a backlog and its replicas a busy
 * fraction of at least target_busy for up_after_s; a replica fewer once
 * the inputs have had no backlog and the replicas less than target_busy
 * for down_after_s.
 */
struct aic_autoscale {
	double target_busy; /* in (0, 1] */
	int up_after_s;
	int down_after_s;
	struct aic_mark mark; /* the autoscale value (or the stage's name when unset) */
};

/*
 * A service stage (service:): each replica serves on a port its agent
 * chooses (AIC_PORT) or the one given, and the engine lists it among the
 * stage's endpoints once it answers its readiness check (doc/aic-job.5,
 * SERVICES).
 */
struct aic_service {
	int port;	     /* 0: auto, the agent's choice */
	int ready_timeout_s; /* to answer the first check, else the replica is restarted */
	struct aic_service_ready {
		char *http; /* a path answered with 2xx, or NULL */
		bool tcp;   /* a TCP connection accepted */
	} ready;
};

/* What a sandboxed stage's tasks may reach (sandbox.network). */
enum aic_sandbox_network {
	AIC_SANDBOX_NET_NONE, /* a network namespace of its own: loopback only */
	AIC_SANDBOX_NET_JOB,  /* the node's network, as the replica has */
};

/* What builds a sandboxed stage's sandbox (sandbox.runtime). */
enum aic_sandbox_runtime {
	AIC_SANDBOX_RT_AUTO,	  /* chosen on the node from the image's kind */
	AIC_SANDBOX_RT_BWRAP,	  /* bubblewrap, the built-in default */
	AIC_SANDBOX_RT_ENROOT,	  /* NVIDIA's enroot (pyxis's runtime) */
	AIC_SANDBOX_RT_APPTAINER, /* apptainer (or singularity's successor) */
	AIC_SANDBOX_RT_PODMAN,	  /* podman */
};

/*
 * A sandboxed stage (sandbox:): each replica runs its tasks in a
 * bubblewrap sandbox, or a container runtime's (doc/aic-job.5, SANDBOXES;
 * doc/SECURITY.md).
 */
struct aic_sandbox_spec {
	char *rootfs;  /* mounted read-only as /, or NULL: the node's /usr */
	char *image;   /* a directory, squashfs or SIF file, or a SCHEME:// reference */
	int runtime;   /* enum aic_sandbox_runtime */
	int network;   /* enum aic_sandbox_network */
	int tmpfs_mb;  /* the writable /tmp */
	int timeout_s; /* a task's default time limit */
};

/* What a job does on notice of its end (doc/aic-job.5, CHECKPOINTS). */
struct aic_checkpoint {
	int grace_s; /* seconds every stage gets to checkpoint after a notice */
	/*
	 * Seconds the engine may spend checkpointing after a SIGTERM (scancel,
	 * preemption's GraceTime, a requeue), 0: SIGTERM cancels. Only used
	 * when the section is written (mark.line > 0): a job without it keeps
	 * SIGTERM a cancel.
	 */
	int term_grace_s;
	struct aic_mark mark; /* where `checkpoint:` is written; line 0: absent */
};

/*
 * Satellite allocations (the top-level autoscale:, doc/aic-job.5): when an
 * autoscaled stage is backlogged and the allocation has no room, the head
 * submits single-node jobs whose aic-launch joins the engine.
 */
struct aic_satellites {
	int max_nodes;	      /* satellites at once; 0: none */
	char *partition;      /* where they are submitted, NULL: the job's partition */
	struct aic_mark partition_mark;
	int idle_s;	      /* a satellite that has run nothing this long is released */
	struct aic_mark mark; /* where `autoscale:` is written; line 0: absent */
};

/* Where the head serves Prometheus metrics (doc/aic-job.5, metrics:). */
struct aic_metrics_cfg {
	int port;	/* /metrics over HTTP; 0: an ephemeral one (the job directory's metrics file) */
	char *listen;	/* the address it binds, or NULL: 127.0.0.1 */
	char *textfile; /* the same text rewritten here for node_exporter, or NULL */
};

struct aic_stage {
	char *name;
	char **argv;	     /* NULL-terminated; a string command is /bin/sh -c STRING */
	bool shell;	     /* the command was given as a string */
	int replicas_min;    /* independent copies, min <= max; both 1 for a gang */
	int replicas_max;
	int ranks;	     /* gang size; 0 when the stage has replicas */
	int ranks_min;	     /* a gang may go on with this many after a node loss (ranks: {min, max}) */
	int gpus;	     /* per replica or per rank */
	int cpus;	     /* per replica or per rank */
	uint64_t mem_mb;     /* per replica or per rank, 0 = not set */
	char **env;	     /* NULL-terminated "KEY=VALUE" strings */
	char **inputs;	     /* NULL-terminated channel names */
	char **outputs;	     /* NULL-terminated channel names */
	char *weights_to;    /* weights stream this stage publishes, or NULL */
	char *weights_from;  /* weights stream this stage receives, or NULL */
	char *colocate_with; /* stage sharing this stage's GPUs, or NULL */
	int colocate_mode;   /* enum aic_colocate_mode */
	struct aic_restart restart;
	int on_node_failure; /* enum aic_node_failure */
	int placement;	     /* enum aic_placement */
	struct aic_autoscale autoscale; /* used when aic_stage_autoscales() */
	bool service;		       /* a service stage (svc); the job does not wait for it */
	struct aic_service svc;
	bool sandbox;		       /* its tasks run sandboxed (sbx) */
	struct aic_sandbox_spec sbx;
	struct aic_mark mark;	       /* the stage's name */
	struct aic_mark gpus_mark;     /* its gpus value (or its name when unset) */
	struct aic_mark colocate_mark; /* its colocate_with value (or its name when unset) */
};

struct aic_channel {
	char *name;
	char *source;	/* JSONL file that feeds the channel, or NULL */
	char *sink;	/* JSONL file the channel drains into, or NULL */
	int capacity;	/* items buffered before writers wait */
	uint64_t capacity_mb; /* and their bytes, in MiB (one item always fits) */
	int epochs;	/* passes over the source */
	bool compress;	/* zstd between nodes */
	int prefetch;	/* items a consuming node asks for ahead; -1: by its readers (head) */
	bool declared;	/* written under channels:, not only named by a stage */
	struct aic_mark mark;
};

struct aic_weights {
	char *name;
	int max_staleness; /* versions a reader may lag behind the writer */
	bool declared;
	struct aic_mark mark;
};

struct aic_spec {
	char *path; /* as given to the parser, used in messages */
	char *name;
	struct aic_stage *stages; /* in file order */
	size_t n_stages;
	struct aic_channel *channels; /* declared ones in file order, then implicit ones */
	size_t n_channels;
	struct aic_weights *weights;
	size_t n_weights;
	struct aic_restart restart; /* the default for stages without their own */
	enum aic_topology topology; /* placement in NVLink domains (select plugin) */
	/* How long a node may be silent before it is lost, and agents have to register (ms). */
	uint64_t failure_timeout_ms;
	struct aic_checkpoint checkpoint;
	struct aic_metrics_cfg metrics;
	struct aic_satellites satellites; /* the top-level autoscale: */
};

/* Defaults for fields a spec leaves out. */
#define AIC_SPEC_DEFAULT_CAPACITY 1024
#define AIC_SPEC_DEFAULT_CAPACITY_MB 1024 /* 1 GiB */
#define AIC_SPEC_DEFAULT_RESTART_MAX 3
#define AIC_SPEC_DEFAULT_BACKOFF_MS 200
#define AIC_SPEC_DEFAULT_STALENESS 1
#define AIC_SPEC_DEFAULT_FAILURE_TIMEOUT_MS 10000
#define AIC_SPEC_DEFAULT_GRACE_S 60
#define AIC_SPEC_DEFAULT_TARGET_BUSY 0.8
#define AIC_SPEC_DEFAULT_UP_AFTER_S 5
#define AIC_SPEC_DEFAULT_DOWN_AFTER_S 30
#define AIC_SPEC_DEFAULT_IDLE_S 60
#define AIC_SPEC_MAX_SATELLITES 32
#define AIC_SPEC_DEFAULT_READY_TIMEOUT_S 60
#define AIC_SPEC_DEFAULT_SANDBOX_TMPFS_MB 64
#define AIC_SPEC_DEFAULT_SANDBOX_TIMEOUT_S 10
/* Below SLURM's default KillWait (30 s), which follows a cancel's SIGTERM. */
#define AIC_SPEC_DEFAULT_TERM_GRACE_S 20
/* Larger spec files are refused before parsing. */
#define AIC_SPEC_MAX_BYTES (1 << 20)

/*
 * Parses and validates the spec text buf[0..len). `path` names the file in
 * messages (it is not opened). On success returns 0 and sets *out to a new
 * spec the caller frees with aic_spec_free(). Otherwise returns AIC_ESPEC
 * (the spec is wrong) or -ENOMEM, leaves *out NULL, and, when `errors` is
 * not NULL, sets *errors to a malloc'ed text the caller frees: one line per
 * problem, each "PATH:LINE:COL: what is wrong, the offending value quoted
 * and what was expected".
 */
int aic_spec_parse(const char *buf, size_t len, const char *path, struct aic_spec **out,
		   char **errors);

/*
 * Reads the file at `path` and parses it as aic_spec_parse() does. Returns
 * -errno when the file cannot be read (and then *errors says so too).
 */
int aic_spec_load(const char *path, struct aic_spec **out, char **errors);

/* Frees a spec and everything it owns; NULL is a no-op. */
void aic_spec_free(struct aic_spec *spec);

/* The stage or channel called `name`, or NULL. */
const struct aic_stage *aic_spec_stage(const struct aic_spec *spec, const char *name);
const struct aic_channel *aic_spec_channel(const struct aic_spec *spec, const char *name);

/* Processes the stage starts: its replicas_max, or its ranks for a gang. */
int aic_stage_procs(const struct aic_stage *stage);

/*
 * Whether the engine scales the stage while the job runs: replicas
 * {min, max} with min < max, and inputs whose backlog it follows. Such a
 * stage starts with min replicas and grows from there (autoscale.c).
 */
bool aic_stage_autoscales(const struct aic_stage *stage);

#endif
