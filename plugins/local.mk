# plugins/: SLURM plugins (included from the top Makefile.am; paths are from the top).
if HAVE_SLURM
slurmplugin_LTLIBRARIES += plugins/spank/spank_aic.la
plugins_spank_spank_aic_la_SOURCES = \
	plugins/spank/dispatch.c \
	plugins/spank/args.c plugins/spank/args.h \
	plugins/spank/plugstack.c plugins/spank/plugstack.h \
	plugins/spank/job.c plugins/spank/job.h \
	plugins/spank/slurmstepd.c plugins/spank/slurmstepd.h \
	plugins/spank/task_plan.c plugins/spank/task_plan.h \
	plugins/spank/topo_file.c plugins/spank/topo_file.h
plugins_spank_spank_aic_la_CPPFLAGS = $(AM_CPPFLAGS) $(SLURM_CPPFLAGS)
plugins_spank_spank_aic_la_LIBADD = lib/libaic_core.la $(core_libs)
plugins_spank_spank_aic_la_LDFLAGS = -module -avoid-version -shared \
	-Wl,--version-script=$(srcdir)/plugins/spank/spank_aic.lds
EXTRA_plugins_spank_spank_aic_la_DEPENDENCIES = $(srcdir)/plugins/spank/spank_aic.lds
endif
EXTRA_DIST += plugins/spank/spank_aic.lds

# The select plugin uses SLURM internals, so it builds only against a
# configured source tree of the installed SLURM (--with-slurm-src;
# scripts/deps makes one). -iquote puts SLURM's config.h before ours for
# SLURM's own headers. lib/domain.c (libc only) is compiled in: libaic's
# other dependencies must not be loaded into slurmctld and every client.
if HAVE_SLURM_SRC
slurmplugin_LTLIBRARIES += plugins/select/select_cons_tres_aic.la
plugins_select_select_cons_tres_aic_la_SOURCES = \
	plugins/select/select_cons_tres_aic.c \
	lib/domain.c lib/domain.h
plugins_select_select_cons_tres_aic_la_CPPFLAGS = -iquote $(SLURM_SRC) -I$(SLURM_SRC) \
	-I$(top_srcdir)/lib
plugins_select_select_cons_tres_aic_la_LDFLAGS = -module -avoid-version -shared \
	-Wl,--version-script=$(srcdir)/plugins/select/select_cons_tres_aic.lds
EXTRA_plugins_select_select_cons_tres_aic_la_DEPENDENCIES = \
	$(srcdir)/plugins/select/select_cons_tres_aic.lds
endif
EXTRA_DIST += plugins/select/select_cons_tres_aic.c plugins/select/select_cons_tres_aic.lds
