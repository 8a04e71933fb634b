#!/bin/sh
# The C worker API's endpoints under `aic run` (tests/c-api/worker.c
# endpoints): a 2-replica service (python3 -m http.server on AIC_PORT, a
# TCP readiness check) is found ready by a C client through aic_endpoints,
# a short buffer gets the total, an unknown stage -ENOENT, no stage
# -EINVAL; the job ends when the client is done.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
worker="$AIC_BUILD_DIR/tests/c-api/worker"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -x "$worker" ] || bail "no $worker"
enter_work_dir c-services
plan 4

cat >job.yaml <<YAML
stages:
  web: {command: 'exec /usr/bin/python3 -m http.server --bind 0.0.0.0 \$AIC_PORT', replicas: 2,
        cpus: 0, service: {ready: {tcp: true}}}
  client: {command: [$worker, endpoints, web, 2], cpus: 0}
YAML
timeout 300 "$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "the job ends when the client is done"
out=$("$aic" logs client | sed 's/^client\/0: //')
diag "$out"
is "$(echo "$out" | head -3 | tr '\n' '|')" "endpoints 2|0 host:port|1 host:port|" \
	"the C client finds both replicas ready"
is "$(echo "$out" | sed -n 4p)" "short 2" "a one-entry buffer gets the total"
is "$(echo "$out" | sed -n '5,6p' | tr '\n' '|')" "unknown -2|null -22|" \
	"an unknown stage: -ENOENT; none: -EINVAL"
