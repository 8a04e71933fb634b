#!/bin/sh
# Replays the CONFIG decoder's fuzz corpus (the seeds and every input
# that once found a bug) through the fuzz target built without libFuzzer.
exec "$AIC_BUILD_DIR/tests/fuzz/fuzz_config" "$AIC_SRC_DIR/tests/fuzz/corpus/config"
