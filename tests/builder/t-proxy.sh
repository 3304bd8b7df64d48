#!/usr/bin/env bash
# kiln's proxy on the host side, driven with curl: what it allows, what it refuses (403, logged),
# pool files cached by SHA-256 and shared, indices passed through, the client's User-Agent
# forwarded, CONNECT only to the profile's HTTPS host:port.
. "$(dirname "$0")/../lib.sh"
# The upstreams are on 127.0.0.1 and the key is named by absolute path: the operator's own profile.
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
command -v curl > /dev/null || { skip "proxy" "curl is not installed"; finish; exit 0; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/www/debian/dists/trixie" "$TMP/www/debian/pool/main/h" "$TMP/www/other"
echo "index v1" > "$TMP/www/debian/dists/trixie/InRelease"
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
"$KILN" proxy --cache "$TMP/cache" --log "$TMP/proxy.log" "$TMP/p.yaml" > "$TMP/pport" 2> "$TMP/perr" &
pids+=($!)
for _ in $(seq 50); do [ -s "$TMP/pport" ] && break; sleep 0.1; done
P="http://127.0.0.1:$(cat "$TMP/pport")"
get() { curl -s -o "$TMP/body" -w '%{http_code}' -x "$P" -A "${UA:-kiln-test-agent}" "$@"; }
base="http://127.0.0.1:$web"

check_eq "index passes through" 200 "$(get "$base/debian/dists/trixie/InRelease")"
check_eq "index content" "index v1" "$(cat "$TMP/body")"
grep -q "GET /debian/dists/trixie/InRelease kiln-test-agent" "$TMP/requests.log" && ok "User-Agent forwarded upstream" || not_ok "User-Agent forwarded" "$(cat "$TMP/requests.log")"
echo "index v2" > "$TMP/www/debian/dists/trixie/InRelease"
get "$base/debian/dists/trixie/InRelease" > /dev/null
check_eq "indices are never served stale" "index v2" "$(cat "$TMP/body")"
check_eq "HEAD passes" 200 "$(curl -s -o /dev/null -w '%{http_code}' -I -x "$P" "$base/debian/dists/trixie/InRelease")"

check_eq "pool file" 200 "$(get "$base/debian/pool/main/h/hello_1_all.deb")"
rm "$TMP/www/debian/pool/main/h/hello_1_all.deb"
check_eq "pool file again, upstream gone: from the cache" 200 "$(get "$base/debian/pool/main/h/hello_1_all.deb")"
check_eq "cached content" "a package" "$(cat "$TMP/body")"
grep -q "hello_1_all.deb 200 10 sha256=[0-9a-f]* cached" "$TMP/proxy.log" && ok "logged as served from the cache" || not_ok "logged as cached" "$(cat "$TMP/proxy.log")"
sha=$(printf 'a package\n' | sha256sum | cut -d' ' -f1)
[ -f "$TMP/cache/sha256/${sha:0:2}/$sha" ] && ok "pool file stored by its sha256" || not_ok "pool file stored by its sha256"
check_eq "upstream 404 passes as 404" 404 "$(get "$base/debian/pool/main/h/missing_1_all.deb")"

check_eq "outside the mirror: 403" 403 "$(get "$base/other/secret")"
check_eq "prefix trick (/debian-evil): 403" 403 "$(get "$base/debian-evil/x")"
check_eq "dot segments: 403" 403 "$(get --path-as-is "$base/debian/../other/secret")"
check_eq "encoded dots: 403" 403 "$(get --path-as-is "$base/debian/%2e%2e/other/secret")"
check_eq "another host: 403" 403 "$(get "http://127.0.0.2:$web/debian/dists/trixie/InRelease")"
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
finish
