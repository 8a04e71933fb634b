#!/bin/sh
# Replays the wire decoder's fuzz corpus (the seeds and every input that once
# found a bug) through the fuzz target built without libFuzzer.
exec "$AIC_BUILD_DIR/tests/fuzz/fuzz_wire" "$AIC_SRC_DIR/tests/fuzz/corpus/wire"
