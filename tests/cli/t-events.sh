#!/usr/bin/env bash
# The typed event stream (docs/events.md): a build that fails, through --events json and through
# --events-fd, emits only events that pass docs/events.schema.json, each with v, time and type,
# the error last with its whole chain. (The stream of a build that succeeds: t-finish.sh.)
. "$(dirname "$0")/../lib.sh"
FIX="$TOP/tests/helpers/archive-fixture.py"
CHECK="$TOP/tests/helpers/check-events.py"
SCHEMA="$TOP/docs/events.schema.json"
/usr/bin/python3 -c 'import jsonschema' 2> /dev/null || { skip "event stream" "python3-jsonschema is not installed"; finish; exit 0; }
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
export KILN_FETCH_RETRIES=1
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
python3 "$FIX" keys "$TMP/gnupg" > /dev/null 2>&1 || { not_ok "make test keys"; finish; exit; }
python3 "$FIX" build "$TMP/archive" --gnupghome "$TMP/gnupg" --variant stale-no-byhash > /dev/null 2>&1 || { not_ok "build fixture"; finish; exit; }
python3 "$FIX" serve "$TMP/archive" > "$TMP/port" 2> /dev/null &
server=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
printf 'name: ev\nrelease: trixie\nmirror: http://127.0.0.1:%s/debian\nmirror_keyring: %s\nsecurity: false\n' \
        "$(cat "$TMP/port")" "$TMP/gnupg/good.asc" > "$TMP/ev.yaml"

"$KILN" build --cache "$TMP/cache" --events json -o "$TMP/ev.qcow2" "$TMP/ev.yaml" > "$TMP/ev.jsonl" 2> "$TMP/ev.err"
check_eq "a failing build exits 1" 1 $?
out=$(/usr/bin/python3 "$CHECK" "$SCHEMA" "$TMP/ev.jsonl" --last error 2>&1) && ok "--events json: $out, the error last" ||
        not_ok "--events json: every event passes the schema" "$out"
/usr/bin/python3 - "$TMP/ev.jsonl" <<'PY' && ok "the error event carries the whole chain, one build id throughout" || not_ok "error chain" "$(tail -1 "$TMP/ev.jsonl")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
err = ev[-1]
assert err["type"] == "error" and err["chain"] and "out of sync" in err["message"], err
assert len({e["build"] for e in ev}) == 1
assert [e["stage"] for e in ev if e["type"] == "stage"][0] == "fetch"
PY
[ ! -e "$TMP/ev.qcow2" ] && ok "nothing written" || not_ok "a failed build wrote its output"

# --events-fd: the stream on its own descriptor, stdout empty, the display for people on stderr.
"$KILN" build --cache "$TMP/cache" --events-fd 3 --build-id job-42 -o "$TMP/fd.qcow2" "$TMP/ev.yaml" 3> "$TMP/fd.jsonl" > "$TMP/fd.out" 2> "$TMP/fd.err"
check_eq "--events-fd: exits 1 as well" 1 $?
out=$(/usr/bin/python3 "$CHECK" "$SCHEMA" "$TMP/fd.jsonl" --last error 2>&1) && ok "--events-fd 3: $out" || not_ok "--events-fd: schema" "$out"
check_eq "--events-fd: nothing on stdout" "" "$(cat "$TMP/fd.out")"
grep -q "kiln: \[1/" "$TMP/fd.err" && ok "--events-fd: the stages still shown on stderr" || not_ok "--events-fd: stderr display" "$(cat "$TMP/fd.err")"
check_eq "--build-id: carried by every event" "job-42" "$(/usr/bin/python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["build"] for l in open(sys.argv[1])})))' "$TMP/fd.jsonl")"
"$KILN" build --events-fd 1 -o "$TMP/x.qcow2" "$TMP/ev.yaml" > /dev/null 2> "$TMP/bad.err"
check_eq "--events-fd 1: a usage error" 2 $?
"$KILN" build --build-id 'Bad ID' -o "$TMP/x.qcow2" "$TMP/ev.yaml" > /dev/null 2> "$TMP/bad.err"
check_eq "--build-id with a space: a usage error" 2 $?
finish
