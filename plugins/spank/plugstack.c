#include "config.h"

#include <stdio.h>
#include <string.h>

#include <slurm/spank.h>

#include "plugstack.h"

enum aic_bind aic_spank_bind_parse(const char *s)
{
	if (!strcmp(s, "closest"))
		return AIC_BIND_CLOSEST;
	if (!strcmp(s, "slurm"))
		return AIC_BIND_SLURM;
	if (!strcmp(s, "none"))
		return AIC_BIND_NONE;
	return AIC_BIND_UNSET;
}

const char *aic_spank_bind_name(enum aic_bind b)
{
	switch (b) {
	case AIC_BIND_CLOSEST:
		return "closest";
	case AIC_BIND_SLURM:
		return "slurm";
	case AIC_BIND_NONE:
		return "none";
	default:
		return "unset";
	}
}

int aic_spank_config_parse(struct aic_spank_config *cfg, int ac, char **av)
{
	int i, bad = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->default_bind = AIC_BIND_CLOSEST;
	cfg->nccl_hints = 1;
	for (i = 0; i < ac; i++) {
		const char *eq = strchr(av[i], '=');
		const char *val = eq ? eq + 1 : "";
		size_t klen = eq ? (size_t)(eq - av[i]) : strlen(av[i]);

		if (klen == 8 && !strncmp(av[i], "topo_xml", 8)) {
			/*
			 * Absolute only: slurmstepd runs user_init in the job's
			 * working directory, so a relative path is the user's.
			 */
			if (*val != '/' || strlen(val) >= sizeof(cfg->topo_xml)) {
				slurm_error(
					"aic: plugstack.conf: invalid topo_xml '%s': expected an "
					"absolute path",
					val);
				bad = 1;
				continue;
			}
			snprintf(cfg->topo_xml, sizeof(cfg->topo_xml), "%s", val);
		} else if (klen == 12 && !strncmp(av[i], "default_bind", 12)) {
			cfg->default_bind = aic_spank_bind_parse(val);
			if (cfg->default_bind == AIC_BIND_UNSET) {
				slurm_error("aic: plugstack.conf: invalid default_bind '%s': expected "
					    "closest, slurm or none",
					    val);
				bad = 1;
			}
		} else if (klen == 10 && !strncmp(av[i], "nccl_hints", 10)) {
			if (!strcmp(val, "on") || !strcmp(val, "1") || !strcmp(val, "yes")) {
				cfg->nccl_hints = 1;
			} else if (!strcmp(val, "off") || !strcmp(val, "0") || !strcmp(val, "no")) {
				cfg->nccl_hints = 0;
			} else {
				slurm_error("aic: plugstack.conf: invalid nccl_hints '%s': expected on "
					    "or off",
					    val);
				bad = 1;
			}
		} else {
			slurm_error("aic: plugstack.conf: unknown argument '%s' (known: topo_xml=, "
				    "default_bind=, nccl_hints=)",
				    av[i]);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}
