/*
 * The job directory: where a job's state lives and how `aic status`,
 * `aic logs` and `aic stop` find a job. Made by the head, mode 0700:
 *
 *   token          the job token, mode 0600
 *   head           "addr:port" of the head
 *   plan.json      where every process was placed
 *   status.json    every process's state, rewritten on each change
 *   summary.json   per stage: processes, restarts, wall time, exit codes
 *   logs/STAGE.N.log  each worker's stdout and stderr (restarts append)
 *   metrics.jsonl  workers' metric points (every run appends)
 *   state.json     the engine's journal: runs, checkpoints, sinks (state.c)
 *   checkpoints/STAGE  where a stage's workers save checkpoints
 *
 * Its default place is .aic/JOBID in the submit directory (SLURM's job and
 * step ids; `run-PID` for `aic run`), with .aic/latest pointing at the
 * newest, so that commands run where the job was submitted find it.
 *
 * Trust: the token goes wherever the head file points, so .aic and a job
 * directory are used only when they are real directories of this user's
 * with no group or other access, in a directory only this user or root can
 * change (or a sticky one); jobdir.c says why each check is there.
 */
#ifndef AIC_ENGINE_JOBDIR_H
#define AIC_ENGINE_JOBDIR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Makes base/.aic when missing (mode 0700) and checks that it is this
 * user's private directory. Fills dot with its path. Returns an open
 * descriptor of it (the caller closes it), or -errno with a message in
 * err[errlen] naming the path (-EPERM: someone else's, or open to others;
 * -ELOOP: a symbolic link).
 */
int jobdir_dot(const char *base, char *dot, size_t len, char *err, size_t errlen);

/*
 * Makes base/.aic/name (and its logs/) with mode 0700 in a trusted .aic
 * (jobdir_dot), points base/.aic/latest at it, and writes the token file.
 * Fills path. Returns 0 or -errno (after logging why).
 */
int jobdir_create(const char *base, const char *name, const char *token, char *path, size_t len);

/*
 * As jobdir_create, for a run that continues an earlier run of the same job
 * (a requeued job: same job id, SLURM_RESTART_COUNT > 0): an existing
 * base/.aic/name is used again, after the same checks as .aic (a real
 * directory of this user's, no group or other access; its logs/ too), and
 * its token is replaced atomically; a missing one is made. *reused (when
 * not NULL) says which. Returns 0 or -errno (after logging why).
 */
int jobdir_reuse(const char *base, const char *name, const char *token, char *path, size_t len,
		 bool *reused);

/*
 * Continues the job whose directory is `dir` (BASE/.aic/NAME, an earlier
 * run's: aic submit --resume, aic run --resume): jobdir_reuse(BASE, NAME),
 * but the directory must exist. Returns 0 or -errno (after logging why).
 */
int jobdir_resume(const char *dir, const char *token, char *path, size_t len);

/* Writes obj to dir/file atomically (a temporary file, then rename). */
int jobdir_write_json(const char *dir, const char *file, json_t *obj);

/*
 * As jobdir_write_json, and durable: the file is fsynced before the rename
 * and the directory after it, so a crash keeps either the old file or the
 * new one whole, and a returned 0 means it is on disk (state.json).
 */
int jobdir_write_durable(const char *dir, const char *file, json_t *obj);

/* Writes a short text file atomically. */
int jobdir_write_text(const char *dir, const char *file, const char *text);

/*
 * Finds a job directory: `given` if not NULL, else ./.aic/latest, and
 * checks that it is trusted. Fills path with its real path. Returns 0 or
 * -errno with a message in err[errlen] (-EPERM for a directory that is not
 * trusted).
 */
int jobdir_find(const char *given, char *path, size_t len, char *err, size_t errlen);

/*
 * Opens dir/file for reading if it is a regular file of this user's and
 * not a symbolic link. Returns the stream, or NULL with -errno in *rc
 * (-EPERM for a file that is not trusted).
 */
FILE *jobdir_open(const char *dir, const char *file, int *rc);

/*
 * Opens dir/file (a JSONL file: events.jsonl, metrics.jsonl) to append to,
 * a resumed run after the last: first cut back to its last whole line
 * (lib/jsonl.h), with a warning, when a killed run left part of one.
 * NULL when it cannot be written (said in the log).
 */
FILE *jobdir_append(const char *dir, const char *file);

#endif
