#!/usr/bin/env bash
# kiln serve with builds that get somewhere, through the real `kiln build` path, against the signed
# archive fixture on 127.0.0.1, with the profile library's own files (the mirror's keyring, a test
# installer) and API profiles that only extend it:
# - success: the result store is seeded by kiln finish --store-result on the real Debian image of
#   tests/helpers/debian-fixture.sh, under the key the same profile has through the API; a POSTed
#   profile with that key succeeds (fetch, then reuse): state succeeded, /image in full and by
#   Range with X-Kiln-SHA256, /manifest with the key, the signed webhook, /metrics with the cache's
#   bytes and the proxy's counters as kiln cache stats reads them;
# - the operator's page at /, loaded in headless Chromium (Debian's chromium), long-polling
#   /v1/status with an operator's token: it sees the next build's progress bar move;
# - cancel mid-install: a build whose installer is the busybox guest (it boots under TCG in
#   seconds and hangs), DELETEd while QEMU runs: the guest stops, and no QEMU, run folder, partial
#   disk or build folder is left.
# Uses the fixture: listed in run-tests.sh's uses_fixture (it runs last, one at a time).
. "$(dirname "$0")/../lib.sh"
for t in curl qemu-system-x86_64 qemu-img cpio guestfish mmdebstrap; do
        command -v $t > /dev/null || { skip "serve builds" "$t is not installed"; finish; exit 0; }
done
/usr/bin/python3 -c 'import jsonschema, yaml' 2> /dev/null || { skip "serve builds" "python3-jsonschema or python3-yaml is missing"; finish; exit 0; }
FIX="$TOP/tests/helpers/archive-fixture.py"
fixdir=${KILN_FIXTURE_DIR:-$TOP/build/fixtures}
SPEC="$TOP/docs/api.openapi.yaml"
CHECKAPI="$TOP/tests/helpers/check-api.py"
CHECKEV="$TOP/tests/helpers/check-events.py"
PEER="$TOP/tests/helpers/serve-peer.py"
export KILN_FETCH_RETRIES=1 LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# The appliance libguestfs builds once per cache folder, not in this test's TMPDIR.
export LIBGUESTFS_CACHEDIR=${LIBGUESTFS_CACHEDIR:-/var/tmp}
# kiln's run folders (and so its strays) in a folder of this test's own.
export TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
pids=() # background helpers, started without a shell function between (so that kill reaches them)
server=
trap stop_background EXIT
ROOT_OPT=()
[ "$(id -u)" -eq 0 ] && ROOT_OPT=(--allow-root)
py() { /usr/bin/python3 "$@"; }

# The signed archive on 127.0.0.1, a webhook receiver, the busybox guest.
py "$FIX" keys "$TMP/gnupg" > /dev/null 2>&1 || { not_ok "make test keys"; finish; exit; }
py "$FIX" build "$TMP/archive" --gnupghome "$TMP/gnupg" --variant good 2> "$TMP/build.err" || { not_ok "build the archive fixture" "$(cat "$TMP/build.err")"; finish; exit; }
/usr/bin/python3 "$FIX" serve "$TMP/archive" > "$TMP/port" 2> /dev/null &
pids+=($!)
mkdir -p "$TMP/hooks"
/usr/bin/python3 "$PEER" hook "$TMP/hooks" > "$TMP/hook.port" 2> /dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/port" ] && [ -s "$TMP/hook.port" ] && break; sleep 0.1; done
HOOK=$(cat "$TMP/hook.port")
LIB=$TMP/library
mkdir -p "$LIB"
bash "$TOP/tests/helpers/busybox-guest.sh" "$LIB/guest" http://127.0.0.1:9/a http://127.0.0.1:9/b http://10.0.2.2:9/c hang > "$TMP/guest.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then skip "serve builds" "$(cat "$TMP/guest.log")"; finish; exit 0; fi
[ $rc -eq 0 ] || { not_ok "build the busybox guest" "$(cat "$TMP/guest.log")"; finish; exit; }
bash "$TOP/tests/helpers/busybox-guest.sh" "$LIB/guest-ok" http://127.0.0.1:9/a http://127.0.0.1:9/b http://10.0.2.2:9/c complete > "$TMP/guest.log" 2>&1 ||
        { not_ok "build the busybox guest (complete)" "$(cat "$TMP/guest.log")"; finish; exit; }

# The operator's library: the mirror and its keyring, and a test installer extending it.
cp "$TMP/gnupg/good.asc" "$LIB/fixture.asc"
cat > "$LIB/base.yaml" << X
release: trixie
mirror: http://127.0.0.1:$(cat "$TMP/port")/debian
mirror_keyring: fixture.asc
security: false
bootloader: host
root:
  ssh_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnTestKeyOnlyForTheFixture kiln-test]
X
cat > "$LIB/busybox.yaml" << X
extends: base.yaml
disk: {size: 2G}
vm: {memory: 512M, cpus: 1}
installer: {kernel: guest/vmlinuz, initrd: guest/initrd.gz, extra_args: [rdinit=/init]}
X
cat > "$LIB/busybox-ok.yaml" << X
extends: base.yaml
disk: {size: 2G}
vm: {memory: 512M, cpus: 1}
installer: {kernel: guest-ok/vmlinuz, initrd: guest-ok/initrd.gz, extra_args: [rdinit=/init]}
X
# What tenants post: names no file, only extends the library.
printf 'extends: base.yaml\nname: web\n' > "$TMP/web.yaml"
printf 'extends: busybox.yaml\nname: hang-%s\n' $$ > "$TMP/hang.yaml"
printf 'extends: busybox-ok.yaml\nname: bb-%s\n' $$ > "$TMP/bb.yaml"
UNTRUSTED=(--allow-private-mirrors --untrusted-profile --profile-library "$LIB")
C=(--cache "$TMP/cache")

# --- Seed the result store: kiln finish --store-result of the real Debian image, under the key
# the tenant's profile has (the same flags serve gives its builds).
bash "$TOP/tests/helpers/debian-fixture.sh" "$fixdir" 2> "$TMP/fixture.err"
rc=$?
if [ $rc -eq 77 ]; then skip "serve builds" "THE MIRROR could not serve the fixture's packages: $(head -2 "$TMP/fixture.err" | tr '\n' ' ')"; finish; exit; elif [ $rc -ne 0 ]; then not_ok "the Debian fixture image" "$(tail -5 "$TMP/fixture.err")"; finish; exit; fi
key=$("$KILN" "${UNTRUSTED[@]}" key "${C[@]}" --no-boot-test "$TMP/web.yaml" 2> "$TMP/key.err")
[ -n "$key" ] || { not_ok "kiln key of the tenant's profile" "$(cat "$TMP/key.err")"; finish; exit; }
"$KILN" "${UNTRUSTED[@]}" finish "${C[@]}" --store-result --no-boot-test -o "$TMP/seed.qcow2" "$TMP/web.yaml" "$fixdir/debian.qcow2" > /dev/null 2> "$TMP/seed.err" ||
        { not_ok "kiln finish --store-result seeds the store" "$(tail -5 "$TMP/seed.err")"; finish; exit; }
store=$TMP/cache/results/keys/$key
[ -f "$store/image" ] && ok "the store is seeded under the tenant profile's key (library keyring read)" || { not_ok "seeded" "$(ls "$TMP/cache/results/keys")"; finish; exit; }

# --- The service: the same cache, the library; on a unix socket.
"$KILN" serve --new-token acme > "$TMP/acme.tok" && "$KILN" serve --new-token ops > "$TMP/ops.tok" || { not_ok "--new-token"; finish; exit; }
ACME=$(sed -n 's/^token: //p' "$TMP/acme.tok") OPS=$(sed -n 's/^token: //p' "$TMP/ops.tok")
SECRET=$(sed -n 's/.* secret=\([0-9a-f]*\).*/\1/p' "$TMP/acme.tok")
{ sed -n 3p "$TMP/acme.tok"; echo "$(sed -n 3p "$TMP/ops.tok") operator=yes"; } > "$TMP/tokens"
STATE=$TMP/state
SOCK=$TMP/serve.sock
"$KILN" serve "${ROOT_OPT[@]}" --state-dir "$LIB/state" --tokens "$TMP/tokens" --profile-library "$LIB" --listen "unix:$SOCK" > /dev/null 2> "$TMP/nest.err"
check_eq "a --state-dir inside the library: refused" 2 $?
grep -q "must not contain one another" "$TMP/nest.err" && ok "and says why" || not_ok "nested library message" "$(cat "$TMP/nest.err")"
"$KILN" --allow-private-mirrors --profile-library "$LIB" serve "${ROOT_OPT[@]}" --state-dir "$STATE" --tokens "$TMP/tokens" \
        --listen 127.0.0.1:0 "${C[@]}" --allow-private-callbacks --accel tcg 2> "$TMP/serve.log" &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$TMP/serve.log" && break; sleep 0.1; done
grep -q "listening on" "$TMP/serve.log" || { not_ok "kiln serve starts" "$(cat "$TMP/serve.log")"; finish; exit; }
BASE="http://$(sed -n 's/.*listening on \(127.0.0.1:[0-9]*\).*/\1/p' "$TMP/serve.log")"
api_bad=()
api() { # METHOD TEMPLATE PATH [curl args]: $code, $TMP/body, checked against the OpenAPI file
        local method=$1 tmpl=$2 path=$3 out ctype
        shift 3
        code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" "$@" "$BASE$path")
        ctype=$(sed -n 's/^[Cc]ontent-[Tt]ype: *//p' "$TMP/headers" | tr -d '\r' | tail -1)
        out=$(py "$CHECKAPI" "$SPEC" "$method" "$tmpl" "$code" "$ctype" "$TMP/body" "$TMP/headers" 2>&1) || api_bad+=("$out")
}
jq_() { py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/body" "$1"; }
header() { sed -n "s/^$1: *//Ip" "$TMP/headers" | tr -d '\r'; }
AUTH="Authorization: Bearer $ACME"
wait_state() { # ID SECONDS STATE
        for _ in $(seq $(($2 * 5))); do
                api GET "/v1/builds/{id}" "/v1/builds/$1" -H "$AUTH"
                [ "$(jq_ 'd["state"]')" == "$3" ] && return 0
                sleep 0.2
        done
        return 1
}
post() { # PROFILE-FILE: a JSON request without the boot test (the seeded key has none)
        local body
        body=$(py -c 'import json,sys; print(json.dumps({"profile": open(sys.argv[1]).read(), "boot_test": False, "callback_url": sys.argv[2]}))' "$1" "http://127.0.0.1:$HOOK/kiln")
        api POST /v1/builds /v1/builds -H "$AUTH" -H "Content-Type: application/json" --data-binary "$body"
}

# --- Success through the API.
post "$TMP/web.yaml"
check_eq "POST the tenant's profile: 201" 201 "$code"
ID=$(jq_ 'd["id"]')
wait_state "$ID" 120 succeeded && ok "the build succeeds" || not_ok "succeeded" "$(cat "$TMP/body")" "$(tail -5 "$STATE/builds/$ID/kiln.log" 2> /dev/null)"
check_eq "state, stage, format" "succeeded reuse qcow2 None" "$(jq_ '"%s %s %s %s" % (d["state"], d["stage"], d["format"], d.get("error"))')"
api GET "/v1/builds/{id}/events" "/v1/builds/$ID/events" -H "$AUTH" -H "Accept: application/x-ndjson"
out=$(py "$CHECKEV" "$TOP/docs/events.schema.json" "$TMP/body" --last result 2>&1) && ok "its events: $out, the result last" || not_ok "events" "$out"
check_eq "stages: fetch, then reuse (no install)" "fetch reuse" "$(py -c 'import json,sys; print(" ".join(e["stage"] for e in map(json.loads, open(sys.argv[1])) if e["type"] == "stage"))' "$TMP/body")"
py -c 'import json,sys; k=[e for e in map(json.loads, open(sys.argv[1])) if e.get("notice") == "key"][0]; assert k["reused"] and k["key"] == sys.argv[2]' "$TMP/body" "$key" &&
        ok "the key notice: reused, the seeded key" || not_ok "key notice" "$(cat "$TMP/body")"
api GET "/v1/builds/{id}/image" "/v1/builds/$ID/image" -H "$AUTH"
want=$(sha256sum < "$store/image" | cut -d' ' -f1)
check_eq "/image: 200, the stored image's bytes" "200 $want" "$code $(sha256sum < "$TMP/body" | cut -d' ' -f1)"
check_eq "X-Kiln-SHA256 is its sha256" "$want" "$(header X-Kiln-SHA256)"
check_eq "Accept-Ranges: bytes" bytes "$(header Accept-Ranges)"
size=$(stat -c %s "$store/image")
api GET "/v1/builds/{id}/image" "/v1/builds/$ID/image" -H "$AUTH" -r 1000-1999
check_eq "Range 1000-1999: 206, Content-Range, those bytes" "206 bytes 1000-1999/$size $(tail -c +1001 "$store/image" | head -c 1000 | sha256sum | cut -d' ' -f1)" \
        "$code $(header Content-Range) $(sha256sum < "$TMP/body" | cut -d' ' -f1)"
api GET "/v1/builds/{id}/image" "/v1/builds/$ID/image" -H "$AUTH" -r "$((size - 10))-"
check_eq "an open Range at the end: the last 10 bytes" "206 10" "$code $(stat -c %s "$TMP/body")"
api GET "/v1/builds/{id}/image" "/v1/builds/$ID/image" -H "$AUTH" -r "$((size + 5))-"
check_eq "a Range past the end: 416" 416 "$code"
api GET "/v1/builds/{id}/manifest" "/v1/builds/$ID/manifest" -H "$AUTH"
check_eq "/manifest: the key, reused, the image's sha256" "200 $key $key $want" "$code $(jq_ '"%s %s %s" % (d["build_key"]["sha256"], d["reused"]["key"], d["image"]["sha256"])')"
for _ in $(seq 100); do [ -s "$TMP/hooks/1.body" ] && break; sleep 0.1; done
if [ -s "$TMP/hooks/1.body" ]; then
        sig=$(sed -n 's/^X-Kiln-Signature: sha256=//p' "$TMP/hooks/1.headers" | tr -d '\r')
        hm=$(py -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).hexdigest())' "$SECRET" "$TMP/hooks/1.body")
        check_eq "webhook: signed with the tenant's secret" "$hm" "$sig"
        check_eq "webhook: succeeded, with the image link" "$ID succeeded /v1/builds/$ID/image" \
                "$(py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["id"], d["state"], d["links"]["image"])' "$TMP/hooks/1.body")"
else
        not_ok "the result webhook is delivered" "$(grep webhook "$TMP/serve.log")"
fi

# /metrics: the shared cache, as kiln cache stats reads it.
"$KILN" cache "${C[@]}" stats > "$TMP/stats" 2>&1
api GET /metrics /metrics
h=$(sed -n 's/^kiln_proxy_cache_hits_total //p' "$TMP/body") m=$(sed -n 's/^kiln_proxy_cache_misses_total //p' "$TMP/body")
check_eq "/metrics: the proxy's hits and misses, as kiln cache stats" "$(sed -n 's/^proxy: *\([0-9]*\) hits, \([0-9]*\) misses.*/\1 \2/p' "$TMP/stats")" "$h $m"
check_eq "/metrics: one stored result" 1 "$(sed -n 's/^kiln_cache_entries{kind="results"} //p' "$TMP/body")"
fb=$(sed -n 's/^kiln_cache_bytes{kind="files"} //p' "$TMP/body") rb=$(sed -n 's/^kiln_cache_bytes{kind="results"} //p' "$TMP/body")
# (the disk the stored image takes: the result store copies only its data, holes stay holes)
alloc=$(($(stat -c %b "$store/image") * 512))
[ "${fb:-0}" -gt 0 ] && [ "$rb" -ge "$alloc" ] 2> /dev/null && ok "/metrics: the cache's bytes (files $fb, results $rb)" || not_ok "cache bytes" "$(grep '^kiln_cache' "$TMP/body")"
grep -q '^kiln_builds{state="succeeded"} 1$' "$TMP/body" && grep -q '^kiln_build_duration_seconds_count{state="succeeded"} 1$' "$TMP/body" &&
        ok "/metrics: the succeeded build and its duration" || not_ok "metrics builds" "$(grep '^kiln_build' "$TMP/body")"

# --- The operator's page: static, strict about what it loads; its data needs an operator's token.
api GET / /
check_eq "GET /: the page, HTML" "200 text/html; charset=utf-8" "$code $(header Content-Type)"
header Content-Security-Policy | grep -q "default-src 'none'" && ! grep -qi 'src="http\|href="http' "$TMP/body" &&
        ok "the page loads nothing from elsewhere (CSP default-src 'none')" || not_ok "page CSP" "$(cat "$TMP/headers")"
api GET /v1/status /v1/status -H "$AUTH"
check_eq "/v1/status with a tenant's token: 403" 403 "$code"
api GET /v1/status /v1/status -H "Authorization: Bearer $OPS"
check_eq "/v1/status with the operator's: every build, the succeeded one at 100" "200 $ID succeeded 100" \
        "$code $(jq_ '" ".join("%s %s %d" % (b["id"], b["state"], b["progress"]) for b in d["builds"])')"
TAG=$(jq_ 'd["tag"]')
s0=$(date +%s)
api GET /v1/status "/v1/status?since=$TAG&wait=2" -H "Authorization: Bearer $OPS"
check_eq "?since=TAG with no change: waits, then the same tag" "200 $TAG 1" "$code $(jq_ 'd["tag"]') $(($(date +%s) - s0 >= 2))"
# Headless Chromium on the page; it runs its long-poll in real time (virtual time stands still
# while a request is pending) and ends when its few virtual seconds between polls are spent.
chr=
if command -v chromium > /dev/null; then
        timeout 180 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$TMP/chromium" --virtual-time-budget=1500 \
                --dump-dom "$BASE/#token=$OPS" > "$TMP/dom.html" 2> "$TMP/chromium.err" &
        chr=$!
        pids+=("$chr")
        for _ in $(seq 600); do curl -s "$BASE/metrics" | grep -q '^kiln_status_waiting 1$' && break; sleep 0.1; done
        curl -s "$BASE/metrics" | grep -q '^kiln_status_waiting 1$' && ok "Chromium loads the page, which waits on /v1/status" ||
                not_ok "the page in Chromium waits on /v1/status" "$(tail -3 "$TMP/chromium.err")"
else
        skip "the status page in a browser" "chromium is not installed (apt-get install chromium)"
fi

# --- Cancel mid-install, the guest running.
post "$TMP/hang.yaml"
check_eq "POST a profile extending the library's test installer: 201" 201 "$code"
HID=$(jq_ 'd["id"]')
console=$STATE/builds/$HID/work/console.log
for _ in $(seq 900); do grep -q 'KILN-TEST hang' "$console" 2> /dev/null && break; sleep 0.2; done
if grep -q 'KILN-TEST hang' "$console" 2> /dev/null; then
        ok "the install stage boots the guest"
else
        not_ok "the guest comes up" "$(tail -5 "$STATE/builds/$HID/kiln.log" 2> /dev/null)"
fi
api GET "/v1/builds/{id}" "/v1/builds/$HID" -H "$AUTH"
check_eq "the build is running, in the install stage" "running install" "$(jq_ '"%s %s" % (d["state"], d["stage"])')"
qpid=$(pgrep -f "kiln-hang-$$ ")
[ -n "$qpid" ] && ok "its QEMU runs (pid $qpid)" || not_ok "QEMU of the build"
runs=$(ls -d "$TMPDIR"/kiln-run-* 2> /dev/null)
[ -n "$runs" ] && ok "with its run folder" || not_ok "a run folder while it runs"
t0=$(date +%s)
api DELETE "/v1/builds/{id}" "/v1/builds/$HID" -H "$AUTH"
check_eq "DELETE mid-install: 202" 202 "$code"
wait_state "$HID" 30 cancelled && ok "it ends cancelled ($(($(date +%s) - t0)) s)" || not_ok "cancelled" "$(cat "$TMP/body")"
for _ in $(seq 50); do [ -n "$qpid" ] && kill -0 "$qpid" 2> /dev/null || break; sleep 0.1; done
left=""
[ -n "$qpid" ] && kill -0 "$qpid" 2> /dev/null && left="$left qemu"
pgrep -f "kiln-hang-$$ " > /dev/null && left="$left qemu($(pgrep -f "kiln-hang-$$ "))"
pgrep -f -- "--build-id $HID" > /dev/null && left="$left kiln-build"
ls -d "$TMPDIR"/kiln-* > /dev/null 2>&1 && left="$left $(ls -d "$TMPDIR"/kiln-*)"
[ -e "$STATE/builds/$HID" ] && left="$left $(find "$STATE/builds/$HID" | head -5 | tr '\n' ' ')"
check_eq "the guest stopped, nothing left (QEMU, kiln build, run folder, partial disk, build folder)" "" "$left"
if [ -n "$chr" ]; then
        wait "$chr"
        seen=$(py "$TOP/tests/helpers/status-dom.py" "$TMP/dom.html" "$HID")
        py -c 'import sys; v=[int(x) for x in sys.argv[1].split(",")]; assert len(v) >= 2 and v == sorted(v) and v[-1] > v[0]' "$seen" 2> /dev/null &&
                ok "in Chromium, the build's progress bar moved ($seen %)" || not_ok "the progress bar moves in Chromium" "seen: '$seen'" "$(head -c 1500 "$TMP/dom.html")"
fi
api GET "/v1/builds/{id}" "/v1/builds/$ID" -H "$AUTH"
check_eq "the succeeded build is untouched" "succeeded" "$(jq_ 'd["state"]')"

# --- A real guest to completion (install_only: the busybox guest runs the installer's steps to
# finish-install and powers off), its events followed live as they come, then resumed.
body=$(py -c 'import json,sys; print(json.dumps({"profile": open(sys.argv[1]).read(), "install_only": True, "format": "vmdk"}))' "$TMP/bb.yaml")
api POST /v1/builds /v1/builds -H "$AUTH" -H "Content-Type: application/json" --data-binary "$body"
check_eq "install_only with format vmdk: 422" 422 "$code"
body=$(py -c 'import json,sys; print(json.dumps({"profile": open(sys.argv[1]).read(), "install_only": True}))' "$TMP/bb.yaml")
api POST /v1/builds /v1/builds -H "$AUTH" -H "Content-Type: application/json" --data-binary "$body"
check_eq "POST an install_only build of the busybox installer: 201" 201 "$code"
BID=$(jq_ 'd["id"]')
# Live: the stream opened while the build is queued or starting ends when the build does.
timeout 300 curl -sN -H "$AUTH" -H "Accept: application/x-ndjson" "$BASE/v1/builds/$BID/events" > "$TMP/live.ndjson" &
live=$!
pids+=("$live")
live_mid=""
for _ in $(seq 1500); do
        [ -z "$live_mid" ] && grep -q '"type":"step"' "$TMP/live.ndjson" 2> /dev/null && api GET "/v1/builds/{id}" "/v1/builds/$BID" -H "$AUTH" &&
                live_mid=$(jq_ 'd["state"]')
        kill -0 "$live" 2> /dev/null || break
        sleep 0.2
done
wait "$live"
check_eq "the live stream had the installer's steps while the build ran" running "$live_mid"
api GET "/v1/builds/{id}" "/v1/builds/$BID" -H "$AUTH"
check_eq "the guest ran to the end: succeeded, install_only" "succeeded True" "$(jq_ '"%s %s" % (d["state"], d["install_only"])')"
[ "$(jq_ 'd["state"]')" = succeeded ] || not_ok "the install_only build's log" "$(tail -5 "$STATE/builds/$BID/kiln.log" 2> /dev/null)"
n=$(jq_ 'd["events"]')
printf '%s\n' "$(grep -v '^$' "$TMP/live.ndjson")" > "$TMP/live.events"
out=$(py "$CHECKEV" "$TOP/docs/events.schema.json" "$TMP/live.events" --last result 2>&1) && ok "the live stream: $out, the result last" || not_ok "live events" "$out"
check_eq "the live stream held every stored event" "$n" "$(grep -c . "$TMP/live.events")"
grep -q '"step":"finish-install"' "$TMP/live.events" && ok "among them the installer's finish-install, from the guest's syslog" ||
        not_ok "finish-install in the events" "$(grep '"type":"step"' "$TMP/live.events" | tail -3)"
api GET "/v1/builds/{id}/events" "/v1/builds/$BID/events?after=3" -H "$AUTH" -H "Accept: application/x-ndjson"
check_eq "resumed after event 3: the rest, the same events" "$(tail -n +4 "$TMP/live.events" | sha256sum)" "$(grep -v '^$' "$TMP/body" | sha256sum)"
api GET "/v1/builds/{id}/events" "/v1/builds/$BID/events" -H "$AUTH" -H "Last-Event-ID: $((n - 1))"
check_eq "resumed by Last-Event-ID (SSE): the last event, the result" "1 result" "$(grep -c '^data:' "$TMP/body") $(sed -n 's/^event: //p' "$TMP/body" | tr -d '\r')"
api GET "/v1/builds/{id}/image" "/v1/builds/$BID/image" -H "$AUTH"
check_eq "/image: the installed disk, its sha256 as X-Kiln-SHA256" "200 $(header X-Kiln-SHA256)" "$code $(sha256sum < "$TMP/body" | cut -d' ' -f1)"
qemu-img info "$TMP/body" 2> /dev/null | grep -q '^file format: qcow2' && ok "the disk is a qcow2" || not_ok "the disk is a qcow2"
api GET "/v1/builds/{id}/manifest" "/v1/builds/$BID/manifest" -H "$AUTH"
check_eq "/manifest of an install_only build: 404 (nothing finished it)" 404 "$code"

kill "$server"
wait "$server"
check_eq "SIGTERM: kiln serve exits 0" 0 $?
server=
check_eq "every response matched docs/api.openapi.yaml" "" "${api_bad[*]}"
finish
