#!/usr/bin/env bash
# kiln's proxy on the host side, driven with curl: what it allows, what it refuses (403, logged),
# pool files cached by SHA-256 and shared, other files passed through and never stored, the
# client's User-Agent forwarded, CONNECT only to the profile's HTTPS host:port. (The suites'
# dists/ folders, served from the verified snapshot, are t-snapshot.sh's.)
. "$(dirname "$0")/../lib.sh"
# The upstreams are on 127.0.0.1 and the key is named by absolute path: the operator's own profile.
KILN_PLAIN=$KILN
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
command -v curl > /dev/null || { skip "proxy" "curl is not installed"; finish; exit 0; }
pids=()
trap stop_background EXIT
mkdir -p "$TMP/www/debian/dists/trixie" "$TMP/www/debian/pool/main/h" "$TMP/www/other"
echo "index v1" > "$TMP/www/debian/README"
echo "a package" > "$TMP/www/debian/pool/main/h/hello_1_all.deb"
echo "secret" > "$TMP/www/other/secret"
python3 "$TOP/tests/helpers/ua-server.py" "$TMP/www" > "$TMP/ports" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do [ "$(wc -l < "$TMP/ports")" -ge 2 ] && break; sleep 0.1; done
web=$(sed -n 1p "$TMP/ports") echo_port=$(sed -n 2p "$TMP/ports")
cat > "$TMP/p.yaml" <<X
name: proxytest
release: trixie
mirror: http://127.0.0.1:$web/debian
security: false
repos:
  - {name: tls, url: "https://127.0.0.1:$echo_port/repo", key_file: $TOP/profiles/keys/example-repo.asc}
X
KILN_FETCH_MAX_BYTES=1000000 "$KILN" proxy --cache "$TMP/cache" --log "$TMP/proxy.log" "$TMP/p.yaml" > "$TMP/pport" 2> "$TMP/perr" &
pids+=($!)
for _ in $(seq 50); do [ -s "$TMP/pport" ] && break; sleep 0.1; done
P="http://127.0.0.1:$(cat "$TMP/pport")"
get() { curl -s -o "$TMP/body" -w '%{http_code}' -x "$P" -A "${UA:-kiln-test-agent}" "$@"; }
base="http://127.0.0.1:$web"

check_eq "a file outside pool/ passes through" 200 "$(get "$base/debian/README")"
check_eq "its content" "index v1" "$(cat "$TMP/body")"
grep -q "GET /debian/README kiln-test-agent" "$TMP/requests.log" && ok "User-Agent forwarded upstream" || not_ok "User-Agent forwarded" "$(cat "$TMP/requests.log")"
echo "index v2" > "$TMP/www/debian/README"
get "$base/debian/README" > /dev/null
check_eq "files outside pool/ are never served stale" "index v2" "$(cat "$TMP/body")"
v1=$(printf 'index v1\n' | sha256sum | cut -d' ' -f1) v2=$(printf 'index v2\n' | sha256sum | cut -d' ' -f1)
[ ! -e "$TMP/cache/sha256/${v1:0:2}/$v1" ] && [ ! -e "$TMP/cache/sha256/${v2:0:2}/$v2" ] &&
        ok "files outside pool/ never enter the shared store" || not_ok "files outside pool/ never stored"
check_eq "HEAD passes" 200 "$(curl -s -o /dev/null -w '%{http_code}' -I -x "$P" "$base/debian/README")"
check_eq "the suite had no Release at start: its dists/ is 404" 404 "$(get "$base/debian/dists/trixie/InRelease")"

# (Pool files a verified index lists are cached: t-snapshot.sh. This mirror has no Release.)
check_eq "a pool file no verified index lists passes through" 200 "$(get "$base/debian/pool/main/h/hello_1_all.deb")"
check_eq "its content" "a package" "$(cat "$TMP/body")"
sha=$(printf 'a package\n' | sha256sum | cut -d' ' -f1)
[ ! -e "$TMP/cache/sha256/${sha:0:2}/$sha" ] && ok "and is not stored" || not_ok "an unverified pool file was stored"
check_eq "upstream 404 passes as 404" 404 "$(get "$base/debian/pool/main/h/missing_1_all.deb")"

check_eq "outside the mirror: 403" 403 "$(get "$base/other/secret")"
check_eq "prefix trick (/debian-evil): 403" 403 "$(get "$base/debian-evil/x")"
check_eq "dot segments: 403" 403 "$(get --path-as-is "$base/debian/../other/secret")"
check_eq "encoded dots: 403" 403 "$(get --path-as-is "$base/debian/%2e%2e/other/secret")"
check_eq "another host: 403" 403 "$(get "http://127.0.0.2:$web/debian/dists/trixie/InRelease")"
# '?' and '#' decoded by the server would let curl drop the '..' before them: refused.
check_eq "..%3F: 403" 403 "$(get --path-as-is "$base/debian/pool/..%3F/x")"
check_eq "..%23: 403" 403 "$(get --path-as-is "$base/debian/..%23")"
get "$base/debian/README?x=1" > /dev/null
! grep -q "x=1" "$TMP/requests.log" && ok "a query string never goes upstream" || not_ok "query forwarded" "$(tail -2 "$TMP/requests.log")"
# An allowed mirror that redirects elsewhere: the guest gets the 302, never what it points at.
echo "http://127.0.0.1:$web/other/secret" > "$TMP/www/debian/pool/main/h/moved_1_all.deb.redirect"
check_eq "an upstream redirect goes to the guest as it is" 302 "$(get "$base/debian/pool/main/h/moved_1_all.deb")"
! grep -q secret "$TMP/body" && ok "the redirect is not followed" || not_ok "redirect followed" "$(cat "$TMP/body")"
check_eq "the guest's next request is checked again: 403" 403 "$(get -L "$base/debian/pool/main/h/moved_1_all.deb")"
check_eq "HEAD: the redirect goes to the guest too" 302 "$(curl -s -o /dev/null -w '%{http_code}' -I -x "$P" "$base/debian/pool/main/h/moved_1_all.deb")"
# An endless body is cut at the cap, and nothing of it stays.
check_eq "an endless upstream body: 502" 502 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -x "$P" "$base/debian/endless")"
[ -z "$(ls -A "$TMP/cache/tmp")" ] && ok "an endless body leaves nothing in the cache" || not_ok "endless body left files" "$(ls -la "$TMP/cache/tmp")"
# curl would turn user info into a header; send the request line as a hostile client would.
raw() { printf '%s\r\n\r\n' "$1" | python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read())
print(s.recv(100).split(b" ")[1].decode())' "$(cat "$TMP/pport")"; }
check_eq "user info in the request line: 403" 403 "$(raw "GET http://x@127.0.0.1:$web/debian/dists/trixie/InRelease HTTP/1.0")"
check_eq "origin-form request (not a proxy request): 403" 403 "$(raw "GET /debian/dists/trixie/InRelease HTTP/1.0")"
check_eq "POST: 403" 403 "$(get -X POST -d x "$base/debian/dists/trixie/InRelease")"
! grep -q "secret" "$TMP/requests.log" && ok "nothing refused reached upstream" || not_ok "nothing refused reached upstream"
[ "$(grep -c ' 403 0 denied: ' "$TMP/proxy.log")" -ge 8 ] && ok "every refusal logged with its reason" || not_ok "refusals logged" "$(grep 403 "$TMP/proxy.log")"

# CONNECT: the profile's https repository host:port only
reply=$(printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\nping-through-tunnel\n' "$echo_port" | python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); s.settimeout(5); out = b""
try:
    while b"ping-through-tunnel" not in out:
        d = s.recv(4096)
        if not d: break
        out += d
except Exception: pass
print(out.decode(errors="replace").replace("\r", ""))' "$(cat "$TMP/pport")")
grep -q "^HTTP/1.1 200 Connection established" <<<"$reply" && grep -q "ping-through-tunnel" <<<"$reply" &&
        ok "CONNECT to the profile's https host:port tunnels" || not_ok "CONNECT allowed" "$reply"
check_eq "CONNECT elsewhere: 403" 403 "$(curl -s -o /dev/null -w '%{http_connect}' -x "$P" "https://127.0.0.1:$web/")"

# The address policy on the address actually connected to: a profile naming this machine by a host
# name passes validation, but neither a GET nor a CONNECT reaches loopback without the switch.
h=$(hostname)
if getent hosts "$h" | grep -qE '^127\.'; then
        sed -e "s#127.0.0.1#$h#g" "$TMP/p.yaml" > "$TMP/named.yaml"
        "$KILN_PLAIN" proxy --trust-profile-paths --cache "$TMP/cache" "$TMP/named.yaml" > "$TMP/nport" 2> "$TMP/nerr" &
        pids+=($!)
        for _ in $(seq 50); do [ -s "$TMP/nport" ] && break; sleep 0.1; done
        N="http://127.0.0.1:$(cat "$TMP/nport")"
        check_eq "a GET to a name that resolves to loopback: refused (502)" 502 \
                "$(curl -s -o /dev/null -w '%{http_code}' -x "$N" "http://$h:$web/debian/README")"
        check_eq "a CONNECT to a name that resolves to loopback: refused (502)" 502 \
                "$(curl -s -o /dev/null -w '%{http_connect}' -x "$N" "https://$h:$echo_port/")"
else
        skip "address policy after DNS in the proxy" "the host name '$h' does not resolve to loopback here"
fi

# What a guest can do to the proxy itself: a thousand CONNECTs, and connections that say nothing.
proxy_pid=${pids[1]}
python3 - "$(cat "$TMP/pport")" <<'PY'
import socket, sys
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n")
    s.recv(100)
    s.close()
PY
sleep 1
nfd=$(ls /proc/"$proxy_pid"/fd | wc -l)
[ "$nfd" -lt 64 ] && ok "1000 CONNECTs leave the proxy's descriptors bounded ($nfd open)" || not_ok "descriptors after a CONNECT flood" "$nfd open"
check_eq "a GET after the CONNECT flood" 200 "$(get "$base/debian/README")"
python3 - "$(cat "$TMP/pport")" "$P" "$base/debian/README" > "$TMP/slow" <<'PY'
import socket, sys, time, urllib.request
idle = []
for i in range(200):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"G")  # one byte, then nothing: a slowloris
    idle.append(s)
start = time.monotonic()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": sys.argv[2]}))
code = opener.open(sys.argv[3], timeout=10).status
print(code, "%.2f" % (time.monotonic() - start))
PY
read -r code secs < "$TMP/slow"
check_eq "a GET while 200 idle connections are open" 200 "$code"
awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' && ok "it answers within 1 s ($secs s)" || not_ok "GET beside idle connections" "$secs s"
finish
