/*
 * JSONL files that runs append to: a job's sink (the agent), its
 * events.jsonl and metrics.jsonl (the head). A process killed while stdio
 * wrote a batch of lines leaves part of a line at the end; the next run's
 * first line would join it into one that is not JSON. Opened here, such a
 * file is first cut back to its last whole line.
 */
#ifndef AIC_JSONL_H
#define AIC_JSONL_H

#include <stdio.h>
#include <sys/types.h>

/* The longest line looked for: an item (less than 64 MiB) and its origin. */
#define AIC_JSONL_LINE_MAX (((off_t)64 << 20) + 4096)

/*
 * Opens path to append to ("ae": created if missing; a FIFO or a terminal
 * as it is). A regular file that ends in part of a line is cut back to its
 * last whole line first: *cut gets the bytes cut (0: none) and part (of
 * part_size bytes, NUL-terminated) their start, printable ('?' for the
 * rest, "..." after a longer part). NULL with errno: EINVAL when the file
 * has no line end in its last AIC_JSONL_LINE_MAX bytes (no file of lines
 * to append to; nothing changed), else open's, read's or ftruncate's.
 */
FILE *aic_jsonl_append(const char *path, off_t *cut, char *part, size_t part_size);

#endif
