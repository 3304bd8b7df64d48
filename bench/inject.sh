#!/usr/bin/env bash
# bench/inject: preseed injection into the real trixie netboot initrd, appended (kiln) against
# unpacked and repacked, side by side. Fetches the pinned installer through kiln's own fetch.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN:-$top/build/kiln}
cache=${KILN_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/p.yaml" <<'X'
name: bench
release: trixie
installer:
  version: 20250803+deb13u6
  sha256: b14500fba1c068c7d818de1376e46151628d96d8b2f322dfcbe7a16b7b8c2fa4
X
# The preflight's verdict on the mirror does not matter for this benchmark.
"$kiln" fetch --no-preflight --cache "$cache" "$tmp/p.yaml" > "$tmp/out" 2>/dev/null
initrd=$(sed -n 's/^initrd   //p' "$tmp/out")
"$kiln" preseed "$tmp/p.yaml" > "$tmp/preseed.cfg" 2>/dev/null
echo "initrd size: $(stat -c %s "$initrd") bytes"
"$top/build/bench/inject" "$initrd" "$tmp/preseed.cfg" "${RUNS:-5}"
