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
};

/* Defaults for fields a spec leaves out. */
#define AIC_SPEC_DEFAULT_CAPACITY 1024
#define AIC_SPEC_DEFAULT_CAPACITY_MB 1024 /* 1 GiB */
#define AIC_SPEC_DEFAULT_RESTART_MAX 3
#define AIC_SPEC_DEFAULT_BACKOFF_MS 200
#define AIC_SPEC_DEFAULT_STALENESS 1
#define AIC_SPEC_DEFAULT_FAILURE_TIMEOUT_MS 10000
#define AIC_SPEC_DEFAULT_GRACE_S 60
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

#endif
