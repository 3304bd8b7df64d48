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
# A blank disk never gets a prompt: the test waits out the whole timeout, so it is short.
"$KILN" boot-test --timeout 5s "$TMP/blank.qcow2" > "$TMP/out" 2> "$TMP/err"
check_eq "blank disk fails boot-test" 1 $?
grep -q "no login prompt on the serial console within 5 s; console:" "$TMP/err" && ok "says why, with the console" || not_ok "says why" "$(cat "$TMP/err")"
check_eq "image untouched (snapshot)" "$before" "$(sha256sum "$TMP/blank.qcow2")"
[ -f "$TMP/blank.qcow2.boot-console.log" ] && ok "console log kept" || not_ok "console log kept"
[ -z "$(ls -A "$TMPDIR")" ] && ok "no temporary folder left" || not_ok "no temporary folder left" "$(ls "$TMPDIR")"
# This script's guests only: their QMP socket is in a run folder under this script's TMPDIR (the
# guest name, kiln-boot-test, is every boot test's, and sibling scripts boot-test images too).
pgrep -f "$TMPDIR/kiln-boot-" > /dev/null && not_ok "no guest left running" || ok "no guest left running"
# Least privilege, measured: the boot test's QEMU runs as the sandbox user under seccomp, and
# gets the image (in a 0700 folder, mode 0600) as a descriptor, not a path it opens.
if [ "$(id -u)" -eq 0 ]; then
        chmod 0600 "$TMP/blank.qcow2"
        # Long enough for QEMU to start and be read below (the loop allows 10 s), not longer.
        "$KILN" boot-test --timeout 12s "$TMP/blank.qcow2" > /dev/null 2>&1 &
        bpid=$!
        qpid=""
        for _ in $(seq 100); do qpid=$(pgrep -P $bpid qemu-system-x86 | head -1); [ -n "$qpid" ] && break; sleep 0.1; done
        if [ -n "$qpid" ] && cp /proc/$qpid/status "$TMP/bt.status" 2> /dev/null; then
                uid=$(awk '/^Uid:/ {print $2}' "$TMP/bt.status")
                [ "$uid" != 0 ] && ok "boot-test QEMU runs as uid $uid, not root" || not_ok "boot-test QEMU not root"
                check_eq "boot-test QEMU: no capabilities" 0000000000000000 "$(awk '/^CapEff:/ {print $2}' "$TMP/bt.status")"
                check_eq "boot-test QEMU: NoNewPrivs" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "$TMP/bt.status")"
                check_eq "boot-test QEMU: a seccomp filter" 2 "$(awk '/^Seccomp:/ {print $2}' "$TMP/bt.status")"
                args=$(tr '\0' ' ' < /proc/$qpid/cmdline)
                grep -q -- "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny" <<<"$args" &&
                        ok "boot-test QEMU: -sandbox denies everything" || not_ok "boot-test QEMU: -sandbox" "$args"
                grep -q "file=/dev/fdset/1" <<<"$args" && ! grep -q "blank.qcow2" <<<"$args" &&
                        ok "boot-test QEMU gets the image as a descriptor" || not_ok "image as a descriptor" "$args"
        else
                not_ok "boot-test QEMU found"
        fi
        wait $bpid
        check_eq "a 0600 image in a 0700 folder is still boot-tested (fails: blank)" 1 $?
        check_eq "image untouched after the sandboxed run" "$before" "$(sha256sum "$TMP/blank.qcow2")"
fi
printf 'not an image' > "$TMP/junk.raw"
"$KILN" boot-test "$TMP/nonexistent.qcow2" 2> "$TMP/err"; check_eq "missing image is a usage error" 2 $?
finish
