# lib/: libaic (included from the top Makefile.am; paths are from the top).
#
# libaic.so (lib/libaic.la) is the public library, what every worker
# process loads (python/aic through ctypes): the worker API of aic.h, its
# one installed header. It is built from lib/libaic_worker.la alone, the
# worker's sources and the few below them, so a worker maps jansson,
# nettle (HMAC for its handshake, lib/auth.h) and libc but no libyaml or
# hwloc; lib/libaic.lds exports what aic.h declares
# and nothing else.
#
# lib/libaic_core.la is all of lib/, the worker's part included, as a
# convenience library linked statically into the launcher, the SLURM
# plugins (whose version scripts keep it private), the benchmarks and the
# tests, which use its internal functions.
noinst_LTLIBRARIES = lib/libaic_worker.la lib/libaic_core.la
# The job spec: YAML in, plain structs out.
spec_sources = \
	lib/spec.h lib/spec/internal.h lib/spec/yaml.c lib/spec/table.c lib/spec/keys.c \
	lib/spec/check.c lib/spec/spec.c

# The worker API (aic.h): what every worker process loads, and what it
# needs below it (error text, frames, the node's arena, the NCCL loader).
worker_sources = \
	lib/aic.h lib/worker/internal.h \
	lib/worker/conn.c lib/worker/batch.c lib/worker/chan.c lib/worker/weights.c lib/worker/nccl.c \
	lib/worker/metric.c lib/worker/checkpoint.c lib/worker/phase.c lib/worker/service.c \
	lib/worker/sandbox.c \
	lib/auth.c lib/auth.h \
	lib/error.c lib/error.h \
	lib/wire.c lib/wire.h \
	lib/arena.c lib/arena.h \
	lib/nccl.c lib/nccl.h \
	lib/spin.c lib/spin.h
worker_libs = $(JANSSON_LDFLAGS) $(NETTLE_LDFLAGS) $(JANSSON_LIBS) $(NETTLE_LIBS) -ldl

lib_libaic_worker_la_SOURCES = $(worker_sources)
lib_libaic_worker_la_CPPFLAGS = $(AM_CPPFLAGS) $(JANSSON_CPPFLAGS) $(NETTLE_CPPFLAGS)

lib_libaic_core_la_SOURCES = \
	lib/strbuf.c lib/strbuf.h \
	lib/log.c lib/log.h \
	$(spec_sources) \
	lib/cpuset.c lib/cpuset.h \
	lib/topo.c lib/topo.h \
	lib/topo_json.c lib/topo_json.h \
	lib/metrics.c lib/metrics.h \
	lib/jsonl.c lib/jsonl.h \
	lib/nvml.c lib/nvml.h \
	lib/place.h lib/place/internal.h lib/place/place.c lib/place/gpus.c lib/place/nodes.c \
	lib/procenv.c lib/procenv.h \
	lib/domain.c lib/domain.h \
	lib/token.c lib/token.h \
	lib/process.c lib/process.h
lib_libaic_core_la_CPPFLAGS = $(AM_CPPFLAGS) $(YAML_CPPFLAGS) $(HWLOC_CPPFLAGS) $(JANSSON_CPPFLAGS)
lib_libaic_core_la_LIBADD = lib/libaic_worker.la
core_libs = $(YAML_LDFLAGS) $(HWLOC_LDFLAGS) $(JANSSON_LDFLAGS) $(NETTLE_LDFLAGS) $(YAML_LIBS) \
	$(HWLOC_LIBS) $(JANSSON_LIBS) $(NETTLE_LIBS) -ldl

# libaic's -version-info is libtool's current:revision:age (the soname is
# libaic.so.<current - age>; python/aic loads libaic.so.0), not the
# package's version. Before a release whose libaic differs from the last:
#   functions only added to aic.h:        current+1, revision 0, age+1;
#   a function removed or its ABI changed: current+1, revision 0, age 0
#     (a new soname: update python/aic);
#   the code changed, not the interface:  revision+1.
lib_LTLIBRARIES += lib/libaic.la
lib_libaic_la_SOURCES =
lib_libaic_la_LIBADD = lib/libaic_worker.la $(worker_libs)
lib_libaic_la_LDFLAGS = -version-info 0:0:0 -Wl,--version-script=$(srcdir)/lib/libaic.lds
EXTRA_lib_libaic_la_DEPENDENCIES = $(srcdir)/lib/libaic.lds
EXTRA_DIST += lib/libaic.lds
include_HEADERS = lib/aic.h
