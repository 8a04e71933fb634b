#!/bin/sh
# Replays the ITEMS payload walk's fuzz corpus (the seeds and every input
# that once found a bug) through the fuzz target built without libFuzzer.
exec "$AIC_BUILD_DIR/tests/fuzz/fuzz_items" "$AIC_SRC_DIR/tests/fuzz/corpus/items"
