# tests/ (included from the top Makefile.am; paths are from the top).
# Unit tests are cmocka binaries and the scripts are TAP producers; automake's
# TAP driver reads both. An exit status of 77 skips a whole binary.
TEST_EXTENSIONS = .sh
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	AIC_SRC_DIR='$(abs_top_srcdir)'; export AIC_SRC_DIR; \
	AIC_BUILD_DIR='$(abs_top_builddir)'; export AIC_BUILD_DIR;

# Unit tests: cmocka binaries, each built from tests/unit/NAME.c (automake's
# default source for a program without _SOURCES) with the program-wide
# defaults below, so a new test is one word in this list.
unit_tests =
if HAVE_CMOCKA
unit_tests += \
	tests/unit/test_error \
	tests/unit/test_spec \
	tests/unit/test_topo \
	tests/unit/test_place \
	tests/unit/test_place_more \
	tests/unit/test_place_heap \
	tests/unit/test_arena \
	tests/unit/test_domain \
	tests/unit/test_procenv \
	tests/unit/test_dp_config \
	tests/unit/test_jobdir \
	tests/unit/test_wire \
	tests/unit/test_cpuset \
	tests/unit/test_strbuf \
	tests/unit/test_spin \
	tests/unit/test_token \
	tests/unit/test_jsonl \
	tests/unit/test_xtree
if HAVE_SLURM
# The SPANK plugin's task planning, from its own sources with SLURM's headers.
unit_tests += tests/unit/test_spank
tests_unit_test_spank_SOURCES = tests/unit/test_spank.c tests/unit/fixture.c tests/unit/fixture.h \
	plugins/spank/args.c plugins/spank/plugstack.c plugins/spank/job.c \
	plugins/spank/task_plan.c plugins/spank/topo_file.c
tests_unit_test_spank_CPPFLAGS = $(unit_cppflags) $(SLURM_CPPFLAGS) -I$(top_srcdir)/plugins/spank
endif
endif
check_PROGRAMS += $(unit_tests)
# Connections and their handshake (launcher/net/), over real sockets on a libuv loop.
unit_tests += tests/unit/test_conn
tests_unit_test_conn_SOURCES = tests/unit/test_conn.c launcher/net/conn.c launcher/net/liveness.c \
	launcher/net/tcp.c launcher/net/unix.c launcher/net/cork.c launcher/net/spin.c
tests_unit_test_conn_CPPFLAGS = $(unit_cppflags) $(LIBUV_CPPFLAGS) -I$(top_srcdir)/launcher/net
tests_unit_test_conn_LDADD = $(unit_ldadd) $(LIBUV_LDFLAGS) $(LIBUV_LIBS)
# The node's address (launcher/engine/engine.c), in a network namespace of its own.
unit_tests += tests/unit/test_node_addr
tests_unit_test_node_addr_CPPFLAGS = $(unit_cppflags) $(LIBUV_CPPFLAGS) -I$(top_srcdir)/launcher/engine
tests_unit_test_node_addr_LDADD = launcher/libengine.la $(unit_ldadd) $(LIBUV_LDFLAGS) $(LIBUV_LIBS) \
	$(ZSTD_LDFLAGS) $(ZSTD_LIBS)
# An agent's REGISTER, against a real head in a child process.
unit_tests += tests/unit/test_register
tests_unit_test_register_CPPFLAGS = $(unit_cppflags) $(LIBUV_CPPFLAGS) -I$(top_srcdir)/launcher/engine
tests_unit_test_register_LDADD = $(tests_unit_test_node_addr_LDADD)
# The agent's list of workers to tell of a checkpoint request, over real connections.
unit_tests += tests/unit/test_ckpt_watch
tests_unit_test_ckpt_watch_CPPFLAGS = $(tests_unit_test_phase_CPPFLAGS)
tests_unit_test_ckpt_watch_LDADD = $(tests_unit_test_node_addr_LDADD)
# The phase lock (launcher/engine/phase.c), alone.
unit_tests += tests/unit/test_phase
tests_unit_test_phase_CPPFLAGS = $(unit_cppflags) $(LIBUV_CPPFLAGS) -I$(top_srcdir)/launcher/engine \
	-I$(top_srcdir)/launcher/net -I$(top_srcdir)/launcher/dataplane
tests_unit_test_phase_LDADD = $(tests_unit_test_node_addr_LDADD)
# The CONFIG schema is the data plane's; its test builds that one file.
tests_unit_test_dp_config_SOURCES = tests/unit/test_dp_config.c launcher/dataplane/dp_config.c
tests_unit_test_dp_config_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/launcher/dataplane
# The acker's table is the data plane's; its test builds that one file.
tests_unit_test_xtree_SOURCES = tests/unit/test_xtree.c launcher/dataplane/xtree.c
tests_unit_test_xtree_CPPFLAGS = $(unit_cppflags) $(LIBUV_CPPFLAGS) -I$(top_srcdir)/launcher/dataplane \
	-I$(top_srcdir)/launcher/net
# A source's progress, from a real data plane on a libuv loop.
unit_tests += tests/unit/test_source_progress
tests_unit_test_source_progress_CPPFLAGS = $(unit_cppflags) $(LIBUV_CPPFLAGS) \
	-I$(top_srcdir)/launcher/dataplane -I$(top_srcdir)/launcher/net
tests_unit_test_source_progress_LDADD = launcher/libengine.la $(unit_ldadd) $(LIBUV_LDFLAGS) \
	$(LIBUV_LIBS) $(ZSTD_LDFLAGS) $(ZSTD_LIBS)
# Job directory trust is the engine's; its test builds that one file.
tests_unit_test_jobdir_SOURCES = tests/unit/test_jobdir.c launcher/engine/jobdir.c
tests_unit_test_jobdir_CPPFLAGS = $(unit_cppflags) -I$(top_srcdir)/launcher/engine
# Tests that place processes share their topology and spec fixtures (fixture.h).
tests_unit_test_place_SOURCES = tests/unit/test_place.c tests/unit/fixture.c tests/unit/fixture.h
tests_unit_test_place_heap_SOURCES = tests/unit/test_place_heap.c tests/unit/fixture.c \
	tests/unit/fixture.h
tests_unit_test_place_more_SOURCES = tests/unit/test_place_more.c tests/unit/fixture.c \
	tests/unit/fixture.h
tests_unit_test_procenv_SOURCES = tests/unit/test_procenv.c tests/unit/fixture.c \
	tests/unit/fixture.h
EXTRA_DIST += tests/unit/aic_test.h tests/unit/run_until.h

# Automake's program-wide defaults, for a program with no _CPPFLAGS or _LDADD
# of its own. The unit tests and fuzz targets are the only programs that link
# by default (every other one sets its _LDADD): they link the core library,
# not lib/libaic.la, which exports only aic.h. The include flags reach every
# target built with AM_CPPFLAGS; they only say where cmocka's and jansson's
# headers are. A test that needs more starts from $(unit_cppflags) and
# $(unit_ldadd), as test_spank does.
AM_CPPFLAGS += $(CMOCKA_CPPFLAGS) $(JANSSON_CPPFLAGS)
LDADD = lib/libaic_core.la $(core_libs) $(CMOCKA_LDFLAGS) $(CMOCKA_LIBS)
unit_cppflags = $(AM_CPPFLAGS)
unit_ldadd = $(LDADD)

build_tests = tests/build/configure-options.sh tests/build/libaic-symbols.sh tests/build/check-summary.sh \
	tests/build/packaging.sh
# The tarball has every file git tracks (make distcheck runs only the quick tests).
build_tests += tests/build/dist-complete.sh

# A fake NVML that answers from tests/fixtures/nvml/*.txt (dlopen'ed by lib/nvml.c).
check_LTLIBRARIES = tests/fake/libfake_nvml.la
tests_fake_libfake_nvml_la_SOURCES = tests/fake/fake_nvml.c
tests_fake_libfake_nvml_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
# A fake NCCL whose "GPUs" are host memory and whose broadcast is TCP (lib/nccl.c).
check_LTLIBRARIES += tests/fake/libfake_nccl.la
tests_fake_libfake_nccl_la_SOURCES = tests/fake/fake_nccl.c
tests_fake_libfake_nccl_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

# Fuzz targets, replayed over their corpus by `make check` (scripts/fuzz runs
# them under libFuzzer): tests/fuzz/fuzz_NAME.c, built with the defaults as
# the unit tests are, replays tests/fuzz/corpus/NAME/ by replay-NAME.sh. A
# new target is a word in fuzz_names (and its check_PROGRAMS entry); one that
# needs files outside lib/ lists them in its _SOURCES and _CPPFLAGS, which
# scripts/fuzz reads too (print-fuzz below).
fuzz_names = spec wire items topo_json config
check_PROGRAMS += tests/fuzz/fuzz_spec tests/fuzz/fuzz_wire tests/fuzz/fuzz_items \
	tests/fuzz/fuzz_topo_json tests/fuzz/fuzz_config
# The CONFIG message's schema is the data plane's (as for test_dp_config).
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c launcher/dataplane/dp_config.c
tests_fuzz_fuzz_config_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/launcher/dataplane
fuzz_tests = tests/fuzz/replay-spec.sh tests/fuzz/replay-wire.sh tests/fuzz/replay-items.sh \
	tests/fuzz/replay-topo_json.sh tests/fuzz/replay-config.sh
EXTRA_DIST += $(fuzz_tests) tests/fuzz/corpus tests/fuzz/replay.h

# What scripts/fuzz builds the targets from, as shell assignments: the
# library's own source lists, include and link flags, and the _SOURCES and
# _CPPFLAGS of a target that has them (one more line here for each such
# target); paths are from the top of the source tree, flags from the build
# directory. Reading them here keeps the libFuzzer builds from going stale
# when a file joins lib/.
print-fuzz:
	@echo "fuzz_names='$(fuzz_names)'"
	@echo "fuzz_srcdir='$(srcdir)'"
	@echo "fuzz_lib_sources='$(lib_libaic_core_la_SOURCES) $(lib_libaic_worker_la_SOURCES)'"
	@echo "fuzz_lib_cppflags='$(lib_libaic_core_la_CPPFLAGS) $(lib_libaic_worker_la_CPPFLAGS)'"
	@echo "fuzz_cppflags='$(AM_CPPFLAGS)'"
	@echo "fuzz_libs='$(core_libs)'"
	@echo "fuzz_config_sources='$(tests_fuzz_fuzz_config_SOURCES)'"
	@echo "fuzz_config_cppflags='$(tests_fuzz_fuzz_config_CPPFLAGS)'"

.PHONY: print-fuzz

cli_tests = tests/cli/aic-help.sh tests/cli/aic-topo.sh tests/cli/aic-plan.sh tests/cli/aic-run.sh tests/cli/aic-run-orphan.sh \
	tests/cli/aic-run-cpus.sh tests/cli/aic-jobdir.sh tests/cli/aic-submit.sh tests/cli/aic-logs.sh \
	tests/cli/aic-submit-resume.sh tests/cli/aic-timeline.sh
EXTRA_DIST += $(cli_tests)

# The C worker API (lib/aic.h) from a worker in C, with the engine under aic run.
check_PROGRAMS += tests/c-api/worker
tests_c_api_worker_SOURCES = tests/c-api/worker.c
tests_c_api_worker_LDADD = lib/libaic.la
c_api_tests = tests/c-api/zero-copy.sh tests/c-api/checkpoint.sh tests/c-api/phases.sh \
	tests/c-api/services.sh tests/c-api/sandbox.sh
EXTRA_DIST += $(c_api_tests)
# Run by hand on a GPU machine, never by make check (no GPU in CI).
EXTRA_DIST += tests/gpu/phase-handoff.sh

# Python's worker API over libaic, with the engine under aic run.
python_tests = tests/python/channels.sh tests/python/weights.sh tests/python/metrics.sh tests/python/grpo-toy.sh tests/python/grpo-gang.sh tests/python/phases.sh tests/python/grpo-alternate.sh \
	tests/python/pipeline.sh tests/python/nccl.sh tests/python/hostile.sh tests/python/fds.sh \
	tests/python/agent-unix.sh \
	tests/python/spin.sh tests/python/sched.sh tests/python/cpu-pool.sh tests/python/wakeups.sh \
	tests/python/data-integrity.sh tests/python/sink-kill.sh tests/python/checkpoint.sh tests/python/sigterm.sh \
	tests/python/grpo-resume.sh tests/python/grpo-resume-dups.sh tests/python/grpo-resume-marks.sh tests/python/grpo-kill.sh tests/python/source-resume.sh \
	tests/python/timeline.sh tests/python/prometheus.sh tests/python/dashboard.sh \
	tests/python/autoscale.sh tests/python/autoscale-share.sh tests/python/autoscale-nccl.sh \
	tests/python/torch.sh tests/python/torch-grpo.sh \
	tests/python/services.sh tests/python/sandbox.sh tests/python/agentic-toy.sh \
	tests/python/sandbox-image.sh tests/python/service-autoscale.sh
EXTRA_DIST += $(python_tests) python/aic/__init__.py python/aic/torch.py python/aic/sandbox.py
# The dashboard test's screenshot, saved beside its log.
CLEANFILES = tests/python/dashboard.png

TESTS = $(unit_tests) $(fuzz_tests) $(cli_tests) $(c_api_tests) $(python_tests) $(build_tests)
# Benchmarks kept working (small sizes; no figure is judged by its value).
bench_tests = tests/bench/scale.sh tests/bench/chain-sim.sh tests/bench/grpo-pipes.sh
EXTRA_DIST += $(bench_tests)
TESTS += $(bench_tests)
# tests/lib: what the scripts share (TAP, the cluster's setup, Python workers).
EXTRA_DIST += $(build_tests) tests/lib tests/fixtures tests/expected-skips
# On a GPU machine, by hand (not make check): see examples/gpu/README.md.
EXTRA_DIST += tests/gpu/run

# Integration tests run against a live cluster (scripts/minicluster up), so
# they are not part of `make check`; scripts/check runs them with
# `make check-integration`.
integration_tests = \
	tests/integration/srun-pmix.sh \
	tests/integration/gres-gpu.sh \
	tests/integration/sbatch.sh \
	tests/integration/spank-loaded.sh \
	tests/integration/spank-job.sh \
	tests/integration/spank-tasks.sh \
	tests/integration/spank-topo.sh \
	tests/integration/engine.sh \
	tests/integration/sigterm.sh \
	tests/integration/submit.sh \
	tests/integration/channels.sh \
	tests/integration/autoscale.sh \
	tests/integration/weights.sh \
	tests/integration/grpo-toy.sh \
	tests/integration/phases.sh \
	tests/integration/sandboxes.sh \
	tests/integration/reconfigure.sh \
	tests/integration/no-aic-job.sh \
	tests/integration/requeue.sh \
	tests/integration/resume-grpo.sh \
	tests/integration/torch-grpo.sh
# Issue 15 (b): a 20,000-line pipeline requeued twice mid-stream.
integration_tests += tests/integration/requeue-source.sh
integration_tests += tests/integration/sigterm-requeue.sh
# A gang's checkpoint across nodes: no line trained on is read again.
integration_tests += tests/integration/gang-marks.sh
EXTRA_DIST += $(integration_tests)

if HAVE_PMIX
noinst_PROGRAMS += tests/integration/pmix_hello
tests_integration_pmix_hello_SOURCES = tests/integration/pmix_hello.c
tests_integration_pmix_hello_CPPFLAGS = $(AM_CPPFLAGS) $(PMIX_CPPFLAGS)
tests_integration_pmix_hello_LDFLAGS = $(PMIX_LDFLAGS)
tests_integration_pmix_hello_LDADD = $(PMIX_LIBS)
endif

check-integration: all
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(integration_tests)' \
		TEST_SUITE_LOG=tests/integration/test-suite.log

.PHONY: check-integration

# Fault-injection tests: they fail nodes of a 4-node cluster (cut their
# link, SIGKILL their daemons: `minicluster node K cut|crash|restore`) and
# bring each back before they end, so they share one cluster that
# scripts/check brings up for them alone, one test at a time.
failure_tests =
# Liveness: heartbeats, the registration deadline, the bounded end.
failure_tests += tests/failures/liveness.sh
# A lost node's processes placed again, or the job failing as its spec says.
failure_tests += tests/failures/replica-moves.sh
# The same with only the node's aic-launch SIGKILLed (tests/lib/failures.sh).
failure_tests += tests/failures/replica-moves-agent-kill.sh
failure_tests += tests/failures/gang-shrinks.sh
failure_tests += tests/failures/fail-on-node-failure.sh
failure_tests += tests/failures/grpo-toy-node.sh
# The lone replica of a stage with inputs, lost with its node, is placed again.
failure_tests += tests/failures/lone-replica-moves.sh
# A service replica moved off a lost node: its endpoint follows it.
failure_tests += tests/failures/service-moves.sh
# No lost work: every source line reaches the sink across a node's loss.
failure_tests += tests/failures/nolost.sh
# A lost node in the events and the timeline (aic timeline).
failure_tests += tests/failures/observe-node.sh
# The same with the node's link cut instead.
failure_tests += tests/failures/nolost-cut.sh
# SLURM's side: --no-kill, the job's end and exit status, no rerun of a success.
failure_tests += tests/failures/slurm.sh
# Satellite allocations: sbatch when backlogged, join, release, scancel at the end.
failure_tests += tests/failures/satellite.sh
# A draining replica moved off a lost node is drained again where it runs.
failure_tests += tests/failures/autoscale-redrain.sh
# Weight versions down a tree on 4 nodes (a node with two children).
failure_tests += tests/failures/weights-tree.sh
# A lost consumer's un-acked items come back once (re-queued, not also read again).
failure_tests += tests/failures/held-once.sh
EXTRA_DIST += $(failure_tests)


check-failures: all
	@$(MKDIR_P) tests/failures
	$(MAKE) $(AM_MAKEFLAGS) -j1 check TESTS='$(failure_tests)' \
		TEST_SUITE_LOG=tests/failures/test-suite.log

.PHONY: check-failures

# The select plugin's tests bring their own 6-node clusters up and down (one
# with select/cons_tres_aic, then one with cons_tres), so they run when no
# cluster is up, one at a time; without the plugin they skip.
select_tests = \
	tests/integration/select-nvl.sh \
	tests/integration/select-switches.sh \
	tests/integration/select-slurm.sh
EXTRA_DIST += $(select_tests)

check-select: all
	$(MAKE) $(AM_MAKEFLAGS) -j1 check TESTS='$(select_tests)' \
		TEST_SUITE_LOG=tests/integration/select-suite.log

.PHONY: check-select

# The packages' test (issue 22) builds aic's Debian packages, installs them on
# this machine, runs jobs on a cluster of the installed packages and purges
# them: root only, alone like the cluster tests (scripts/check runs it).
package_tests = tests/packages/install.sh
EXTRA_DIST += $(package_tests)

check-packages: all
	@$(MKDIR_P) tests/packages
	$(MAKE) $(AM_MAKEFLAGS) -j1 check TESTS='$(package_tests)' \
		TEST_SUITE_LOG=tests/packages/test-suite.log

.PHONY: check-packages

# SLURM's own regression tests with aic's plugins and without (issue 26):
# scripts/slurm-regress --compare --rerun-failed over
# tests/slurm-regress/subset (without the plugins only the tests that did
# not pass with them), on 3-node clusters it brings up and down itself, so
# it runs when no cluster is up.
regress_tests = tests/integration/slurm-regress.sh
EXTRA_DIST += $(regress_tests) tests/slurm-regress/list tests/slurm-regress/subset \
	tests/slurm-regress/excluded tests/slurm-regress/known-failures

check-slurm-regress: all
	@$(MKDIR_P) tests/integration
	$(MAKE) $(AM_MAKEFLAGS) -j1 check TESTS='$(regress_tests)' \
		TEST_SUITE_LOG=tests/integration/regress-suite.log

.PHONY: check-slurm-regress

# `make distcheck` builds with the same fatal warnings as CI.
AM_DISTCHECK_CONFIGURE_FLAGS = --enable-werror
# The tests that scripts/check's `make distcheck TESTS='$(distcheck_tests)'`
# runs in the tarball's build (a make variable on the command line reaches
# the inner makes, which expand it with their own configure's lists): the
# quick ones, which build and run the C code from the tarball. The slow
# Python tests ran in the stage before; tests/build/dist-complete.sh
# proves that the tarball has what they need.
distcheck_tests = $(unit_tests) $(fuzz_tests) $(cli_tests) $(c_api_tests)

# Unit, fuzz-corpus and CLI tests without the configure tests: what the
# sanitizer build in scripts/check runs.
check-unit:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(unit_tests) $(fuzz_tests) $(cli_tests) $(python_tests)'

.PHONY: check-unit
