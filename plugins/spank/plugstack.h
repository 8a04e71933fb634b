/*
 * Site settings for spank_aic.so: the key=value arguments after the plugin
 * path in plugstack.conf. Unknown keys and bad values are errors, so a typo
 * fails every aic job loudly instead of being ignored (fail closed).
 *
 *   topo_xml=PATH      hwloc XML topology to use instead of discovering the
 *                      node; an absolute path, "%n" in it becomes the node
 *                      name (topo_file.h)
 *   default_bind=MODE  closest (default), slurm or none: --aic-bind's default
 *   nccl_hints=on|off  whether tasks may get NCCL_IB_HCA (default on)
 */
#ifndef AIC_SPANK_PLUGSTACK_H
#define AIC_SPANK_PLUGSTACK_H

#include <limits.h>

enum aic_bind {
	AIC_BIND_UNSET = -1,
	AIC_BIND_CLOSEST = 0, /* cores local to the task's GPUs, unless SLURM bound it */
	AIC_BIND_SLURM,	      /* leave SLURM's binding alone */
	AIC_BIND_NONE,	      /* no binding: all of the step's CPUs */
};

struct aic_spank_config {
	char topo_xml[PATH_MAX]; /* "" for live discovery */
	enum aic_bind default_bind;
	int nccl_hints; /* 1 on, 0 off */
};

/*
 * Parses plugstack.conf's arguments into *cfg (defaults first). Returns 0,
 * or -1 after logging every bad argument with slurm_error().
 */
int aic_spank_config_parse(struct aic_spank_config *cfg, int ac, char **av);

/* Parses a bind mode name; returns AIC_BIND_UNSET for an unknown name. */
enum aic_bind aic_spank_bind_parse(const char *s);
const char *aic_spank_bind_name(enum aic_bind b);

#endif
