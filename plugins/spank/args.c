#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

struct aic_spank_args aic_spank_args = {.bind = AIC_BIND_UNSET, .nccl = -1};

void aic_spank_args_reset(void)
{
	memset(&aic_spank_args, 0, sizeof(aic_spank_args));
	aic_spank_args.bind = AIC_BIND_UNSET;
	aic_spank_args.nccl = -1;
}

/*
 * True when `value` is what the environment carries for option `name`:
 * SLURM feeds inherited values through the same callback before the
 * command line's.
 */
static bool from_env(const char *name, const char *value)
{
	static const char *const prefixes[] = {"SLURM_SPANK__SLURM_SPANK_OPTION_aic_",
					       "_SLURM_SPANK_OPTION_aic_", NULL};
	char var[128];
	size_t i, j;

	for (i = 0; prefixes[i]; i++) {
		const char *v;
		int n = snprintf(var, sizeof(var), "%s%s", prefixes[i], name);
		if (n < 0 || (size_t)n >= sizeof(var))
			continue;
		for (j = strlen(prefixes[i]); var[j]; j++)
			if (var[j] == '-')
				var[j] = '_';
		v = getenv(var);
		if (v && !strcmp(v, value))
			return true;
	}
	return false;
}

/*
 * The repeat rules of args.h for one string option. *have is the stored
 * value, *inherited whether it came from the environment. Returns 1 to
 * store the new value, 0 to keep the old, -1 for a conflict (logged).
 */
static int repeat_rule(const char *opt, const char *have, bool *inherited, const char *value,
		       int remote)
{
	if (!have[0] || !strcmp(have, value) || remote)
		return 1;
	if (*inherited) {
		*inherited = false; /* the command line overrides the environment */
		return 1;
	}
	slurm_error("aic: --%s given twice: '%s' and '%s'", opt, have, value);
	return -1;
}

int aic_spank_job_cb(int val, const char *optarg, int remote)
{
	struct aic_spank_args *a = &aic_spank_args;
	bool first = !a->job[0];
	int r;

	(void)val;
	if (!optarg || !*optarg) {
		slurm_error("aic: --aic-job needs a job spec path");
		return -1;
	}
	if (strlen(optarg) >= sizeof(a->job)) {
		slurm_error("aic: --aic-job path is longer than %zu bytes", sizeof(a->job) - 1);
		return -1;
	}
	r = repeat_rule("aic-job", a->job, &a->job_inherited, optarg, remote);
	if (r < 0)
		return -1;
	snprintf(a->job, sizeof(a->job), "%s", optarg);
	if (first)
		a->job_inherited = !remote && from_env("aic-job", optarg);
	return 0;
}

int aic_spank_bind_cb(int val, const char *optarg, int remote)
{
	struct aic_spank_args *a = &aic_spank_args;
	enum aic_bind b = optarg ? aic_spank_bind_parse(optarg) : AIC_BIND_UNSET;
	bool first = a->bind == AIC_BIND_UNSET;
	const char *have = first ? "" : aic_spank_bind_name(a->bind);

	(void)val;
	if (b == AIC_BIND_UNSET) {
		slurm_error("aic: invalid --aic-bind '%s': expected closest, slurm or none",
			    optarg ? optarg : "");
		return -1;
	}
	if (repeat_rule("aic-bind", have, &a->bind_inherited, optarg, remote) < 0)
		return -1;
	a->bind = b;
	if (first)
		a->bind_inherited = !remote && from_env("aic-bind", optarg);
	return 0;
}

int aic_spank_nccl_cb(int val, const char *optarg, int remote)
{
	struct aic_spank_args *a = &aic_spank_args;
	int n = !optarg ? -1 : !strcmp(optarg, "auto") ? 1 : !strcmp(optarg, "off") ? 0 : -1;
	bool first = a->nccl < 0;

	(void)val;
	if (n < 0) {
		slurm_error("aic: invalid --aic-nccl '%s': expected auto or off", optarg ? optarg : "");
		return -1;
	}
	if (repeat_rule("aic-nccl", first ? "" : a->nccl ? "auto" : "off", &a->nccl_inherited, optarg,
			remote) < 0)
		return -1;
	a->nccl = n;
	if (first)
		a->nccl_inherited = !remote && from_env("aic-nccl", optarg);
	return 0;
}

/* Not named spank_options: registering by hand is what makes sbatch see them. */
static struct spank_option aic_options[] = {
	{
		.name = "aic-job",
		.arginfo = "SPEC",
		.usage = "run the aic job described by the YAML file SPEC (see aic-job(5))",
		.has_arg = 1,
		.cb = aic_spank_job_cb,
	},
	{
		.name = "aic-bind",
		.arginfo = "closest|slurm|none",
		.usage = "aic CPU binding: cores local to each task's GPUs (closest), SLURM's, or none",
		.has_arg = 1,
		.cb = aic_spank_bind_cb,
	},
	{
		.name = "aic-nccl",
		.arginfo = "auto|off",
		.usage = "set NCCL hints (NCCL_IB_HCA: the NIC nearest each task's GPUs) or not",
		.has_arg = 1,
		.cb = aic_spank_nccl_cb,
	},
};

int aic_spank_args_register(spank_t sp)
{
	size_t i;
	spank_err_t rc;

	for (i = 0; i < sizeof(aic_options) / sizeof(aic_options[0]); i++) {
		rc = spank_option_register(sp, &aic_options[i]);
		if (rc != ESPANK_SUCCESS) {
			slurm_error("aic: cannot register option '--%s': %s", aic_options[i].name,
				    spank_strerror(rc));
			return -1;
		}
	}
	return 0;
}
