/*
 * aic run: runs a job on this machine without SLURM, the head and one node
 * agent in one process (launcher/engine/), with a job directory under .aic/
 * in the current directory.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "engine/engine.h"
#include "engine/jobdir.h"
#include "log.h"
#include "spec.h"
#include "token.h"
#include "topo.h"

const char cmd_run_usage[] =
	"aic run SPEC [--topo XML] [--resume DIR] [--metrics-textfile PATH]\n"
	"  --topo XML    this machine's hwloc XML topology (default: $AIC_TOPO_XML, else\n"
	"                hwloc's discovery)\n"
	"  --resume DIR  continue the job in the job directory DIR (.aic/NAME) from its\n"
	"                state: checkpoints, metrics, sinks, history\n"
	"  --metrics-textfile PATH  rewrite the job's Prometheus metrics to PATH every\n"
	"                second, for node_exporter's textfile collector\n";

/* Where aic status and aic stop find the head. */
static int publish_head(int port, void *arg)
{
	char head[64];

	if (port == 0)
		return -1;
	snprintf(head, sizeof(head), "127.0.0.1:%d", port);
	return jobdir_write_text(arg, "head", head);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"topo", required_argument, NULL, 't'},
		{"resume", required_argument, NULL, 'r'},
		{"metrics-textfile", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *xml = NULL, *resume = NULL;
	struct aic_spec *spec = NULL;
	struct aic_topo *topo = NULL;
	struct engine_opts o = {0};
	struct aic_cpuset cpus;
	char token[AIC_TOKEN_LEN + 1], jobdir[PATH_MAX], cwd[PATH_MAX], name[64], host[256];
	char *errors = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			xml = optarg;
			break;
		case 'r':
			resume = optarg;
			break;
		case 'm':
			o.metrics_textfile = optarg;
			break;
		case 'h':
			return cli_help(stdout, argv[0]);
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "aic run: expected one job spec (see 'aic --help')\n");
		return 2;
	}
	if (aic_spec_load(argv[optind], &spec, &errors) != 0) {
		fputs(errors, stderr);
		free(errors);
		return 1;
	}
	if (cli_load_topo(xml, &topo))
		goto out_free;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	aic_log_set_name("aic run", NULL);
	aic_cpuset_get_affinity(&cpus);
	snprintf(name, sizeof(name), "run-%d", (int)getpid());
	if (aic_token_new(token) != 0 || !getcwd(cwd, sizeof(cwd)) ||
	    (resume ? jobdir_resume(resume, token, jobdir, sizeof(jobdir))
		    : jobdir_create(cwd, name, token, jobdir, sizeof(jobdir))) != 0)
		goto out_free;
	o.is_head = true;
	o.local = true;
	o.spec = spec;
	o.jobdir = jobdir;
	o.n_nodes = 1;
	o.listen_addr = "127.0.0.1";
	o.addr = "127.0.0.1";
	o.token = token;
	o.node = host;
	o.topo = topo;
	o.cpus = &cpus;
	o.cvd = getenv("CUDA_VISIBLE_DEVICES");
	o.publish = publish_head;
	o.publish_arg = jobdir;
	fprintf(stderr, "aic run: job directory %s\n", jobdir);
	rc = engine_run(&o);
out_free:
	aic_topo_free(topo);
	aic_spec_free(spec);
	return rc;
}
