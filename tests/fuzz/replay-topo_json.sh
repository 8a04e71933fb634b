#!/bin/sh
# Replays the topology JSON reader's fuzz corpus (the seeds and every input
# that once found a bug) through the fuzz target built without libFuzzer.
exec "$AIC_BUILD_DIR/tests/fuzz/fuzz_topo_json" "$AIC_SRC_DIR/tests/fuzz/corpus/topo_json"
