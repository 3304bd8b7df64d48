#!/usr/bin/env bash
# kiln boot-test: an image that never reaches a login prompt fails with the reason and the
# console's tail, and leaves the image untouched (snapshot) and nothing running.
. "$(dirname "$0")/../lib.sh"
for t in qemu-system-x86_64 qemu-img; do
        command -v $t > /dev/null || { skip "boot-test" "$t is not installed"; finish; exit 0; }
done
export TMPDIR="$TMP/tmp"; mkdir -p "$TMPDIR"
qemu-img create -q -f qcow2 "$TMP/blank.qcow2" 1G
before=$(sha256sum "$TMP/blank.qcow2")
"$KILN" boot-test --timeout 15s "$TMP/blank.qcow2" > "$TMP/out" 2> "$TMP/err"
check_eq "blank disk fails boot-test" 1 $?
grep -q "no login prompt on the serial console within 15 s; console:" "$TMP/err" && ok "says why, with the console" || not_ok "says why" "$(cat "$TMP/err")"
check_eq "image untouched (snapshot)" "$before" "$(sha256sum "$TMP/blank.qcow2")"
[ -f "$TMP/blank.qcow2.boot-console.log" ] && ok "console log kept" || not_ok "console log kept"
[ -z "$(ls -A "$TMPDIR")" ] && ok "no temporary folder left" || not_ok "no temporary folder left" "$(ls "$TMPDIR")"
pgrep -f "kiln-boot-test" > /dev/null && not_ok "no guest left running" || ok "no guest left running"
printf 'not an image' > "$TMP/junk.raw"
"$KILN" boot-test "$TMP/nonexistent.qcow2" 2> "$TMP/err"; check_eq "missing image is a usage error" 2 $?
finish
