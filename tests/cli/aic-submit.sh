#!/bin/sh
# aic submit with a spec path full of shell and sbatch syntax: the script
# it writes must pass the path on literally, to srun (through the shell)
# and to --aic-job (through sbatch's #SBATCH parser), and run nothing of
# it. A fake sbatch on PATH keeps the script; a fake srun records what the
# shell gives it.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
dir=$(mktemp -d /var/tmp/aic-submit-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || bail "no $dir"
mkdir bin
cat >bin/sbatch <<FAKE
#!/bin/sh
for a in "\$@"; do last=\$a; done
cp "\$last" "$dir/script"
printf '%s\n' "\$@" >"$dir/sbatch.args"
FAKE
cat >bin/srun <<FAKE
#!/bin/sh
for a in "\$@"; do last=\$a; done
printf '%s' "\$last" >"$dir/srun.last"
FAKE
chmod +x bin/sbatch bin/srun

odd='s $(touch pwned1) `touch pwned2` "dq" '"'"'sq'"'"' #h \x ;'
mkdir "$odd"
printf 'stages:\n  a: {command: [true], gpus: 1}\n' >"$odd/job.yaml"
spec="$dir/$odd/job.yaml"

out=$(PATH="$dir/bin:$PATH" "$aic" submit "$odd/job.yaml" 2>&1)
is "$?" 0 "aic submit with an odd spec path runs sbatch"
like "$out" "aic submit: \.aic/submit-[0-9]+\.sbatch \(1 node\)" "naming its script"
ok "sbatch was given the script" [ -s script ]

# The shell, as the batch step runs it.
(cd "$dir/bin" && PATH="$dir/bin:$PATH" sh "$dir/script")
is "$(cat srun.last)" "$spec" "srun gets the spec path as it is"
is "$(find "$dir" -name 'pwned*' | wc -l)" 0 "nothing in the path was run"

# sbatch's reading of '#SBATCH --aic-job=...': get_argument() in
# src/sbatch/opt.c, step by step (whitespace is tested before a backslash).
got=$(python3 - script <<'PY'
import sys
for line in open(sys.argv[1]):
    if not line.startswith("#SBATCH --aic-job="):
        continue
    p = line[len("#SBATCH "):]
    i, arg, esc, quoted, q = 0, "", False, False, None
    while i < len(p) and (quoted or not p[i].isspace()) and p[i] != "\n":
        c = p[i]
        if esc:
            esc = False
        elif c == "\\":
            esc = True
            i += 1
            continue
        elif quoted:
            if c == q:
                quoted = False
                i += 1
                continue
        elif c in "\"'":
            quoted, q = True, c
            i += 1
            continue
        elif c == "#":
            break
        arg += c
        i += 1
    if quoted:
        arg = "unmatched quote"
    print(arg[len("--aic-job="):], end="")
PY
)
is "$got" "$spec" "sbatch reads --aic-job as the spec path"

mkdir "$(printf 'nl\nx')"
printf 'stages:\n  a: {command: [true]}\n' >"$(printf 'nl\nx')/job.yaml"
rm -f script
err=$(PATH="$dir/bin:$PATH" "$aic" submit "$(printf 'nl\nx')/job.yaml" 2>&1)
is "$?" 1 "a spec path with a line break is refused"
like "$err" "aic submit: the spec path '.*nl" "naming it"
ok "sbatch was not run" [ ! -e script ]
done_testing
