#!/usr/bin/env bash
# Build a tiny initramfs for network tests: busybox-static, the host kernel's virtio-net modules,
# and an /init that asks for URLs through the proxy and connects directly, printing "KILN-TEST ..." lines on
# the console, then powers off (or, with MODE=hang, prints "KILN-TEST hang" and waits forever).
# MODE=hold keeps a connection to the proxy open after the checks. MODE=complete then writes the
# installer's steps to its syslog, up to finish-install, as a finished install does. MODE=busy
# does the same after 20 more GETs of the allowed URL, with one GET of its folder's /hang still
# waiting on the upstream when the guest powers off.
# Hostile modes, for the tests of what a guest can do to kiln: panic (its /init exits at once, so
# the kernel panics and the guest stops), flood (the console written without end), longline (one syslog line that never ends), escapes (syslog lines whose step names carry
# terminal escape sequences: a title, a clear screen, OSC 52, a fake "build finished OK").
# Usage: busybox-guest.sh OUT_DIR ALLOWED_URL DENIED_URL DIRECT_URL [MODE]
# Writes OUT_DIR/vmlinuz and OUT_DIR/initrd.gz. Exit 77 when the host lacks a piece.
set -eu
out=$1 allowed=$2 denied=$3 direct=$4 mode=${5:-checks}
direct_port=${direct##*:}; direct_port=${direct_port%%/*}
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -r "$kernel" ] || { echo "no readable /boot/vmlinuz-* (install linux-image-amd64)"; exit 77; }
kver=${kernel#/boot/vmlinuz-}
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx wget || { echo "no /bin/busybox with wget (install busybox-static)"; exit 77; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,lib,proc,sys,dev,etc}
cp /bin/busybox "$stage/bin/busybox"
# The modules virtio-net needs, in load order, as modprobe resolves them for that kernel.
command -v modprobe > /dev/null || { echo "no modprobe (install kmod)"; exit 77; }
: > "$stage/lib/order"
for mod in virtio_pci virtio_net; do modprobe -S "$kver" --show-depends "$mod" 2>/dev/null; done | awk '$1 == "insmod" {print $2}' |
while read -r f; do
        name=$(basename "$f"); name=${name%%.ko*}
        grep -qx "$name" "$stage/lib/order" && continue
        case $f in
        *.xz) xz -dc "$f" > "$stage/lib/$name.ko" ;;
        *.zst) zstd -qdc "$f" > "$stage/lib/$name.ko" ;;
        *) cp "$f" "$stage/lib/$name.ko" ;;
        esac
        echo "$name" >> "$stage/lib/order"
done
cat > "$stage/init" <<X
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
[ "$mode" = panic ] && { echo "KILN-TEST panic"; exit 1; }
for m in \$(cat /lib/order); do insmod /lib/\$m.ko; done
sleep 1
iface=\$(ls /sys/class/net | grep -v lo | head -1)
ifconfig lo up
# QEMU user networking's fixed plan: the guest is 10.0.2.15/24, the gateway 10.0.2.2.
ifconfig "\$iface" 10.0.2.15 netmask 255.255.255.0 up
route add default gw 10.0.2.2
echo "KILN-TEST iface \$iface \$(ifconfig "\$iface" | grep 'inet addr' | sed 's/.*inet addr:\([0-9.]*\).*/\1/')"
# busybox's static wget crashes when given a proxy; speak HTTP to the proxy with nc, as apt would.
get() { printf 'GET %s HTTP/1.0\\r\\nUser-Agent: kiln-test\\r\\n\\r\\n' "\$1" | nc -w 20 10.0.2.2 3128 2>&1; }
echo "KILN-TEST allowed: \$(get '$allowed' | tail -1)"
echo "KILN-TEST denied: \$(get '$denied' | head -1)"
if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.0.2.2 ${direct_port} > /dev/null 2>&1; then echo "KILN-TEST direct: reached"; else echo "KILN-TEST direct: failed"; fi
if nc -w 3 10.0.2.2 22 </dev/null > /dev/null 2>&1; then echo "KILN-TEST tcp22: reached"; else echo "KILN-TEST tcp22: failed"; fi
echo "KILN-TEST done"
[ "$mode" = hang ] && { echo "KILN-TEST hang"; while :; do sleep 3600; done; }
[ "$mode" = hold ] && { echo "KILN-TEST hold"; while :; do (printf 'GET http://127.0.0.1:9/hold HTTP/1.0\r\n'; sleep 30) | nc 10.0.2.2 3128 > /dev/null 2>&1; done; }
[ "$mode" = flood ] && { echo "KILN-TEST flood"; while :; do echo "KILN-FLOOD 0123456789abcdef0123456789abcdef0123456789abcdef"; done; }
[ "$mode" = longline ] && { echo "KILN-TEST longline"; yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | tr -d '\n' > /dev/ttyS1; }
if [ "$mode" = escapes ]; then
        echo "KILN-TEST escapes"
        printf "main-menu[1]: INFO: Menu item '\033]0;pwned\007\033[2J\033]52;c;cHduZWQ=\007evil' selected\n" > /dev/ttyS1
        sleep 2
        printf "main-menu[1]: WARNING **: Configuring '\033[1;32mbuild finished OK\033[0m\302\233' failed\n" > /dev/ttyS1
        while :; do sleep 3600; done
fi
if [ "$mode" = busy ]; then
        for i in \$(seq 20); do get '$allowed' > /dev/null; done
        (get '${allowed%/*}/hang' > /dev/null &)
        sleep 2
        echo "KILN-TEST busy"
fi
if [ "$mode" = complete ] || [ "$mode" = busy ]; then
        echo "KILN-TEST complete"
        for step in choose-mirror partman-base pkgsel finish-install; do
                printf "main-menu[1]: INFO: Menu item '%s' selected\n" \$step > /dev/ttyS1
                sleep 1
        done
fi
poweroff -f
X
chmod +x "$stage/init"
mkdir -p "$out"
# The kernel uncompressed where it can be (tests/helpers/uncompressed-kernel.sh): seconds less per
# boot under TCG. run-tests.sh makes it once (KILN_TEST_VMLINUX, of KILN_TEST_VMLINUX_OF).
if [ -n "${KILN_TEST_VMLINUX:-}" ] && [ "${KILN_TEST_VMLINUX_OF:-}" = "$(readlink -f "$kernel")" ] && [ -r "$KILN_TEST_VMLINUX" ]; then
        cp "$KILN_TEST_VMLINUX" "$out/vmlinuz"
elif ! bash "$(dirname "$0")/uncompressed-kernel.sh" "$kernel" "$out/vmlinuz"; then
        cp "$kernel" "$out/vmlinuz"
fi
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.gz"
