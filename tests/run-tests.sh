#!/usr/bin/env bash
# Run every test script under tests/ (t-*.sh) and close with "N passed, N failed, N skipped".
# Independent scripts run KILN_TEST_JOBS at a time (default 2, the CI machine's cores), each with
# its output captured and printed in order once it is done, and with a TMPDIR of its own (kiln's
# run folders live there, and some scripts look for strays in it). A script that looks for stray
# processes finds its own only: by pid, by a guest name or build id of its own, or by a run folder
# under its TMPDIR.
set -u
: "${KILN:?set KILN to the kiln binary (make check does)}"
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skipped=0
jobs_max=${KILN_TEST_JOBS:-2}
# The Debian fixture image (tests/helpers/debian-fixture.sh: mmdebstrap, then one libguestfs run;
# minutes, mostly one core and the network) is made in the background while the other scripts run,
# and the scripts that use it start last among them. They call the helper themselves: it takes a
# lock, so they wait for this build, or make the image again and report why it failed. They used
# to run one at a time after everything else, but each is mostly one appliance or guest after
# another, one core of QEMU under TCG: side by side, with each other and the last of the others,
# they keep both cores busy. (They look for no stray process by kiln's path: t-finish follows its
# own kiln's children, t-batch its own build id.)
fixdir=${KILN_FIXTURE_DIR:-$(dirname "$here")/build/fixtures}
uses_fixture=(builder/t-finish.sh batch/t-batch.sh serve/t-serve-build.sh)
# One libguestfs appliance cache for every script and both passes of make check: libguestfs keeps
# it under TMPDIR when that is set, which is each script's own here, so each script built its own
# (supermin, ~700 MB written) before its first launch. /var/tmp is libguestfs's own default (and
# a folder the sandbox user, which runs the appliance's QEMU as root, can read); libguestfs
# serializes the build (supermin --lock) and rebuilds it when the host's packages change.
export LIBGUESTFS_CACHEDIR=${LIBGUESTFS_CACHEDIR:-/var/tmp}
# The ASan pass (KILN_TEST_QUICK) leaves out the scripts whose time is a guest's or an appliance's
# under TCG and whose kiln code the other scripts of the pass already run under ASan: they ran in
# the normal pass, and twice made the gate longer than its 15 minutes.
#   t-finish: the finish stage, as t-image-format, t-inspect and t-events run it;
#   t-batch, t-serve-build: real builds through a seeded store, Slurm, a live server (t-key and
#     t-serve run the keys, the result store and the API);
#   t-install-cleanup, t-privileges, t-boot-test: signals, /proc and guests, not memory;
#   t-qemu-net: QEMU's network plan, as nobody; its proxy and failed install run in t-proxy-records (which
#     parses the proxy process's records, from a sandboxed process, so stays) and t-guest-hostile.
not_under_asan=(builder/t-finish.sh batch/t-batch.sh serve/t-serve-build.sh hypervisors/t-install-cleanup.sh
        hypervisors/t-privileges.sh hypervisors/t-boot-test.sh hypervisors/t-qemu-net.sh)
# The longest first, so that two slots finish together (seconds in the last CI run's log).
slow_first=(hypervisors/t-guest-hostile.sh hypervisors/t-install-cleanup.sh hypervisors/t-privileges.sh)
# A fixed libguestfs appliance (LIBGUESTFS_PATH) made by supermin from libguestfs's own package
# list, as libguestfs makes it, but with its kernel uncompressed (tests/helpers/
# uncompressed-kernel.sh): under TCG the appliance then starts in about half the time (14 s against
# 32 s measured here), and every script launches several. The busybox guests take the same vmlinux
# (KILN_TEST_VMLINUX). Where it cannot be made, libguestfs's own appliance is used, as before.
appliance=
supermin_d=/usr/lib/$(uname -m)-linux-gnu/guestfs/supermin.d
if [ -z "${LIBGUESTFS_PATH:-}" ] && command -v supermin > /dev/null && [ -d "$supermin_d" ]; then
        appliance=$(mktemp -d /var/tmp/kiln-tests-appliance.XXXXXX)
        chmod 0755 "$appliance" # the appliance's QEMU runs as the sandbox user
        if supermin --build -f ext2 --host-cpu "$(uname -m)" -o "$appliance" "$supermin_d" > "$appliance/supermin.log" 2>&1 &&
                bzimage=$(readlink -f "$appliance/kernel") &&
                bash "$here/helpers/uncompressed-kernel.sh" "$bzimage" "$appliance/vmlinux"; then
                mv -f "$appliance/vmlinux" "$appliance/kernel"
                touch "$appliance/README.fixed"
                export LIBGUESTFS_PATH=$appliance KILN_TEST_VMLINUX=$appliance/kernel KILN_TEST_VMLINUX_OF=$bzimage
        else
                echo "# no fixed appliance with an uncompressed kernel ($(tail -1 "$appliance/supermin.log")): libguestfs's own"
                rm -rf "$appliance"
                appliance=
        fi
fi
fixture_pid=
if command -v mmdebstrap > /dev/null && command -v guestfish > /dev/null; then
        mkdir -p "$fixdir"
        setsid bash "$here/helpers/debian-fixture.sh" "$fixdir" > "$fixdir/background.log" 2>&1 &
        fixture_pid=$!
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-tests.XXXXXX")
# Interrupted early: stop the build and everything it started (its own process group), and the
# scripts still running (each in a process group of its own).
cleanup() {
        [ -n "$fixture_pid" ] && kill -- -"$fixture_pid" 2> /dev/null
        for p in $(jobs -p); do kill -- -"$p" 2> /dev/null; done
        rm -rf "$work"
        [ -n "$appliance" ] && rm -rf "$appliance"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

all=$(cd "$here" && find . -name 't-*.sh' | sed 's|^\./||' | sort)
if [ -n "${KILN_TEST_QUICK:-}" ]; then
        echo "# left out of the ASan pass (run in the normal one): ${not_under_asan[*]}"
        all=$(grep -vxF -e "$(printf '%s\n' "${not_under_asan[@]}")" <<< "$all")
fi
# The longest first, the fixture's users last (by then the fixture is usually made), the rest in
# name order.
first_last=$(printf '%s\n' "${slow_first[@]}" "${uses_fixture[@]}")
ordered=$( (printf '%s\n' "${slow_first[@]}" | grep -xF -e "$all"
        grep -vxF -e "$first_last" <<< "$all"
        printf '%s\n' "${uses_fixture[@]}" | grep -xF -e "$all") )

# tally NAME RC OUTPUT-FILE SECONDS: print a script's output and count its results.
tally() {
        local name=$1 rc=$2 out=$3 secs=$4 p s f
        echo "# $name"
        cat "$out"
        echo "# $name: $secs s"
        p=$(grep -c '^ok - ' "$out" || true)
        s=$(grep -c '^ok - .* # SKIP ' "$out" || true)
        f=$(grep -c '^not ok - ' "$out" || true)
        pass=$((pass + p - s)) skipped=$((skipped + s)) fail=$((fail + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
                echo "not ok - $name exited $rc without reporting a failure"
                fail=$((fail + 1))
        fi
}

# run_one INDEX NAME: in the background, with its own TMPDIR; leaves INDEX.out, .rc and .time.
run_one() {
        local i=$1 name=$2 start=$SECONDS
        mkdir -p "$work/t$i"
        TMPDIR=$work/t$i bash "$here/$name" > "$work/$i.out" 2>&1 < /dev/null
        echo $? > "$work/$i.rc"
        echo $((SECONDS - start)) > "$work/$i.time"
}

set -m # each background script in a process group of its own, so that cleanup stops its children
i=0
declare -A index
for name in $ordered; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
        i=$((i + 1))
        index[$name]=$i
        run_one "$i" "$name" &
done
wait
set +m
# In name order, as the suite always printed.
for name in $all; do
        i=${index[$name]}
        tally "$name" "$(cat "$work/$i.rc")" "$work/$i.out" "$(cat "$work/$i.time")"
done

echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
