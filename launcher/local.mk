# launcher/: the engine, aic-launch and the aic CLI (included from the top Makefile.am; paths are from the top).
# The engine: the event loop, the head, the node agents, the job directory.
engine_sources = \
	launcher/engine/engine.c launcher/engine/engine.h \
	launcher/engine/head.c launcher/engine/head.h launcher/engine/internal.h \
	launcher/engine/procs.c launcher/engine/report.c launcher/engine/dp_config.c \
	launcher/engine/agent.c launcher/engine/agent.h \
	launcher/engine/jobdir.c launcher/engine/jobdir.h \
	launcher/engine/log.c launcher/engine/log.h

# The data plane below it: links to peers, channels, weight streams.
dataplane_sources = \
	launcher/engine/conn.c launcher/engine/conn.h \
	launcher/engine/chan.c launcher/engine/chan.h launcher/engine/chan_set.h \
	launcher/engine/weights.c

noinst_LTLIBRARIES += launcher/libengine.la
launcher_libengine_la_SOURCES = $(engine_sources) $(dataplane_sources)
launcher_libengine_la_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(LIBUV_CPPFLAGS) $(ZSTD_CPPFLAGS)
launcher_libengine_la_LIBADD = lib/libaic_core.la $(core_libs) $(LIBUV_LDFLAGS) $(LIBUV_LIBS) \
	$(ZSTD_LDFLAGS) $(ZSTD_LIBS)

# The aic CLI: the command table (main.c), one file per command, and the
# connection to a running head (client.c) that status and stop use.
cli_sources = \
	launcher/cli/cli.h launcher/cli/main.c launcher/cli/client.c \
	launcher/cli/plan.c launcher/cli/topo.c launcher/cli/run.c launcher/cli/submit.c \
	launcher/cli/job.c

bin_PROGRAMS = launcher/aic
launcher_aic_SOURCES = $(cli_sources)
launcher_aic_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(LIBUV_CPPFLAGS) -I$(top_srcdir)/launcher
launcher_aic_LDADD = launcher/libengine.la

if HAVE_PMIX
bin_PROGRAMS += launcher/aic-launch
launcher_aic_launch_SOURCES = launcher/aic-launch.c
launcher_aic_launch_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(LIBUV_CPPFLAGS) $(PMIX_CPPFLAGS) \
	-I$(top_srcdir)/launcher
launcher_aic_launch_LDADD = launcher/libengine.la $(PMIX_LDFLAGS) $(PMIX_LIBS)
endif
