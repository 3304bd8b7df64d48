#!/usr/bin/env bash
# bench/build's report (bench/report.py) on recorded events (tests/bench/recorded: a cold and a
# warm kiln build's --events-fd stream in docs/events.md's format, and a bare run's seconds): the
# per-step seconds, the totals and the goals' verdicts; and the installer's own steps from the
# syslogs the runs leave (cold's as kiln build copies it out, bare's as kiln inspect does, warm's
# missing), one column each. No install runs here.
. "$(dirname "$0")/../lib.sh"
R=$TOP/tests/bench/recorded
/usr/bin/python3 "$TOP/bench/report.py" "$R" --json "$TMP/r.json" > "$TMP/out" 2> "$TMP/err"
check_eq "the report runs" 0 "$?"
grep -q '^pkgsel  *400.0  *200.0$' "$TMP/out" && ok "a step's seconds, cold and warm" || not_ok "step seconds" "$(cat "$TMP/out" "$TMP/err")"
grep -q '^finish-install  *140.0  *70.0$' "$TMP/out" && ok "the last step ends at the next stage" || not_ok "last step" "$(cat "$TMP/out")"
grep -q '^cold  *1430.0  *1320.0  *100.0$' "$TMP/out" && ok "cold: total, install, post-install" || not_ok "cold totals" "$(cat "$TMP/out")"
grep -q '^cold install / bare install  *0.78  goal <= 0.75  NOT met$' "$TMP/out" && ok "a goal not met says so" || not_ok "goal verdict" "$(cat "$TMP/out")"
grep -q '^warm total / cold total  *0.54  goal <= 0.60  met$' "$TMP/out" && ok "a goal met says so" || not_ok "warm goal" "$(cat "$TMP/out")"
grep -q '^bootstrap-base  *600.0  *-  *720.0  *0.83$' "$TMP/out" && ok "installer steps from the syslogs, side by side, a run without one '-'" ||
        not_ok "installer steps" "$(cat "$TMP/out")"
grep -q '^finish-install  *140.0  *-  *180.0  *0.78$' "$TMP/out" && ok "the last installer step ends at the syslog's last line (across a new year)" ||
        not_ok "last installer step" "$(cat "$TMP/out")"
check_eq "the JSON holds bare's installer steps" "download-installer partman-base bootstrap-base pkgsel finish-install" \
        "$(/usr/bin/python3 -c 'import json,sys; print(*[s[0] for s in json.load(open(sys.argv[1]))["runs"]["bare"]["installer_steps"]])' "$TMP/r.json")"
grep -q '^cold  *416  *0  *415  *1$' "$TMP/out" && grep -q '^warm  *416  *405  *3  *1$' "$TMP/out" &&
        ok "the proxy's requests: cached, upstream (its own count, else neither cached nor refused), refused" ||
        not_ok "proxy counts" "$(cat "$TMP/out")"
grep -q '^bare2  *1500.0  *1500.0  *0.0$' "$TMP/out" && grep -q '^warm install / bare2 install  *0.44  (side by side)$' "$TMP/out" &&
        ok "the second bare run, beside warm, and warm against it" || not_ok "bare2" "$(cat "$TMP/out")"
check_eq "the JSON holds the goals" "False True True False" \
        "$(/usr/bin/python3 -c 'import json,sys; print(*[g["met"] for g in json.load(open(sys.argv[1]))["goals"]])' "$TMP/r.json")"
# A failed build is reported as such, not as numbers.
mkdir "$TMP/f" && cp -r "$R"/* "$TMP/f/" && grep -v '"result"' "$R/warm.events" > "$TMP/f/warm.events"
printf '%s\n' '{"v":1,"time":"2026-12-01T10:00:00.000Z","type":"error","build":"b","message":"x","error":"install: boom"}' >> "$TMP/f/warm.events"
/usr/bin/python3 "$TOP/bench/report.py" "$TMP/f" > /dev/null 2> "$TMP/ferr"
[ $? -ne 0 ] && grep -q 'warm.events: the build did not succeed: install: boom' "$TMP/ferr" && ok "a failed run stops the report with its error" ||
        not_ok "failed run" "$(cat "$TMP/ferr")"
finish
