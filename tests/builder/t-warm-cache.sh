#!/usr/bin/env bash
# The warm path (issue 16): a second build of the same profile gets every index and pool file the
# installer reads from kiln's cache through the proxy; upstream sees nothing but the check of the
# suites' signed Release files when the proxy pins them. Two real `kiln proxy` runs share one
# cache, each replaying what an install asks for, against the signed archive fixture on 127.0.0.1,
# whose requests.log is upstream's view.
. "$(dirname "$0")/../lib.sh"
command -v curl > /dev/null || { skip "warm cache" "curl is not installed"; finish; exit 0; }
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
export KILN_FETCH_RETRIES=1
pids=()
trap stop_background EXIT

start_archive_fixture
# shellcheck disable=SC2154 # set by start_archive_fixture (tests/lib.sh)
base=$archive_base
D=$ROOT/debian/dists/trixie
printf 'name: warm\nrelease: trixie\nmirror: %s\nmirror_keyring: %s\nsecurity: false\n' "$base" "$TMP/gnupg/good.asc" > "$TMP/p.yaml"

# What an install asks the proxy for: the signed Release, the indices by name and by hash (as
# net-retriever, debootstrap and apt do), then every pool file the indices list.
indices=(main/binary-amd64/Release main/debian-installer/binary-amd64/Packages.xz main/binary-amd64/Packages.xz
        main/binary-amd64/Packages.gz main/binary-all/Packages.xz)
pass() { # NAME: one proxy run over the shared cache; its port's requests
        local name=$1 P code bad=0
        "$KILN" proxy --cache "$TMP/cache" --log "$TMP/$name.proxy.log" "$TMP/p.yaml" > "$TMP/$name.port" 2> "$TMP/$name.err" &
        pids+=($!)
        for _ in $(seq 100); do [ -s "$TMP/$name.port" ] && break; sleep 0.1; done
        [ -s "$TMP/$name.port" ] || { not_ok "$name: kiln proxy starts" "$(cat "$TMP/$name.err")"; return; }
        wc -l < "$ROOT/requests.log" > "$TMP/$name.pinned"
        P="http://127.0.0.1:$(cat "$TMP/$name.port")"
        get() { curl -s -o "$TMP/body" -w '%{http_code}' -x "$P" -A "Debian APT-HTTP/1.3 (kiln test)" "$1"; }
        for f in InRelease "${indices[@]}"; do
                code=$(get "$base/dists/trixie/$f")
                [ "$code" = 200 ] || { bad=1; echo "# $name: $f: $code"; }
        done
        for f in main/debian-installer/binary-amd64/Packages.xz main/binary-amd64/Packages.xz; do
                sha=$(sha256sum "$D/$f" | cut -d' ' -f1)
                code=$(get "$base/dists/trixie/${f%/*}/by-hash/SHA256/$sha")
                [ "$code" = 200 ] || { bad=1; echo "# $name: $f by hash: $code"; }
        done
        for f in $(cd "$ROOT/debian" && find pool -type f | sort); do
                code=$(get "$base/$f")
                [ "$code" = 200 ] || { bad=1; echo "# $name: $f: $code"; }
        done
        [ $bad = 0 ] && ok "$name: every file the install asks for is served" || not_ok "$name: every file served"
        kill "${pids[-1]}"; wait "${pids[-1]}" 2> /dev/null
}

: > "$ROOT/requests.log"
pass cold
cold_n=$(wc -l < "$ROOT/requests.log")
grep -q '^/debian/pool/' "$ROOT/requests.log" && ok "cold: the pool comes from upstream" || not_ok "cold: pool upstream"
pass warm
tail -n +"$((cold_n + 1))" "$ROOT/requests.log" > "$TMP/warm.upstream"
# The warm run's own pinning: the suite's InRelease (its detached Release pair is reused from the
# cache when the InRelease is the one last pinned), and the absent suite's 404s; nothing else.
grep -v -E '^/debian/dists/trixie/InRelease$|^/debian/dists/trixie-updates/(InRelease|Release)$' "$TMP/warm.upstream" > "$TMP/warm.extra"
sed "s/^/# warm upstream: /" "$TMP/warm.upstream"
check_eq "warm: no upstream request beyond the Release check" "" "$(cat "$TMP/warm.extra")"
check_eq "warm: the Release check is all before the first guest request" \
        "$(wc -l < "$TMP/warm.upstream")" "$(($(cat "$TMP/warm.pinned") - cold_n))"
served=$(grep -c ' 200 ' "$TMP/warm.proxy.log")
cached=$(grep -c ' 200 .* cached' "$TMP/warm.proxy.log")
check_eq "warm: every answer logged as from the cache" "$served" "$cached"
finish
