#!/usr/bin/env bash
# A small, real Debian disk image made at test time without running the installer, so that
# `make check` can test everything after the install (inspection, host-side GRUB, conversion,
# manifest, a passing boot test) in minutes.
#
#   debian-fixture.sh DIR    -> DIR/rootfs.tar (mmdebstrap) and DIR/debian.qcow2
#
# 1. mmdebstrap --mode=unshare (no root needed) builds the host's own Debian release from the
#    host's own apt sources: minbase, systemd, a cloud kernel (small; virtio), grub-pc installed but
#    NOT set up on any disk (that is kiln's job for `bootloader: host`).
# 2. libguestfs (no root, no host mount) partitions a qcow2 (MBR, one ext4 partition from 1 MiB),
#    unpacks the tarball, writes fstab (by label) in one appliance run.
# The image has no boot loader: it boots only after kiln installs GRUB. /var/log/installer holds
# one line saying how the image was made (kiln checks that folder as the installer's trace).
#
# Exit 0: built (or already there). Exit 77: the mirror could not serve what mmdebstrap needs (the
# message says so; a mirror problem, not kiln's). Anything else: a real failure.
set -euo pipefail
dir=${1:?usage: debian-fixture.sh DIR}
mkdir -p "$dir"
exec 9> "$dir/.lock"
flock 9
[ -s "$dir/debian.qcow2" ] && [ -s "$dir/rootfs.tar" ] && exit 0

. /etc/os-release
suite=${KILN_FIXTURE_SUITE:-$VERSION_CODENAME}
sources=()
[ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list && sources+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { echo "debian-fixture: the host has no apt sources" >&2; exit 1; }

if [ ! -s "$dir/rootfs.tar" ]; then
        echo "debian-fixture: mmdebstrap $suite from the host's apt sources (about a minute)..." >&2
        if ! mmdebstrap --mode=unshare --format=tar --variant=minbase \
                --include=systemd-sysv,udev,linux-image-cloud-amd64,grub-pc,initramfs-tools \
                --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
                --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
                --customize-hook='echo kiln-fixture > "$1/etc/hostname"' \
                --customize-hook='mkdir -p "$1/var/log/installer" && echo "made by mmdebstrap for kiln'"'"'s tests, not by debian-installer" > "$1/var/log/installer/README"' \
                "$suite" "$dir/rootfs.tar.part" "${sources[@]}" > "$dir/mmdebstrap.log" 2>&1; then
                rm -f "$dir/rootfs.tar.part"
                if grep -qE "404|Failed to fetch|Unable to fetch|Hash Sum mismatch" "$dir/mmdebstrap.log"; then
                        echo "debian-fixture: THE MIRROR could not serve the packages (not a kiln problem):" >&2
                        grep -E "404|Failed to fetch|Unable to fetch|Hash Sum" "$dir/mmdebstrap.log" | head -5 >&2
                        exit 77
                fi
                tail -20 "$dir/mmdebstrap.log" >&2
                exit 1
        fi
        mv "$dir/rootfs.tar.part" "$dir/rootfs.tar"
fi

echo "debian-fixture: partitioning and filling a qcow2 in the libguestfs appliance..." >&2
rm -f "$dir/debian.qcow2.part"
qemu-img create -q -f qcow2 "$dir/debian.qcow2.part" 3G
printf 'LABEL=kiln-root / ext4 errors=remount-ro 0 1\n' > "$dir/fstab"
LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg} guestfish --format=qcow2 -a "$dir/debian.qcow2.part" <<EOF
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 -1
part-set-bootable /dev/sda 1 true
mkfs ext4 /dev/sda1 label:kiln-root
mount /dev/sda1 /
tar-in $dir/rootfs.tar / xattrs:true
upload $dir/fstab /etc/fstab
umount-all
EOF
mv "$dir/debian.qcow2.part" "$dir/debian.qcow2"
echo "debian-fixture: $dir/debian.qcow2 ($suite, root labelled kiln-root, no boot loader)" >&2
