#!/bin/sh
# `aic --help`, `aic help COMMAND` and `aic COMMAND --help`: every command in
# the table has its help, its line in the overview, and its aic(1) synopsis;
# and the usage errors of the dispatcher.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
man="$AIC_SRC_DIR/doc/aic.1"

overview=$("$aic" --help)
rc=$?
# The commands are the overview's lines "  NAME ..." up to its help line.
cmds=$(printf '%s\n' "$overview" | sed -n '/^commands:/,/^  help/s/^  \([a-z][a-z]*\)\( .*\)\{0,1\}$/\1/p' |
	grep -vx help)
# 5 tests per command, 15 others.
plan $((5 * $(printf '%s\n' "$cmds" | grep -c .) + 15))
is "$rc" 0 "aic --help exits 0"
is "$("$aic" help)" "$overview" "aic help is aic --help"
like "$(printf '%s' "$cmds" | tr '\n' ' ')" "^plan topo run submit status logs metrics stop( |$)" \
	"the overview lists the commands"
for c in $cmds; do
	h=$("$aic" help "$c")
	is "$?" 0 "aic help $c exits 0"
	synopsis=$(printf '%s\n' "$h" | sed -n '1s/^usage: aic //p')
	like "$synopsis" "^$c( |$)" "aic help $c starts with its usage line"
	ok "aic --help shows the same usage for $c" \
		sh -c 'printf "%s\n" "$1" | grep -Fqx "  $2"' - "$overview" "$synopsis"
	is "$("$aic" "$c" --help)" "$h" "aic $c --help is aic help $c"
	ok "aic(1) has a synopsis for aic $c" grep -qx ".B aic $c" "$man"
done
is "$("$aic" logs -h)" "$("$aic" help logs)" "-h is --help"
like "$("$aic" help topo)" "--gres-conf +print gres.conf lines" "a command's help lists its options"

err=$("$aic" 2>&1 >/dev/null)
is "$?" 2 "aic without a command exits 2"
like "$err" "^usage: aic <command>" "with the overview on stderr"
err=$("$aic" help frobnicate 2>&1)
is "$?" 2 "aic help of an unknown command exits 2"
is "$err" "aic: 'frobnicate' is not an aic command (see 'aic --help')" "and names it"
err=$("$aic" submit -N 2 2>&1)
is "$?" 2 "aic submit without a spec is a usage error"
is "$err" "usage: aic submit SPEC [-N NODES] [--gpus-per-node G] [SBATCH-OPTION]..." \
	"with its usage line"
err=$("$aic" status -f 2>&1)
is "$?" 2 "an option of another job command is a usage error"
like "$err" "invalid option -- 'f'" "naming the option"
err=$("$aic" stop --json 2>&1)
is "$?" 2 "aic stop --json is a usage error"
like "$err" "unrecognized option '--json'" "naming the option"
done_testing
