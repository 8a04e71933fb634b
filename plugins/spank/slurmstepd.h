/* The plugin in slurmstepd (see slurmstepd.c). */
#ifndef AIC_SPANK_SLURMSTEPD_H
#define AIC_SPANK_SLURMSTEPD_H

#include <slurm/spank.h>

#include "plugstack.h"

/* Both return 0, or -1 after slurm_error(); user_init defers its errors. */
int aic_spank_stepd_user_init(spank_t sp, const struct aic_spank_config *cfg);
int aic_spank_stepd_task_init(spank_t sp, const struct aic_spank_config *cfg);
/* Frees what user_init allocated. */
void aic_spank_stepd_exit(void);

#endif
