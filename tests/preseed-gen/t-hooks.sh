#!/usr/bin/env bash
# The hooks kiln adds to the installer for install speed (issue 16), each run by busybox sh as the
# installer runs it. tuning.initramfs targeted: the injected initrd carries base-installer's hook
# and the image's initramfs-tools hook; the installer hook puts the hook in the target; and the
# hook, run by the host's real mkinitramfs, adds every hypervisor disk driver without loading any
# of them at boot. tuning.eatmydata: partman's finish hook gives debootstrap's dpkg
# force-unsafe-io, read by the host's real dpkg. The real install's boot test is make check-e2e's.
. "$(dirname "$0")/../lib.sh"
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
WALK="$TOP/tests/helpers/initrd-walk.py"
export KILN_FETCH_RETRIES=1
# shellcheck disable=SC2034 # pids: read by start_archive_fixture and stop_background (tests/lib.sh)
pids=()
trap stop_background EXIT
start_archive_fixture
hook=usr/lib/base-installer.d/06kiln-initramfs
phook=lib/partman/finish.d/90kiln-dpkg-unsafe-io
fhook=usr/lib/finish-install.d/15kiln-tuning
dhook=usr/lib/pre-pkgsel.d/05kiln-defer-initramfs
# shellcheck disable=SC2154 # archive_base: start_archive_fixture's
printf 'name: t\nrelease: trixie\nmirror: %s\nmirror_keyring: %s\nsecurity: false\n' "$archive_base" "$TMP/gnupg/good.asc" > "$TMP/p.yaml"
printf 'extends: p.yaml\ntuning: {initramfs: most}\n' > "$TMP/most.yaml"
printf 'extends: p.yaml\ntuning: {initramfs: dep}\n' > "$TMP/dep.yaml"
printf 'extends: p.yaml\ntuning: {eatmydata: false}\n' > "$TMP/noeat.yaml"
printf 'extends: p.yaml\npackages: [eatmydata]\n' > "$TMP/keep.yaml"
printf 'extends: p.yaml\npreseed:\n  "man-db man-db/auto-update": "boolean false"\n' > "$TMP/raw.yaml"
printf 'extends: p.yaml\ntuning: {defer_initramfs: false}\n' > "$TMP/nodefer.yaml"
printf 'extends: p.yaml\ntuning: {eatmydata: false, defer_man_db: false, defer_initramfs: false, initramfs: most}\n' > "$TMP/off.yaml"

for v in p most dep noeat keep raw nodefer off; do
        "$KILN" fetch --cache "$TMP/cache" -o "$TMP/out-$v" "$TMP/$v.yaml" > /dev/null 2> "$TMP/$v.err" ||
                { not_ok "fetch $v" "$(cat "$TMP/$v.err")"; finish; exit; }
        python3 "$WALK" "$TMP/out-$v/initrd.gz" > "$TMP/walk-$v"
done
grep -q "^1 100755 [0-9]* [0-9a-f]* $hook\$" "$TMP/walk-p" && grep -q '^1 100755 [0-9]* [0-9a-f]* kiln/initramfs-hook$' "$TMP/walk-p" &&
        ok "default (targeted): base-installer's hook and the image's hook in the initrd, executable" ||
        not_ok "targeted: hooks injected" "$(cat "$TMP/walk-p")"
check_eq "default (targeted): base-installer's driver policy dep" "dep" \
        "$(sed -n 's/^d-i base-installer\/initramfs-tools\/driver-policy select //p' <("$KILN" preseed "$TMP/p.yaml" 2> /dev/null))"
for v in most dep; do
        grep -q -e kiln/initramfs-hook -e "$hook" "$TMP/walk-$v" && not_ok "$v: no kiln initramfs hook" || ok "$v: no kiln initramfs hook"
done
# The fixture's installer has merged /usr (lib -> usr/lib), as trixie's has: the kernel's unpacker
# replaces a symlink with a folder entry of the same name (an empty /lib, and the installer's /init
# panics), so nothing kiln appends may name one of the original's symlinks or go through one.
grep -q "^1 100755 [0-9]* [0-9a-f]* usr/$phook\$" "$TMP/walk-p" && ok "default (eatmydata): partman's finish hook, through the installer's lib -> usr/lib" ||
        not_ok "partman hook injected" "$(cat "$TMP/walk-p")"
for v in p most dep noeat keep raw nodefer off; do
        awk '$1 == 0 && $2 == "120777" { link[$5] = 1 }
             $1 > 0 { n = split($5, c, "/"); p = ""
                      for (i = 1; i <= n; i++) { p = p (i > 1 ? "/" : "") c[i]; if (p in link) print $5 } }' "$TMP/walk-$v"
done > "$TMP/through-links"
check_eq "nothing appended names or goes through a symlink of the original initrd" "" "$(sort -u "$TMP/through-links")"
grep -q "$phook" "$TMP/walk-noeat" && not_ok "eatmydata: false: no partman hook" || ok "eatmydata: false: no partman hook"
"$KILN" preseed "$TMP/most.yaml" 2> /dev/null | grep -q driver-policy &&
        not_ok "most: stock (no driver policy)" || ok "most: stock (no driver policy)"

# Layouts of symlinked folders an initrd may have, each a local installer (kernel and initrd files)
# fetched with the default tuning: where the partman hook (lib/partman/finish.d) lands, and that the
# appended member never names or passes through one of the original's symlinks.
mkinitrd() { # OUT NAME=TARGET... : an initrd with usr/lib, usr/share, sysroot/usr/{lib,share} and those links
        python3 - "$@" << 'PY'
import gzip, importlib.util, os, sys
spec = importlib.util.spec_from_file_location("fx", os.environ["FIX"])
fx = importlib.util.module_from_spec(spec); spec.loader.exec_module(fx)
ents = [(d, 0o40755, b"") for d in ("usr", "usr/lib", "usr/share", "sysroot", "sysroot/usr", "sysroot/usr/lib",
                                    "sysroot/usr/share", "var", "var/lib", "var/lib/dpkg")]
ents += [("var/lib/dpkg/status", 0o100644, b"Package: x\n\n")]
ents += [(l.split("=")[0], 0o120777, l.split("=", 1)[1].encode()) for l in sys.argv[2:]]
open(sys.argv[1], "wb").write(gzip.compress(fx.newc(ents), mtime=0))
PY
}
layout() { # NAME EXPECTED-PARTMAN-FOLDER LINK...: fetch, then check
        local name=$1 want=$2
        shift 2
        FIX=$TOP/tests/helpers/archive-fixture.py mkinitrd "$TMP/l-$name.gz" "$@"
        cp "$TMP/out-p/linux" "$TMP/l-vmlinuz"
        printf 'name: l\nrelease: trixie\nsecurity: false\ninstaller: {kernel: l-vmlinuz, initrd: l-%s.gz}\n' "$name" > "$TMP/l-$name.yaml"
        if ! "$KILN" fetch --cache "$TMP/cl" -o "$TMP/lo-$name" "$TMP/l-$name.yaml" > "$TMP/l.out" 2>&1; then
                [ "$want" = error ] && grep -q "the symlinks above 'lib/partman/finish.d/90kiln-dpkg-unsafe-io' loop or lead out of it" "$TMP/l.out" &&
                        ok "layout $name: refused, and said why" || not_ok "layout $name: fetch" "$(cat "$TMP/l.out")"
                return
        fi
        [ "$want" != error ] || { not_ok "layout $name: should be refused"; return; }
        python3 "$WALK" "$TMP/lo-$name/initrd.gz" > "$TMP/lw"
        awk '$1 == 0 && $2 == "120777" { link[$5] = 1 }
             $1 > 0 { n = split($5, c, "/"); p = ""
                      for (i = 1; i <= n; i++) { p = p (i > 1 ? "/" : "") c[i]; if (p in link) print $5 } }' "$TMP/lw" > "$TMP/lthrough"
        grep -q "^1 100755 [0-9]* [0-9a-f]* $want/90kiln-dpkg-unsafe-io\$" "$TMP/lw" && [ ! -s "$TMP/lthrough" ] &&
                ok "layout $name: the partman hook in $want, nothing through a symlink" ||
                not_ok "layout $name" "$(awk '$1 > 0' "$TMP/lw")" "$(cat "$TMP/lthrough")"
}
layout plain lib/partman/finish.d
layout merged usr/lib/partman/finish.d lib=usr/lib bin=usr/bin
layout absolute usr/lib/partman/finish.d lib=/usr/lib
layout dotdot usr/lib/partman/finish.d lib=../../usr/lib
layout nested sysroot/usr/lib/partman/finish.d usr=sysroot/usr lib=usr/lib
layout loop error lib=lib2 lib2=lib
layout nowhere error lib=..

# The installer hook, run as base-installer runs it (busybox sh, / the installer's root, /target the
# image's). It needs nothing but busybox's applets.
if [ "$(id -u)" = 0 ] && [ -x /bin/busybox ] && busybox --list | grep -qx cp; then
        R=$TMP/root
        mkdir -p "$R/bin" "$R/target/etc" "$R/kiln" "$R/${hook%/*}"
        cp /bin/busybox "$R/bin/"
        for a in sh mkdir cp chmod echo logger; do ln -s busybox "$R/bin/$a"; done
        python3 "$WALK" "$TMP/out-p/initrd.gz" --cat "$hook" > "$R/$hook"
        python3 "$WALK" "$TMP/out-p/initrd.gz" --cat kiln/initramfs-hook > "$R/kiln/initramfs-hook"
        chmod 0755 "$R/$hook"
        PATH=/bin /usr/sbin/chroot "$R" "/$hook" > "$TMP/hook.out" 2>&1; check_eq "base-installer's hook succeeds under busybox sh" 0 $? "$(cat "$TMP/hook.out")"
        h=$R/target/etc/initramfs-tools/hooks/kiln-hypervisor-drivers
        check_eq "the image's hook is installed executable" "755" "$(stat -c %a "$h" 2> /dev/null)"
        # partman's finish hook, /target mounted, before debootstrap: dpkg's own config folder.
        mkdir -p "$R/${phook%/*}"
        python3 "$WALK" "$TMP/out-p/initrd.gz" --cat "usr/$phook" > "$R/$phook"
        chmod 0755 "$R/$phook"
        PATH=/bin /usr/sbin/chroot "$R" "/$phook" > "$TMP/phook.out" 2>&1; check_eq "partman's finish hook succeeds under busybox sh" 0 $? "$(cat "$TMP/phook.out")"
        check_eq "it writes base-installer's own force-unsafe-io file, where the target's dpkg reads its options" "force-unsafe-io" \
                "$(cat "$R/target/etc/dpkg/dpkg.cfg.d/force-unsafe-io" 2> /dev/null)"
        # The host's real dpkg reads that folder as its own dpkg.cfg.d (a mount namespace of the
        # test's, bound over /etc/dpkg/dpkg.cfg.d): the line is an option it takes, and a bad one fails.
        if [ "$(id -u)" = 0 ] && command -v unshare > /dev/null && command -v dpkg > /dev/null; then
                d=$R/target/etc/dpkg/dpkg.cfg.d
                audit() { unshare -m sh -c 'mount --bind "$1" /etc/dpkg/dpkg.cfg.d && dpkg --audit' sh "$d" > "$TMP/dpkg.out" 2>&1; }
                audit; check_eq "dpkg takes force-unsafe-io from that folder" 0 $? "$(cat "$TMP/dpkg.out")"
                echo force-nonsense > "$d/zz-bad"
                audit && not_ok "a bad option there fails dpkg (the folder is read)" || ok "a bad option there fails dpkg (the folder is read)"
                rm -f "$d/zz-bad"
        else
                skip "dpkg takes the option" "needs root and unshare"
        fi
else
        skip "base-installer's hook under busybox sh" "needs root (chroot) and busybox-static"
        h=
fi

# The deferred initramfs and kiln's finish-install hook, in a fake installer root whose /target holds
# what the tuned install leaves: in-target and logger record their arguments.
if [ "$(id -u)" = 0 ] && [ -x /bin/busybox ]; then
        F=$TMP/froot
        fake_root() { # VARIANT: a fresh installer root with the variant's two hooks
                rm -rf "$F"
                mkdir -p "$F/dev" "$F/bin" "$F/${fhook%/*}" "$F/${dhook%/*}" "$F/target/etc/initramfs-tools" "$F/target/etc/apt/apt.conf.d" \
                        "$F/target/var/tmp" "$F/target/var/lib/dpkg/info" "$F/target/var/lib/man-db" "$F/target/tmp"
                mknod -m 666 "$F/dev/null" c 1 3
                cp /bin/busybox "$F/bin/"
                for a in sh sed grep mkdir touch rm echo sync ls cat printf; do ln -s busybox "$F/bin/$a"; done
                # in-target: its argv logged; dpkg-query prints $DPKGQ; the command named by $FAIL fails
                printf '%s\n' '#!/bin/sh' 'printf "[%s]" "$@" >> /argv.log; echo >> /argv.log' \
                        '[ "$1" = dpkg-query ] && [ -n "${DPKGQ:-}" ] && printf "%s\n" "$DPKGQ"' '[ "$1" != "${FAIL:-}" ]' > "$F/bin/in-target"
                printf '#!/bin/sh\necho "$*" >> /logger.log\n' > "$F/bin/logger"
                chmod +x "$F/bin/in-target" "$F/bin/logger"
                printf '# update-initramfs config\nupdate_initramfs=yes\nbackup_initramfs=no\n' > "$F/target/etc/initramfs-tools/update-initramfs.conf"
                cp "$F/target/etc/initramfs-tools/update-initramfs.conf" "$TMP/conf.stock"
                touch "$F/target/etc/apt/apt.conf.d/95install-dpkg-eatmydata" "$F/target/var/tmp/dpkg-eatmydata-wrapper" \
                        "$F/target/var/lib/dpkg/info/man-db.list"
                # what base-installer's hook (06kiln-initramfs) left in the image
                mkdir -p "$F/target/etc/initramfs-tools/hooks" && touch "$F/target/etc/initramfs-tools/hooks/kiln-hypervisor-drivers" &&
                        chmod 0755 "$F/target/etc/initramfs-tools/hooks/kiln-hypervisor-drivers"
                for x in "$fhook" "$dhook"; do
                        python3 "$WALK" "$TMP/out-$1/initrd.gz" --cat "$x" > "$F/$x" 2> /dev/null && chmod 0755 "$F/$x" || rm -f "$F/$x"
                done
        }
        in_root() { env -i PATH=/bin ${FAIL:+FAIL=$FAIL} ${DPKGQ:+"DPKGQ=$DPKGQ"} /usr/sbin/chroot "$F" "$@"; }
        q='[dpkg-query][-W][-f][${Package} ${Pre-Depends} ${Depends} ${Recommends}\n]'

        fake_root p
        in_root "/$dhook"; check_eq "pre-pkgsel hook: exits 0" 0 $?
        check_eq "pre-pkgsel hook: initramfs-tools' own switch off" "update_initramfs=no" \
                "$(grep ^update_initramfs= "$F/target/etc/initramfs-tools/update-initramfs.conf")"
        check_eq "pre-pkgsel hook: says so in the installer's syslog" "-t kiln-tuning initramfs updates deferred" "$(cat "$F/logger.log" 2> /dev/null)"
        in_root "/$fhook" > "$TMP/f.out" 2>&1; check_eq "finish hook: exits 0" 0 $? "$(cat "$TMP/f.out" "$F/logger.log" 2> /dev/null)"
        check_eq "finish hook: in the target, in order: the initramfs once, eatmydata purged, man-db back and its index once" \
                "[update-initramfs][-u][-k][all]|$q|[dpkg][--purge][eatmydata][libeatmydata1]|[debconf-set-selections][/tmp/kiln-man-db]|[mandb][-q]" \
                "$(paste -sd'|' "$F/argv.log" 2> /dev/null)"
        cmp -s "$TMP/conf.stock" "$F/target/etc/initramfs-tools/update-initramfs.conf" &&
                ok "update-initramfs.conf is byte for byte the stock one again" || not_ok "update-initramfs.conf restored"
        [ ! -e "$F/target/etc/apt/apt.conf.d/95install-dpkg-eatmydata" ] && [ ! -e "$F/target/var/tmp/dpkg-eatmydata-wrapper" ] &&
                ok "the eatmydata wrapper and its apt.conf are removed" || not_ok "eatmydata wrapper removed"
        [ -e "$F/target/var/lib/man-db/auto-update" ] && [ ! -e "$F/target/tmp/kiln-man-db" ] &&
                ok "man-db's auto-update flag is back, the seed file gone" || not_ok "man-db restored"
        # A step that fails stops the hook and says so where kiln's install-log reader looks.
        fake_root p
        in_root "/$dhook"
        FAIL=update-initramfs in_root "/$fhook" > /dev/null 2>&1; check_eq "finish hook: a failed step exits 1" 1 $?
        check_eq "finish hook: ... and logs it for kiln" "-t kiln-tuning error: update-initramfs -u" "$(tail -1 "$F/logger.log" 2> /dev/null)"
        # An update-initramfs.conf the stock switch is not in (the user's own) is left alone.
        fake_root p
        sed -i 's/^update_initramfs=yes/update_initramfs=all/' "$F/target/etc/initramfs-tools/update-initramfs.conf"
        in_root "/$dhook"; in_root "/$fhook" > /dev/null 2>&1
        grep -q '^update_initramfs=all$' "$F/target/etc/initramfs-tools/update-initramfs.conf" && ! grep -q update-initramfs "$F/argv.log" &&
                ok "a switch that is not the stock 'yes' is left as it is, nothing deferred" || not_ok "user's update_initramfs"
        # Without man-db in the target (tasks: []), nothing of it runs.
        fake_root p
        rm "$F/target/var/lib/dpkg/info/man-db.list"
        in_root "/$fhook" > /dev/null 2>&1
        check_eq "no man-db installed, nothing deferred: only the purge" "$q|[dpkg][--purge][eatmydata][libeatmydata1]" "$(paste -sd'|' "$F/argv.log" 2> /dev/null)"
        # A package that recommends eatmydata (cloud-init does): a stock install keeps it, so does kiln.
        fake_root p
        DPKGQ='cloud-init  python3, cloud-guest-utils, eatmydata, sudo' in_root "/$fhook" > /dev/null 2>&1
        ! grep -q 'dpkg.*--purge' "$F/argv.log" && grep -q 'eatmydata kept' "$F/logger.log" &&
                ok "an installed package recommends eatmydata: kept, and said so" || not_ok "eatmydata recommended" "$(cat "$F/argv.log")"
        fake_root p
        DPKGQ='eatmydata  libeatmydata1 (>= 82-6)' in_root "/$fhook" > /dev/null 2>&1
        grep -q '^\[dpkg\]\[--purge\]' "$F/argv.log" && ok "eatmydata's own dependency on libeatmydata1 keeps nothing" ||
                not_ok "eatmydata's own dependency" "$(cat "$F/argv.log")"
        # base-installer only warns when kiln's initramfs hook fails: the finish hook fails the build.
        fake_root p
        rm "$F/target/etc/initramfs-tools/hooks/kiln-hypervisor-drivers"
        in_root "/$fhook" > /dev/null 2>&1; check_eq "targeted, but the image lacks kiln's initramfs hook: exits 1" 1 $?
        grep -q 'kiln-tuning error: the initramfs hook kiln-hypervisor-drivers is not in the image' "$F/logger.log" &&
                ok "... and says so for kiln" || not_ok "missing hook logged" "$(cat "$F/logger.log")"
        # The profile's own choices.
        fake_root keep; in_root "/$fhook" > /dev/null 2>&1
        ! grep -q 'dpkg.*--purge\|dpkg-query' "$F/argv.log" && [ ! -e "$F/target/var/tmp/dpkg-eatmydata-wrapper" ] &&
                ok "packages names eatmydata: kept, only the wrapper removed" || not_ok "eatmydata kept" "$(cat "$F/argv.log")"
        fake_root raw; in_root "/$fhook" > /dev/null 2>&1
        grep -q -e mandb -e debconf-set-selections "$F/argv.log" && not_ok "raw man-db/auto-update: kiln does not restore it" ||
                ok "raw man-db/auto-update: kiln does not restore it"
        fake_root nodefer
        [ ! -e "$F/$dhook" ] && ok "defer_initramfs: false: no pre-pkgsel hook" || not_ok "defer_initramfs false: hook"
        grep -q update-initramfs "$F/$fhook" && not_ok "defer_initramfs: false: no final build" || ok "defer_initramfs: false: no final build"
        fake_root off
        [ ! -e "$F/$fhook" ] && [ ! -e "$F/$dhook" ] && ok "tuning off: no finish-install or pre-pkgsel hook" || not_ok "tuning off: hooks"
else
        skip "kiln's finish-install hook" "needs root (chroot, mknod) and busybox-static"
fi

# The image's hook under the host's real initramfs-tools: MODULES=list and no modules file, so all
# that lands comes from initramfs-tools' own hooks and kiln's.
kver=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' 2> /dev/null | sort -V | tail -1)
if [ -z "$h" ] || ! command -v mkinitramfs > /dev/null || [ -z "$kver" ] || [ ! -e "/lib/modules/$kver/modules.dep" ]; then
        skip "the hook under mkinitramfs" "needs initramfs-tools and a kernel in /lib/modules (make deps installs both)"
else
        C=$TMP/conf
        mkdir -p "$C/hooks" "$C/scripts" "$C/conf.d"
        cp /etc/initramfs-tools/initramfs.conf "$C/"
        sed -i 's/^MODULES=.*/MODULES=list/' "$C/initramfs.conf"
        : > "$C/modules"
        mkinitramfs -d "$C" -o "$TMP/plain.img" "$kver" > /dev/null 2>&1
        cp "$h" "$C/hooks/"
        mkinitramfs -d "$C" -o "$TMP/kiln.img" "$kver" > "$TMP/mk.out" 2>&1; check_eq "mkinitramfs runs the hook" 0 $? "$(tail -5 "$TMP/mk.out")"
        lsinitramfs "$TMP/kiln.img" > "$TMP/kiln.list"
        lsinitramfs "$TMP/plain.img" > "$TMP/plain.list"
        missing=()
        for m in virtio_pci virtio_blk virtio_scsi sd_mod ahci ata_piix nvme xen-blkfront vmw_pvscsi mptspi hv_storvsc; do
                grep -q "/$m\.ko" "$TMP/kiln.list" || missing+=("$m")
        done
        check_eq "every hypervisor disk driver (and what it needs) is in the initramfs" "" "${missing[*]}"
        grep -q '/virtio_blk\.ko' "$TMP/plain.list" && not_ok "without the hook: no virtio_blk (the check means something)" ||
                ok "without the hook: no virtio_blk (the check means something)"
        grep -q '/hv_vmbus\.ko' "$TMP/kiln.list" && ok "dependencies come along (hv_vmbus for hv_storvsc)" || not_ok "hv_vmbus"
        unmkinitramfs "$TMP/kiln.img" "$TMP/unpacked" > /dev/null 2>&1
        loaded=$(cat "$TMP"/unpacked/{,main/}conf/modules 2> /dev/null | grep -c -e virtio -e xen -e hv_ -e ahci)
        check_eq "none of them is force-loaded at boot (udev loads what the hardware needs)" 0 "$loaded"
        n=$(grep -c '\.ko' "$TMP/kiln.list")
        [ "$n" -lt 150 ] && ok "a targeted initramfs: $n modules" || not_ok "a targeted initramfs" "$n modules"
fi
finish
