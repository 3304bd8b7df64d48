#!/usr/bin/env bash
# kiln inspect on a real disk image made at test time with guestfish (a partition, ext4, the files
# that make it a Debian system to libguestfs's inspection): OS, host name, packages, the installer's
# logs copied out, and a leftover build proxy in apt.conf reported as a problem.
. "$(dirname "$0")/../lib.sh"
command -v guestfish > /dev/null || { skip "kiln inspect" "guestfish (libguestfs-tools) is not installed"; finish; exit 0; }
[ -n "$(ls /boot/vmlinuz-* 2>/dev/null)" ] || { skip "kiln inspect" "no host kernel for the libguestfs appliance"; finish; exit 0; }
export LIBGUESTFS_BACKEND=direct
# TCG for the appliance, always: where KVM cannot run the host kernel it hangs rather than fails,
# and a test must not depend on that probe (kiln's own --accel auto path is the install's).
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
cat > "$TMP/status" <<'X'
Package: base-files
Status: install ok installed
Version: 13.8+deb13u9

Package: openssh-server
Status: install ok installed
Version: 1:10.0p1-7

Package: removed-one
Status: deinstall ok config-files
Version: 1.0
X
printf 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nID=debian\n' > "$TMP/os-release"
printf 'UUID=x / ext4 defaults 0 1\n' > "$TMP/fstab"
printf 'Nov 22 05:00:00 main-menu: INFO: Menu item finish-install selected\n' > "$TMP/installer-syslog"
printf 'Acquire::http::Proxy "http://10.0.2.2:3128/";\n' > "$TMP/apt.conf"
# A hostile image: its /var/log/installer holds what a late command could plant (a setuid-root
# program, device nodes for memory and the disk, a FIFO, links to host paths, sparse files of
# 4 GiB that hold no block, so du counts nothing while tar would write every byte, one with tar's
# wildcard characters in its name, one whose name ends in a space), and its host name carries terminal escape sequences.
printf '#!/bin/sh\nid\n' > "$TMP/suid"
printf '\033]0;pwned\007\033[2Jevil-host\n' > "$TMP/evil-hostname"
# Both images in one guestfish session: each appliance start costs ~30 s under TCG.
fs() { # DEVICE
        echo "part-disk $1 mbr : mkfs ext4 ${1}1 : mount ${1}1 / :"
        echo "mkdir-p /etc/apt : mkdir-p /var/lib/dpkg : mkdir-p /var/log/installer : mkdir-p /usr/bin : mkdir-p /usr/lib :"
        echo "ln-s usr/bin /bin : ln-s usr/lib /lib : write /etc/debian_version 13.9 :"
        echo "upload $TMP/os-release /etc/os-release : write /etc/hostname fixture-host : upload $TMP/fstab /etc/fstab :"
        echo "upload $TMP/status /var/lib/dpkg/status : upload $TMP/installer-syslog /var/log/installer/syslog :"
}
hostile="upload $TMP/suid /var/log/installer/suid : chmod 04755 /var/log/installer/suid :
 mknod-c 0666 1 1 /var/log/installer/mem : mknod-b 0666 8 0 /var/log/installer/sda : mkfifo 0644 /var/log/installer/fifo :
 ln-s /etc/shadow /var/log/installer/shadow : ln-s /root /var/log/installer/root-dir : write /var/log/installer/linked data : ln /var/log/installer/linked /var/log/installer/hard :
 mkdir /var/log/installer/sub : write /var/log/installer/sub/private secret : chmod 0600 /var/log/installer/sub/private :
 touch /var/log/installer/sparse : truncate-size /var/log/installer/sparse 4294967296 :
 touch /var/log/installer/big[1] : truncate-size /var/log/installer/big[1] 4294967296 :
 upload $TMP/evil-hostname /etc/hostname"
cmds="$(fs /dev/sda) umount-all : $(fs /dev/sdb) upload $TMP/apt.conf /etc/apt/apt.conf : $hostile"
# The images depend on nothing but this script: they are made once per checkout, beside the Debian
# fixture (named by the script's hash), and each run inspects copies of them, so that the ASan pass
# does not start an appliance to make them again.
fixdir=${KILN_FIXTURE_DIR:-$TOP/build/fixtures}
imgs=$fixdir/inspect-images-$(sha256sum < "${BASH_SOURCE[0]}" | cut -c1-16)
mkdir -p "$fixdir"
exec 8> "$fixdir/.inspect-images.lock"
flock 8
if [ ! -s "$imgs/proxy.raw" ]; then
        rm -rf "$fixdir"/inspect-images-* && mkdir -p "$imgs.part" # an older script's too
        # Words, then one more sparse file whose name ends in a space (tar's exclude file strips it).
        # shellcheck disable=SC2206
        gf=($cmds)
        gf+=(: touch "/var/log/installer/log " : truncate-size "/var/log/installer/log " 4294967296)
        guestfish -N "$imgs.part/good.raw"=disk:256M -N "$imgs.part/proxy.raw"=disk:256M -- "${gf[@]}" > "$TMP/gf.log" 2>&1 &&
                mv "$imgs.part" "$imgs" ||
                { not_ok "make test images with guestfish" "$(tail -5 "$TMP/gf.log")"; finish; exit; }
fi
exec 8>&-
cp --sparse=always "$imgs/good.raw" "$imgs/proxy.raw" "$TMP/" ||
        { not_ok "copy the test images" "from $imgs"; finish; exit; }
# The ASan pass (KILN_TEST_QUICK) inspects only the image with a problem (a whole inspection all
# the same: it is a Debian system to libguestfs), and each appliance costs ~45 s.
if [ -z "${KILN_TEST_QUICK:-}" ]; then
        before=$(sha256sum "$TMP/good.raw")
        "$KILN" inspect --accel tcg --cache "$TMP/cache" -d "$TMP/good.d" "$TMP/good.raw" > "$TMP/out" 2> "$TMP/err"
        check_eq "inspect a good image exits 0" 0 $?
        grep -q '^os         .* (debian 13.9)$' "$TMP/out" && ok "OS recognised" || not_ok "OS recognised" "$(cat "$TMP/out" "$TMP/err")"
        grep -q '^hostname   fixture-host$' "$TMP/out" && ok "host name read" || not_ok "host name read"
        check_eq "installed packages only" "base-files=13.8+deb13u9
openssh-server=1:10.0p1-7" "$(cat "$TMP/good.d/packages.txt")"
        [ -f "$TMP/good.d/installer/syslog" ] && [ ! -e "$TMP/good.d/installer/installer" ] && ok "installer logs copied out" || not_ok "installer logs copied out" "$(find "$TMP/good.d")"
        check_eq "image untouched (read-only)" "$before" "$(sha256sum "$TMP/good.raw")"
fi

# Its temporary files on a small tmpfs (as root): what the copy-out streams must fit there.
small=
if [ "$(id -u)" -eq 0 ] && mkdir "$TMP/small" && mount -t tmpfs -o size=64m,mode=1777 kiln-test "$TMP/small"; then
        small=$TMP/small
        trap 'umount "$TMP/small" 2> /dev/null; rm -rf "$TMP"' EXIT
fi
TMPDIR=${small:-${TMPDIR:-/tmp}} "$KILN" inspect --accel tcg --cache "$TMP/cache" -d "$TMP/proxy.d" "$TMP/proxy.raw" > "$TMP/out" 2> "$TMP/err" &
ipid=$!
# The appliance's QEMU opens the untrusted image: least privilege, measured. As root, kiln has
# libguestfs start it through kiln-appliance-qemu: the sandbox user, no capabilities, NoNewPrivs,
# a seccomp filter, and the image as a descriptor set, not a path it opens.
sec="" args=""
while kill -0 $ipid 2>/dev/null; do
        q=$(pgrep -P $ipid -f qemu-system | head -1)
        # QEMU installs its own filter (-sandbox) after it starts: read until QEMU is running with it.
        if [ -n "$q" ] && cp /proc/"$q"/status "$TMP/appl.status" 2> /dev/null; then
                sec=$(awk '/^Seccomp:/ {print $2}' "$TMP/appl.status")
                args=$(tr '\0' ' ' < /proc/"$q"/cmdline 2> /dev/null)
                [ "$sec" = 2 ] && grep -q -- "-sandbox" <<<"$args" && break
        fi
        sleep 0.2
done
wait $ipid
check_eq "an image keeping the build proxy fails inspection" 1 $?
check_eq "the appliance's QEMU runs under a seccomp filter" 2 "$sec"
if [ "$(id -u)" -eq 0 ] && [ ! -f "$TMP/appl.status" ]; then
        not_ok "the appliance's QEMU was found"
elif [ "$(id -u)" -eq 0 ]; then
        uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$TMP/appl.status")
        case " $uid " in *" 0 "*) not_ok "the appliance's QEMU is not root" "Uid: $uid" ;; *) ok "the appliance's QEMU runs as uid ${uid%% *}, not root" ;; esac
        check_eq "the appliance's QEMU: no capabilities" 0000000000000000 "$(awk '/^CapEff:/ {print $2}' "$TMP/appl.status")"
        check_eq "the appliance's QEMU: NoNewPrivs" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "$TMP/appl.status")"
        grep -q "backing.file.filename=/dev/fdset/" <<<"$args" && ! grep -q "proxy.raw" <<<"$args" &&
                ok "the appliance's QEMU gets the image as a descriptor" || not_ok "the image as a descriptor" "$args"
fi
grep -q "^problem    /etc/apt/apt.conf still names the build's proxy$" "$TMP/out" && ok "the problem is named" || not_ok "the problem is named" "$(cat "$TMP/out")"
L=$TMP/proxy.d/installer
[ -f "$L/syslog" ] && [ -f "$L/sub/private" ] && ok "hostile logs: the regular files come out" || not_ok "hostile logs: files copied" "$(find "$L" 2>&1)"
check_eq "hostile logs: nothing but folders and regular files" "" "$(find "$L" ! -type f ! -type d)"
check_eq "hostile logs: every file 0644, every folder 0755" "" "$(find "$L" \( -type f ! -perm 0644 \) -o \( -type d ! -perm 0755 \))"
check_eq "hostile logs: no setuid or setgid bit" "" "$(find "$L" -perm /6000)"
check_eq "hostile logs: owned by kiln's user" "" "$(find "$L" ! -user "$(id -u)")"
[ ! -e "$L/suid" ] || [ "$(stat -c %a "$L/suid")" = 644 ] && ok "hostile logs: the setuid program is plain data" || not_ok "suid kept"
# tar carries the second name of a hard-linked file as a link: that name is left out.
n_linked=$(find "$L" -maxdepth 1 \( -name linked -o -name hard \) -type f -links 1 | wc -l)
check_eq "hostile logs: a hard-linked file comes out once, unlinked" 1 "$n_linked"
for n in mem sda fifo shadow root-dir sparse 'big[1]' 'log '; do
        [ ! -e "$L/$n" ] && [ ! -L "$L/$n" ] || { not_ok "hostile logs: '$n' left out" "$(ls -l "$L/$n")"; continue; }
        ok "hostile logs: '$n' left out"
done
grep -q "^logs       [0-9]* entries of /var/log/installer left out" "$TMP/out" && ok "hostile logs: what was left out is counted" ||
        not_ok "hostile logs: what was left out is counted" "$(cat "$TMP/out" "$TMP/err")"
if [ -n "$small" ]; then
        ! grep -q "installer logs" "$TMP/err" && ok "the copy-out fit a 64 MiB TMPDIR: the sparse file never streamed" ||
                not_ok "the copy-out fit a 64 MiB TMPDIR" "$(cat "$TMP/err")"
        umount "$TMP/small" || not_ok "umount the small TMPDIR"
fi
grep -q "^hostname   \\\\x1b\]0;pwned\\\\x07\\\\x1b\[2Jevil-host$" "$TMP/out" && ok "the image's host name is printed escaped" ||
        not_ok "host name escaped" "$(grep hostname "$TMP/out" | cat -v)"
LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$TMP/out" "$TMP/err" && not_ok "inspect's output holds no control characters" "$(cat -v "$TMP/out")" ||
        ok "inspect's output holds no control characters"
finish
