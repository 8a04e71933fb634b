# lib/: libaic (included from the top Makefile.am; paths are from the top).
# The sources build once as a convenience library, linked into the shared
# libaic and statically into the SLURM plugins (whose version scripts keep
# it private).
noinst_LTLIBRARIES = lib/libaic_core.la
# The job spec: YAML in, plain structs out.
spec_sources = \
	lib/spec.h lib/spec/internal.h lib/spec/yaml.c lib/spec/table.c lib/spec/keys.c \
	lib/spec/check.c lib/spec/spec.c

# The worker API (aic.h): what every worker process loads.
worker_sources = \
	lib/worker.c lib/aic.h

lib_libaic_core_la_SOURCES = \
	lib/error.c lib/error.h \
	lib/strbuf.c lib/strbuf.h \
	$(spec_sources) \
	lib/cpuset.c lib/cpuset.h \
	lib/topo.c lib/topo.h \
	lib/topo_json.c lib/topo_json.h \
	lib/metrics.c lib/metrics.h \
	lib/nvml.c lib/nvml.h \
	lib/place.c lib/place.h \
	lib/domain.c lib/domain.h \
	lib/wire.c lib/wire.h \
	lib/token.c lib/token.h \
	lib/process.c lib/process.h \
	lib/arena.c lib/arena.h \
	lib/nccl.c lib/nccl.h \
	$(worker_sources)
lib_libaic_core_la_CPPFLAGS = $(AM_CPPFLAGS) $(YAML_CPPFLAGS) $(HWLOC_CPPFLAGS) $(JANSSON_CPPFLAGS)
core_libs = $(YAML_LDFLAGS) $(HWLOC_LDFLAGS) $(JANSSON_LDFLAGS) $(YAML_LIBS) $(HWLOC_LIBS) \
	$(JANSSON_LIBS) -ldl

lib_LTLIBRARIES += lib/libaic.la
lib_libaic_la_SOURCES =
lib_libaic_la_LIBADD = lib/libaic_core.la $(core_libs)
pkginclude_HEADERS = lib/error.h lib/spec.h lib/cpuset.h lib/topo.h lib/strbuf.h lib/place.h lib/domain.h \
	lib/wire.h lib/token.h lib/process.h lib/topo_json.h lib/aic.h
