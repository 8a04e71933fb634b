/*
 * The aic CLI's internal header: what its files share, and nothing else.
 *
 * main.c holds the command table (name, function, one-line summary, usage)
 * and dispatches to it; each command lives in its own file with its usage
 * string beside it, as git's git.c and builtin/ do: topo.c, plan.c, run.c,
 * submit.c, and job.c for the commands that act on a running or ended job
 * (status, logs, metrics, stop); timeline.c (events.jsonl as a Perfetto
 * trace) and dashboard.c (the HTTP server of launcher/dashboard/'s page)
 * act on one too. client.c is the blocking connection to a job's head
 * that status and stop use.
 *
 * A command is `int cmd_NAME(int argc, char **argv)`: argv[0] is the
 * command's name ("plan"), the rest its arguments. It returns the process's
 * exit status: 0 on success, 1 on failure, 2 for a usage error. Its usage,
 * `cmd_NAME_usage`, is one synopsis line that starts with "aic NAME", then
 * a line per option; `aic NAME --help` and `aic help NAME` print it.
 */
#ifndef AIC_CLI_H
#define AIC_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct aic_topo;

/* The commands: one file each (status, logs, metrics and stop share job.c). */
int cmd_plan(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_timeline(int argc, char **argv);
int cmd_dashboard(int argc, char **argv);

extern const char cmd_plan_usage[];
extern const char cmd_topo_usage[];
extern const char cmd_run_usage[];
extern const char cmd_submit_usage[];
extern const char cmd_status_usage[];
extern const char cmd_logs_usage[];
extern const char cmd_metrics_usage[];
extern const char cmd_stop_usage[];
extern const char cmd_timeline_usage[];
extern const char cmd_dashboard_usage[];

/* --- main.c: helpers the commands share ---------------------------------- */

/*
 * Prints the help of the command `name` (its usage line, summary and
 * options) to f. Returns 0, or 2 when there is no such command; a command
 * returns its result for --help.
 */
int cli_help(FILE *f, const char *name);

/*
 * Loads the topology from the hwloc XML file xml, else $AIC_TOPO_XML, else
 * hwloc's discovery of this machine, into *t (the caller frees it with
 * aic_topo_free). Returns 0, or not 0 after printing why to stderr.
 */
int cli_load_topo(const char *xml, struct aic_topo **t);

/*
 * Prints o as indented JSON and a newline to stdout and releases o (a NULL
 * o is an allocation that failed). Returns the exit status: 0, or 1.
 */
int cli_print_json(json_t *o);

/* --- client.c: a blocking connection to a job's head ------------------------ */

/*
 * Finds the head of the job in `jobdir` through its `head` and `token`
 * files, introduces itself with the token, and sends `msg` (borrowed; NULL
 * for an empty object) as `type`. When reply_type is not 0, waits (up to
 * 10 s) for a frame of that type and returns its object in *reply (the
 * caller's). Returns 0, or -errno / AIC_EAUTH / AIC_EPROTO with a message
 * in err.
 */
int client_request(const char *jobdir, uint16_t type, json_t *msg, uint16_t reply_type,
		   json_t **reply, char *err, size_t errlen);

#endif
