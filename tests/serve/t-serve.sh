#!/usr/bin/env bash
# kiln serve, driven with curl: a real server on a unix socket and then on 127.0.0.1, its real
# SQLite file, real child 'kiln build' processes. 401 and cross-tenant 404, 422 with every error
# located and nothing queued, untrusted profiles (no host files, no extends without a library),
# 429 with Retry-After, a build that fails fast with its error, its events as SSE and NDJSON with
# resume (checked against docs/events.schema.json), cancel of a running build with nothing left,
# SIGKILL of the service with builds running and queued (requeued once, still there), the webhook
# with a valid HMAC on a receiver on 127.0.0.1, /v1/health and /metrics; every response checked
# against docs/api.openapi.yaml. Builds that succeed, the status page in Chromium and a cancel with
# the guest running are in t-serve-build.sh (it needs the Debian fixture).
. "$(dirname "$0")/../lib.sh"
command -v curl > /dev/null || { skip "serve" "curl is not installed"; finish; exit 0; }
/usr/bin/python3 -c 'import jsonschema, yaml' 2> /dev/null || { skip "serve" "python3-jsonschema or python3-yaml is missing"; finish; exit 0; }
SPEC="$TOP/docs/api.openapi.yaml"
CHECKAPI="$TOP/tests/helpers/check-api.py"
CHECKEV="$TOP/tests/helpers/check-events.py"
EVSCHEMA="$TOP/docs/events.schema.json"
PEER="$TOP/tests/helpers/serve-peer.py"
export KILN_FETCH_RETRIES=0
pids=()
server=
trap stop_background EXIT
ROOT_OPT=()
[ "$(id -u)" -eq 0 ] && ROOT_OPT=(--allow-root)

# Tenants: acme (one build at a time, two queued), other.
"$KILN" serve --new-token acme > "$TMP/acme.tok" && "$KILN" serve --new-token other > "$TMP/other.tok" ||
        { not_ok "kiln serve --new-token"; finish; exit; }
ACME=$(sed -n 's/^token: //p' "$TMP/acme.tok") OTHER=$(sed -n 's/^token: //p' "$TMP/other.tok")
SECRET=$(sed -n 's/.* secret=\([0-9a-f]*\).*/\1/p' "$TMP/acme.tok")
{ echo "# test tenants"; sed -n 3p "$TMP/acme.tok" | sed 's/running=2 queued=10/running=1 queued=2/'; sed -n 3p "$TMP/other.tok"; } > "$TMP/tokens"
check_eq "--new-token: a token and its hashed line" "$(printf %s "$ACME" | sha256sum | cut -d' ' -f1)" "$(sed -n 2p "$TMP/tokens" | cut -d' ' -f2)"

python3 "$PEER" hang > "$TMP/hang.port" 2> /dev/null &
pids+=($!)
mkdir -p "$TMP/hooks"
python3 "$PEER" hook "$TMP/hooks" > "$TMP/hook.port" 2> /dev/null &
pids+=($!)
for _ in $(seq 50); do [ -s "$TMP/hang.port" ] && [ -s "$TMP/hook.port" ] && break; sleep 0.1; done
HANG=$(cat "$TMP/hang.port") HOOK=$(cat "$TMP/hook.port")

STATE="$TMP/state"
start_server() { # LISTEN
        : > "$TMP/serve.log"
        "$KILN" --allow-private-mirrors serve "${ROOT_OPT[@]}" --state-dir "$STATE" --tokens "$TMP/tokens" \
                --listen "$1" --max-running 2 --allow-private-callbacks --max-body 64 --max-streams 8 2>> "$TMP/serve.log" &
        server=$!
        for _ in $(seq 100); do grep -q "listening on" "$TMP/serve.log" && return 0; sleep 0.1; done
        return 1
}
api_bad=()
# api METHOD TEMPLATE PATH [curl args]: $code and $TMP/body; the response checked against the OpenAPI file.
api() {
        local method=$1 tmpl=$2 path=$3 out ctype
        shift 3
        code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "${CURL[@]}" -X "$method" "$@" "$BASE$path")
        ctype=$(sed -n 's/^[Cc]ontent-[Tt]ype: *//p' "$TMP/headers" | tr -d '\r' | tail -1)
        out=$(/usr/bin/python3 "$CHECKAPI" "$SPEC" "$method" "$tmpl" "$code" "$ctype" "$TMP/body" "$TMP/headers" 2>&1) ||
                api_bad+=("$out")
}
jq_() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/body" "$1"; }
auth() { echo "Authorization: Bearer $1"; }
yaml() { echo "Content-Type: application/yaml"; }
# wait_state TOKEN ID STATE...: poll until the build is in one of the states (30 s).
wait_state() {
        local tok=$1 id=$2 s
        shift 2
        for _ in $(seq 150); do
                api GET "/v1/builds/{id}" "/v1/builds/$id" -H "$(auth "$tok")"
                s=$(jq_ 'd["state"]')
                for want in "$@"; do [ "$s" == "$want" ] && return 0; done
                sleep 0.2
        done
        return 1
}
profile() { printf 'name: api\nrelease: trixie\nmirror: http://127.0.0.1:%s/debian\nsecurity: false\n' "$1"; }

# ---- the library's own files: what kiln serve's builds run with (--untrusted-profile) ----
# The library's profiles are the operator's: a keyring they name beneath the library is read; the
# untrusted profile names none, not even from inside the library; the library's paths stay in it.
if python3 "$TOP/tests/helpers/archive-fixture.py" keys "$TMP/gnupg" > /dev/null 2>&1; then
        L=$TMP/lib
        mkdir -p "$L/sub" "$TMP/t"
        cp "$TMP/gnupg/good.asc" "$L/sub/k.asc"
        printf 'release: trixie\nmirror: http://127.0.0.1:9/debian\nmirror_keyring: sub/k.asc\nsecurity: false\n' > "$L/base.yaml"
        printf 'mirror_keyring: ../outside.asc\n' > "$L/escape.yaml"
        cp "$TMP/gnupg/good.asc" "$TMP/outside.asc"
        untrusted() { "$KILN" --allow-private-mirrors --untrusted-profile --profile-library "$L" validate "$1" > /dev/null 2> "$TMP/u.err"; }
        printf 'extends: base.yaml\nname: t\n' > "$TMP/t/p.yaml"
        untrusted "$TMP/t/p.yaml"
        check_eq "an API profile extending a library profile whose keyring is beneath the library: valid" 0 $?
        printf 'extends: base.yaml\nname: t\nmirror_keyring: ../lib/sub/k.asc\n' > "$TMP/t/own.yaml"
        untrusted "$TMP/t/own.yaml"
        check_eq "the API profile naming a file itself: refused" "2 1" "$? $(grep -c 'may name no files' "$TMP/u.err")"
        printf 'extends: base.yaml\nname: t\nmirror_keyring: sub/k.asc\n' > "$L/inside.yaml"
        untrusted "$L/inside.yaml"
        check_eq "an API profile that lies in the library still names no file" "2 1" "$? $(grep -c 'may name no files' "$TMP/u.err")"
        # Regression: a tenant's profile.yaml extending the library's profile.yaml (the same name
        # shown for both, as in serve's builds/ID/profile.yaml) does not pass for the library's.
        cp "$L/base.yaml" "$L/profile.yaml"
        printf 'extends: profile.yaml\nname: t\nmirror_keyring: sub/k.asc\n' > "$TMP/t/profile.yaml"
        untrusted "$TMP/t/profile.yaml"
        check_eq "an API profile.yaml extending the library's profile.yaml names no file either" "2 1" "$? $(grep -c 'may name no files' "$TMP/u.err")"
        printf 'extends: escape.yaml\nname: t\nrelease: trixie\nsecurity: false\n' > "$TMP/t/esc.yaml"
        untrusted "$TMP/t/esc.yaml"
        check_eq "a library profile's path that leads out of the library: refused, nothing of it shown" "2 1" "$? $(grep -c 'does not load as a profile' "$TMP/u.err")"
else
        skip "the library's own files" "gpg cannot make test keys"
fi

# ---- on a unix socket ----
SOCK="$TMP/serve.sock"
if [ "$(id -u)" -eq 0 ]; then
        "$KILN" serve --state-dir "$STATE" --tokens "$TMP/tokens" --listen "unix:$SOCK" > /dev/null 2> "$TMP/root.err"
        check_eq "refuses to run as root without --allow-root" 2 $?
fi
"$KILN" serve "${ROOT_OPT[@]}" --state-dir "$STATE" --tokens "$TMP/tokens" --listen 0.0.0.0:0 > /dev/null 2> "$TMP/tls.err"
check_eq "a TCP address that is not loopback, without TLS: refused" 1 $?
grep -q "needs --tls-cert" "$TMP/tls.err" && ok "and says why" || not_ok "TLS refusal message" "$(cat "$TMP/tls.err")"
start_server "unix:$SOCK" || { not_ok "kiln serve starts on a unix socket" "$(cat "$TMP/serve.log")"; finish; exit; }
ok "kiln serve listens on a unix socket"
CURL=(--unix-socket "$SOCK")
BASE=http://localhost
[ -f "$STATE/serve.db" ] && ok "its state is a SQLite file" || not_ok "serve.db"

api GET /v1/health /v1/health
check_eq "GET /v1/health" "200 ok" "$code $(jq_ 'd["status"]')"
api GET /v1/builds /v1/builds
check_eq "no token: 401" 401 "$code"
api GET /v1/builds /v1/builds -H "Authorization: Bearer kiln_0000"
check_eq "a wrong token: 401" 401 "$code"

# 422: every error with its place, nothing queued.
printf 'name: bad\nrelease: trixie\ndisk_sise: 3\nhostname: -x-\n' > "$TMP/bad.yaml"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary @"$TMP/bad.yaml"
check_eq "a bad profile: 422" 422 "$code"
check_eq "every error located" "2 profile.yaml:3:1 profile.yaml:4:11" \
        "$(jq_ '" ".join([str(len(d["errors"]))] + ["%s:%d:%d" % (e["file"], e["line"], e["column"]) for e in d["errors"]])')"
grep -q "did you mean 'disk'" "$TMP/body" && ok "with kiln's messages" || not_ok "422 messages" "$(cat "$TMP/body")"
api GET /v1/builds /v1/builds -H "$(auth "$ACME")"
check_eq "nothing queued" 0 "$(jq_ 'len(d["builds"])')"
printf 'name: k\nrelease: trixie\nrepos:\n  - {name: x, url: "http://127.0.0.1:1/r", key_file: /etc/passwd}\n' > "$TMP/file.yaml"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary @"$TMP/file.yaml"
check_eq "a profile naming a host file: 422" 422 "$code"
grep -q "may name no files" "$TMP/body" && ok "untrusted: no host paths at all" || not_ok "host path message" "$(cat "$TMP/body")"
printf 'extends: /etc/passwd\nname: e\n' > "$TMP/ext.yaml"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary @"$TMP/ext.yaml"
check_eq "extends without a --profile-library: 422" 422 "$code"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "Content-Type: application/json" --data-binary '{"profile": "name: x", "oops": 1}'
check_eq "an unknown JSON key: 400" 400 "$code"
head -c 70000 /dev/zero | tr '\0' '#' > "$TMP/big.yaml"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary @"$TMP/big.yaml"
check_eq "a body over --max-body: 413" 413 "$code"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "Content-Type: application/json" \
        --data-binary '{"profile": "name: x\nrelease: trixie\n", "callback_url": "file:///etc/passwd"}'
check_eq "a callback_url that is not http(s): 422" 422 "$code"

# A build that fails fast: its mirror is a closed port on 127.0.0.1 (--allow-private-mirrors).
body=$(profile 1 | /usr/bin/python3 -c 'import json,sys; print(json.dumps({"profile": sys.stdin.read(), "format": "raw", "boot_test": False, "callback_url": sys.argv[1]}))' "http://127.0.0.1:$HOOK/kiln")
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "Content-Type: application/json" --data-binary "$body"
check_eq "POST /v1/builds (JSON): 201" 201 "$code"
FAIL=$(jq_ 'd["id"]')
grep -qi "^location: /v1/builds/$FAIL" "$TMP/headers" && ok "with its Location" || not_ok "Location header"
wait_state "$ACME" "$FAIL" failed && ok "the build fails fast: state failed" || not_ok "fail-fast build" "$(cat "$TMP/body")"
jq_ 'd["error"]' | grep -q "cannot fetch 'http://127.0.0.1:1/debian/" && ok "with kiln build's error" || not_ok "the error" "$(cat "$TMP/body")"
check_eq "stage, format and attempts recorded" "fetch raw 1" "$(jq_ '"%s %s %d" % (d["stage"], d["format"], d["attempts"])')"

# Its events: SSE, NDJSON, resumed.
api GET "/v1/builds/{id}/events" "/v1/builds/$FAIL/events" -H "$(auth "$ACME")"
check_eq "events as SSE" "200 text/event-stream" "$code $(sed -n 's/^[Cc]ontent-[Tt]ype: *//p' "$TMP/headers" | tr -d '\r')"
sed -n 's/^data: //p' "$TMP/body" > "$TMP/sse.jsonl"
out=$(/usr/bin/python3 "$CHECKEV" "$EVSCHEMA" "$TMP/sse.jsonl" --last error 2>&1) && ok "SSE: $out, the error last" || not_ok "SSE events" "$out"
check_eq "SSE ids count from 1" "$(seq -s' ' 1 "$(wc -l < "$TMP/sse.jsonl")")" "$(sed -n 's/^id: //p' "$TMP/body" | tr '\n' ' ' | sed 's/ $//')"
/usr/bin/python3 -c 'import json,sys; assert json.loads(open(sys.argv[1]).readlines()[-1])["build_dir"] == "/v1/builds/%s/logs" % sys.argv[2]' "$TMP/sse.jsonl" "$FAIL" && ok "the host's build folder is not shown" || not_ok "build_dir rewritten" "$(tail -1 "$TMP/sse.jsonl")"
n=$(wc -l < "$TMP/sse.jsonl")
api GET "/v1/builds/{id}/events" "/v1/builds/$FAIL/events" -H "$(auth "$ACME")" -H "Accept: application/x-ndjson"
out=$(/usr/bin/python3 "$CHECKEV" "$EVSCHEMA" "$TMP/body" --last error 2>&1) && ok "NDJSON: $out" || not_ok "NDJSON events" "$out"
api GET "/v1/builds/{id}/events" "/v1/builds/$FAIL/events?after=1" -H "$(auth "$ACME")" -H "Accept: application/x-ndjson"
check_eq "?after=1 resumes after the first" "$((n - 1))" "$(grep -c . "$TMP/body")"
api GET "/v1/builds/{id}/events" "/v1/builds/$FAIL/events" -H "$(auth "$ACME")" -H "Last-Event-ID: $n"
check_eq "Last-Event-ID: the last one: nothing more, the stream ends" "200 0" "$code $(grep -c '^data:' "$TMP/body")"
api GET "/v1/builds/{id}/logs" "/v1/builds/$FAIL/logs" -H "$(auth "$ACME")"
tar tzf "$TMP/body" 2> /dev/null | grep -q "^$FAIL/kiln.log$" && ok "/logs: a tarball with kiln.log" || not_ok "/logs"
api GET "/v1/builds/{id}/image" "/v1/builds/$FAIL/image" -H "$(auth "$ACME")"
check_eq "a failed build has no image: 404" 404 "$code"

# Tenants: another tenant's build does not exist for it.
api GET "/v1/builds/{id}" "/v1/builds/$FAIL" -H "$(auth "$OTHER")"
check_eq "another tenant's build: 404" 404 "$code"
api DELETE "/v1/builds/{id}" "/v1/builds/$FAIL" -H "$(auth "$OTHER")"
check_eq "another tenant cannot delete it: 404" 404 "$code"
api GET "/v1/builds/{id}/events" "/v1/builds/$FAIL/events" -H "$(auth "$OTHER")"
check_eq "nor read its events: 404" 404 "$code"
api GET /v1/builds /v1/builds -H "$(auth "$OTHER")"
check_eq "nor list it" 0 "$(jq_ 'len(d["builds"])')"
api GET /v1/builds "/v1/builds?state=failed" -H "$(auth "$ACME")"
check_eq "?state=failed lists it" "$FAIL" "$(jq_ '" ".join(b["id"] for b in d["builds"])')"
api GET /v1/builds "/v1/builds?state=running" -H "$(auth "$ACME")"
check_eq "?state=running does not" 0 "$(jq_ 'len(d["builds"])')"

# The webhook, signed with the tenant's secret.
for _ in $(seq 100); do [ -s "$TMP/hooks/1.body" ] && break; sleep 0.1; done
if [ -s "$TMP/hooks/1.body" ]; then
        sig=$(sed -n 's/^X-Kiln-Signature: sha256=//p' "$TMP/hooks/1.headers" | tr -d '\r')
        want=$(/usr/bin/python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).hexdigest())' "$SECRET" "$TMP/hooks/1.body")
        check_eq "webhook: HMAC-SHA256 of the body under the tenant's secret" "$want" "$sig"
        check_eq "webhook: the final state" "$FAIL failed" "$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["id"], d["state"])' "$TMP/hooks/1.body")"
else
        not_ok "webhook delivered to 127.0.0.1" "$(grep webhook "$TMP/serve.log")"
fi

# Limits and cancel: the mirror stalls, acme runs one build at a time and queues two.
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary "$(profile "$HANG")"
RUN=$(jq_ 'd["id"]')
wait_state "$ACME" "$RUN" running && ok "a build runs" || not_ok "running" "$(cat "$TMP/body")"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary "$(profile "$HANG")"
Q1=$(jq_ 'd["id"]')
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary "$(profile "$HANG")"
Q2=$(jq_ 'd["id"]')
wait_state "$ACME" "$Q2" queued && ok "the tenant's running limit keeps the others queued" || not_ok "queued" "$(cat "$TMP/body")"
api POST /v1/builds /v1/builds -H "$(auth "$ACME")" -H "$(yaml)" --data-binary "$(profile "$HANG")"
check_eq "over the queued limit: 429" 429 "$code"
grep -qi '^retry-after: [0-9]' "$TMP/headers" && ok "with Retry-After" || not_ok "Retry-After" "$(cat "$TMP/headers")"
api POST /v1/builds /v1/builds -H "$(auth "$OTHER")" -H "$(yaml)" --data-binary "$(profile 1)"
check_eq "another tenant's limits are its own: 201" 201 "$code"
OTH=$(jq_ 'd["id"]')
# Live: an event stream open while the build runs sees its stage.
curl -s -N "${CURL[@]}" -H "$(auth "$ACME")" -H "Accept: application/x-ndjson" "$BASE/v1/builds/$RUN/events" > "$TMP/live.jsonl" &
live=$!
pids+=("$live")
sleep 1
grep -q '"stage":"fetch"' "$TMP/live.jsonl" && ok "a live stream shows the running build's stage" || not_ok "live stream" "$(cat "$TMP/live.jsonl")"
api GET /metrics /metrics
grep -q '^kiln_builds{state="running"} 1$' "$TMP/body" && grep -q '^kiln_queue_depth 2$' "$TMP/body" &&
        grep -q '^kiln_event_streams 1$' "$TMP/body" && ok "/metrics: builds by state, queue depth, streams" || not_ok "/metrics" "$(cat "$TMP/body")"

# SIGKILL of the service: the running build is requeued once (its child stopped with it), the
# queued one is still queued; then on 127.0.0.1.
kill -9 "$server"
wait "$server" 2> /dev/null
server=
wait "$live" 2> /dev/null
for _ in $(seq 100); do pgrep -f -- "--build-id $RUN" > /dev/null || break; sleep 0.1; done
pgrep -f -- "--build-id $RUN" > /dev/null && not_ok "the build's child stops with a killed service" || ok "the build's child stops with a killed service"
start_server 127.0.0.1:0 || { not_ok "kiln serve restarts on 127.0.0.1" "$(cat "$TMP/serve.log")"; finish; exit; }
CURL=()
BASE="http://$(sed -n 's/.*listening on \(127.0.0.1:[0-9]*\).*/\1/p' "$TMP/serve.log")"
ok "kiln serve restarts on 127.0.0.1, the same SQLite file"
wait_state "$ACME" "$RUN" running && ok "the interrupted build runs again" || not_ok "requeued" "$(cat "$TMP/body")"
check_eq "its attempt counted, the reason kept" "2 interrupted" "$(jq_ '"%d %s" % (d["attempts"], d["error"].split(":")[0])')"
api GET "/v1/builds/{id}" "/v1/builds/$Q1" -H "$(auth "$ACME")"
check_eq "the queued builds are still there" "queued" "$(jq_ 'd["state"]')"
api GET "/v1/builds/{id}" "/v1/builds/$OTH" -H "$(auth "$OTHER")"
check_eq "and the finished one" "failed" "$(jq_ 'd["state"]')"

# DELETE: a queued build is cancelled at once, a running one stops with nothing left.
api DELETE "/v1/builds/{id}" "/v1/builds/$Q2" -H "$(auth "$ACME")"
check_eq "DELETE a queued build: 200 cancelled" "200 cancelled" "$code $(jq_ 'd["state"]')"
api DELETE "/v1/builds/{id}" "/v1/builds/$RUN" -H "$(auth "$ACME")"
check_eq "DELETE a running build: 202" 202 "$code"
wait_state "$ACME" "$RUN" cancelled && ok "it ends cancelled" || not_ok "cancelled" "$(cat "$TMP/body")"
[ ! -e "$STATE/builds/$RUN" ] && ok "its build folder is gone" || not_ok "leftover folder" "$(find "$STATE/builds/$RUN" | head)"
pgrep -f -- "--build-id $RUN" > /dev/null && not_ok "a process of the cancelled build is left" "$(pgrep -af -- "--build-id $RUN")" || ok "no process of it is left"
wait_state "$ACME" "$Q1" running && ok "the next queued build starts" || not_ok "next starts" "$(cat "$TMP/body")"
api DELETE "/v1/builds/{id}" "/v1/builds/$Q1" -H "$(auth "$ACME")"
wait_state "$ACME" "$Q1" cancelled || not_ok "second cancel" "$(cat "$TMP/body")"
api DELETE "/v1/builds/{id}" "/v1/builds/$FAIL" -H "$(auth "$ACME")"
check_eq "DELETE a finished build: 204" 204 "$code"
api GET "/v1/builds/{id}" "/v1/builds/$FAIL" -H "$(auth "$ACME")"
check_eq "then it is gone" 404 "$code"
[ ! -e "$STATE/builds/$FAIL" ] && ok "with its files" || not_ok "deleted build's files"

kill "$server"
wait "$server"
check_eq "SIGTERM: kiln serve exits 0" 0 $?
server=
# TLS (libmicrohttpd's GnuTLS): a self-signed certificate, HTTPS on 127.0.0.1.
if command -v openssl > /dev/null && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -keyout "$TMP/key.pem" -out "$TMP/cert.pem" > /dev/null 2>&1; then
        : > "$TMP/tls.log"
        "$KILN" serve "${ROOT_OPT[@]}" --state-dir "$TMP/tls-state" --tokens "$TMP/tokens" --listen 127.0.0.1:0 \
                --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" 2>> "$TMP/tls.log" &
        server=$!
        for _ in $(seq 100); do grep -q "listening on" "$TMP/tls.log" && break; sleep 0.1; done
        CURL=(--cacert "$TMP/cert.pem")
        BASE="https://$(sed -n 's/.*listening on \(127.0.0.1:[0-9]*\).*/\1/p' "$TMP/tls.log")"
        api GET /v1/builds /v1/builds -H "$(auth "$OTHER")"
        check_eq "HTTPS: the API over TLS" 200 "$code"
        check_eq "plain HTTP on the TLS port gets nothing" 000 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${BASE/https/http}/v1/health")"
        kill "$server"
        wait "$server"
        server=
else
        skip "HTTPS" "openssl cannot make a test certificate"
fi
check_eq "every response matched docs/api.openapi.yaml" "" "${api_bad[*]}"
finish
