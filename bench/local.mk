# bench/: benchmarks, each beside a baseline measured in the same run (included from the top Makefile.am; paths are from the top).
noinst_PROGRAMS += bench/spawn bench/channel bench/tcp_stream
bench_spawn_SOURCES = bench/spawn.c
bench_spawn_LDADD = lib/libaic_core.la $(core_libs)
bench_channel_SOURCES = bench/channel.c
bench_channel_LDADD = lib/libaic_core.la $(core_libs)
bench_tcp_stream_SOURCES = bench/tcp_stream.c
# Plain sockets, the baseline: none of aic (so not tests/local.mk's default LDADD).
bench_tcp_stream_LDADD =
dist_noinst_SCRIPTS += bench/run bench/bootstrap.sh bench/channels.sh bench/channels-cluster.sh \
	bench/weights-cluster.sh bench/grpo-toy.sh bench/restart-cluster.sh bench/select.sh \
	bench/hostile.sh bench/liveness-cluster.sh bench/recover-cluster.sh bench/phases.sh \
	bench/agentic.sh
EXTRA_DIST += bench/figures.py bench/report.py bench/busy.py bench/grpo_inproc.py bench/phase_switch.py
