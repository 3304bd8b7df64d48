#!/usr/bin/env bash
# The default mirror comes from the host's apt sources: one-line and deb822, comments, options,
# disabled stanzas and deb-src ignored; no Debian source is a located error.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
mirror_of() { "$KILN" --apt-dir "$1" preseed profiles/minimal.yaml 2>/dev/null | sed -n 's/^d-i mirror\/http\/\(hostname\|directory\) string //p' | tr '\n' ' '; }
security_of() { "$KILN" --apt-dir "$1" preseed profiles/minimal.yaml 2>/dev/null | sed -n 's/^d-i apt-setup\/security_\(host\|path\) string //p' | tr '\n' ' '; }

check_eq "deb822 fixture mirror" "mirror.invalid /debian " "$(mirror_of tests/fixtures/apt)"
check_eq "deb822 fixture security" "security.invalid /debian-security " "$(security_of tests/fixtures/apt)"

mkdir -p "$TMP/one/sources.list.d"
cat > "$TMP/one/sources.list" <<'X'
# comment
deb-src http://src.invalid/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://one.invalid:8080/mirror/debian/ bookworm main # trailing
deb http://one.invalid/debian-security bookworm-security main
X
check_eq "one-line mirror with options and port" "one.invalid:8080 /mirror/debian " "$(mirror_of "$TMP/one")"
check_eq "one-line security" "one.invalid /debian-security " "$(security_of "$TMP/one")"

mkdir -p "$TMP/822/sources.list.d"
cat > "$TMP/822/sources.list.d/a.sources" <<'X'
Types: deb
URIs: http://disabled.invalid/debian
Suites: trixie
Components: main
Enabled: no

Types: deb
URIs: http://other.invalid/repo
Suites: stable-backports-of-something
Components: main
X
cat > "$TMP/822/sources.list.d/b.sources" <<'X'
Types: deb
URIs: http://first.invalid/debian http://second.invalid/debian
Suites: trixie trixie-updates
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 abc
 -----END PGP PUBLIC KEY BLOCK-----
X
check_eq "deb822 skips disabled stanzas, takes the first URI" "first.invalid /debian " "$(mirror_of "$TMP/822")"
"$KILN" --apt-dir "$TMP/822" preseed profiles/minimal.yaml 2> "$TMP/err" | grep -q 'services-select multiselect updates$' &&
        ok "no security source: updates only" || not_ok "no security source: updates only"
grep -q "warning: profiles/minimal.yaml: the host's apt sources name no security mirror" "$TMP/err" &&
        ok "no security source: warned" || not_ok "no security source: warned" "$(cat "$TMP/err")"

mkdir -p "$TMP/none"
"$KILN" --apt-dir "$TMP/none" validate profiles/minimal.yaml 2> "$TMP/err"
check_eq "no Debian source exits 2" 2 $?
check_eq "no Debian source message" "kiln: profiles/minimal.yaml: no Debian mirror in the host's apt sources ('$TMP/none/sources.list' and '$TMP/none/sources.list.d/'): set 'mirror' in the profile" "$(cat "$TMP/err")"

# the profile's mirror wins over the host's, and needs no host source at all
printf 'name: m\nrelease: bookworm\nmirror: https://mirror.invalid:8443/debian/\nsecurity: false\n' > "$TMP/m.yaml"
"$KILN" --apt-dir "$TMP/none" preseed "$TMP/m.yaml" > "$TMP/p" 2>/dev/null
check_eq "profile mirror (https, port, trailing slash)" "https mirror.invalid:8443 /debian" \
        "$(sed -n 's/^d-i mirror\/protocol string //p; s/^d-i mirror\/https\/\(hostname\|directory\) string //p' "$TMP/p" | tr '\n' ' ' | sed 's/ $//')"
grep -q '^d-i apt-setup/services-select multiselect updates$' "$TMP/p" && ok "security: false" || not_ok "security: false"
finish
