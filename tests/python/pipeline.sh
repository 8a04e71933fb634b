#!/bin/sh
# examples/pipeline under `aic run` (on a 4-GPU topology from a fixture: the
# model stage asks for GPUs): every video of the source reaches the sink
# exactly once; three model replicas share the slow stage (each takes a
# fair part of it: how much faster that is belongs to bench/, not to a
# timed check on a loaded machine); a model replica killed (-9) mid-run
# loses and duplicates nothing.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
topo="$AIC_SRC_DIR/tests/fixtures/topo/pcie-4gpu-nvlink-pairs.xml"
enter_work_dir pipeline
plan 11

# copy NAME REPLICAS: a copy of the example with that many model replicas.
copy() {
	# u+w: make distcheck's source tree is read-only, and so would the copy be.
	cp -r "$AIC_SRC_DIR/examples/pipeline" "$dir/$1" && chmod -R u+w "$dir/$1" ||
		bail "cannot copy the example"
	rm -f "$dir/$1/out.jsonl"
	sed -i "s/replicas: 3/replicas: $2/" "$dir/$1/job.yaml"
	grep -q "replicas: $2\$" "$dir/$1/job.yaml" || bail "job.yaml has no model 'replicas: 3'"
	cd "$dir/$1" || bail "no $dir/$1"
}
# once: "ok" when out.jsonl has every id of videos.jsonl exactly once, else what is wrong.
once() {
	/usr/bin/python3 - <<'PY'
import collections, json
want = sorted(json.loads(l)["id"] for l in open("videos.jsonl") if l.strip())
got = collections.Counter(json.loads(l)["id"] for l in open("out.jsonl"))
missing = [i for i in want if i not in got]
twice = [i for i, n in got.items() if n > 1]
print("ok" if not missing and not twice and len(got) == len(want)
      else "missing %s twice %s" % (missing[:10], twice[:10]))
PY
}
ms() { echo $(($(date +%s%N) / 1000000)); }
# timed_run REPLICAS DESC: runs a copy with that many model replicas; sets $took (ms).
timed_run() {
	copy "r$1" "$1"
	took=$(ms)
	"$aic" run job.yaml --topo "$topo" >run.out 2>run.err
	is "$?" 0 "$2"
	took=$(($(ms) - took))
	is "$(once)" ok "the sink has every video of the source exactly once ($1 model replicas)"
}

timed_run 3 "videos -> decode -> 3 model replicas -> aggregate -> sink: the job succeeds"
t3=$took
shares=$("$aic" logs model | sed -n 's/.*model [0-9]*: \([0-9]*\) videos$/\1/p' | sort -n | tr '\n' ' ' | sed 's/ $//')
is "$("$aic" logs model | grep -c ': [1-9][0-9]* videos$')" 3 "every model replica classified some"
is "$("$aic" logs model | sed -n 's/.*CUDA_VISIBLE_DEVICES=//p' | sort -u | wc -l)" 3 \
	"each on a GPU of its own"
diag "$("$aic" logs aggregate)"
timed_run 1 "the same with one model replica succeeds"
diag "wall time: 1 model replica ${took} ms, 3 replicas ${t3} ms"
total=$(wc -l <videos.jsonl)
set -- $shares
ok "the three replicas shared the slow stage: each classified at least a fifth ($shares of $total)" \
	[ $# -eq 3 -a $(($1 * 5)) -ge "$total" ]

copy kill 3
sed -i 's/MODEL_DELAY_S: [0-9.]*/MODEL_DELAY_S: 0.05/' job.yaml
"$aic" run job.yaml --topo "$topo" >run.out 2>run.err &
job=$!
twenty_done() { [ "$(wc -l <out.jsonl)" -ge 20 ]; }
pid=$(kill_when model 0 twenty_done)
ok "model/0 killed with 20 videos done (pid ${pid:-none})" [ -n "$pid" ]
wait "$job"
is "$?" 0 "a model replica killed mid-run: the job still succeeds"
like "$(cat run.err)" "restarting stage 'model' replica 0" "aic restarted it"
is "$(once)" ok "the sink still has every video exactly once"
diag "$("$aic" logs aggregate | tail -n 1)"
done_testing
