#!/usr/bin/env bash
# The sweep at start removes only what is provably kiln's and provably abandoned: names kiln makes,
# owned by kiln's user, with a lock file (or a partial disk) no live process holds; never through a
# symbolic link. A build folder whose lock is held is refused. No guest boots: 'kiln finish' on a
# tiny raw disk runs the sweep, then fails at the inspection, at once: libguestfs is given a fixed
# appliance (LIBGUESTFS_PATH) whose kernel is not one, so its QEMU stops before anything boots. The real
# SIGKILL of an install and the sweep after it are in tests/hypervisors/t-install-cleanup.sh.
. "$(dirname "$0")/../lib.sh"
for t in qemu-img flock mkfs.ext2; do
        command -v $t > /dev/null || { skip "leftovers" "$t is not installed"; finish; exit 0; }
done
export TMPDIR="$TMP/tmp"; mkdir -p "$TMPDIR"
mkdir -p "$TMP/appliance"
touch "$TMP/appliance/README.fixed"; echo "not a kernel" > "$TMP/appliance/kernel"; : > "$TMP/appliance/initrd"
# (an empty root makes this libguestfs crash in launch: it reads the root filesystem's UUID)
truncate -s 1M "$TMP/appliance/root"; mkfs.ext2 -q -F "$TMP/appliance/root" > /dev/null 2>&1
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_PATH=$TMP/appliance
profile=$TOP/profiles/minimal.yaml
truncate -s 1M "$TMP/tiny.raw"
mkdir -p "$TMP/victim"; echo keep > "$TMP/victim/file"; echo 4242 > "$TMP/victim/.kiln-lock"
holders=()
# A live owner: a process holding the lock. It returns once the lock is held (a fixed sleep was
# too short on a loaded machine); the holder is the sleep itself, so killing it frees the lock.
hold() {
        rm -f "$TMP/held"
        (exec 8< "$1" && flock -x 8 && : > "$TMP/held" && exec sleep 120) & holders+=($!)
        for _ in $(seq 200); do [ -e "$TMP/held" ] && return; sleep 0.05; done
        not_ok "hold '$1'" "flock did not take the lock in 10 s"
}

run=$TMPDIR/kiln-run
mkdir "$TMPDIR/kiln-boot-dead01"; echo 4242 > "$TMPDIR/kiln-boot-dead01/.kiln-lock"; : > "$TMPDIR/kiln-boot-dead01/qemu.stderr"
mkdir "$run-dead01" "$run-held01" "$run-nolock" "$run-link01" "$run-other1" "$run-inlink"
for d in dead01 held01 link01 other1 inlink; do echo 4242 > "$run-$d/.kiln-lock"; echo preseed > "$run-$d/initrd.gz"; done
echo preseed > "$run-nolock/initrd.gz"
hold "$run-held01/.kiln-lock"
rm -rf "$run-link01"; ln -s "$TMP/victim" "$run-link01"
other_user=yes; chown -R nobody "$run-other1" 2> /dev/null || other_user=
ln -s "$TMP/victim/file" "$run-inlink/link"

out=$TMP/out.qcow2
echo disk > "$out.kiln-partial-dead01"
echo disk > "$out.kiln-partial-held01"; hold "$out.kiln-partial-held01"
ln -s "$TMP/victim/file" "$out.kiln-partial-link01"
echo disk > "$TMP/other.qcow2.kiln-partial-dead01"
echo disk > "$out.kiln-partial-toolong"
mkdir "$out.d"; echo 4242 > "$out.d/.kiln-lock"; echo work > "$out.d/work.qcow2"; ln -s "$TMP/victim/file" "$out.d/work.raw"

"$KILN" finish --accel tcg --no-boot-test -o "$out" "$profile" "$TMP/tiny.raw" > /dev/null 2> "$TMP/err"; rc=$?
check_eq "finish runs the sweep, then fails at the inspection" 1 $rc
says() { grep -qF "$1" "$TMP/err" && ok "$2" || not_ok "$2" "$(cat "$TMP/err")"; }
says "removed a run folder left by kiln pid 4242, which is gone ('$run-dead01')" "a dead run's folder is removed, with a notice"
says "removed a run folder left by kiln pid 4242, which is gone ('$run-inlink')" "a dead run's folder with a symlink in it is removed"
says "removed a run folder left by kiln pid 4242, which is gone ('$TMPDIR/kiln-boot-dead01')" "a dead boot test's folder is removed"
says "removed a partial disk left by a kiln run that is gone ('$TMP/out.qcow2.kiln-partial-dead01')" "a dead run's partial disk is removed"
says "removed a work disk left by kiln pid 4242, which is gone ('$out.d/work.qcow2')" "a dead run's work disk is removed"
[ ! -e "$run-dead01" ] && [ ! -e "$run-inlink" ] && [ ! -e "$out.kiln-partial-dead01" ] && [ ! -e "$out.d/work.qcow2" ] &&
        ok "those are gone" || not_ok "those are gone"
[ -f "$run-held01/initrd.gz" ] && [ -f "$out.kiln-partial-held01" ] && ok "what a live process holds stays" || not_ok "held lock respected"
[ -f "$run-nolock/initrd.gz" ] && ok "a run folder without a lock file stays (not provably abandoned)" || not_ok "no lock file"
if [ -n "$other_user" ]; then
        [ -f "$run-other1/initrd.gz" ] && ok "another user's run folder stays" || not_ok "another user's run folder stays"
else
        skip "another user's run folder stays" "not root: cannot give a folder to another user"
fi
[ -L "$run-link01" ] && [ -L "$out.kiln-partial-link01" ] && [ -L "$out.d/work.raw" ] && [ "$(cat "$TMP/victim/file")" = keep ] &&
        [ -f "$TMP/victim/.kiln-lock" ] && ok "symbolic links are neither followed nor removed" || not_ok "symlinks" "$(ls -la "$TMP/victim")"
[ -f "$TMP/other.qcow2.kiln-partial-dead01" ] && [ -f "$out.kiln-partial-toolong" ] &&
        ok "partial disks of other outputs, and other names, stay" || not_ok "other partial disks"
[ ! -e "$out.d/.kiln-lock" ] && ok "the run releases its build folder's lock at exit" || not_ok "lock released" "$(cat "$out.d/.kiln-lock")"
find "$(dirname "$out")" -maxdepth 1 -name "$(basename "$out").kiln-partial-??????" ! -name '*held01' ! -name '*link01' ! -name '*toolong' | grep -q . &&
        not_ok "finish left its own partial output" || ok "finish left no partial output of its own"

# kiln boot-test sweeps too (its QEMU here fails at once).
mkdir "$run-dead02"; echo 4244 > "$run-dead02/.kiln-lock"
KILN_QEMU=/bin/false "$KILN" boot-test --timeout 10s -l "$TMP/bt.log" "$TMP/tiny.raw" > /dev/null 2> "$TMP/err"
says "removed a run folder left by kiln pid 4244, which is gone ('$run-dead02')" "kiln boot-test removes a dead run's folder too"
[ -f "$run-held01/initrd.gz" ] && [ -z "$(ls -d "$TMPDIR"/kiln-boot-* 2> /dev/null)" ] &&
        ok "boot-test leaves the held folder, and none of its own" || not_ok "boot-test's sweep" "$(ls "$TMPDIR")"

# A build folder in use (its lock held) is refused, naming the holder.
mkdir "$TMP/busy.qcow2.d"; echo 4343 > "$TMP/busy.qcow2.d/.kiln-lock"; hold "$TMP/busy.qcow2.d/.kiln-lock"
"$KILN" finish --accel tcg --no-boot-test -o "$TMP/busy.qcow2" "$profile" "$TMP/tiny.raw" > /dev/null 2> "$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -qF "'$TMP/busy.qcow2.d' is in use by kiln pid 4343" "$TMP/err" &&
        ok "a build folder whose lock is held is refused" || not_ok "busy build folder" "$rc $(cat "$TMP/err")"
kill "${holders[@]}" 2> /dev/null
wait 2> /dev/null
finish
