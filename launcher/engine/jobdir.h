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
 *
 * Its default place is .aic/JOBID in the submit directory (SLURM's job and
 * step ids; `run-PID` for `aic run`), with .aic/latest pointing at the
 * newest, so that commands run where the job was submitted find it.
 */
#ifndef AIC_ENGINE_JOBDIR_H
#define AIC_ENGINE_JOBDIR_H

#include <jansson.h>
#include <stddef.h>

/*
 * Makes base/.aic/name (and its logs/) with mode 0700, points
 * base/.aic/latest at it, and writes the token file. Fills path. Returns 0
 * or -errno (after logging why).
 */
int jobdir_create(const char *base, const char *name, const char *token, char *path, size_t len);

/* Writes obj to dir/file atomically (a temporary file, then rename). */
int jobdir_write_json(const char *dir, const char *file, json_t *obj);

/* Writes a short text file atomically. */
int jobdir_write_text(const char *dir, const char *file, const char *text);

/*
 * Finds a job directory: `given` if not NULL, else ./.aic/latest. Fills
 * path. Returns 0 or -errno with a message in err[len].
 */
int jobdir_find(const char *given, char *path, size_t len, char *err, size_t errlen);

#endif
