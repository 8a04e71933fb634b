# bench/: benchmarks, each beside a baseline measured in the same run (included from the top Makefile.am; paths are from the top).
noinst_PROGRAMS += bench/spawn bench/channel bench/tcp_stream bench/scale_sim bench/domain
noinst_PROGRAMS += bench/chain_sim bench/relay
# The least process in the middle: a node agent's hop for bench/grpo_pipes.py --relay. No aic.
bench_relay_SOURCES = bench/relay.c
bench_relay_LDADD =
# A weight version down a chain (or a tree) of N nodes on loopback, paced links (bench/scale-weights).
bench_chain_sim_SOURCES = bench/chain_sim.c
bench_chain_sim_LDADD =
# The select plugin's domain chooser (lib/domain.c) over 1,024 nodes: decision time per job.
bench_domain_SOURCES = bench/domain.c
bench_domain_LDADD = lib/libaic_core.la $(core_libs)
# The simulated allocation of bench/scale: a real head and simulated agents (the engine's own code).
bench_scale_sim_SOURCES = bench/scale_sim.c
bench_scale_sim_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(LIBUV_CPPFLAGS) \
	-I$(top_srcdir)/launcher/engine -I$(top_srcdir)/launcher/net \
	-I$(top_srcdir)/launcher/dataplane
bench_scale_sim_LDADD = launcher/libengine.la
bench_spawn_SOURCES = bench/spawn.c
bench_spawn_LDADD = lib/libaic_core.la $(core_libs)
bench_channel_SOURCES = bench/channel.c
bench_channel_LDADD = lib/libaic_core.la $(core_libs)
bench_tcp_stream_SOURCES = bench/tcp_stream.c
# Plain sockets, the baseline: none of aic (so not tests/local.mk's default LDADD).
bench_tcp_stream_LDADD =
dist_noinst_SCRIPTS += bench/run bench/bootstrap.sh bench/channels.sh bench/channels-cluster.sh \
	bench/weights-cluster.sh bench/grpo-toy.sh bench/agent-transport.sh bench/restart-cluster.sh bench/select.sh \
	bench/hostile.sh bench/liveness-cluster.sh bench/recover-cluster.sh bench/phases.sh \
	bench/resume-cluster.sh bench/grpo-cluster.sh bench/observe.sh bench/autoscale.sh bench/torch-grpo.sh \
	bench/scale bench/agentic.sh bench/scale-weights bench/select-scale.sh \
	bench/satellite.sh
dist_noinst_SCRIPTS += bench/soak.sh
EXTRA_DIST += bench/scale_plot.py
EXTRA_DIST += bench/figures.py bench/report.py bench/busy.py bench/grpo_inproc.py bench/grpo_pipes.py bench/grpo_spec.py bench/phase_switch.py \
	bench/torch_grpo_inproc.py
