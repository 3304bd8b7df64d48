#!/usr/bin/env bash
# bench/build: one profile three ways, side by side, in one run (issue 16):
#   cold  kiln build with an empty cache, the profile's tuning on (the default)
#   bare  plain QEMU (kiln's guest's machine) with the same kernel and the installer's cmdline, booting an initrd with an
#         untuned preseed (tuning: {eatmydata: false, defer_man_db: false, defer_initramfs: false, initramfs: most}); no
#         isolation, no live log, no finish stages: the installer's own time
#   warm  kiln build again with the cache cold left behind (--no-reuse: a real install again)
# cold and bare run at the same time with 1 vCPU each, so the machine's noise hits both; warm runs
# after them, also with 1 vCPU (the same profile as cold), beside a second bare run (bare2). Prints per-step seconds (from the events) and the ratios
# against the goals, and writes bench/results/DATE.json. Each run is a full install: under TCG
# 25 to 45 minutes; run it in the background (bench/README.md).
#
#   bench/build.sh PROFILE            (make bench-build BENCH_PROFILE=PROFILE)
#
# On a machine whose mirror lacks files (../shared/MIRROR_NOTES.md), start the mirror-view fixture
# as tests/e2e/check-e2e.sh does and pass a profile naming it; the bare guest then reaches the
# mirror through `kiln proxy` (a plain forward proxy here), because it cannot reach the host's
# 127.0.0.1 otherwise. KILN_BENCH_DIRECT=1 lets the bare guest reach a real mirror directly.
# KILN_BENCH_DISK is the bare disk's size (default 10G, the default disk.size). KILN_BENCH_DIR keeps the run's files (events, logs, images) in that folder.
# KILN_BENCH_RESUME=1 with KILN_BENCH_DIR keeps a finished phase 1 found there (cold succeeded,
# bare timed) and starts at phase 2: a run killed halfway loses only the phase it was in.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN:-$top/build/kiln}
py=/usr/bin/python3
trust=(--allow-private-mirrors --trust-profile-paths)
profile=$(realpath "${1:?usage: bench/build.sh PROFILE}")
if [ -n "${KILN_BENCH_DIR:-}" ]; then
        tmp=$KILN_BENCH_DIR
        mkdir -p "$tmp"
else
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
fi
# Job control: each run in the background is a process group of its own (its shell, QEMU or kiln,
# the bare run's proxy), so leaving, however it happens, stops each run with all it started.
set -m
pids=()
# shellcheck disable=SC2154 # p is the loop's own variable, set when the trap runs
trap 'for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done; [ -n "${KILN_BENCH_DIR:-}" ] || rm -rf "$tmp"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
cache=$tmp/cache
accel=${KILN_BENCH_ACCEL:-tcg}
now() { date +%s.%N; }
say() { echo "bench/build: $(date +%H:%M:%S) $*" >&2; }

# The run profiles extend the one measured: 1 vCPU for the two that share the machine; bare untuned.
printf 'extends: %s\nvm: {cpus: 1}\n' "$profile" > "$tmp/cold.yaml"
printf 'extends: %s\nvm: {cpus: 1}\ntuning: {eatmydata: false, defer_man_db: false, defer_initramfs: false, initramfs: most}\n' "$profile" > "$tmp/bare.yaml"

build() { # NAME PROFILE: kiln build with its events in NAME.events
        set +m # what a run starts stays in its process group
        say "$1 started"
        "$kiln" "${trust[@]}" build --no-reuse --accel "$accel" --cache "$cache" --events-fd 3 -o "$tmp/$1.qcow2" "$2" \
                3> "$tmp/$1.events" > /dev/null 2> "$tmp/$1.err" || { say "$1 failed:"; tail -5 "$tmp/$1.err" >&2; return 1; }
        say "$1 done"
}

bare() { # NAME: the installer alone, the media through a cache of its own, so cold's stays cold
        set +m # what a run starts stays in its process group
        local name=$1 proxy="" proxy_pid="" s
        [ -s "$tmp/media/initrd.gz" ] ||
                "$kiln" "${trust[@]}" fetch --cache "$tmp/bare-cache" -o "$tmp/media" "$tmp/bare.yaml" > /dev/null 2> "$tmp/$name.err"
        qemu-img create -q -f qcow2 "$tmp/$name.qcow2" "${KILN_BENCH_DISK:-10G}" # the profile's disk.size
        if [ -z "${KILN_BENCH_DIRECT:-}" ]; then
                "$kiln" "${trust[@]}" proxy --cache "$tmp/bare-cache" "$tmp/bare.yaml" > "$tmp/$name-proxy.out" 2> "$tmp/$name-proxy.err" &
                proxy_pid=$!
                for _ in $(seq 100); do [ -s "$tmp/$name-proxy.out" ] && break; sleep 0.2; done
                proxy="mirror/http/proxy=http://10.0.2.2:$(head -1 "$tmp/$name-proxy.out")/"
        fi
        say "$name started"
        s=$(now)
        # kiln's guest's machine, so hw-detect sees the same hardware: no QEMU default devices
        # (their IDE CD-ROM made the installer add eject), q35, -cpu max, a virtio RNG.
        qemu-system-x86_64 -machine q35 -accel "$accel" -cpu max -m 2048 -smp 1 -nodefaults -display none -serial stdio \
                -no-reboot -device virtio-rng-pci -kernel "$tmp/media/linux" -initrd "$tmp/media/initrd.gz" \
                -append "auto=true priority=critical fb=false console=ttyS0,115200n8 partman-auto/disk=/dev/vda $proxy" \
                -drive "file=$tmp/$name.qcow2,format=qcow2,if=virtio" -nic user,model=virtio-net-pci > "$tmp/$name.console" 2>&1
        $py -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$s" "$(now)" > "$tmp/$name.seconds"
        [ -z "$proxy_pid" ] || { kill "$proxy_pid"; wait "$proxy_pid" 2> /dev/null || true; } # no proxy outlives its run
        say "$name done"
}

# Phase 1: cold and bare side by side.
if [ -n "${KILN_BENCH_RESUME:-}" ] && [ -n "${KILN_BENCH_DIR:-}" ] && [ -s "$tmp/bare.seconds" ] &&
        grep -q '"type":"result".*"state":"succeeded"' "$tmp/cold.events" 2> /dev/null; then
        say "phase 1 (cold and bare) kept from $tmp"
        rm -rf "${tmp:?}/media" # its preseed names the mirror as the killed run's fixture served it
else
        bare bare & bare_pid=$!
        build cold "$tmp/cold.yaml" & cold_pid=$!
        pids+=("$bare_pid" "$cold_pid")
        wait "$cold_pid" || exit 1
        wait "$bare_pid" || { say "bare failed:"; tail -5 "$tmp/bare.err" "$tmp/bare.console" >&2; exit 1; }
fi
# Phase 2: warm (the same profile as cold, 1 vCPU, --no-reuse: an install again over cold's cache)
# beside a second bare run (over bare's own cache, warm too), so warm meets the load cold met, and
# bare against bare2 shows how much the machine's noise moved between the phases.
bare bare2 & bare2_pid=$!
build warm "$tmp/cold.yaml" & warm_pid=$!
pids+=("$bare2_pid" "$warm_pid")
wait "$warm_pid" || exit 1
wait "$bare2_pid" || { say "bare2 failed:"; tail -5 "$tmp/bare2.console" >&2; exit 1; }

# The same image, faster: kiln inspect reads the untuned bare install's disk (its package list and
# its installer syslog, whose steps the report puts beside cold's and warm's).
say "inspecting the bare install"
"$kiln" inspect --accel "$accel" -d "$tmp/bare-inspect" "$tmp/bare.qcow2" > "$tmp/bare.inspect" 2>&1 || true

mkdir -p "$top/bench/results"
out=$top/bench/results/$(date +%Y-%m-%d).json
$py "$top/bench/report.py" "$tmp" --json "$out"

# The tuned cold build's packages (its inspection's list) against the untuned bare install's; and no
# eatmydata left in the tuned image.
$py - "$out" "$tmp/cold.qcow2.d/packages.txt" "$tmp/bare-inspect/packages.txt" << 'PY'
import json, sys
out, tuned, untuned = sys.argv[1:]
read = lambda p: set(l for l in open(p).read().split("\n") if l)
t, u = read(tuned), read(untuned)
r = json.load(open(out))
r["packages"] = {"tuned": len(t), "untuned": len(u), "same": t == u,
                 "only_tuned": sorted(t - u), "only_untuned": sorted(u - t),
                 "eatmydata_left": sorted(p for p in t if p.split("=")[0] in ("eatmydata", "libeatmydata1"))}
json.dump(r, open(out, "w"), indent=1)
p = r["packages"]
print("packages: tuned %d, untuned %d: %s; eatmydata left in the tuned image: %s" % (
    p["tuned"], p["untuned"], "the same" if p["same"] else "only tuned %s, only untuned %s" % (
        p["only_tuned"], p["only_untuned"]), p["eatmydata_left"] or "none"))
PY
echo "bench/build: wrote $out"
