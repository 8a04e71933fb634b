# AIC_CHECK_DEP(NAME, VAR, HEADER, LIBRARY, FUNCTION, PKG-CONFIG-MODULE, DESCRIPTION,
#               [DEFAULT], [INCLUDES])
#
# One optional dependency, hwloc/openpmix style: `--with-NAME[=DIR]`.
#   --without-NAME  do not use it;
#   --with-NAME     use it, found through pkg-config or the default paths,
#                   and stop configure when it is missing;
#   --with-NAME=DIR use the one installed under DIR (DIR/include, DIR/lib or
#                   DIR/lib64), and stop configure when it is missing there;
#   (nothing)       use it when it is found, or act as if DEFAULT was given
#                   (a shell word, such as a directory) when DEFAULT is set.
# INCLUDES come before HEADER in the header check (cmocka.h needs setjmp.h).
# LIBRARY may be empty for a header-only dependency (spank.h: SLURM resolves
# the plugin's symbols when it loads it). On success it sets and substitutes
# VAR_CPPFLAGS, VAR_LDFLAGS and VAR_LIBS, defines HAVE_VAR and sets the
# automake conditional HAVE_VAR; aic_have_VAR is yes or no.
AC_DEFUN([AIC_CHECK_DEP], [
AC_ARG_WITH([$1],
	[AS_HELP_STRING([--with-$1@<:@=DIR@:>@], [$7 (DIR: install prefix) @<:@default: when found@:>@])],
	[], [with_]m4_translit([$1], [-], [_])[=]m4_default([$8], [check]))
aic_want=$[with_]m4_translit([$1], [-], [_])
aic_have_$2=no
$2_CPPFLAGS=
$2_LDFLAGS=
$2_LIBS=
AS_IF([test "x$aic_want" != xno], [
	aic_save_CPPFLAGS=$CPPFLAGS
	aic_save_LDFLAGS=$LDFLAGS
	aic_save_LIBS=$LIBS
	AS_CASE([$aic_want],
	[yes|check], [
		m4_ifval([$6], [
		AS_IF([test -n "$PKG_CONFIG" && $PKG_CONFIG --exists "$6" 2>/dev/null], [
			$2_CPPFLAGS=`$PKG_CONFIG --cflags "$6"`
			$2_LIBS=`$PKG_CONFIG --libs "$6"`
		])])
	],
	[
		AS_IF([test ! -d "$aic_want"],
			[AC_MSG_ERROR([--with-$1='$aic_want': no such directory])])
		$2_CPPFLAGS="-I$aic_want/include"
		AS_IF([test -d "$aic_want/lib64"], [$2_LDFLAGS="-L$aic_want/lib64"],
			[$2_LDFLAGS="-L$aic_want/lib"])
	])
	CPPFLAGS="$CPPFLAGS $$2_CPPFLAGS"
	LDFLAGS="$LDFLAGS $$2_LDFLAGS"
	aic_found=yes
	dnl Each header check caches its answer; a new DIR must not reuse it.
	AS_UNSET([ac_cv_header_]m4_translit([$3], [/.+-], [____]))
	AC_CHECK_HEADER([$3], [], [aic_found=no], [m4_default([$9], [AC_INCLUDES_DEFAULT])])
	m4_ifval([$4], [
	AS_IF([test $aic_found = yes], [
		AS_IF([test -z "$$2_LIBS"], [$2_LIBS="-l$4"])
		LIBS="$$2_LIBS $LIBS"
		AC_LINK_IFELSE([AC_LANG_CALL([], [$5])], [], [aic_found=no])
	])])
	CPPFLAGS=$aic_save_CPPFLAGS
	LDFLAGS=$aic_save_LDFLAGS
	LIBS=$aic_save_LIBS
	AC_MSG_CHECKING([whether to build with $7])
	AC_MSG_RESULT([$aic_found])
	AS_IF([test $aic_found = yes], [aic_have_$2=yes],
		[test "x$aic_want" != xcheck], [
		AC_MSG_ERROR([--with-$1 was given but $7 was not found (need $3[]m4_ifval([$4], [ and -l$4])); install it (scripts/deps) or use --without-$1])],
		[$2_CPPFLAGS= ; $2_LDFLAGS= ; $2_LIBS=])
])
AS_IF([test $aic_have_$2 = yes],
	[AC_DEFINE([HAVE_$2], [1], [Define to 1 when building with $7.])])
AM_CONDITIONAL([HAVE_$2], [test $aic_have_$2 = yes])
AC_SUBST([$2_CPPFLAGS])
AC_SUBST([$2_LDFLAGS])
AC_SUBST([$2_LIBS])
])
