#!/usr/bin/env bash
# Every bad profile is refused with exit 2, its exact located message(s), and nothing on stdout.
. "$(dirname "$0")/../lib.sh"
cd "$TOP/tests/profiles/bad" || exit 1
n=0
for f in *.yaml; do
        case $f in *.part.yaml) continue ;; esac # helpers that other bad profiles extend
        base=${f%.yaml}
        n=$((n + 1))
        "$KILN" validate "$f" > "$TMP/out" 2> "$TMP/err"
        rc=$?
        if [ -n "${UPDATE_GOLDEN:-}" ]; then cp "$TMP/err" "$base.err"; fi
        if [ ! -f "$base.err" ]; then not_ok "bad profile $base" "no $base.err"; continue; fi
        if [ "$rc" -ne 2 ]; then not_ok "bad profile $base" "exit $rc, expected 2"; continue; fi
        if [ -s "$TMP/out" ]; then not_ok "bad profile $base" "wrote to stdout: $(head -c 200 "$TMP/out")"; continue; fi
        check_diff "bad profile $base" "$base.err" "$TMP/err"
        # kiln preseed refuses it the same way and writes no output file
        "$KILN" preseed -o "$TMP/p.cfg" "$f" > /dev/null 2>&1
        rc=$?
        if [ "$rc" -ne 2 ] || [ -e "$TMP/p.cfg" ] || ls "$TMP"/p.cfg.* > /dev/null 2>&1; then
                not_ok "preseed refuses $base" "exit $rc, output $(ls "$TMP")"
        else ok "preseed refuses $base"; fi
done
[ "$n" -ge 30 ] && ok "at least 30 bad profiles ($n)" || not_ok "at least 30 bad profiles" "only $n"
finish
