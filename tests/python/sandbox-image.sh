#!/bin/sh
# Sandboxes from images under `aic run` (python/aic/sandbox.py, `image:`).
# A squashfs image runs for real: mounted with squashfuse and used as
# bubblewrap's read-only root, with the isolation tests/python/sandbox.sh
# checks (each "out of reach" beside the same thing done outside, which
# must work; the probes, shared: tests/lib/workers/sandbox_probes.py); the
# node keeps no mount of it once the sandbox holds it, and its squashfuse
# ends with the Sandbox, or with a worker killed. enroot and apptainer
# cannot be installed here: stand-ins on PATH
# that record their arguments and run the command check the command lines
# aic builds for them, and which runtime `auto` picks. A runtime asked for
# but not installed, and a missing image, fail with the value named.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
command -v bwrap >/dev/null || skip_all "no bwrap (Debian's bubblewrap)"
command -v squashfuse >/dev/null || skip_all "no squashfuse (Debian's squashfuse)"
command -v mksquashfs >/dev/null || skip_all "no mksquashfs (Debian's squashfs-tools)"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
enter_work_dir sandbox-image
plan 28

# A small root: python3 (which runs the task server), a shell and a few
# tools with their libraries, and a marker that only the image has.
r=root
mkdir -p $r/usr/bin $r/usr/lib $r/proc $r/dev $r/tmp $r/etc
ln -s usr/bin $r/bin; ln -s usr/lib $r/lib; ln -s usr/lib64 $r/lib64
for b in python3 python3.11 sh dash cat ls env test rm touch sleep grep id true echo; do
	cp -a /usr/bin/$b $r/usr/bin/ 2>/dev/null
done
py=$(readlink -f /usr/bin/python3)
for l in $(ldd "$py" /usr/bin/dash /usr/bin/ls /usr/bin/grep | grep -o '/[^ ]*\.so[^ ]*' | sort -u) \
	$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ {print $NF; exit}'); do
	mkdir -p "$r/usr$(dirname "${l#/usr}")" && cp -L "$l" "$r/usr${l#/usr}"
done
tar -C /usr/lib -c --exclude=test --exclude=dist-packages --exclude=site-packages \
	--exclude=idlelib --exclude=tkinter --exclude=ensurepip --exclude=lib2to3 \
	"$(basename "$py")" | tar -C $r/usr/lib -x
echo image >$r/etc/marker
mksquashfs $r img.sqsh -quiet -noappend -all-root >/dev/null || bail "mksquashfs failed"
chmod 755 . "$dir"  # a root job's sandbox runs as nobody, who must reach the image
echo precious >marker

# Stand-ins for enroot, apptainer and podman (which cannot run in the test
# VM's cgroups): each records its arguments and
# environment (one line per call: newlines and backslashes, which dash's
# echo would interpret, become spaces) and runs the command as the real one
# would: in a user namespace of its own, where the sandbox's process limit
# (RLIMIT_NPROC) counts its own processes only, not every process of
# nobody's on the node (another test's fork bomb, run at the same time, made
# these fail).
mkdir -p fake
: >runtime.log && chmod 666 runtime.log
cat >fake/apptainer <<SH
#!/bin/sh
echo "apptainer \$(printf %s "\$*" | tr '\\n\\\\' '  ') | HOME=\$HOME AIC=\$(env | grep -c ^AIC_)" >>$dir/runtime.log
[ "\$1" = exec ] || exit 2
shift
while [ \$# -gt 0 ]; do
	case \$1 in
	--network | --pwd | --no-mount | --security | --bind | -B) shift 2 ;;
	--*) shift ;;
	*) break ;;
	esac
done
case \$1 in *://*) ;; *) [ -e "\$1" ] || { echo "apptainer: no image \$1" >&2; exit 255; } ;; esac
shift
cd /tmp && exec unshare --user -- "\$@"
SH
cat >fake/enroot <<SH
#!/bin/sh
echo "enroot \$(printf %s "\$*" | tr '\\n\\\\' '  ') | DATA=\$ENROOT_DATA_PATH AIC=\$(env | grep -c ^AIC_)" >>$dir/runtime.log
cmd=\$1
shift
case \$cmd in
create)
	[ "\$1" = --name ] || exit 2
	[ -f "\$3" ] || { echo "enroot: no image \$3" >&2; exit 1; }
	mkdir -p "\$ENROOT_DATA_PATH/\$2" ;;
start)
	[ "\$1" = --rw ] && shift
	[ -d "\$ENROOT_DATA_PATH/\$1" ] || { echo "enroot: no container \$1" >&2; exit 1; }
	shift
	cd /tmp && exec unshare --user -- "\$@" ;;
*) exit 2 ;;
esac
SH
cat >fake/podman <<SH
#!/bin/sh
echo "podman \$(printf %s "\$*" | tr '\\n\\\\' '  ') | AIC=\$(env | grep -c ^AIC_)" >>$dir/runtime.log
[ "\$1" = run ] || exit 0
shift
while [ \$# -gt 0 ]; do
	case \$1 in
	--rm | -i | --read-only) shift ;;
	--rootfs) shift 2; break ;;
	--*) shift 2 ;;
	*) shift; break ;;
	esac
done
cd /tmp && exec unshare --user -- "\$@"
SH
printf '#!/usr/bin/env run-singularity\nSIF_MAGIC_0.1\n' >img.sif
chmod 755 fake fake/*

cat >env.py <<'PY'
import aic, json, os, sys
sys.path.insert(0, sys.argv[2])
import sandbox_probes as probes
cfg = json.loads(os.environ["AIC_SANDBOX"])
print("config", os.path.basename(cfg["image"]), cfg["runtime"], os.path.isabs(cfg["image"]),
      flush=True)

probes.outside()
def node_mounts(before=0):
    return sum(" /tmp/aic-sandbox-" in l for l in open("/proc/mounts")) - before

before = node_mounts()
with aic.Sandbox() as sb:
    print("runtime", sb.runtime, "node mounts", node_mounts(before), flush=True)
    probes.check(sb, "image", ["cat", "/etc/marker"])
    probes.out_of_reach(sb)
    probes.writable(sb)
    probes.timeouts(sb)
    probes.harm(sb)
    sb.reset()
    probes.check(sb, "after-reset", "cat /etc/marker; ls /tmp")
    fuses = list(sb._fuses)
print("closed fuse ended", all(f.poll() is not None for f in fuses), "node mounts",
      node_mounts(before), flush=True)
probes.marker_after()

# The stand-ins: first on PATH, as a site's runtimes would be.
os.environ["PATH"] = sys.argv[1] + ":" + os.environ["PATH"]
here = os.path.dirname(cfg["image"])
for image, runtime in [("img.sqsh", "auto"), ("img.sif", "auto"), ("img.sqsh", "apptainer"),
                       ("img.sqsh", "bwrap"), ("root", "auto"), ("root", "podman"),
                       ("docker://example.org/env:1", "auto")]:
    path = image if "://" in image else os.path.join(here, image)
    with aic.Sandbox(dict(cfg, image=path, runtime=runtime)) as sb:
        r = sb.run("echo ran; env | grep -c AIC_ || true")
        print("via", image, runtime, sb.runtime, r["status"], r["stdout"].split(), flush=True)
        if sb.runtime == "enroot":
            probes.check(sb, "enroot-agent", probes.CONNECT)
PY
cat >job.yaml <<YAML
stages:
  env: {command: [/usr/bin/python3, $dir/env.py, $dir/fake, $workers_dir], cpus: 0,
        sandbox: {image: img.sqsh, tmpfs_mb: 16, timeout_s: 20}}
YAML
timeout 300 "$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "the job whose sandbox is a squashfs image succeeds"
out=$("$aic" logs env | sed 's/^env\/0: //')
diag "$out"
like "$out" "config img.sqsh auto True" "AIC_SANDBOX carries the image, made absolute, and the runtime"
like "$out" "runtime bwrap node mounts 0" \
	"without enroot or apptainer, bubblewrap runs the squashfs image, mounted in the sandbox only"
like "$out" "image 0 False 'image'" "the sandbox's / is the image"
like "$out" "outside agent 0" "outside, the agent answers"
like "$out" "outside job True marker True" "outside, the job directory and the marker are there"
is "$(echo "$out" | grep -E '^(job-dir|marker) ' | awk '{print $2}' | tr '\n' ' ')" "2 1 " \
	"inside, the job directory and host files are out of reach"
like "$out" "token-env 0 False '0'" "inside, no AIC_ variable (no token)"
like "$out" "agent 0 False '111'" "inside, the agent cannot be reached (connection refused)"
like "$out" "outside unix 0" "outside, the agent's Unix socket answers"
like "$out" "agent-unix 0 False '111'" "inside, nor its Unix socket (another network namespace)"
like "$out" "host-pid 1 " "inside, the host's processes cannot be seen"
like "$out" "tmp 0 False 'kept'" "/tmp is writable"
like "$out" "^ro 1 " "the image is read-only"
is "$(echo "$out" | grep '^task ' | sort | tr '\n' '|')" \
	"task a 0 False a|task b 0 False b|task loop -9 True |" \
	"a task looping forever is killed at its timeout, its neighbours finish"
is "$(echo "$out" | grep -E '^(after-reset|closed|outside marker after) ' | tr '\n' '|')" \
	"after-reset 0 False 'image'|closed fuse ended True node mounts 0|outside marker after precious|" \
	"rm -rf / and a fork bomb harm nothing outside; a reset makes the sandbox anew over the image; at close squashfuse has ended"

like "$out" "via img.sqsh auto enroot 0 \\['ran', '0'\\]" "with enroot on the node, auto runs a squashfs image with it"
like "$out" "enroot-agent 0 False '(101|111)'" "enroot's sandbox has no network (unshare --net around it)"
is "$(echo "$out" | grep -E '^via (img\.sif auto|img\.sqsh apptainer|img\.sqsh bwrap|root|docker:[^ ]*) ' | tr '\n' '|')" \
	"via img.sif auto apptainer 0 ['ran', '0']|via img.sqsh apptainer apptainer 0 ['ran', '0']|via img.sqsh bwrap bwrap 0 ['ran', '0']|via root auto bwrap 0 ['ran', '0']|via root podman podman 0 ['ran', '0']|via docker://example.org/env:1 auto apptainer 0 ['ran', '0']|" \
	"a SIF image and a reference go to apptainer, a directory to bubblewrap; runtime overrides auto"
log=$(cat runtime.log)
diag "$log"
like "$log" "^enroot create --name aic-[0-9-]* $dir/img.sqsh \\| DATA=/tmp/aic-sandbox-[^/]*/data AIC=0\$" \
	"enroot creates the container from the image, in the sandbox's private directory"
like "$log" "^enroot start --rw aic-[0-9-]* python3 -c .* AIC=0\$" \
	"enroot starts it read-write with the task server, and no AIC_ variable"
like "$log" "^apptainer exec --containall --cleanenv --no-privs --no-mount bind-paths --writable-tmpfs --pwd /tmp --net --network none $dir/img.sif python3 -c .* AIC=0\$" \
	"apptainer runs the image contained, with no network, and no AIC_ variable"

like "$log" "^podman run --rm -i --name (aic-[0-9-]*) --network none --read-only --tmpfs /tmp:rw,size=16m --cap-drop all --security-opt no-new-privileges --ipc private --pid private --workdir /tmp --ulimit nproc=256:256 --ulimit core=0:0( --user 65534:65534)? --rootfs $dir/root python3 -c .* AIC=0\$" \
	"podman runs the directory read-only, with no network or capability, and no AIC_ variable"
like "$log" "^podman rm -f -i aic-[0-9-]* \\| AIC=0\$" "podman's container is removed when the sandbox ends"

# A worker killed with its sandbox open leaves no squashfuse behind.
cat >kill.py <<'PY'
import aic, os, signal
sb = aic.Sandbox()
print("fuse", sb._fuses[0].pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
PY
cat >kill.yaml <<YAML
stages:
  env: {command: [/usr/bin/python3, $dir/kill.py], cpus: 0, restart: {max: 0},
        sandbox: {image: img.sqsh}}
YAML
timeout 300 "$aic" run kill.yaml >kill.out 2>kill.err
fuse=$("$aic" logs env | sed -n 's/.*fuse //p')
diag "squashfuse: $fuse"
# gone PID: no such process, or a zombie waiting for its reaper.
gone() { [ -n "$1" ] && { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }; }
ok "a killed worker's squashfuse ends with its sandbox" wait_for 30 gone "$fuse"

# Errors name the value.
for bad in "image: img.sqsh, runtime: apptainer" "image: nope.sqsh" \
	"image: img.sqsh, runtime: podman"; do
	cat >bad.yaml <<YAML
stages:
  a: {command: [/usr/bin/python3, -c, "import aic; aic.Sandbox()"], cpus: 0, restart: {max: 0},
      sandbox: {$bad}}
YAML
	timeout 300 "$aic" run bad.yaml >bad.out 2>bad.err
	logs="$logs$("$aic" logs a | tail -1)"
done
diag "$logs"
like "$logs" "runtime 'apptainer' asked for, but 'apptainer' is not installed on" \
	"a runtime asked for but not installed is named"
like "$logs" "image '$dir/nope.sqsh': No such file or directory" "a missing image is named"
like "$logs" "runtime 'podman' cannot run image '$dir/img.sqsh' \\(a squashfs\\)" \
	"an image the runtime cannot run is named"
