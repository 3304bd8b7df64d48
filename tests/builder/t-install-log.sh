#!/usr/bin/env bash
# The installer's logs read into steps and failures: syslog and console captures, fed in chunks.
. "$(dirname "$0")/../lib.sh"
: "${FUZZ_DIR:?}"
bin="$(dirname "$FUZZ_DIR")/builder/test-install-log"
cd "$TOP/tests/builder/install-log" || exit 1
for s in *.syslog; do
        name=${s%.syslog}
        con=; [ -f "$name.console" ] && con="$name.console"
        "$bin" "$s" $con > "$TMP/out" 2>&1
        [ -n "${UPDATE_GOLDEN:-}" ] && [ ! -f "$name.expected" ] && cp "$TMP/out" "$name.expected"
        check_diff "install log: $name" "$name.expected" "$TMP/out"
done
finish
