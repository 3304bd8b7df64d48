#!/usr/bin/env bash
# The network limit, in a real guest: a busybox initramfs booted under TCG by `kiln install`
# (installer.kernel/initrd name it), on QEMU user networking with restrict=on. Through kiln's
# proxy an allowed URL works and a disallowed one gets 403; a direct connection anywhere fails.
# The guest powers off without installing anything, so kiln must also clean up after a failure.
. "$(dirname "$0")/../lib.sh"
# The mirror is on 127.0.0.1: the operator's own fixture.
KILN=$(kiln_with --allow-private-mirrors)
for t in qemu-system-x86_64 qemu-img cpio; do
        command -v $t > /dev/null || { skip "network limit in a real guest" "$t is not installed"; finish; exit 0; }
done
servers=()
cleanup() { for p in "${servers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; [ "${W:-$TMP}" = "$TMP" ] || rm -rf "$W"; }
trap cleanup EXIT

mkdir -p "$TMP/www/allowed" "$TMP/www/denied"
echo "hello-from-the-allowed-mirror" > "$TMP/www/allowed/hello.txt"
echo "secret" > "$TMP/www/denied/secret.txt"
(cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 0 > "$TMP/http.out" 2>&1) &
servers+=($!)
for _ in $(seq 50); do grep -q 'port' "$TMP/http.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$TMP/http.out" | head -1)
[ -n "$port" ] || { not_ok "start a test HTTP server"; finish; exit; }

bash "$TOP/tests/helpers/busybox-guest.sh" "$TMP/guest" "http://127.0.0.1:$port/allowed/hello.txt" \
        "http://127.0.0.1:$port/denied/secret.txt" "http://10.0.2.2:$port/allowed/hello.txt" > "$TMP/guest.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then skip "network limit in a real guest" "$(cat "$TMP/guest.log")"; finish; exit 0; fi
[ $rc -eq 0 ] || { not_ok "build the busybox guest" "$(cat "$TMP/guest.log")"; finish; exit; }

# As root, the install runs as 'nobody', as kiln serve runs (User=kiln): no switch of user, QEMU in
# a user and network namespace of its own. From a folder of nobody's under /tmp: this script's
# $TMP may sit in folders nobody cannot pass (run-tests.sh's), and so may the kiln_with wrapper.
W=$TMP run=()
if [ "$(id -u)" -eq 0 ] && id nobody > /dev/null 2>&1 && runuser -u nobody -- test -x "$(kiln_binary)"; then
        W=$(mktemp -d /tmp/kiln-nobody.XXXXXX)
        cp -r "$TMP/guest" "$W/"
        run=(runuser -u nobody -- env HOME="$W" TMPDIR="$W")
        KILN=$(kiln_binary)
fi
busybox_profile nettest "http://127.0.0.1:$port/allowed" "$W/net.yaml"
[ -n "${run[*]}" ] && chown -R nobody "$W"
(cd "$W" && "${run[@]}" "$KILN" --allow-private-mirrors install --cache "$W/cache" --accel tcg --timeout 5 --watchdog 2 \
        -o "$W/disk.qcow2" "$W/net.yaml" > "$TMP/out" 2> "$TMP/err") &
kpid=$!
# Its QEMU, while the guest runs its checks: as nobody, no capabilities, NoNewPrivs, a filter.
st=""
for _ in $(seq 600); do
        [ -n "${run[*]}" ] || break
        q=$(pgrep -u nobody -x qemu-system-x86 | head -1)
        [ -n "$q" ] && grep -q "^Seccomp:.*2" /proc/"$q"/status 2> /dev/null &&
                st=$(awk '/^Uid:/ {u=$2} /^CapEff:/ {c=$2} /^NoNewPrivs:/ {n=$2} /^Seccomp:/ {s=$2} END {print u, c, n, s}' /proc/"$q"/status 2> /dev/null) &&
                [ -n "$st" ] && break
        kill -0 $kpid 2> /dev/null || break
        sleep 0.1
done
wait $kpid
rc=$?
if [ -n "${run[*]}" ]; then
        check_eq "as 'nobody': QEMU runs as nobody, no capabilities, NoNewPrivs, seccomp" "$(id -u nobody) 0000000000000000 1 2" "$st"
fi
con="$W/disk.qcow2.d/console.log"
grep -q 'KILN-TEST done' "$con" 2>/dev/null && ok "guest booted and ran its checks" ||
        not_ok "guest booted and ran its checks" "$(tail -c 600 "$con" 2>/dev/null)" "$(tail -3 "$TMP/err")"
grep -q '^KILN-TEST allowed: hello-from-the-allowed-mirror' "$con" && ok "allowed URL through the proxy works" ||
        not_ok "allowed URL through the proxy works" "$(grep 'KILN-TEST' "$con")"
grep -q '^KILN-TEST denied: .*403' "$con" && ok "disallowed URL gets 403" || not_ok "disallowed URL gets 403" "$(grep 'KILN-TEST denied' "$con")"
grep -q '^KILN-TEST direct: failed' "$con" && ok "direct HTTP to the host fails (restrict=on)" || not_ok "direct HTTP fails" "$(grep 'KILN-TEST direct' "$con")"
grep -q '^KILN-TEST tcp22: failed' "$con" && ok "direct TCP anywhere else fails" || not_ok "direct TCP fails"
grep -q "GET http://127.0.0.1:$port/allowed/hello.txt 200 " "$W/disk.qcow2.d/proxy.log" && ok "proxy logged the allowed GET" || not_ok "proxy logged the allowed GET"
grep -q "GET http://127.0.0.1:$port/denied/secret.txt 403 0 denied" "$W/disk.qcow2.d/proxy.log" && ok "proxy logged the denial" || not_ok "proxy logged the denial" "$(cat "$W/disk.qcow2.d/proxy.log")"
# The guest powered off without the installer: a failure, and nothing left behind.
check_eq "install reports the failure" 1 "$rc"
grep -q "the guest powered off before the installer finished" "$TMP/err" && ok "failure names its cause" || not_ok "failure names its cause" "$(cat "$TMP/err")"
[ ! -e "$W/disk.qcow2" ] && ! ls "$W"/disk.qcow2.kiln-partial-* > /dev/null 2>&1 && ok "no disk left after a failed install" || not_ok "no disk left"
ls -d "${TMPDIR:-/tmp}"/kiln-run-* 2>/dev/null | while read -r d; do [ -e "$d/qmp.sock" ] && echo "$d"; done > "$TMP/stray"
pgrep -f "kiln-nettest" > /dev/null && not_ok "no guest left running" || ok "no guest left running"
[ -n "${run[*]}" ] && check_eq "as 'nobody': every file it left is nobody's" "" "$(find "$W" ! -user nobody)"
finish
