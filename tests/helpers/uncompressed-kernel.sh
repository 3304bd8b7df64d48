#!/usr/bin/env bash
# uncompressed-kernel.sh BZIMAGE OUT: write the x86-64 ELF vmlinux inside an x86 bzImage to OUT.
# Under TCG a guest spends seconds decompressing its kernel before it prints a line (8 of the 16 s
# a busybox guest took to reach its /init here, and half of a libguestfs appliance's start); QEMU
# boots the vmlinux directly through its PVH entry. The tests' guests and appliance use it; what
# they test of kiln is the same with either. Exit 1, OUT not written, when the image holds no
# payload this can find (another compression, no PVH note): the caller keeps the bzImage.
set -eu
in=$1 out=$2
rm -f "$out.part"
trap 'rm -f "$out.part"' EXIT
# The payload starts at its compressor's magic; the first one that decompresses to an ELF wins.
try() { # MAGIC DECOMPRESSOR...
        local magic=$1 off
        shift
        for off in $(LC_ALL=C grep -abo "$magic" "$in" 2> /dev/null | cut -d: -f1 | head -3); do
                tail -c +$((off + 1)) "$in" | "$@" > "$out.part" 2> /dev/null || true
                if [ "$(head -c 4 "$out.part" | od -An -c | tr -d ' ')" = '177ELF' ] &&
                        LC_ALL=C readelf -n "$out.part" 2> /dev/null | grep -q '0x00000012'; then
                        mv "$out.part" "$out"
                        return 0
                fi
        done
        return 1
}
command -v readelf > /dev/null || exit 1
try $'\xfd7zXZ\x00' xz -dc --single-stream && exit 0
command -v zstd > /dev/null && try $'\x28\xb5\x2f\xfd' zstd -dcq && exit 0
try $'\x1f\x8b\x08' gzip -dc && exit 0
exit 1
