#!/usr/bin/env bash
# The command line: help, version, usage errors and exit codes.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

"$KILN" --help > "$TMP/out" 2>&1; check_eq "kiln --help exits 0" 0 $?
grep -q '^  validate ' "$TMP/out" && grep -q '^  preseed ' "$TMP/out" &&
        ok "--help lists the commands" || not_ok "--help lists the commands" "$(cat "$TMP/out")"
check_eq "kiln --version" "kiln $(sed -n 's/^VERSION *:= *//p' Makefile)" "$("$KILN" --version)"
for cmd in validate preseed fetch install boot-test proxy; do
        "$KILN" "$cmd" --help > "$TMP/out" 2>&1
        rc=$?
        [ "$rc" -eq 0 ] && grep -q "^Usage: kiln $cmd" "$TMP/out" && ok "kiln $cmd --help" || not_ok "kiln $cmd --help" "exit $rc"
        "$KILN" help "$cmd" | grep -q "^Usage: kiln $cmd" && ok "kiln help $cmd" || not_ok "kiln help $cmd"
done
"$KILN" > /dev/null 2>&1; check_eq "no command exits 2" 2 $?
"$KILN" frobnicate 2> "$TMP/err"; check_eq "unknown command exits 2" 2 $?
check_eq "unknown command message" "kiln: unknown command 'frobnicate'; run 'kiln --help'" "$(cat "$TMP/err")"
"$KILN" validate 2> "$TMP/err"; check_eq "validate without profile exits 2" 2 $?
"$KILN" preseed a.yaml b.yaml 2> /dev/null; check_eq "preseed with two profiles exits 2" 2 $?
"$KILN" validate --bogus x 2> /dev/null; check_eq "unknown option exits 2" 2 $?
"$KILN" validate nonexistent.yaml 2> "$TMP/err"; check_eq "missing file exits 2" 2 $?
check_eq "missing file message" "kiln: nonexistent.yaml: cannot read: No such file or directory" "$(cat "$TMP/err")"

# validate reports every bad profile and still checks the good ones
"$KILN" validate profiles/minimal.yaml tests/profiles/bad/missing-name.yaml profiles/web.yaml > "$TMP/out" 2> "$TMP/err"
check_eq "validate mixed exits 2" 2 $?
check_eq "validate mixed: good ones ok" 2 "$(grep -c ': ok ' "$TMP/out")"
grep -q "missing-name.yaml: missing required key 'name'" "$TMP/err" && ok "validate mixed: bad one reported" || not_ok "validate mixed: bad one reported"

# preseed -o writes atomically and exactly what stdout would have shown
"$KILN" preseed profiles/web.yaml > "$TMP/stdout.cfg" 2> /dev/null
"$KILN" preseed -o "$TMP/out.cfg" profiles/web.yaml 2> /dev/null; check_eq "preseed -o exits 0" 0 $?
cmp -s "$TMP/stdout.cfg" "$TMP/out.cfg" && ok "preseed -o matches stdout" || not_ok "preseed -o matches stdout"
"$KILN" preseed -o "$TMP/nodir/out.cfg" profiles/web.yaml 2> "$TMP/err"; check_eq "preseed -o to a missing folder exits 1" 1 $?

# the man page is well-formed and names every command
if command -v man > /dev/null; then
        MANWIDTH=80 man -l builder/cli/kiln.1 2> "$TMP/err" > "$TMP/man" </dev/null
        [ ! -s "$TMP/err" ] && grep -q validate "$TMP/man" && grep -q preseed "$TMP/man" &&
                ok "man page renders" || not_ok "man page renders" "$(head -3 "$TMP/err")"
else
        skip "man page renders" "man is not installed"
fi

# make install puts the binary and the man page where asked
# (-o: install what the suite runs, never rebuild it with other flags)
make -s -o "$KILN" install PREFIX=/usr DESTDIR="$TMP/root" BUILD="$(dirname "$KILN")" > /dev/null 2>&1
[ -x "$TMP/root/usr/bin/kiln" ] && [ -f "$TMP/root/usr/share/man/man1/kiln.1" ] &&
        ok "make install PREFIX DESTDIR" || not_ok "make install PREFIX DESTDIR" "$(find "$TMP/root" | head)"
finish
