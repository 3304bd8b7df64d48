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
name: hang-$$
release: trixie
mirror: http://127.0.0.1:9/debian
security: false
disk: {size: 2G}
vm: {memory: 512M, cpus: 1}
installer: {kernel: guest/vmlinuz, initrd: guest/initrd.gz, extra_args: [rdinit=/init]}
X
nothing_left() { # NAME DISK
        local stray=""
        [ -e "$2" ] && stray="$stray disk"
        ls "$2".kiln-partial-* > /dev/null 2>&1 && stray="$stray partial-disk"
        ls -d "$TMPDIR"/kiln-* > /dev/null 2>&1 && stray="$stray $(ls -d "$TMPDIR"/kiln-*)"
        # this run's QEMU only (its -name carries this script's pid): other runs on the machine
        # use the same guest
        pgrep -f "kiln-hang-$$ " > /dev/null && stray="$stray qemu"
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

# SIGKILL: no handler runs. What the dead kiln left (its run folder, whose initrd holds the
# preseed; its partial disk; its build folder's lock) is removed by the next run, which says so;
# a live run's folder, partial disk and build folder are left alone, whatever their PIDs.
up() { # CONSOLE_LOG: wait until the hang guest is up
        for _ in $(seq 600); do grep -q 'KILN-TEST hang' "$1" 2>/dev/null && return 0; sleep 0.1; done
        return 1
}
run_of() { # PID: the run folder whose lock file names PID
        for d in "$TMPDIR"/kiln-run-*; do [ "$(cat "$d/.kiln-lock" 2>/dev/null)" = "$1" ] && echo "$d"; done
}
disk="$TMP/KILL.qcow2"
"$KILN" install --cache "$TMP/cache" --accel tcg -o "$disk" "$TMP/hang.yaml" > "$TMP/out" 2> "$TMP/err" &
dead=$!
up "$disk.d/console.log" || not_ok "SIGKILL: guest came up" "$(tail -3 "$TMP/err")"
dead_run=$(run_of $dead)
qpid=$(pgrep -P $dead -f "kiln-hang-$$ ")
kill -KILL $dead
wait $dead 2> /dev/null
for _ in $(seq 100); do kill -0 $qpid 2> /dev/null || break; sleep 0.1; done
[ -n "$qpid" ] && ! kill -0 $qpid 2> /dev/null && ok "SIGKILL: QEMU dies with kiln (PDEATHSIG)" ||
        not_ok "SIGKILL: QEMU dies with kiln (PDEATHSIG)" "qemu pid '$qpid'"
dead_partial=$(ls "$disk".kiln-partial-* 2> /dev/null)
[ -n "$dead_run" ] && [ -f "$dead_run/initrd.gz" ] && [ -n "$dead_partial" ] && [ -f "$disk.d/.kiln-lock" ] &&
        ok "SIGKILL: the run folder (with the initrd), the partial disk and the lock file are left" ||
        not_ok "SIGKILL: leftovers are there to sweep" "run '$dead_run' partial '$dead_partial'"
# A work disk and a temporary file as a killed 'kiln finish' leaves them in its build folder.
echo work > "$disk.d/work.qcow2"; echo tmp > "$disk.d/packages.txt.kiln-tmp-Ab12Cd"

live="$TMP/live.qcow2"
"$KILN" install --cache "$TMP/cache" --accel tcg -o "$live" "$TMP/hang.yaml" > "$TMP/live.out" 2> "$TMP/live.err" &
lpid=$!
up "$live.d/console.log" || not_ok "live run: guest came up" "$(tail -3 "$TMP/live.err")"
live_run=$(run_of $lpid); live_partial=$(ls "$live".kiln-partial-* 2> /dev/null)
# A second run on the live run's output: refused, and the live run's files stay.
"$KILN" install --cache "$TMP/cache" --accel tcg -o "$live" "$TMP/hang.yaml" > /dev/null 2> "$TMP/busy.err"; rc=$?
[ $rc -eq 1 ] && grep -q "'$live.d' is in use by kiln pid $lpid" "$TMP/busy.err" &&
        ok "a second run on a live run's build folder is refused, naming its PID" || not_ok "busy build folder" "$rc $(cat "$TMP/busy.err")"
# The sweeping run: the dead run's output again, next to the live run. (The dead run's console
# log goes first: 'up' would find its last line at once.)
rm -f "$disk.d/console.log"
"$KILN" install --cache "$TMP/cache" --accel tcg -o "$disk" "$TMP/hang.yaml" > "$TMP/out" 2> "$TMP/err" &
pid=$!
up "$disk.d/console.log" || not_ok "sweeping run: guest came up" "$(tail -3 "$TMP/err")"
# The live run, started first, already swept the dead run's folder (all of TMPDIR's).
grep -qF "removed a run folder left by kiln pid $dead, which is gone ('$dead_run')" "$TMP/live.err" &&
        ok "SIGKILL: the next run removes the dead run's folder and says so" || not_ok "run folder swept" "$(cat "$TMP/live.err")"
grep -qF "removed a partial disk left by a kiln run that is gone ('$dead_partial')" "$TMP/err" &&
        ok "SIGKILL: the next run removes the dead run's partial disk and says so" || not_ok "partial disk swept" "$(cat "$TMP/err")"
grep -qF "removed a work disk left by kiln pid $dead, which is gone ('$disk.d/work.qcow2')" "$TMP/err" &&
        grep -qF "removed a temporary file left by kiln pid $dead" "$TMP/err" && [ ! -e "$disk.d/work.qcow2" ] &&
        ok "SIGKILL: the build folder's work disk and temporary files go too" || not_ok "work disk swept" "$(cat "$TMP/err")"
[ ! -e "$dead_run" ] && [ ! -e "$dead_partial" ] && ok "SIGKILL: the dead run's files are gone" ||
        not_ok "SIGKILL: the dead run's files are gone" "$(ls -d "$dead_run" "$dead_partial" 2>&1)"
[ -n "$live_run" ] && [ -f "$live_run/initrd.gz" ] && [ -n "$live_partial" ] && [ -f "$live_partial" ] &&
        ok "a live run's folder and partial disk are not swept" || not_ok "live run untouched" "run '$live_run' partial '$live_partial'"
kill -INT $pid $lpid
wait $pid; wait $lpid
nothing_left "after SIGKILL and a sweep" "$disk"
nothing_left "the live run, stopped" "$live"

# The test waits the watchdog out: a short one. (The hang guest writes no syslog, so the step is
# 'start' however far its boot got when the watchdog fires.) The ASan pass leaves it out: past the
# timer's comparison, the watchdog stops the guest through the same code as SIGINT above.
if [ -z "${KILN_TEST_QUICK:-}" ]; then
        disk="$TMP/wd.qcow2"
        "$KILN" install --cache "$TMP/cache" --accel tcg --watchdog 8s -o "$disk" "$TMP/hang.yaml" > "$TMP/out" 2> "$TMP/err"
        check_eq "watchdog: install exits 1" 1 $?
        grep -q "no console, syslog or disk activity for 8 s at step 'start': stopped the guest" "$TMP/err" &&
                ok "watchdog: says why" || not_ok "watchdog: says why" "$(cat "$TMP/err")"
        nothing_left "watchdog" "$disk"
fi

# A forced kvm must work or fail before the install starts, clearly.
disk="$TMP/kvm.qcow2"
"$KILN" install --cache "$TMP/cache" --accel kvm --watchdog 8s -o "$disk" "$TMP/hang.yaml" > "$TMP/out" 2> "$TMP/err"
rc=$?
if grep -q "accel 'kvm' was asked for, but" "$TMP/err"; then
        check_eq "forced kvm that cannot work: exits 1" 1 $rc
        [ ! -e "$disk.d/console.log" ] && ok "forced kvm fails before anything boots" || not_ok "forced kvm fails before anything boots"
else
        skip "forced kvm that cannot work" "KVM works on this machine"
fi
nothing_left "forced kvm" "$disk"
finish
