#!/usr/bin/env bash
# The guest sees the archive kiln verified when the build started, however the mirror changes
# meanwhile: through kiln's proxy on the host side (curl), against the signed archive fixture on
# 127.0.0.1, whose Release is replaced by a newer one after kiln pinned it.
. "$(dirname "$0")/../lib.sh"
command -v curl > /dev/null || { skip "snapshot" "curl is not installed"; finish; exit 0; }
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
export KILN_FETCH_RETRIES=1
pids=()
trap stop_background EXIT

start_archive_fixture
# shellcheck disable=SC2154 # set by start_archive_fixture (tests/lib.sh)
base=$archive_base
D=$ROOT/debian/dists/trixie
cp "$D/InRelease" "$TMP/InRelease.v1"; cp "$D/Release" "$TMP/Release.v1"; cp "$D/Release.gpg" "$TMP/Release.gpg.v1"
udeb=main/debian-installer/binary-amd64/Packages.xz
v1_sha=$(sha256sum "$D/$udeb" | cut -d' ' -f1)

printf 'name: snap\nrelease: trixie\nmirror: %s\nmirror_keyring: %s\nsecurity: false\n' "$base" "$TMP/gnupg/good.asc" > "$TMP/p.yaml"
"$KILN" proxy --cache "$TMP/cache" --log "$TMP/proxy.log" "$TMP/p.yaml" > "$TMP/pport" 2> "$TMP/perr" &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/pport" ] && break; sleep 0.1; done
[ -s "$TMP/pport" ] || { not_ok "kiln proxy starts and pins the suite" "$(cat "$TMP/perr")"; finish; exit; }
ok "kiln proxy starts and pins the suite"
grep -q "'$base' has no Release: the guest sees no suite 'trixie-updates' there" "$TMP/perr" &&
        ok "a suite with no Release at start is said to be absent" || not_ok "absent suite notice" "$(cat "$TMP/perr")"
P="http://127.0.0.1:$(cat "$TMP/pport")"
get() { curl -s -o "$TMP/body" -w '%{http_code}' -x "$P" -A "Debian APT-HTTP/1.3 (kiln test)" "$@"; }

# The mirror syncs mid-build: a newer Release, a changed udeb index under its plain name; the old
# by-hash copies stay, as on a real mirror.
python3 "$FIX" build "$ROOT" --gnupghome "$TMP/gnupg" --variant changed 2> "$TMP/build.err" || not_ok "rebuild fixture" "$(cat "$TMP/build.err")"
cmp -s "$D/InRelease" "$TMP/InRelease.v1" && not_ok "the fixture's Release changed" || ok "the fixture's Release changed"

check_eq "InRelease after the mirror changed" 200 "$(get "$base/dists/trixie/InRelease")"
cmp -s "$TMP/body" "$TMP/InRelease.v1" && ok "the guest gets the InRelease kiln verified, not the mirror's new one" ||
        not_ok "pinned InRelease served" "$(head -c 300 "$TMP/body")"
check_eq "Release" 200 "$(get "$base/dists/trixie/Release")"
cmp -s "$TMP/body" "$TMP/Release.v1" && ok "Release: the pinned copy" || not_ok "pinned Release served"
check_eq "Release.gpg" 200 "$(get "$base/dists/trixie/Release.gpg")"
cmp -s "$TMP/body" "$TMP/Release.gpg.v1" && ok "Release.gpg: the pinned copy" || not_ok "pinned Release.gpg served"

check_eq "an index by its plain name after the mirror changed" 200 "$(get "$base/dists/trixie/$udeb")"
check_eq "it holds the bytes the pinned Release lists (from the by-hash copy)" "$v1_sha" "$(sha256sum < "$TMP/body" | cut -d' ' -f1)"
grep -q "^/debian/dists/trixie/main/debian-installer/binary-amd64/by-hash/SHA256/$v1_sha$" "$ROOT/requests.log" &&
        ok "fetched upstream by its signed hash" || not_ok "fetched by hash" "$(tail -5 "$ROOT/requests.log")"
[ -f "$TMP/cache/sha256/${v1_sha:0:2}/$v1_sha" ] && ok "the index is stored under its signed hash" || not_ok "index stored by hash"
check_eq "the same index by hash" 200 "$(get "$base/dists/trixie/main/debian-installer/binary-amd64/by-hash/SHA256/$v1_sha")"
new_sha=$(sha256sum "$D/$udeb" | cut -d' ' -f1)
check_eq "a by-hash name the pinned Release does not list: 404" 404 "$(get "$base/dists/trixie/main/debian-installer/binary-amd64/by-hash/SHA256/$new_sha")"

# No copy matches any more (by-hash gone, plain name newer): the guest gets an error, never the
# mismatching bytes.
gz=main/binary-all/Packages.gz
gz_sha=$(grep -E " main/binary-all/Packages.gz$" "$TMP/Release.v1" | awk '{print $1}')
rm -f "$D/main/binary-all/by-hash/SHA256/$gz_sha"
printf 'something newer\n' | gzip > "$D/$gz"
code=$(get "$base/dists/trixie/$gz")
check_eq "no copy matching the pinned Release: 502" 502 "$code"
! cmp -s "$TMP/body" "$D/$gz" && ok "the mismatching file is never served" || not_ok "mismatching file served"
grep -q "GET $base/dists/trixie/$gz 502 0 .*matches its signed Release" "$TMP/proxy.log" && ok "logged with the reason" ||
        not_ok "502 logged" "$(grep Packages.gz "$TMP/proxy.log")"

mkdir -p "$D/main/i18n" && echo "unlisted" > "$D/main/i18n/Translation-en"
check_eq "a file the Release does not list passes through" 200 "$(get "$base/dists/trixie/main/i18n/Translation-en")"
mkdir -p "$ROOT/debian/dists/trixie-updates" && cp "$D/InRelease" "$ROOT/debian/dists/trixie-updates/InRelease"
check_eq "a suite that appeared after the start stays absent" 404 "$(get "$base/dists/trixie-updates/InRelease")"
# Suites kiln never pinned (choose-mirror asks for every suite name it knows): the guest sees only the
# verified snapshot under the archive's dists/, and upstream is not asked (the warm path).
mkdir -p "$ROOT/debian/dists/stable" && cp "$D/Release" "$ROOT/debian/dists/stable/Release"
check_eq "a suite kiln did not pin: 404" 404 "$(get "$base/dists/stable/Release")"
grep -q '^/debian/dists/stable/' "$ROOT/requests.log" && not_ok "an unpinned suite is never fetched upstream" "$(grep stable "$ROOT/requests.log")" ||
        ok "an unpinned suite is never fetched upstream"
grep -q "GET $base/dists/stable/Release 404 0 .*not part of the verified snapshot" "$TMP/proxy.log" && ok "logged with the reason" ||
        not_ok "unpinned suite logged" "$(grep stable "$TMP/proxy.log")"

# --- the cache keeps only what a verified index vouches for
udeb_file=pool/main/l/partman-ext3_1_amd64.udeb
good_sha=$(sha256sum "$ROOT/debian/$udeb_file" | cut -d' ' -f1)
get "$base/dists/trixie/$udeb" > /dev/null # the guest reads the index first, as it always does
check_eq "a pool file the verified index lists" 200 "$(get "$base/$udeb_file")"
[ -f "$TMP/cache/sha256/${good_sha:0:2}/$good_sha" ] && ok "is stored under its signed hash" || not_ok "listed pool file stored"
# Poisoning: a bad answer once, under a listed name, then the good mirror again.
cp "$ROOT/debian/pool/main/l/busybox-udeb_1_amd64.udeb" "$TMP/busybox.good"
bb_sha=$(sha256sum "$TMP/busybox.good" | cut -d' ' -f1)
echo "poison" > "$ROOT/debian/pool/main/l/busybox-udeb_1_amd64.udeb"
check_eq "a pool file that does not match the verified index: 502" 502 "$(get "$base/pool/main/l/busybox-udeb_1_amd64.udeb")"
! grep -q poison "$TMP/body" && ok "the bad bytes are not served" || not_ok "poison served"
p_sha=$(printf 'poison\n' | sha256sum | cut -d' ' -f1)
[ ! -e "$TMP/cache/sha256/${p_sha:0:2}/$p_sha" ] && ok "nor stored" || not_ok "poison stored"
cp "$TMP/busybox.good" "$ROOT/debian/pool/main/l/busybox-udeb_1_amd64.udeb"
kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null
# A later build sharing the cache.
"$KILN" proxy --cache "$TMP/cache" --log "$TMP/proxy2.log" "$TMP/p.yaml" > "$TMP/pport2" 2> "$TMP/perr2" &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/pport2" ] && break; sleep 0.1; done
P="http://127.0.0.1:$(cat "$TMP/pport2")"
get "$base/dists/trixie/$udeb" > /dev/null
check_eq "the later build gets the file" 200 "$(get "$base/pool/main/l/busybox-udeb_1_amd64.udeb")"
check_eq "the right bytes" "$bb_sha" "$(sha256sum < "$TMP/body" | cut -d' ' -f1)"
rm "$ROOT/debian/$udeb_file"
check_eq "a verified pool file, upstream gone: from the cache" 200 "$(get "$base/$udeb_file")"
grep -q "partman-ext3_1_amd64.udeb 200 [0-9]* sha256=$good_sha cached" "$TMP/proxy2.log" && ok "logged as served from the cache" ||
        not_ok "logged as cached" "$(grep partman "$TMP/proxy2.log")"
# Nothing unlinks a shared entry it did not create: a corrupt-looking entry is a miss, not removed.
printf 'junk' > "$TMP/cache/sha256/${good_sha:0:2}/$good_sha"
get "$base/$udeb_file" > /dev/null
[ -e "$TMP/cache/sha256/${good_sha:0:2}/$good_sha" ] && ok "a corrupt shared entry is never unlinked by a reader" || not_ok "entry unlinked"
finish
