#!/usr/bin/env bash
# What a hostile guest can do to kiln through its console and syslog, with a real QEMU guest (the
# busybox initramfs): a kernel that panics fails the install at once, not at the watchdog; a
# console written without end and a syslog line that never ends keep kiln's
# memory and files bounded and fail the install with a clear error; step names carrying terminal
# escape sequences reach the operator's terminal escaped.
. "$(dirname "$0")/../lib.sh"
for t in qemu-system-x86_64 qemu-img cpio; do
        command -v $t > /dev/null || { skip "hostile guest" "$t is not installed"; finish; exit 0; }
done
KILN=$(kiln_with --allow-private-mirrors)
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
cap=2000000
export KILN_GUEST_LOG_MAX=$cap

# run MODE: builds the guest, installs it; leaves $TMP/MODE.{out,err,rss} and the build folder
run() {
        local mode=$1
        bash "$TOP/tests/helpers/busybox-guest.sh" "$TMP/g-$mode" http://127.0.0.1:9/a http://127.0.0.1:9/b http://10.0.2.2:9/c "$mode" > "$TMP/guest.log" 2>&1
        local rc=$?
        [ $rc -eq 77 ] && { skip "hostile guest" "$(cat "$TMP/guest.log")"; return 77; }
        [ $rc -eq 0 ] || { not_ok "build the busybox guest ($mode)" "$(cat "$TMP/guest.log")"; return 1; }
        cat > "$TMP/$mode.yaml" <<X
name: hostile
release: trixie
mirror: http://127.0.0.1:9/debian
security: false
disk: {size: 2G}
vm: {memory: 512M, cpus: 1}
installer: {kernel: g-$mode/vmlinuz, initrd: g-$mode/initrd.gz, extra_args: [rdinit=/init]}
X
        "$KILN" install --cache "$TMP/cache" --accel tcg --timeout 3 --watchdog 60s -o "$TMP/$mode.qcow2" "$TMP/$mode.yaml" \
                > "$TMP/$mode.out" 2> "$TMP/$mode.err" &
        local pid=$! max=0 rss
        while kill -0 $pid 2>/dev/null; do
                rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null)
                [ -n "$rss" ] && [ "$rss" -gt "$max" ] && max=$rss
                sleep 0.5
        done
        wait $pid
        echo $? > "$TMP/$mode.rc"
        echo "$max" > "$TMP/$mode.rss"
}

bounded() { # NAME FILE
        local size
        [ -f "$2" ] || { not_ok "$1: $(basename "$2") exists"; return; }
        size=$(stat -c %s "$2")
        [ "$size" -le $((cap + 100)) ] && ok "$1: $(basename "$2") stays within the cap ($size bytes)" ||
                not_ok "$1: $(basename "$2") bounded" "$size bytes, cap $cap"
}

if run flood; then
        check_eq "console flood: the install fails" 1 "$(cat "$TMP/flood.rc")"
        grep -q "the guest flooded its console (over $cap bytes) at step 'start': stopped the guest" "$TMP/flood.err" &&
                ok "console flood: a clear error" || not_ok "console flood: error" "$(tail -3 "$TMP/flood.err")"
        bounded "console flood" "$TMP/flood.qcow2.d/console.log"
        tail -c 200 "$TMP/flood.qcow2.d/console.log" | grep -q "kiln: cut here" && ok "console flood: the file is cut with a marker" ||
                not_ok "console flood: marker"
        [ "$(cat "$TMP/flood.rss")" -lt 200000 ] && ok "console flood: kiln's memory stays bounded ($(cat "$TMP/flood.rss") KiB)" ||
                not_ok "console flood: memory" "$(cat "$TMP/flood.rss") KiB"
fi
if run longline; then
        check_eq "endless syslog line: the install fails" 1 "$(cat "$TMP/longline.rc")"
        grep -q "the guest wrote a syslog line of over 1 MiB without ending it: a flood, stopped" "$TMP/longline.err" &&
                ok "endless syslog line: a clear error, not the watchdog" || not_ok "endless syslog line: error" "$(tail -3 "$TMP/longline.err")"
        bounded "endless syslog line" "$TMP/longline.qcow2.d/syslog.log"
        [ "$(cat "$TMP/longline.rss")" -lt 200000 ] && ok "endless syslog line: kiln's memory stays bounded ($(cat "$TMP/longline.rss") KiB)" ||
                not_ok "endless syslog line: memory" "$(cat "$TMP/longline.rss") KiB"
fi
start=$(date +%s)
if run panic; then
        check_eq "kernel panic: the install fails" 1 "$(cat "$TMP/panic.rc")"
        grep -q "the installer's kernel panicked at step 'start': Attempted to kill init!" "$TMP/panic.err" &&
                ok "kernel panic: a clear error" || not_ok "kernel panic: error" "$(tail -3 "$TMP/panic.err")"
        # The watchdog (60 s here) would have stopped it too; the panic is read as it happens.
        [ $(($(date +%s) - start)) -lt 55 ] && ok "kernel panic: failed before the watchdog" ||
                not_ok "kernel panic: fail-fast" "$(($(date +%s) - start)) s"
fi
if run escapes; then
        check_eq "escape sequences in step names: the install fails on the step" 1 "$(cat "$TMP/escapes.rc")"
        grep -q "the installer's step '\\\\x1b\[1;32mbuild finished OK\\\\x1b\[0m\\\\xc2\\\\x9b' failed" "$TMP/escapes.err" &&
                ok "escape sequences: quoted escaped in the error" || not_ok "escapes: error" "$(tail -3 "$TMP/escapes.err" | cat -v)"
        if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' "$TMP/escapes.out" "$TMP/escapes.err"; then
                not_ok "escape sequences: the terminal output holds none" "$(cat -v "$TMP/escapes.out" "$TMP/escapes.err" | head -5)"
        else
                ok "escape sequences: the terminal output holds none"
        fi
fi
finish
