#!/usr/bin/env bash
# Run every test script under tests/ (t-*.sh) and close with "N passed, N failed, N skipped".
set -u
: "${KILN:?set KILN to the kiln binary (make check does)}"
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skipped=0
for t in $(find "$here" -name 't-*.sh' | sort); do
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
