#!/bin/sh
# `aic --help`, `aic help COMMAND` and `aic COMMAND --help`: every command in
# the table has its help, its line in the overview, its aic(1) synopsis,
# description and options; the usage errors of the dispatcher; and every
# key of lib/spec/keys.c has its paragraph in aic-job(5), which documents
# no key the parser does not accept; and every AIC_ variable that lib/,
# launcher/ or plugins/ reads with getenv() is in a man page.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
man="$AIC_SRC_DIR/doc/aic.1"
job5="$AIC_SRC_DIR/doc/aic-job.5"
keys_c="$AIC_SRC_DIR/lib/spec/keys.c"

# The lines of aic(1)'s section $1 (".SH $1" up to the next .SH).
man_section() {
	awk -v s=".SH $1" '/^\.SH/ { in_s = ($0 == s); next } in_s' "$man"
}

# The options a command's help lists ("  -o, --output FILE  ..." gives -o
# and --output), written as in a man page (\-\-output).
help_options() {
	printf '%s\n' "$1" | sed -n 's/^  \(-[^ ,]*\(, -[^ ]*\)\{0,1\}\).*/\1/p' |
		tr ',' '\n' | tr -d ' ' | sed 's/-/\\-/g'
}

# Every key table of keys.c as "TABLE KEY" lines: aic__spec_top_keys is
# "top", stage_keys "stage", restart_keys "restart", ...
spec_keys() {
	awk '/^(static )?const struct spec_key [a-z_]+\[\]/ {
		t = $0; sub(/\[\].*/, "", t); sub(/.* /, "", t)
		sub(/^aic__spec_/, "", t); sub(/_keys$/, "", t); next }
	t != "" && /\.name = "/ {
		k = $0; sub(/.*\.name = "/, "", k); sub(/".*/, "", k); print t, k }
	/^};/ { t = "" }' "$keys_c"
}

# aic-job(5)'s heading for a table whose keys have their own paragraphs
# (TOP-LEVEL KEYS, STAGE KEYS, ...); empty for a nested table.
job5_heading() {
	case $1 in
	top) h="TOP-LEVEL KEYS" ;;
	*) h="$(printf '%s' "$1" | tr a-z A-Z) KEYS" ;;
	esac
	grep -qx ".SH $h" "$job5" && printf '%s' "$h"
}

# The keys tagged (.TP, then .B KEY) under aic-job(5)'s heading $1.
job5_tags() {
	awk -v s=".SH $1" '/^\.SH/ { in_s = ($0 == s); next }
		in_s && /^\.TP/ { getline; if (sub(/^\.B /, "")) print }' "$job5"
}

# The text of every paragraph of aic-job(5)'s key sections tagged .B $1.
job5_para() {
	awk -v k=".B $1" '/^\.SH/ { in_s = / KEYS$/; p = 0; next }
		in_s && /^\.TP/ { getline; p = ($0 == k); next } p' "$job5"
}

overview=$("$aic" --help)
rc=$?
# The commands are the overview's lines "  NAME ..." up to its help line.
cmds=$(printf '%s\n' "$overview" | sed -n '/^commands:/,/^  help/s/^  \([a-z][a-z]*\)\( .*\)\{0,1\}$/\1/p' |
	grep -vx help)
keys=$(spec_keys)
tables=$(printf '%s\n' "$keys" | cut -d' ' -f1 | uniq)
sections=$(for t in $tables; do [ -n "$(job5_heading "$t")" ] && echo "$t"; done)
# 7 tests per command, one per key, one per key section, 16 others.
plan $((7 * $(printf '%s\n' "$cmds" | grep -c .) + $(printf '%s\n' "$keys" | grep -c .) +
	$(printf '%s\n' "$sections" | grep -c .) + 17))
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
	# A sentence whose subject is the command: ".B aic $c", then its verb.
	ok "aic(1) describes aic $c" sh -c 'printf "%s\n" "$1" | awk -v k=".B aic $2" \
		"p == k && /^[a-z]/ && !/^(and|or)\$/ { f = 1 } { p = \$0 } END { exit !f }"' - \
		"$(man_section DESCRIPTION)" "$c"
	missing=
	tags=$(man_section OPTIONS | awk '/^\.TP/ { getline; print }')
	for o in $(help_options "$h"); do
		printf '%s\n' "$tags" | grep -Fq -- "$o" || missing="$missing $o"
	done
	is "$missing" "" "aic(1)'s OPTIONS has every option of aic $c"
done

# The spec's keys: keys.c's tables against aic-job(5). A key of a section
# (top level, stage, channel, weights) has its own .TP paragraph there; a
# key of a nested mapping (restart's max, autoscale's up_after_s) is named,
# as "{max: N" or "\fBmax\fR", in the paragraph of the key it belongs to:
# the one whose name starts with its table's (colocate: colocate_with).
ok "keys.c has the key tables" test "$(printf '%s\n' "$sections" | sort | tr '\n' ' ')" = "channel stage top weights "
for t in $tables; do
	h=$(job5_heading "$t")
	for k in $(printf '%s\n' "$keys" | sed -n "s/^$t //p"); do
		if [ -n "$h" ]; then
			ok "aic-job(5) has $h: $k" sh -c 'printf "%s\n" "$1" | grep -Fqx "$2"' - \
				"$(job5_tags "$h")" "$k"
		else
			parent=$(printf '%s\n' "$keys" | cut -d' ' -f2 | grep -m1 "^$t")
			# A mapping inside a nested one (service's ready) is named in
			# the paragraph of the key its own table belongs to.
			for _ in 1 2; do
				[ -z "$parent" ] || [ -n "$(job5_para "$parent")" ] && break
				up=$(printf '%s\n' "$keys" | awk -v k="$parent" '$2 == k { print $1; exit }')
				parent=$(printf '%s\n' "$keys" | cut -d' ' -f2 | grep -m1 "^$up")
			done
			ok "aic-job(5)'s ${parent:-$t} paragraph names $k" sh -c \
				'[ -n "$2" ] && printf "%s\n" "$1" | grep -Eq "(\\\\fB|[{ ,])$3([:,}]|\\\\f)"' - \
				"$(job5_para "$parent")" "$parent" "$k"
		fi
	done
done
for t in $sections; do
	h=$(job5_heading "$t")
	extra=
	for k in $(job5_tags "$h"); do
		printf '%s\n' "$keys" | grep -qx "$t $k" || extra="$extra $k"
	done
	is "$extra" "" "aic-job(5)'s $h are keys of keys.c's $t table"
done
# A variable is documented where it is a word of a page (.B AIC_LOG,
# \fBAIC_INDEX\fR).
undocumented=
for v in $(grep -rhoE 'getenv\("AIC_[A-Z_]+"\)' "$AIC_SRC_DIR/lib" "$AIC_SRC_DIR/launcher" \
	"$AIC_SRC_DIR/plugins" --include='*.c' | sed 's/getenv("\(.*\)")/\1/' | sort -u); do
	cat "$man" "$AIC_SRC_DIR"/doc/*.[58] "$AIC_SRC_DIR"/doc/aic-launch.1 |
		grep -Eq '(^|[^A-Z_]|\\f[BIRP])'"$v"'([^A-Z_]|$)' || undocumented="$undocumented $v"
done
is "$undocumented" "" "every AIC_ variable the code reads is in a man page"

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
is "$err" "usage: aic submit SPEC [-N NODES] [--gpus-per-node G] [--resume DIR] [--chain N] [SBATCH-OPTION]..." \
	"with its usage line"
err=$("$aic" status -f 2>&1)
is "$?" 2 "an option of another job command is a usage error"
like "$err" "invalid option -- 'f'" "naming the option"
err=$("$aic" stop --json 2>&1)
is "$?" 2 "aic stop --json is a usage error"
like "$err" "unrecognized option '--json'" "naming the option"
done_testing
