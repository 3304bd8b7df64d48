# shellcheck shell=bash
# Shared by the test scripts: TAP-style result lines and a temporary folder removed on exit.
# Each script prints "ok - NAME", "not ok - NAME" or "ok - NAME # SKIP reason".
set -u
: "${KILN:?set KILN to the kiln binary (make check does)}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KILN_APT_DIR="$TOP/tests/fixtures/apt"
failures=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ok() { echo "ok - $1"; }
not_ok() {
        echo "not ok - $1"
        shift
        [ $# -gt 0 ] && printf '#   %s\n' "$@"
        failures=$((failures + 1))
}
skip() {
        # KILN_TEST_STRICT=1 turns skips into failures on machines that have the capability.
        if [ -n "${KILN_TEST_STRICT:-}" ]; then not_ok "$1" "skipped under KILN_TEST_STRICT: $2"; else echo "ok - $1 # SKIP $2"; fi
}
# check_eq NAME EXPECTED ACTUAL [DETAIL...]: DETAIL lines go with a failure
check_eq() {
        if [ "$2" == "$3" ]; then ok "$1"; else
                not_ok "$1" "expected: $2" "actual:   $3" "${@:4}"
        fi
}
# check_diff NAME EXPECTED_FILE ACTUAL_FILE
check_diff() {
        if diff -u "$2" "$3" > "$TMP/diff" 2>&1; then ok "$1"; else
                not_ok "$1"
                sed 's/^/#   /' "$TMP/diff" | head -40
        fi
}
finish() { [ "$failures" -eq 0 ]; }
# A kiln that always passes the given options (before the command): for tests whose profiles are
# the operator's own, e.g. a fixture mirror on 127.0.0.1 (--allow-private-mirrors) or keys named by
# absolute path (--trust-profile-paths). Usage: KILN=$(kiln_with --allow-private-mirrors)
kiln_with() {
        local w="$TMP/kiln-with-$#-$RANDOM"
        { printf '#!/bin/sh\nexec "%s"' "$KILN"; printf ' %q' "$@"; printf ' "$@"\n'; } > "$w"
        chmod +x "$w"
        echo "$w"
}

# The kiln binary behind $KILN (which may be a kiln_with wrapper): its path tells this checkout's
# processes from other runs' on the same machine.
kiln_binary() {
        local k=$KILN
        while [ -f "$k" ] && head -c 2 "$k" | grep -q '#!'; do k=$(sed -n 's/^exec "\([^"]*\)".*/\1/p' "$k"); done
        readlink -f "$k"
}

# The signed archive fixture (tests/helpers/archive-fixture.py, variant good, throwaway keys in
# $TMP/gnupg) built in ROOT=$TMP/archive and served on 127.0.0.1 at archive_base=http://127.0.0.1:PORT/debian.
# Its server goes on the caller's pids array (the caller's cleanup stops it); FIX names the helper.
# On failure: reported, and the script ends.
# shellcheck disable=SC2034 # ROOT and archive_base are the caller's
start_archive_fixture() {
        FIX="$TOP/tests/helpers/archive-fixture.py"
        python3 "$FIX" keys "$TMP/gnupg" > /dev/null 2>&1 || { not_ok "make test keys"; finish; exit; }
        ROOT=$TMP/archive
        python3 "$FIX" build "$ROOT" --gnupghome "$TMP/gnupg" --variant good 2> "$TMP/build.err" ||
                { not_ok "build fixture" "$(cat "$TMP/build.err")"; finish; exit; }
        python3 "$FIX" serve "$ROOT" > "$TMP/port" 2> /dev/null &
        pids+=($!)
        for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
        archive_base="http://127.0.0.1:$(cat "$TMP/port")/debian"
}

# An EXIT trap for scripts that start helpers in the background: the server (if $server is set)
# and every pid in the pids array are stopped and reaped, then $TMP goes. Usage:
#   pids=() server=; trap stop_background EXIT
stop_background() {
        [ -n "${server:-}" ] && kill "$server" 2> /dev/null && wait "$server" 2> /dev/null
        local p
        for p in "${pids[@]}"; do kill "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
        rm -rf "$TMP"
}

# busybox_profile NAME MIRROR FILE: the profile of an install that boots the busybox guest in the
# folder 'guest' beside FILE (tests/helpers/busybox-guest.sh), with MIRROR as its one mirror.
busybox_profile() {
        printf '%s\n' "name: $1" "release: trixie" "mirror: $2" "security: false" "disk: {size: 2G}" \
                "vm: {memory: 512M, cpus: 1}" \
                "installer: {kernel: guest/vmlinuz, initrd: guest/initrd.gz, extra_args: [rdinit=/init]}" > "$3"
}
