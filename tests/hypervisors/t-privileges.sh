#!/usr/bin/env bash
# Least privilege, measured: during a real install (the busybox guest, under TCG) every helper kiln
# starts that touches the guest's bytes (qemu-img on the disk, QEMU) runs as an unprivileged user,
# with no capabilities, NoNewPrivs and a seccomp filter, read from /proc/PID/status, and so does
# the proxy, in a process of its own. QEMU's own
# seccomp denies spawning and raising privileges, it runs in a network namespace of its own, and
# no other local user can reach the build's proxy.
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
# A helper its seccomp filter kills shows as an audit line naming its binary (SIGSYS).
kills() { dmesg 2>/dev/null | grep -c "type=1326 .*exe=\"$(readlink -f "$(command -v qemu-system-x86_64)")\"" ; }
kills_before=$(kills)
PATH="$w:$PATH" "$KILN" install --cache "$TMP/cache" --accel tcg --timeout 5 -o "$TMP/disk.qcow2" "$TMP/hold.yaml" > "$TMP/out" 2> "$TMP/err" &
kpid=$!
for _ in $(seq 900); do grep -q 'KILN-TEST hold' "$TMP/disk.qcow2.d/console.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'KILN-TEST hold' "$TMP/disk.qcow2.d/console.log" 2>/dev/null || not_ok "guest came up" "$(tail -3 "$TMP/err")"
sleep 3
descendants() { local p; for p in $(ps -o pid= --ppid "$1"); do echo "$p"; descendants "$p"; done; }
checked=0 names="" qpid=""
for pid in $(descendants $kpid); do
        s=/proc/$pid/status
        [ -r "$s" ] || continue
        cp "$s" "$TMP/status.$pid" 2>/dev/null || continue
        name=$(awk '/^Name:/ {print $2}' "$TMP/status.$pid")
        [ "$name" = qemu-system-x86 ] && qpid=$pid
        names="$names $name"
        checked=$((checked + 1))
done
qemu_seen=0 proxy_seen=0 proxy_uid='' qemu_uid=''
for f in "$TMP"/status.* "$w/out/qemu-img.status"; do
        [ -f "$f" ] || { not_ok "qemu-img's status was recorded"; continue; }
        name=$(awk '/^Name:/ {print $2}' "$f")
        [ "$f" = "$w/out/qemu-img.status" ] && name=qemu-img
        [ "$name" = qemu-system-x86 ] && qemu_seen=1
        # the proxy: a process of kiln's own (forked, not executed)
        [ "$name" = kiln ] && { proxy_seen=1; name="the proxy"; }
        uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$f")
        cap=$(awk '/^CapEff:/ {print $2}' "$f")
        nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$f")
        sec=$(awk '/^Seccomp:/ {print $2}' "$f")
        case " $uids " in *" 0 "*) not_ok "$name: not root" "Uid: $uids" ;; *) ok "$name: runs as uid $(echo "$uids" | cut -d' ' -f1), not root" ;; esac
        check_eq "$name: no capabilities (CapEff)" 0000000000000000 "$cap"
        check_eq "$name: NoNewPrivs" 1 "$nnp"
        check_eq "$name: a seccomp filter" 2 "$sec"
        # the proxy's second filter: threads only, no process or program (t-sandbox.sh)
        [ "$name" = "the proxy" ] && check_eq "the proxy: the helpers' filter and the threads-only one" 2 \
                "$(awk '/^Seccomp_filters:/ {print $2}' "$f")"
        [ "$name" = "the proxy" ] && proxy_uid=${uids%% *}
        [ "$name" = qemu-system-x86 ] && qemu_uid=${uids%% *}
done
check_eq "QEMU was among them" 1 "$qemu_seen"
check_eq "the proxy's process was among them" 1 "$proxy_seen"
# Not QEMU's uid: a process of the same uid could write into QEMU's memory (/proc/PID/mem).
[ -n "${proxy_uid:-}" ] && [ "$proxy_uid" != "${qemu_uid:-}" ] && ok "the proxy's uid ($proxy_uid) is not QEMU's (${qemu_uid:-?})" ||
        not_ok "the proxy's uid is not QEMU's" "proxy ${proxy_uid:-?} qemu ${qemu_uid:-?}"
argv=$(tr '\n' ' ' < "$TMP/disk.qcow2.d/guest.argv")
for deny in obsolete elevateprivileges spawn resourcecontrol; do
        grep -q -- "-sandbox on,.*$deny=deny" <<<"$argv" && ok "QEMU's seccomp: $deny=deny" || not_ok "QEMU's seccomp: $deny=deny" "$argv"
done
if [ -n "$qpid" ]; then
        [ "$(readlink /proc/$qpid/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
                ok "QEMU runs in a network namespace of its own" || not_ok "QEMU runs in a network namespace of its own"
        # Inside it: loopback alone, and the proxy's socket the only one listening.
        links=$(nsenter -t "$qpid" -n ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
        check_eq "QEMU's namespace has loopback alone" "lo " "$links"
        listen=$(nsenter -t "$qpid" -n ss -Htln | awk '{print $4}' | tr '\n' ' ')
        check_eq "the proxy's socket is the only one listening there" "127.0.0.1:3128 " "$listen"
        # In the host's namespace kiln listens on no TCP port, and on one unix socket: QEMU's QMP, in
        # the run folder (0700, root's): no other local user can reach the proxy.
        host=$(ss -Htlnp 2>/dev/null | grep -c "pid=$kpid," || true)
        host_unix=$(ss -Hxlp 2>/dev/null | grep "pid=$kpid," | grep -vc "/kiln-run-[^/]*/qmp.sock " || true)
        check_eq "kiln listens on no TCP port and no unix socket but QMP's" "0 0" "$host $host_unix"
else
        not_ok "QEMU was found among kiln's children" "$names"
fi
kill -INT $kpid; wait $kpid
if dmesg > /dev/null 2>&1; then
        check_eq "no helper was killed by its seccomp filter (audit log)" "$kills_before" "$(kills)"
else
        skip "no helper killed by its seccomp filter" "the kernel log is not readable here"
fi

# The KVM probe boots a kernel (which may come from a mirror a profile named) under QEMU: that
# QEMU is the sandbox user's too, and is handed the kernel as a descriptor. A stand-in records its
# status and command line, then execs the real QEMU.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        printf '#!/bin/sh
case "$*" in *accel=kvm*) cat /proc/self/status > %s/out/probe.status; echo "$*" > %s/out/probe.argv ;; esac
exec %s "$@"
' \
                "$w" "$w" "$(command -v qemu-system-x86_64)" > "$w/qemu-probe"
        chmod 0755 "$w/qemu-probe"
        KILN_QEMU=$w/qemu-probe "$KILN" install --cache "$TMP/cache-kvm" --accel kvm --timeout 5 -o "$TMP/kvm.qcow2" "$TMP/hold.yaml" > /dev/null 2>&1 &
        kvpid=$!
        for _ in $(seq 300); do [ -s "$w/out/probe.argv" ] && break; sleep 0.1; done
        kill -INT $kvpid 2> /dev/null; wait $kvpid 2> /dev/null
        f=$w/out/probe.status
        if [ -f "$f" ]; then
                uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$f")
                case " $uids " in *" 0 "*) not_ok "the KVM probe's QEMU: not root" "Uid: $uids" ;; *) ok "the KVM probe's QEMU: not root" ;; esac
                check_eq "the KVM probe's QEMU: no capabilities, NoNewPrivs, seccomp" "0000000000000000 1 2" \
                        "$(awk '/^CapEff:/ {c=$2} /^NoNewPrivs:/ {n=$2} /^Seccomp:/ {s=$2} END {print c, n, s}' "$f")"
                grep -q -- "-kernel /dev/fd/[0-9]* .*-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny" "$w/out/probe.argv" &&
                        ok "the KVM probe's QEMU: the kernel as a descriptor, QEMU's seccomp" ||
                        not_ok "the KVM probe's QEMU: the kernel as a descriptor, QEMU's seccomp" "$(cat "$w/out/probe.argv")"
        else
                not_ok "the KVM probe ran" "no record"
        fi
        # And that QEMU can boot the kernel it is handed: a stand-in runs the probe under TCG
        # (this machine's KVM cannot run a stock kernel), and kiln's verdict (cached, for accel
        # auto) must be that it booted.
        cat > "$w/qemu-tcg-probe" << X
#!/bin/bash
a=()
case " \$* " in *" console=ttyS0 panic=-1 "*) probe=1 ;; esac
for x in "\$@"; do
        [ -n "\${probe:-}" ] && case \$x in q35,accel=kvm) x=q35,accel=tcg ;; host) x=max ;; esac
        a+=("\$x")
done
exec $(command -v qemu-system-x86_64) "\${a[@]}"
X
        chmod 0755 "$w/qemu-tcg-probe"
        KILN_QEMU=$w/qemu-tcg-probe "$KILN" install --cache "$TMP/cache-kvm2" --accel auto --timeout 5 -o "$TMP/kvm2.qcow2" "$TMP/hold.yaml" > /dev/null 2> "$TMP/kvm2.err" &
        kvpid=$!
        for _ in $(seq 600); do ls "$TMP"/cache-kvm2/records/kvm-probe-* > /dev/null 2>&1 && break; sleep 0.1; done
        kill -INT $kvpid 2> /dev/null; wait $kvpid 2> /dev/null
        check_eq "the sandboxed probe boots the kernel it was handed (verdict: kvm)" kvm \
                "$(cat "$TMP"/cache-kvm2/records/kvm-probe-* 2> /dev/null)"
else
        skip "the KVM probe's privileges" "/dev/kvm is not usable here"
fi
rm -rf "$w"
finish
