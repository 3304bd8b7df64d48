# shellcheck shell=bash
# (pids is the caller's; KILN, cache, out, initrd, mirror and keyring are for it)
# shellcheck disable=SC2154,SC2034
# Sourced by check-e2e.sh and check-e2e-api.sh (after tests/lib.sh, with pids and its cleanup set):
# the pinned installer, fetched through the signed chain, and the mirror the installer sees. Sets
# initrd, mirror and keyring, or reports and exits.
# The mirror-view fixture is on 127.0.0.1 and the setup's profiles extend and name keys by
# absolute path (the operator's own, trusted).
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
export KILN_APT_DIR=${KILN_E2E_APT_DIR:-/etc/apt}
cache=${KILN_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}
fixture=${KILN_MIRROR_VIEW:-$TOP/../shared/fixtures/mirror-view.py}
out=${KILN_E2E_OUT:-$TMP}
mkdir -p "$out"
# The installer MIRROR_NOTES measured: netboot 20250803+deb13u6 (kernel 6.12.94), not in the signed
# index any more, so trusted by its hash.
cat > "$TMP/pinned.yaml" <<X
extends: $TOP/profiles/minimal.yaml
installer:
  version: 20250803+deb13u6
  sha256: b14500fba1c068c7d818de1376e46151628d96d8b2f322dfcbe7a16b7b8c2fa4
X
"$KILN" fetch --no-preflight --cache "$cache" "$TMP/pinned.yaml" > "$TMP/fetch.out" 2> "$TMP/fetch.err" ||
        { not_ok "fetch the pinned installer from the host's mirror" "$(grep -v warning "$TMP/fetch.err")"; finish; exit; }
ok "fetch the pinned installer through the signed chain"
initrd=$(sed -n 's/^initrd   //p' "$TMP/fetch.out")

if [ -n "${KILN_E2E_MIRROR:-}" ]; then
        mirror=$KILN_E2E_MIRROR keyring=${KILN_E2E_KEYRING:?}
else
        [ -r "$fixture" ] || { skip "real install" "no mirror-view fixture at $fixture (set KILN_MIRROR_VIEW, or KILN_E2E_MIRROR for a complete mirror)"; finish; exit 0; }
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        python3 "$fixture" --initrd "$initrd" --suite trixie --listen "127.0.0.1:$port" --workdir "$TMP/view" > "$TMP/view.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 900); do grep -q 'keyring:' "$TMP/view.log" && break; kill -0 "${pids[0]}" 2>/dev/null || break; sleep 1; done
        grep -q 'keyring:' "$TMP/view.log" || { not_ok "start the mirror-view fixture" "$(tail -5 "$TMP/view.log")"; finish; exit; }
        ok "mirror-view fixture bridges $(grep -cE '^  (initrd|repacked|empty) ' "$TMP/view.log") udebs the mirror lacks"
        # kiln serves the guest only files that match the signed Release; where this mirror has none
        # (no matching plain copy, no by-hash copy), release-view.py signs what the plain copy holds.
        rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        python3 "$TOP/tests/e2e/release-view.py" --upstream "http://127.0.0.1:$port/debian" --suite trixie \
                --listen "127.0.0.1:$rport" --workdir "$TMP/rview" > "$TMP/rview.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 300); do grep -q 'keyring:' "$TMP/rview.log" && break; kill -0 "${pids[1]}" 2>/dev/null || break; sleep 1; done
        grep -q 'keyring:' "$TMP/rview.log" || { not_ok "start the release-view fixture" "$(tail -5 "$TMP/rview.log")"; finish; exit; }
        ok "release-view fixture signs $(grep -c '^fixed ' "$TMP/rview.log") files the mirror serves out of sync with its Release"
        mirror="http://127.0.0.1:$rport/debian" keyring="$TMP/rview/keyring.gpg"
fi
