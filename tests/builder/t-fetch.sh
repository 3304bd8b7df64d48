#!/usr/bin/env bash
# kiln fetch against a real HTTP server on 127.0.0.1 serving a small archive signed at test time:
# the good chain, each way the chain can break (its own message, nothing left in the cache),
# offline use, cache repair, concurrent fetches, local files and ISOs, and the injected initrd.
. "$(dirname "$0")/../lib.sh"
# The fixture archive is on 127.0.0.1 and the profiles name keys by absolute path: the operator's own.
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
FIX="$TOP/tests/helpers/archive-fixture.py"
WALK="$TOP/tests/helpers/initrd-walk.py"
export KILN_FETCH_RETRIES=1
servers=()
cleanup() { for p in "${servers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT

python3 "$FIX" keys "$TMP/gnupg" > /dev/null 2>&1 || { not_ok "make test keys"; finish; exit; }

# serve VARIANT -> sets PORT and ROOT
serve() {
        ROOT="$TMP/archive-$1"
        rm -rf "$ROOT"
        python3 "$FIX" build "$ROOT" --gnupghome "$TMP/gnupg" --variant "$1" 2> "$TMP/build.err" ||
                { not_ok "build fixture $1" "$(cat "$TMP/build.err")"; return 1; }
        local pf="$TMP/port-$1-$RANDOM"
        python3 "$FIX" serve "$ROOT" > "$pf" 2> /dev/null &
        servers+=($!)
        for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
        PORT=$(cat "$pf")
        [ -n "$PORT" ] || { not_ok "serve fixture $1" "no port"; return 1; }
}
# profile FILE [extra yaml lines...]
profile() {
        local f=$1
        shift
        { printf 'name: t\nrelease: trixie\nmirror: http://127.0.0.1:%s/debian\nmirror_keyring: %s\nsecurity: false\n' \
                "$PORT" "$TMP/gnupg/good.asc"
          printf '%s\n' "$@"; } > "$f"
}
cache_clean() { # no temporary files, and nothing with the given hash
        [ -z "$(ls -A "$1/tmp" 2>/dev/null)" ] && { [ -z "${2:-}" ] || [ ! -e "$1/sha256/${2:0:2}/$2" ]; }
}

# --- the good chain
serve good || exit 1
profile "$TMP/good.yaml"
"$KILN" fetch --cache "$TMP/cache" -o "$TMP/out" "$TMP/good.yaml" > "$TMP/out.txt" 2> "$TMP/err.txt"
check_eq "good chain exits 0" 0 $?
grep -q '^trusted  by the mirror.s signed Release (key [0-9A-F]\{40\})$' "$TMP/out.txt" && ok "trust is reported" || not_ok "trust is reported" "$(cat "$TMP/out.txt")"
grep -q 'linux 6.12.94+deb13-amd64$' "$TMP/out.txt" && ok "kernel version from the bzImage header" || not_ok "kernel version" "$(cat "$TMP/out.txt")"
grep -q "preflight: the 3 indices the installer reads match the signed Release; kernel 6.12.94+deb13-amd64 has 'kernel-image-6.12.94+deb13-amd64-di' on the mirror; all 5 udebs" "$TMP/err.txt" &&
        ok "preflight passes, following Depends (5 udebs)" || not_ok "preflight passes" "$(cat "$TMP/err.txt")"
deb=$(ls "$ROOT"/debian/pool/main/d/*.deb)
deb_sha=$(sha256sum "$deb" | cut -d' ' -f1)
[ -f "$TMP/cache/sha256/${deb_sha:0:2}/$deb_sha" ] && ok "deb cached by its sha256" || not_ok "deb cached by its sha256"
kernel=$(sed -n 's/^kernel   //p' "$TMP/out.txt")
cmp -s "$kernel" "$TMP/out/linux" && ok "-o writes the kernel" || not_ok "-o writes the kernel"

# The injected initrd, read as the kernel reads it: the original member untouched, then ours.
initrd=$(sed -n 's/^initrd   //p' "$TMP/out.txt")
size=$(stat -c %s "$initrd")
cmp -s -n "$size" "$initrd" "$TMP/out/initrd.gz" && ok "original initrd bytes kept as they were" || not_ok "original initrd bytes kept"
python3 "$WALK" "$TMP/out/initrd.gz" > "$TMP/walk"
grep -q '^0 100644 [0-9]* [0-9a-f]* var/lib/dpkg/status$' "$TMP/walk" && ok "original entries still there" || not_ok "original entries still there"
grep -q '^1 100644 [0-9]* [0-9a-f]* preseed.cfg$' "$TMP/walk" && ok "preseed.cfg in a second member, mode 0644" || not_ok "preseed.cfg member" "$(cat "$TMP/walk")"
"$KILN" preseed "$TMP/good.yaml" 2>/dev/null > "$TMP/expected.cfg"
python3 "$WALK" "$TMP/out/initrd.gz" --cat preseed.cfg > "$TMP/injected.cfg"
cmp -s "$TMP/expected.cfg" "$TMP/injected.cfg" && ok "injected preseed is kiln preseed's output" || not_ok "injected preseed content"
grep -q '^1 40755 0 [0-9a-f]* usr/share/keyrings$' "$TMP/walk" && grep -q '^1 100644 [0-9]* [0-9a-f]* usr/share/keyrings/archive.gpg$' "$TMP/walk" &&
        ok "mirror keyring injected as the archive keyring, with its folders" || not_ok "archive keyring injected"
python3 "$WALK" "$TMP/out/initrd.gz" --cat usr/share/keyrings/archive.gpg > "$TMP/archive.gpg"
gpg --homedir "$TMP/gnupg" --show-keys "$TMP/archive.gpg" 2>/dev/null | grep -q 'good@kiln.invalid' &&
        ok "archive keyring holds the mirror's key" || not_ok "archive keyring holds the mirror's key"
if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        n_debian=$(gpg --homedir "$TMP/gnupg" --show-keys /usr/share/keyrings/debian-archive-keyring.gpg 2>/dev/null | grep -c '^pub')
        n_injected=$(gpg --homedir "$TMP/gnupg" --show-keys "$TMP/archive.gpg" 2>/dev/null | grep -c '^pub')
        check_eq "archive keyring keeps Debian's keys too" "$((n_debian + 1))" "$n_injected"
fi
# libarchive, like GNU cpio, stops at the first trailer: the reason the walker above exists.
if command -v bsdtar > /dev/null; then
        bsdtar -tf "$TMP/out/initrd.gz" 2>/dev/null | grep -q preseed.cfg && not_ok "bsdtar stops at the first trailer" || ok "bsdtar stops at the first trailer (so tests walk members themselves)"
fi

# extra files: repository keys and udebs travel in the initrd
printf '!<arch>\nfake udeb\n' > "$TMP/extra_1_all.udeb" # kiln checks a udeb is an ar archive
profile "$TMP/files.yaml" "repos: [{name: corp, url: 'http://apt.corp.invalid/debian', key_file: $TOP/profiles/keys/example-repo.asc}]" \
        "installer: {udebs: [extra_1_all.udeb]}"
"$KILN" fetch --cache "$TMP/cache" -o "$TMP/out2" "$TMP/files.yaml" > /dev/null 2>&1; check_eq "profile with files exits 0" 0 $?
python3 "$WALK" "$TMP/out2/initrd.gz" > "$TMP/walk2"
grep -q "^1 100644 $(stat -c %s "$TOP/profiles/keys/example-repo.asc") $(sha256sum "$TOP/profiles/keys/example-repo.asc" | cut -d' ' -f1) kiln/keys/corp.asc$" "$TMP/walk2" &&
        ok "repo key injected at the path the preseed names" || not_ok "repo key injected" "$(cat "$TMP/walk2")"
grep -q "^1 100644 18 [0-9a-f]* kiln/udebs/extra_1_all.udeb$" "$TMP/walk2" && ok "udeb injected under kiln/udebs" || not_ok "udeb injected"
grep -q '^1 40755 0 [0-9a-f]* kiln/keys$' "$TMP/walk2" && ok "parent folders injected once" || not_ok "parent folders injected"

# a second fetch uses the cache; --offline works from it alone
"$KILN" fetch --cache "$TMP/cache" --offline "$TMP/good.yaml" > "$TMP/off.txt" 2> "$TMP/off.err"
check_eq "offline from a filled cache" 0 $?
# a corrupt cache entry is detected and fetched again
printf 'junk' > "$TMP/cache/sha256/${deb_sha:0:2}/$deb_sha"
rm -f "$TMP/cache/records/deb-$deb_sha"
"$KILN" fetch --cache "$TMP/cache" "$TMP/good.yaml" > /dev/null 2>&1; check_eq "fetch repairs a corrupt entry" 0 $?
check_eq "repaired entry is whole" "$deb_sha" "$(sha256sum "$TMP/cache/sha256/${deb_sha:0:2}/$deb_sha" | cut -d' ' -f1)"
# offline with an empty cache says what is missing
"$KILN" fetch --cache "$TMP/empty" --offline "$TMP/good.yaml" > /dev/null 2> "$TMP/err"; check_eq "offline, empty cache exits 1" 1 $?
grep -q "offline, and the cache has no verified Release for 'http://127.0.0.1:$PORT/debian' trixie" "$TMP/err" &&
        ok "offline names what is missing" || not_ok "offline names what is missing" "$(cat "$TMP/err")"

# two processes filling one cache at once
rm -rf "$TMP/shared"
"$KILN" fetch --cache "$TMP/shared" "$TMP/good.yaml" > "$TMP/c1" 2>&1 & a=$!
"$KILN" fetch --cache "$TMP/shared" "$TMP/good.yaml" > "$TMP/c2" 2>&1 & b=$!
wait $a; ra=$?; wait $b; rb=$?
check_eq "concurrent fetches both succeed" "0 0" "$ra $rb"
bad=0
for f in "$TMP"/shared/sha256/*/*; do [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad=1; done
check_eq "shared cache entries intact" 0 "$bad"
cache_clean "$TMP/shared" && ok "no temporary files left" || not_ok "no temporary files left"

# --- each broken link of the chain fails with its own message and leaves nothing in the cache
expect_fail() { # VARIANT MESSAGE-REGEX [SHA-THAT-MUST-NOT-BE-CACHED]
        serve "$1" || return
        profile "$TMP/$1.yaml"
        rm -rf "$TMP/c-$1"
        "$KILN" fetch --cache "$TMP/c-$1" -o "$TMP/o-$1" "$TMP/$1.yaml" > /dev/null 2> "$TMP/err-$1"
        local rc=$?
        if [ $rc -ne 1 ]; then not_ok "$1 fails" "exit $rc"; return; fi
        grep -Eq "$2" "$TMP/err-$1" && ok "$1: its own message" || not_ok "$1: its own message" "$(grep -v warning "$TMP/err-$1")"
        local sha=${3:-}
        cache_clean "$TMP/c-$1" "$sha" && ok "$1: nothing left in the cache" || not_ok "$1: nothing left in the cache" "$(find "$TMP/c-$1" -type f)"
        [ ! -e "$TMP/o-$1/initrd.gz" ] && ok "$1: no output written" || not_ok "$1: no output written"
}
expect_fail bad-signature "the Release has a signature by a key not in the keyring"
[ -z "$(ls -A "$TMP/c-bad-signature/sha256")" ] && ok "bad-signature: cache empty" || not_ok "bad-signature: cache empty"
expect_fail wrong-codename "says it is 'bookworm' \(suite 'stable'\): refusing a substituted release"
expect_fail wrong-packages-hash "the mirror's index 'main/binary-amd64/Packages' \(http://127.0.0.1:[0-9]+/debian, suite trixie\) matches none of its signed copies"
expect_fail wrong-deb-hash "_all.deb' has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}: refusing it" "$(sha256sum "$TMP/archive-good/debian/pool/main/d/"*.deb | cut -d' ' -f1)"
expect_fail missing-deb "cannot fetch 'http://127.0.0.1:[0-9]+/debian/pool/main/d/debian-installer-13-netboot-amd64_20250803\+deb13u6_all.deb': HTTP 404 \(not found\)"
expect_fail truncated-deb "_all.deb': (transfer closed with [0-9]+ bytes remaining to read|.*[Pp]artial).*\(after 2 tries\)" "$(sha256sum "$TMP/archive-truncated-deb/debian/pool/main/d/"*.deb 2>/dev/null | cut -d' ' -f1)"
expect_fail kernel-abi-mismatch "preflight: the installer's kernel 6.12.94\+deb13-amd64 has no 'kernel-image-6.12.94\+deb13-amd64-di' in the debian-installer index of '[^']*' \(it has 'kernel-image-6.12.107\+deb13-amd64-di'\)"
expect_fail missing-udeb "preflight: the installer \(kernel 6.12.94\+deb13-amd64, debian-installer-13-netboot-amd64 20250803\+deb13u6\) would fail: 1 of the 5 udebs"
grep -q "^  http://127.0.0.1:[0-9]*/debian/pool/main/l/e2fsprogs-udeb_1_amd64.udeb (HTTP 404)$" "$TMP/err-missing-udeb" && ok "missing-udeb: names the URL" || not_ok "missing-udeb: names the URL"

# --- mirrors as they really are: mid-sync or stale in parts (the fetch goes the way apt's does)
fetch_ok() { # VARIANT NAME: the fetch and its preflight succeed
        serve "$1" || return
        profile "$TMP/$1.yaml"
        rm -rf "$TMP/c-$1"
        "$KILN" fetch --cache "$TMP/c-$1" -o "$TMP/o-$1" "$TMP/$1.yaml" > "$TMP/out-$1" 2> "$TMP/err-$1"
        check_eq "$2" 0 $?
        [ $? -eq 0 ] || sed 's/^/#   /' "$TMP/err-$1" | grep -v warning | head -20
}
fetch_ok stale-plain "plain index names stale, by-hash copies right: the fetch proceeds"
grep -q "^/debian/dists/trixie/main/binary-amd64/by-hash/SHA256/[0-9a-f]\{64\}$" "$ROOT/requests.log" &&
        ok "stale-plain: the index came by hash" || not_ok "stale-plain: by-hash used" "$(cat "$ROOT/requests.log")"
! grep -q "^/debian/dists/trixie/main/binary-amd64/Packages" "$ROOT/requests.log" &&
        ok "stale-plain: no plain name asked for once by-hash answered" || not_ok "stale-plain: plain names" "$(cat "$ROOT/requests.log")"
fetch_ok stale-all "binary-all stale everywhere, binary-amd64 right: the fetch proceeds"
! grep -q "binary-all" "$ROOT/requests.log" && ok "stale-all: binary-all never read (No-Support-for-Architecture-all)" ||
        not_ok "stale-all: binary-all never read" "$(grep binary-all "$ROOT/requests.log")"
fetch_ok old-style "an archive without by-hash or No-Support-for-Architecture-all: netboot from binary-all"
grep -q "^/debian/dists/trixie/main/binary-all/Packages.xz$" "$ROOT/requests.log" && ! grep -q by-hash "$ROOT/requests.log" &&
        ok "old-style: binary-all by its plain name, no by-hash tried" || not_ok "old-style: requests" "$(cat "$ROOT/requests.log")"
expect_fail stale-no-byhash "preflight: the installer \(kernel 6.12.94\+deb13-amd64, debian-installer-13-netboot-amd64 20250803\+deb13u6\) would fail against 'http://127.0.0.1:[0-9]+/debian'"
e=$TMP/err-stale-no-byhash
grep -q "^index inconsistencies (1 of the 3 indices it reads):$" "$e" && ok "stale-no-byhash: the inconsistent indices, as one list" || not_ok "stale-no-byhash: list" "$(cat "$e")"
grep -q "^  the mirror's index 'main/debian-installer/binary-amd64/Packages' (http://127.0.0.1:[0-9]*/debian, suite trixie) matches none of its signed copies$" "$e" &&
        ok "stale-no-byhash: names the index" || not_ok "stale-no-byhash: names the index" "$(cat "$e")"
grep -q "^  the signed Release (Date: Sat, 12 Sep 2026 07:55:41 UTC) lists:$" "$e" && grep -Eq "^    main/debian-installer/binary-amd64/Packages.xz: [0-9]+ bytes, sha256 [0-9a-f]{64}$" "$e" &&
        ok "stale-no-byhash: what the signed Release says, with its Date" || not_ok "stale-no-byhash: signed sizes and hashes" "$(cat "$e")"
grep -Eq "^    http://127.0.0.1:[0-9]+/debian/dists/trixie/main/debian-installer/binary-amd64/by-hash/SHA256/[0-9a-f]{64}: HTTP 404$" "$e" &&
        grep -Eq "^    http://127.0.0.1:[0-9]+/debian/dists/trixie/main/debian-installer/binary-amd64/Packages.gz: [0-9]+ bytes, sha256 [0-9a-f]{64}$" "$e" &&
        ok "stale-no-byhash: what each URL tried returned" || not_ok "stale-no-byhash: each URL" "$(cat "$e")"
check_eq "stale-no-byhash: every compression tried, by hash and by name" 6 "$(grep -c '^    http://' "$e")"
grep -q "^  the mirror is out of sync with its signed Release (mid-sync, or stale in parts): try again later, or use another mirror$" "$e" &&
        ok "stale-no-byhash: says the likely cause" || not_ok "stale-no-byhash: cause" "$(cat "$e")"
grep -q "^missing udebs: not checked (the debian-installer index is inconsistent)$" "$e" && ok "stale-no-byhash: missing udebs reported apart" ||
        not_ok "stale-no-byhash: missing udebs list" "$(cat "$e")"

# --- installer.version and installer.sha256
serve good
good_deb_sha=$(sha256sum "$ROOT"/debian/pool/main/d/*.deb | cut -d' ' -f1)
profile "$TMP/v1.yaml" "installer: {version: 20240101}"
"$KILN" fetch --cache "$TMP/cv" "$TMP/v1.yaml" > /dev/null 2> "$TMP/err"; check_eq "unlisted version without sha256 fails" 1 $?
grep -q "installer version '20240101' is not in the signed index (it lists '20250803+deb13u6'): give 'installer.sha256'" "$TMP/err" &&
        ok "unlisted version: says to give sha256" || not_ok "unlisted version message" "$(cat "$TMP/err")"
profile "$TMP/v2.yaml" "installer: {sha256: $(printf '%064d' 0)}"
"$KILN" fetch --cache "$TMP/cv" "$TMP/v2.yaml" > /dev/null 2> "$TMP/err"; check_eq "sha256 contradicting the index fails" 1 $?
grep -q "installer.sha256 0000000000000000000000000000000000000000000000000000000000000000 does not match the signed index's $good_deb_sha" "$TMP/err" &&
        ok "sha256 mismatch message" || not_ok "sha256 mismatch message" "$(cat "$TMP/err")"
# an older version the index no longer lists, trusted by the profile's hash
cp "$ROOT"/debian/pool/main/d/*.deb "$ROOT/debian/pool/main/d/debian-installer-13-netboot-amd64_20240101_all.deb"
profile "$TMP/v3.yaml" "installer: {version: '20240101', sha256: $good_deb_sha}"
"$KILN" fetch --cache "$TMP/cv" "$TMP/v3.yaml" > "$TMP/v3.out" 2> "$TMP/err"; check_eq "pinned version by sha256 works" 0 $?
grep -q "installer debian-installer-13-netboot-amd64 20240101 is trusted by the profile's sha256, not by the signed index (which lists 20250803+deb13u6)" "$TMP/err" &&
        ok "kiln says the trust comes from the profile" || not_ok "trust notice" "$(cat "$TMP/err")"

# --- local files: kernel + initrd, and an ISO (libarchive's iso9660 reader)
cp "$TMP/out2/linux" "$TMP/vmlinuz"; cp "$initrd" "$TMP/initrd.gz"
printf 'name: l\nrelease: trixie\nsecurity: false\ninstaller: {kernel: vmlinuz, initrd: initrd.gz}\n' > "$TMP/local.yaml"
"$KILN" fetch --cache "$TMP/cl" "$TMP/local.yaml" > "$TMP/local.out" 2>&1; check_eq "local kernel and initrd" 0 $?
grep -q "^trusted  by local files named by the profile" "$TMP/local.out" && ok "local files: trust stated" || not_ok "local files: trust stated"
# An uncompressed x86-64 ELF vmlinux is a kernel too (QEMU boots it through PVH; it has no version
# header); anything else is refused, named.
printf '\177ELF\002\001\001' > "$TMP/vmlinuz"; head -c 11 /dev/zero >> "$TMP/vmlinuz"; printf '\076\000' >> "$TMP/vmlinuz"
head -c 1024 /dev/zero >> "$TMP/vmlinuz"
"$KILN" fetch --cache "$TMP/cl" "$TMP/local.yaml" > "$TMP/local.out" 2>&1; check_eq "a local ELF vmlinux (x86-64)" 0 $?
grep -q ", linux " "$TMP/local.out" && not_ok "an ELF vmlinux: no version claimed" "$(cat "$TMP/local.out")" || ok "an ELF vmlinux: no version claimed"
printf '\177ELF\001\001\001' > "$TMP/vmlinuz"; head -c 1100 /dev/zero >> "$TMP/vmlinuz"
"$KILN" fetch --cache "$TMP/cl" "$TMP/local.yaml" > "$TMP/local.out" 2>&1; check_eq "a 32-bit ELF is refused" 1 $?
grep -qF "is neither an x86 bzImage (no 'HdrS' header) nor an x86-64 ELF vmlinux" "$TMP/local.out" && ok "a kernel that is neither: a clear error" ||
        not_ok "a kernel that is neither: a clear error" "$(cat "$TMP/local.out")"
cp "$TMP/out2/linux" "$TMP/vmlinuz"
if command -v bsdtar > /dev/null; then
        mkdir -p "$TMP/iso/install.amd/gtk"
        cp "$TMP/vmlinuz" "$TMP/iso/install.amd/vmlinuz"; cp "$initrd" "$TMP/iso/install.amd/initrd.gz"
        printf 'gtk' > "$TMP/iso/install.amd/gtk/initrd.gz"
        (cd "$TMP/iso" && bsdtar --format iso9660 -cf "$TMP/inst.iso" .)
        printf 'name: i\nrelease: trixie\nsecurity: false\ninstaller: {iso: inst.iso}\n' > "$TMP/iso.yaml"
        "$KILN" fetch --cache "$TMP/ci" "$TMP/iso.yaml" > "$TMP/iso.out" 2>&1; check_eq "installer ISO" 0 $?
        check_eq "ISO: text initrd, not gtk" "$(sha256sum "$initrd" | cut -d' ' -f1)" "$(sed -n 's/^         sha256 \([0-9a-f]*\)$/\1/p' "$TMP/iso.out")"
else
        skip "installer ISO" "bsdtar (libarchive-tools) is not installed"
fi
finish
