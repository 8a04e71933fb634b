# launcher/: the engine, aic-launch and the aic CLI (included from the top Makefile.am; paths are from the top).
# The engine: the event loop, the head, the node agents, the job directory.
engine_sources = \
	launcher/engine/engine.c launcher/engine/engine.h \
	launcher/engine/head.c launcher/engine/head.h launcher/engine/internal.h \
	launcher/engine/recover.c launcher/engine/drain.c launcher/engine/state.c \
	launcher/engine/checkpoint.c launcher/engine/agent_metrics.c launcher/engine/events.c \
	launcher/engine/prom.c launcher/engine/phase.c launcher/engine/phase_head.c \
	launcher/engine/agent_load.c launcher/engine/autoscale.c launcher/engine/satellite.c \
	launcher/engine/slurm_cmd.c \
	launcher/engine/service.c launcher/engine/service_head.c launcher/engine/sandbox_head.c \
	launcher/engine/term.c launcher/engine/cpu_pool.c launcher/engine/cpu_pool.h \
	launcher/engine/procs.c launcher/engine/report.c launcher/engine/config_msg.c \
	launcher/engine/agent.c launcher/engine/agent.h launcher/engine/agent_endpoint.c \
	launcher/engine/worker_env.c \
	launcher/engine/jobdir.c launcher/engine/jobdir.h

# The links between processes (framed, authenticated connections; a table of
# ops per transport), used by the head, the agents and the data plane.
net_sources = \
	launcher/net/conn.c launcher/net/conn.h \
	launcher/net/liveness.c launcher/net/tcp.c launcher/net/unix.c launcher/net/cork.c launcher/net/spin.c \
	launcher/net/internal.h

# The data plane: peers, channels, sources and sinks, weight streams, CONFIG.
dataplane_sources = \
	launcher/dataplane/dataplane.h launcher/dataplane/internal.h launcher/dataplane/acker.h \
	launcher/dataplane/weights.h \
	launcher/dataplane/dp_config.c launcher/dataplane/dp_config.h \
	launcher/dataplane/peer.c launcher/dataplane/queue.c \
	launcher/dataplane/chan_set.c launcher/dataplane/chan.c \
	launcher/dataplane/deliver.c launcher/dataplane/source_sink.c \
	launcher/dataplane/zstd.c launcher/dataplane/weights.c \
	launcher/dataplane/chain.c launcher/dataplane/wslot.c \
	launcher/dataplane/acker.c launcher/dataplane/marks.c launcher/dataplane/xtree.c \
	launcher/dataplane/trace.c launcher/dataplane/load.c

noinst_LTLIBRARIES += launcher/libengine.la
launcher_libengine_la_SOURCES = $(engine_sources) $(net_sources) $(dataplane_sources)
launcher_libengine_la_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(LIBUV_CPPFLAGS) $(ZSTD_CPPFLAGS) $(MHD_CPPFLAGS) \
	-I$(top_srcdir)/launcher/engine -I$(top_srcdir)/launcher/net -I$(top_srcdir)/launcher/dataplane
launcher_libengine_la_LIBADD = lib/libaic_core.la $(core_libs) $(LIBUV_LDFLAGS) $(LIBUV_LIBS) \
	$(ZSTD_LDFLAGS) $(ZSTD_LIBS) $(MHD_LDFLAGS) $(MHD_LIBS)

# The aic CLI: the command table (main.c), one file per command, and the
# connection to a running head (client.c) that status and stop use.
cli_sources = \
	launcher/cli/cli.h launcher/cli/main.c launcher/cli/client.c \
	launcher/cli/plan.c launcher/cli/topo.c launcher/cli/run.c launcher/cli/submit.c \
	launcher/cli/job.c launcher/cli/timeline.c launcher/cli/dashboard.c

bin_PROGRAMS = launcher/aic
launcher_aic_SOURCES = $(cli_sources)
launcher_aic_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(LIBUV_CPPFLAGS) -I$(top_srcdir)/launcher \
	-I$(top_srcdir)/launcher/net $(MHD_CPPFLAGS) \
	-DAIC_DASHBOARD_DIR='"$(dashboarddir)"' -DAIC_DASHBOARD_SRC_DIR='"$(abs_top_srcdir)/launcher/dashboard"'
launcher_aic_LDADD = launcher/libengine.la $(MHD_LDFLAGS) $(MHD_LIBS)

# aic dashboard's page: its own script draws the charts (no CDN, no library).
dashboarddir = $(pkgdatadir)/dashboard
dist_dashboard_DATA = launcher/dashboard/index.html launcher/dashboard/dashboard.js \
	launcher/dashboard/dashboard.css

if HAVE_PMIX
bin_PROGRAMS += launcher/aic-launch
launcher_aic_launch_SOURCES = launcher/aic-launch.c
launcher_aic_launch_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(LIBUV_CPPFLAGS) $(PMIX_CPPFLAGS) \
	-I$(top_srcdir)/launcher -I$(top_srcdir)/launcher/net
launcher_aic_launch_LDADD = launcher/libengine.la $(PMIX_LDFLAGS) $(PMIX_LIBS)
endif
