#!/usr/bin/env bash
# make check-net: the real signed chain against the host's own mirror (opt-in: needs the network).
# It tells apart "kiln failed" from "the mirror lacks files" (the preflight's verdict).
. "$(dirname "$0")/../lib.sh"
export KILN_APT_DIR=${KILN_NET_APT_DIR:-/etc/apt}
cache=${KILN_NET_CACHE:-$TMP/cache}
cd "$TOP" || exit 1

"$KILN" fetch --cache "$cache" profiles/minimal.yaml > "$TMP/out" 2> "$TMP/err"
rc=$?
if [ $rc -eq 0 ]; then
        ok "current installer: signed chain verified, preflight passed"
elif grep -q "^kiln: preflight:" "$TMP/err"; then
        ok "current installer: signed chain verified; the MIRROR lacks files (preflight), not kiln"
        grep -v warning "$TMP/err" | head -5 | sed 's/^/#   /'
else
        not_ok "current installer" "$(grep -v warning "$TMP/err" | head -5)"
fi

# The pinned netboot that MIRROR_NOTES measured (deb13u6, kernel 6.12.94): its kernel check passes.
cat > "$TMP/pinned.yaml" <<'X'
name: pinned
release: trixie
installer:
  version: 20250803+deb13u6
  sha256: b14500fba1c068c7d818de1376e46151628d96d8b2f322dfcbe7a16b7b8c2fa4
X
"$KILN" fetch --cache "$cache" "$TMP/pinned.yaml" > "$TMP/out" 2> "$TMP/err"
rc=$?
grep -q "trusted by the profile's sha256" "$TMP/err" && ok "pinned installer trusted by its sha256" || not_ok "pinned installer trust" "$(head -3 "$TMP/err")"
if [ $rc -eq 0 ]; then
        ok "pinned installer: preflight passed"
elif grep -q "preflight: the installer (kernel 6.12.94+deb13-amd64" "$TMP/err"; then
        ok "pinned installer: kernel check passed; the MIRROR lacks udebs (listed), not kiln"
        grep -c '(HTTP 404)' "$TMP/err" | sed 's/^/#   missing udebs: /'
else
        not_ok "pinned installer" "$(grep -v warning "$TMP/err" | head -5)"
fi
finish
