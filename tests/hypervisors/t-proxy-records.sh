#!/usr/bin/env bash
# What the install's proxy served reaches kiln's result, even when a request is still waiting on
# its upstream as the guest powers off: a busybox guest (MODE=busy) fetches an allowed file 21
# times, asks once for a URL whose upstream never answers, then finishes as an install does.
# (check-e2e's manifest once came back with no files served: the proxy's process, stopping, waited
# on such a request past kiln's wait for its records.)
. "$(dirname "$0")/../lib.sh"
# The mirror is on 127.0.0.1: the operator's own fixture.
KILN=$(kiln_with --allow-private-mirrors)
for t in qemu-system-x86_64 qemu-img cpio; do
        command -v $t > /dev/null || { skip "proxy records" "$t is not installed"; finish; exit 0; }
done
pids=()
trap stop_background EXIT

mkdir -p "$TMP/www/allowed"
echo "hello-from-the-allowed-mirror" > "$TMP/www/allowed/hello.txt"
/usr/bin/python3 "$TOP/tests/helpers/ua-server.py" "$TMP/www" > "$TMP/ports" 2> /dev/null &
pids+=($!)
for _ in $(seq 50); do [ "$(wc -l < "$TMP/ports")" -ge 2 ] && break; sleep 0.1; done
port=$(head -1 "$TMP/ports")
[ -n "$port" ] || { not_ok "start a test HTTP server"; finish; exit; }

bash "$TOP/tests/helpers/busybox-guest.sh" "$TMP/guest" "http://127.0.0.1:$port/allowed/hello.txt" \
        "http://127.0.0.1:$port/denied/secret.txt" "http://10.0.2.2:$port/allowed/hello.txt" busy > "$TMP/guest.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then skip "proxy records" "$(cat "$TMP/guest.log")"; finish; exit 0; fi
[ $rc -eq 0 ] || { not_ok "build the busybox guest" "$(cat "$TMP/guest.log")"; finish; exit; }

busybox_profile busy "http://127.0.0.1:$port/allowed" "$TMP/busy.yaml"
"$KILN" install --cache "$TMP/cache" --accel tcg --timeout 5 --events json -o "$TMP/disk.qcow2" "$TMP/busy.yaml" \
        > "$TMP/events" 2> "$TMP/err"
rc=$?
check_eq "the busy guest's install succeeds" 0 "$rc" "$(tail -3 "$TMP/err")"
con="$TMP/disk.qcow2.d/console.log"
grep -q 'KILN-TEST busy' "$con" && ok "the guest made its requests, one left waiting" || not_ok "the guest made its requests" "$(grep KILN-TEST "$con")"
grep -q '^KILN-TEST direct: failed' "$con" && grep -q '^KILN-TEST tcp22: failed' "$con" &&
        ok "the guest reaches nothing but the proxy (direct HTTP and TCP fail)" || not_ok "direct connections fail" "$(grep KILN-TEST "$con")"
grep -q "GET /allowed/hang" "$TMP/requests.log" && ok "the upstream saw the request it never answers" ||
        not_ok "the upstream saw the hanging request" "$(cat "$TMP/requests.log")"
# Every request the guest finished is in the result: 21 of hello.txt, the denied one.
res=$(tail -1 "$TMP/events")
got=$(/usr/bin/python3 -c 'import json,sys; e=json.loads(sys.argv[1]); p=e.get("proxy",{}); print(e["type"], p.get("requests"), p.get("files"), p.get("refused"), p.get("upstream"))' "$res" 2>&1)
# 21 GETs of a file no verified index lists: each asked of the upstream; the refused one never.
check_eq "the result counts what the proxy served (type requests files refused upstream)" "result 22 21 1 21" "$got"
grep -q "the proxy answered 22 requests: 21 files (.* from the cache), 1 refused; 21 went to the mirror" "$TMP/err" &&
        ok "a notice says the same in words" || not_ok "a notice says what the proxy served" "$(grep proxy "$TMP/err")"
if out=$(/usr/bin/python3 "$TOP/tests/helpers/check-events.py" "$TOP/docs/events.schema.json" "$TMP/events" --last result 2>&1); then
        ok "the events, proxy counts too, pass the schema ($out)"
elif [ $? -eq 77 ]; then
        skip "the events pass the schema" "$out"
else
        not_ok "the events pass the schema" "$out"
fi

finish
