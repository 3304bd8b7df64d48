#!/usr/bin/env bash
# bench/build: one profile three ways, side by side, in one run:
#   cold  kiln build with an empty cache (installer files and every package fetched through the proxy)
#   warm  kiln build again with that cache (the proxy serves the pool from it)
#   bare  plain QEMU with the same kernel, the same preseeded initrd and the same cmdline, no
#         isolation, no live log, no finish: what kiln's work costs on top of the install itself
# Prints seconds and ratios. Each run is a full install: under TCG about 40 minutes each.
#
#   bench/build.sh PROFILE          (default: the e2e setup, see below)
#
# With no PROFILE on a machine whose mirror lacks files (../shared/MIRROR_NOTES.md), start the
# mirror-view fixture as tests/e2e/check-e2e.sh does and pass a profile naming it; the bare run
# then reaches the mirror through `kiln proxy` (a plain forward proxy here), because the guest
# cannot reach 127.0.0.1 of the host otherwise. KILN_BENCH_DIRECT=1 lets the bare guest reach a
# real mirror directly instead.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN:-$top/build/kiln}
# The operator's own profile, typically naming the mirror-view fixture on 127.0.0.1.
trust=(--allow-private-mirrors --trust-profile-paths)
profile=${1:?usage: bench/build.sh PROFILE}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
pids=()
# shellcheck disable=SC2154 # p is the loop's own variable, set when the trap runs
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
cache=$tmp/cache
accel=${KILN_BENCH_ACCEL:-tcg}

now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }
run_build() { # NAME
        local s
        s=$(now)
        "$kiln" "${trust[@]}" build --accel "$accel" --cache "$cache" -o "$tmp/$1.qcow2" "$profile" > /dev/null 2> "$tmp/$1.err" ||
                { echo "bench/build: $1 build failed:" >&2; tail -5 "$tmp/$1.err" >&2; exit 1; }
        calc "$(now) - $s"
}

cold=$(run_build cold)
warm=$(run_build warm)

# bare: the same kernel, the preseeded initrd kiln would boot, the installer's cmdline.
"$kiln" "${trust[@]}" fetch --cache "$cache" -o "$tmp/media" "$profile" > /dev/null 2>&1
qemu-img create -q -f qcow2 "$tmp/bare.qcow2" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["profile"]["expanded"]["disk"]["size"])' "$tmp/cold.qcow2.manifest.json")"
if [ -n "${KILN_BENCH_DIRECT:-}" ]; then
        proxy=""
else
        "$kiln" "${trust[@]}" proxy --cache "$cache" "$profile" > "$tmp/proxy.out" 2> "$tmp/proxy.err" &
        pids+=($!)
        for _ in $(seq 50); do [ -s "$tmp/proxy.out" ] && break; sleep 0.2; done
        port=$(head -1 "$tmp/proxy.out")
        proxy="mirror/http/proxy=http://10.0.2.2:$port/"
fi
s=$(now)
qemu-system-x86_64 -accel "$accel" -m 2048 -smp 2 -nographic -no-reboot \
        -kernel "$tmp/media/linux" -initrd "$tmp/media/initrd.gz" \
        -append "auto=true priority=critical fb=false console=ttyS0,115200n8 partman-auto/disk=/dev/vda $proxy" \
        -drive "file=$tmp/bare.qcow2,format=qcow2,if=virtio" -nic user,model=virtio-net-pci > "$tmp/bare.console" 2>&1
bare=$(calc "$(now) - $s")

printf '%-6s %10s %8s\n' run seconds "vs bare"
for r in cold warm bare; do
        printf '%-6s %10.0f %7.2fx\n' "$r" "${!r}" "$(calc "${!r} / $bare")"
done
printf 'warm/cold: %.2f\n' "$(calc "$warm / $cold")"
