#!/usr/bin/env bash
# bench/batch: 1, 2 and 4 builds at once on this machine, wall times and ratios side by side.
#   key    N concurrent `kiln key` runs: the fetch stage and the key (installer files verified, every
#          suite's signed Release fetched, checked with gpgv and pinned) against the signed archive
#          fixture on 127.0.0.1, one shared cache
#   reuse  `kiln batch -j N` of N profiles whose key is in the result store: fetch, key, and the
#          stored image published (copied: reflink where the filesystem can)
# The store is seeded once through the real path, `kiln finish --store-result` of the Debian fixture
# image (tests/helpers/debian-fixture.sh; minutes under TCG). A benchmark, not a test: it prints numbers, best of KILN_BENCH_RUNS (3).
#
#   bench/batch.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN:-$top/build/kiln}
runs=${KILN_BENCH_RUNS:-3}
fixdir=${KILN_FIXTURE_DIR:-$top/build/fixtures}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-batch.XXXXXX")
pids=()
# shellcheck disable=SC2154 # p is the loop's own variable, set when the trap runs
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
py() { /usr/bin/python3 "$@"; }
now() { date +%s.%N; }
K=("$kiln" --allow-private-mirrors --trust-profile-paths)
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}

fix=$top/tests/helpers/archive-fixture.py
py "$fix" keys "$tmp/gnupg" > /dev/null 2>&1
py "$fix" build "$tmp/archive" --gnupghome "$tmp/gnupg" --variant good 2> /dev/null
/usr/bin/python3 "$fix" serve "$tmp/archive" > "$tmp/port" 2> /dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
# The key covers the mirror's URL (its port) and the fixture's InRelease (signed by a key made for
# this run): each run seeds its own store.
cache=$tmp/cache
base="http://127.0.0.1:$(cat "$tmp/port")/debian"
profile() { # NAME FILE
        printf 'name: %s\nrelease: trixie\nmirror: %s\nmirror_keyring: %s\nsecurity: false\nbootloader: host\nroot:\n  ssh_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnTestKeyOnlyForTheFixture kiln-test]\n' \
                "$1" "$base" "$tmp/gnupg/good.asc" > "$2"
}
mkdir -p "$tmp/p"
for i in 1 2 3 4; do profile web "$tmp/p/web$i.yaml"; done
key=$("${K[@]}" key --cache "$cache" --no-boot-test "$tmp/p/web1.yaml" 2> /dev/null)
bash "$top/tests/helpers/debian-fixture.sh" "$fixdir" ||
        { echo "bench/batch: no Debian fixture image (tests/helpers/debian-fixture.sh)" >&2; exit 1; }
echo "bench/batch: seeding the result store (kiln finish --store-result, minutes under TCG)..." >&2
"${K[@]}" finish --cache "$cache" --store-result --no-boot-test -o "$tmp/seed.qcow2" "$tmp/p/web1.yaml" \
        "$fixdir/debian.qcow2" > /dev/null 2> "$tmp/seed.err" || { tail -5 "$tmp/seed.err" >&2; exit 1; }
rm -rf "$tmp"/seed.qcow2*
img=$cache/results/keys/$key/image
size=$(stat -c %s "$img")
alloc=$(($(stat -c %b "$img") * $(stat -c %B "$img")))

best() { sort -n | head -1; }
run_key() { # N -> wall seconds of N concurrent kiln key runs
        local t0 ps=() i
        t0=$(now)
        for i in $(seq "$1"); do "${K[@]}" key --cache "$cache" --no-boot-test "$tmp/p/web$i.yaml" > /dev/null 2>&1 & ps+=($!); done
        for i in "${ps[@]}"; do wait "$i"; done
        echo "$(now) - $t0" | bc
}
run_reuse() { # N -> wall seconds of kiln batch -j N over N reused profiles
        local t0 out=$tmp/out$1 files=() i
        for i in $(seq "$1"); do files+=("$tmp/p/web$i.yaml"); done
        rm -rf "$out"
        t0=$(now)
        "${K[@]}" batch --cache "$cache" --no-boot-test -j "$1" -O "$out" "${files[@]}" > /dev/null 2> "$tmp/batch.err" ||
                { tail -5 "$tmp/batch.err" >&2; exit 1; }
        local t1
        t1=$(now)
        py -c 'import json,sys; b=json.load(open(sys.argv[1])); assert b["reused"] == int(sys.argv[2]), b' "$out/batch.json" "$1"
        rm -rf "$out"
        sync
        echo "$t1 - $t0" | bc
}
declare -A res
for n in 1 2 4; do
        for what in key reuse; do
                res[$what$n]=$(for _ in $(seq "$runs"); do "run_$what" "$n"; done | best)
        done
done
printf '\nbench/batch on %s cores, load %s; image %d bytes (%d allocated); best of %d\n\n' \
        "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$size" "$alloc" "$runs"
printf '| builds at once | key: wall | key: vs 1 | reuse: wall | reuse: vs 1 | reuse: per build |\n'
printf '| --- | --- | --- | --- | --- | --- |\n'
for n in 1 2 4; do
        py -c 'import sys
n, k, k1, r, r1 = int(sys.argv[1]), *map(float, sys.argv[2:])
print("| %d | %.2f s | %.2fx | %.2f s | %.2fx | %.2f s |" % (n, k, k / k1, r, r / r1, r / n))' \
                "$n" "${res[key$n]}" "${res[key1]}" "${res[reuse$n]}" "${res[reuse1]}"
done
echo
echo "(vs 1: wall time of N at once over that of one; N at once with no contention is 1.00x.)"
