#!/usr/bin/env bash
# Least privilege, measured: during a real install (the busybox guest, under TCG) every helper kiln
# starts that touches the guest's bytes (qemu-img on the disk, QEMU, its proxy relays) runs as an
# unprivileged user, with no capabilities, NoNewPrivs and a seccomp filter, read from
# /proc/PID/status. And no other local user can reach the build's proxy.
. "$(dirname "$0")/../lib.sh"
for t in qemu-system-x86_64 qemu-img cpio; do
        command -v $t > /dev/null || { skip "privileges" "$t is not installed"; finish; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { skip "privileges" "needs root (kiln drops privileges only when it has them)"; finish; exit 0; }
KILN=$(kiln_with --allow-private-mirrors)
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
bash "$TOP/tests/helpers/busybox-guest.sh" "$TMP/guest" http://127.0.0.1:9/a http://127.0.0.1:9/b http://10.0.2.2:9/c hold > "$TMP/guest.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { skip "privileges" "$(cat "$TMP/guest.log")"; finish; exit 0; }
[ $rc -eq 0 ] || { not_ok "build the busybox guest" "$(cat "$TMP/guest.log")"; finish; exit; }
# qemu-img runs for a moment only: a wrapper first on PATH records its status, then execs it. It
# lives where the sandbox user can reach it.
w=$(mktemp -d /tmp/kiln-priv.XXXXXX)
chmod 0755 "$w"; mkdir -m 1777 "$w/out"
printf '#!/bin/sh\ncat /proc/self/status > %s/out/qemu-img.status\nexec %s "$@"\n' "$w" "$(command -v qemu-img)" > "$w/qemu-img"
chmod 0755 "$w/qemu-img"
cat > "$TMP/hold.yaml" <<X
name: privtest
release: trixie
mirror: http://127.0.0.1:9/debian
security: false
disk: {size: 2G}
vm: {memory: 512M, cpus: 1}
installer: {kernel: guest/vmlinuz, initrd: guest/initrd.gz, extra_args: [rdinit=/init]}
X
trap 'kill $kpid 2>/dev/null; rm -rf "$TMP" "$w"' EXIT
# A relay its own seccomp filter kills shows as an audit line naming kiln's binary (SIGSYS).
exe=$(readlink -f "$(command -v "$(sed -n 's/^exec "\([^"]*\)".*/\1/p' "$KILN")")")
kills() { dmesg 2>/dev/null | grep -c "type=1326 .*exe=\"$exe\"" ; }
kills_before=$(kills)
PATH="$w:$PATH" "$KILN" install --cache "$TMP/cache" --accel tcg --timeout 5 -o "$TMP/disk.qcow2" "$TMP/hold.yaml" > "$TMP/out" 2> "$TMP/err" &
kpid=$!
for _ in $(seq 900); do grep -q 'KILN-TEST hold' "$TMP/disk.qcow2.d/console.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'KILN-TEST hold' "$TMP/disk.qcow2.d/console.log" 2>/dev/null || not_ok "guest came up" "$(tail -3 "$TMP/err")"
sleep 3
descendants() { local p; for p in $(ps -o pid= --ppid "$1"); do echo "$p"; descendants "$p"; done; }
# libslirp starts each relay in a new session of its own (it is not QEMU's child): found by the
# build's socket on its command line.
sock=$(grep -o '@kiln-proxy-[0-9a-f-]*' "$TMP/disk.qcow2.d/guest.argv" | head -1)
relays=$([ -n "$sock" ] && pgrep -f "proxy-relay $sock")
checked=0 names=""
for pid in $(descendants $kpid) $relays; do
        s=/proc/$pid/status
        [ -r "$s" ] || continue
        cp "$s" "$TMP/status.$pid" 2>/dev/null || continue
        name=$(awk '/^Name:/ {print $2}' "$TMP/status.$pid")
        names="$names $name"
        checked=$((checked + 1))
done
qemu_seen=0 relay_seen=0
for f in "$TMP"/status.* "$w/out/qemu-img.status"; do
        [ -f "$f" ] || { not_ok "qemu-img's status was recorded"; continue; }
        name=$(awk '/^Name:/ {print $2}' "$f")
        [ "$f" = "$w/out/qemu-img.status" ] && name=qemu-img
        case $name in qemu-system-x86) qemu_seen=1 ;; kiln) relay_seen=1 ;; esac
        uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$f")
        cap=$(awk '/^CapEff:/ {print $2}' "$f")
        nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$f")
        sec=$(awk '/^Seccomp:/ {print $2}' "$f")
        case " $uids " in *" 0 "*) not_ok "$name: not root" "Uid: $uids" ;; *) ok "$name: runs as uid $(echo "$uids" | cut -d' ' -f1), not root" ;; esac
        check_eq "$name: no capabilities (CapEff)" 0000000000000000 "$cap"
        check_eq "$name: NoNewPrivs" 1 "$nnp"
        check_eq "$name: a seccomp filter" 2 "$sec"
done
check_eq "QEMU was among them" 1 "$qemu_seen"
check_eq "a proxy relay was among them" 1 "$relay_seen"
# Another local user cannot use this build's proxy: the socket admits the sandbox's uid alone.
if [ -n "$sock" ]; then
        reply=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("\0" + sys.argv[1][1:])
try:
    s.sendall(b"GET http://127.0.0.1:9/x HTTP/1.0\r\n\r\n")
    s.settimeout(5)
    print(s.recv(100) or b"closed")
except (BrokenPipeError, ConnectionResetError):
    print("closed")' "$sock" 2>&1)
        grep -q "closed\|reset" <<<"$reply" && ok "another user's connection to the proxy is closed at once" ||
                not_ok "another user reached the proxy" "$reply"
else
        not_ok "the guest's argv names the proxy's socket" "$(cat "$TMP/disk.qcow2.d/guest.argv")"
fi
kill -INT $kpid; wait $kpid
if dmesg > /dev/null 2>&1; then
        check_eq "no helper was killed by its seccomp filter (audit log)" "$kills_before" "$(kills)"
else
        skip "no helper killed by its seccomp filter" "the kernel log is not readable here"
fi
rm -rf "$w"
for _ in $(seq 50); do [ -z "$(pgrep -f "proxy-relay $sock")" ] && break; sleep 0.1; done
[ -z "$(pgrep -f "proxy-relay $sock")" ] && ok "no relay outlives the install" || not_ok "relays left" "$(pgrep -af "proxy-relay $sock")"
finish
