#!/usr/bin/env bash
# Run every test script under tests/ (t-*.sh) and close with "N passed, N failed, N skipped".
set -u
: "${KILN:?set KILN to the kiln binary (make check does)}"
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skipped=0
# The Debian fixture image (tests/helpers/debian-fixture.sh: mmdebstrap, then one libguestfs run;
# minutes, mostly one core and the network) is made in the background while the other scripts run,
# and the scripts that use it run last. They call the helper themselves: it takes a lock, so they
# wait for this build, or make the image again and report why it failed.
fixdir=${KILN_FIXTURE_DIR:-$(dirname "$here")/build/fixtures}
uses_fixture=(builder/t-finish.sh)
fixture_pid=
if command -v mmdebstrap > /dev/null && command -v guestfish > /dev/null; then
        mkdir -p "$fixdir"
        setsid bash "$here/helpers/debian-fixture.sh" "$fixdir" > "$fixdir/background.log" 2>&1 &
        fixture_pid=$!
fi
# Interrupted early: stop the build and everything it started (its own process group).
trap '[ -n "$fixture_pid" ] && kill -- -"$fixture_pid" 2>/dev/null' EXIT
scripts=$(cd "$here" && find . -name 't-*.sh' | sed 's|^\./||' | sort | grep -vxF "${uses_fixture[@]/#/-e}")
for t in $scripts "${uses_fixture[@]}"; do
        t=$here/$t
        name=${t#"$here"/}
        echo "# $name"
        start=$SECONDS
        out=$(bash "$t" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        echo "# $name: $((SECONDS - start)) s"
        p=$(grep -c '^ok - ' <<<"$out" || true)
        s=$(grep -c '^ok - .* # SKIP ' <<<"$out" || true)
        f=$(grep -c '^not ok - ' <<<"$out" || true)
        pass=$((pass + p - s)) skipped=$((skipped + s)) fail=$((fail + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
                echo "not ok - $name exited $rc without reporting a failure"
                fail=$((fail + 1))
        fi
done
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
