# A small TAP producer for aic's shell tests (sourced, POSIX sh).
#
#   ok DESC CMD...        one test: passes when CMD exits 0
#   is GOT WANT DESC      one test: passes when the strings are equal
#   isnt GOT WANT DESC    one test: passes when the strings differ
#   like GOT REGEX DESC   one test: passes when GOT matches the extended regex
#   diag TEXT             a comment line, shown in the test log
#   skip_all REASON       the whole script is skipped
#   bail REASON           stop now; the script fails
#   plan N                declare N tests up front (before the first)
#   done_testing          exit with the verdict; without a plan, print one
#
# Declare the plan up front: a test that is never reached (a script that
# exits early, a helper that is not defined) is then a plan mismatch that
# the TAP driver reports, not a shorter, passing run.
tap_n=0
tap_failed=0
tap_plan=

plan() {
	tap_plan=$1
	echo "1..$1"
}

tap_result() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=1
	fi
}

ok() {
	tap_desc=$1
	shift
	"$@"
	tap_result $? "$tap_desc"
}

is() {
	if [ "$1" = "$2" ]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2" | sed 's/^\([^#]\)/#   \1/'
	fi
}

isnt() {
	if [ "$1" != "$2" ]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		printf '#   got:  %s\n#   want anything but that\n' "$1" | sed 's/^\([^#]\)/#   \1/'
	fi
}

like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		printf '#   got:  %s\n#   want match: %s\n' "$1" "$2" | sed 's/^\([^#]\)/#   \1/'
	fi
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

bail() {
	echo "Bail out! $1"
	exit 1
}

done_testing() {
	if [ -z "$tap_plan" ]; then
		echo "1..$tap_n"
	elif [ "$tap_n" -ne "$tap_plan" ]; then
		echo "# planned $tap_plan tests, ran $tap_n"
		exit 1
	fi
	exit $tap_failed
}
