#!/usr/bin/env bash
# A failed or interrupted install leaves no guest, proxy, temporary folder or partial disk:
# Ctrl-C (SIGINT) and SIGTERM mid-install, the watchdog on a silent guest, and a forced
# accel=kvm where KVM cannot run the kernel (fails before anything boots).
. "$(dirname "$0")/../lib.sh"
# The mirror is on 127.0.0.1: the operator's own fixture.
KILN=$(kiln_with --allow-private-mirrors)
for t in qemu-system-x86_64 qemu-img cpio; do
        command -v $t > /dev/null || { skip "install cleanup" "$t is not installed"; finish; exit 0; }
done
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
bash "$TOP/tests/helpers/busybox-guest.sh" "$TMP/guest" http://127.0.0.1:9/a http://127.0.0.1:9/b http://10.0.2.2:9/c hang > "$TMP/guest.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then skip "install cleanup" "$(cat "$TMP/guest.log")"; finish; exit 0; fi
[ $rc -eq 0 ] || { not_ok "build the busybox guest" "$(cat "$TMP/guest.log")"; finish; exit; }
cat > "$TMP/hang.yaml" <<X
name: hangtest
release: trixie
mirror: http://127.0.0.1:9/debian
security: false
disk: {size: 2G}
vm: {memory: 512M, cpus: 1}
installer: {kernel: guest/vmlinuz, initrd: guest/initrd.gz, extra_args: [rdinit=/init]}
X
relays_before=$(pgrep -f "kiln proxy-relay" | sort)
nothing_left() { # NAME DISK
        local stray=""
        [ -e "$2" ] && stray="$stray disk"
        ls "$2".kiln-partial-* > /dev/null 2>&1 && stray="$stray partial-disk"
        ls -d "$TMPDIR"/kiln-* > /dev/null 2>&1 && stray="$stray $(ls -d "$TMPDIR"/kiln-*)"
        pgrep -f "kiln-hangtest" > /dev/null && stray="$stray qemu"
        # relays of other kiln runs on this machine were there before the test began
        [ -n "$(comm -13 <(echo "$relays_before") <(pgrep -f "kiln proxy-relay" | sort))" ] && stray="$stray relay"
        [ -z "$stray" ] && ok "$1: nothing left behind" || not_ok "$1: nothing left behind" "left:$stray"
}

# The ASan pass (KILN_TEST_QUICK) sends only SIGINT: SIGTERM takes the same handler and path.
sigs="INT TERM"
[ -n "${KILN_TEST_QUICK:-}" ] && sigs=INT
for sig in $sigs; do
        disk="$TMP/$sig.qcow2"
        "$KILN" install --cache "$TMP/cache" --accel tcg -o "$disk" "$TMP/hang.yaml" > "$TMP/out" 2> "$TMP/err" &
        pid=$!
        for _ in $(seq 600); do grep -q 'KILN-TEST hang' "$disk.d/console.log" 2>/dev/null && break; sleep 0.1; done
        grep -q 'KILN-TEST hang' "$disk.d/console.log" 2>/dev/null || not_ok "SIG$sig: guest came up" "$(tail -3 "$TMP/err")"
        kill -$sig $pid
        wait $pid
        check_eq "SIG$sig: install exits 1" 1 $?
        grep -q "interrupted at step" "$TMP/err" && ok "SIG$sig: says it was interrupted" || not_ok "SIG$sig: says it was interrupted" "$(cat "$TMP/err")"
        [ -s "$disk.d/console.log" ] && ok "SIG$sig: logs kept" || not_ok "SIG$sig: logs kept"
        nothing_left "SIG$sig" "$disk"
done

disk="$TMP/wd.qcow2"
"$KILN" install --cache "$TMP/cache" --accel tcg --watchdog 20s -o "$disk" "$TMP/hang.yaml" > "$TMP/out" 2> "$TMP/err"
check_eq "watchdog: install exits 1" 1 $?
grep -q "no console, syslog or disk activity for 20 s at step 'start': stopped the guest" "$TMP/err" &&
        ok "watchdog: says why" || not_ok "watchdog: says why" "$(cat "$TMP/err")"
nothing_left "watchdog" "$disk"

# A forced kvm must work or fail before the install starts, clearly.
disk="$TMP/kvm.qcow2"
"$KILN" install --cache "$TMP/cache" --accel kvm --watchdog 20s -o "$disk" "$TMP/hang.yaml" > "$TMP/out" 2> "$TMP/err"
rc=$?
if grep -q "accel 'kvm' was asked for, but" "$TMP/err"; then
        check_eq "forced kvm that cannot work: exits 1" 1 $rc
        [ ! -e "$disk.d/console.log" ] && ok "forced kvm fails before anything boots" || not_ok "forced kvm fails before anything boots"
else
        skip "forced kvm that cannot work" "KVM works on this machine"
fi
nothing_left "forced kvm" "$disk"
finish
