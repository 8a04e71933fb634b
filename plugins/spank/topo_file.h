/*
 * The node's topology file (plugstack.conf's topo_xml=), as slurmstepd
 * reads it: as root, before any task runs, where a hang cannot be killed
 * and drains the node. So the node name that fills "%n" is slurmstepd's
 * own, never the job's environment; a name that could leave the directory
 * is refused; and the file is opened without following a final symbolic
 * link, without blocking on a FIFO, only if it is a regular file and no
 * larger than AIC_SPANK_TOPO_MAX.
 */
#ifndef AIC_SPANK_TOPO_FILE_H
#define AIC_SPANK_TOPO_FILE_H

#include <stddef.h>

#include "topo.h"

/* The largest topology file read: a large node's hwloc XML is a few MiB. */
#define AIC_SPANK_TOPO_MAX (16u << 20)

/*
 * This node's name as slurmd knows it (its NodeName, which may differ from
 * the host name), into buf. Returns 0, or -ENAMETOOLONG.
 */
int aic_spank_node_name(char *buf, size_t len);

/*
 * Fills buf with `pattern`, each "%n" replaced by `node`. Returns 0, or
 * -EINVAL for a node name that is empty, holds a '/' or "..", or is too
 * long for buf, with *errors set to a malloc'ed message (free it).
 */
int aic_spank_topo_path(const char *pattern, const char *node, char *buf, size_t len,
			char **errors);

/*
 * Loads the hwloc XML topology at `path`, read into memory through a
 * descriptor that was checked first: a symbolic link (-ELOOP), anything but
 * a regular file (-EINVAL) and a file over `max` bytes (-EFBIG) are
 * refused without reading. Returns 0 and a new topology in *out (free
 * with aic_topo_free), or a negative code with *errors set to a malloc'ed
 * message.
 */
int aic_spank_topo_load(const char *path, size_t max, struct aic_topo **out, char **errors);

#endif
