#!/usr/bin/env bash
# bench/build's own processes: a bare run's proxy stops when its install ends, and a bench stopped
# halfway (TERM, as a reboot or a killed shell sends) leaves nothing running: no QEMU, no proxy,
# no kiln build. The script under test is the real bench/build.sh; QEMU, qemu-img and kiln are
# stand-ins that sleep (each its own length, to find them by), since what is tested is the
# script's process handling, not an install.
. "$(dirname "$0")/../lib.sh"
fake=$TMP/fakebin
mkdir -p "$fake"
cat > "$fake/kiln" << 'K'
#!/bin/sh
cmd= out=
while [ $# -gt 0 ]; do
        case $1 in
        fetch | proxy | build | inspect) cmd=${cmd:-$1} ;;
        -o) out=$2; shift ;;
        esac
        shift
done
case $cmd in
fetch) mkdir -p "$out" && echo k > "$out/linux" && echo i > "$out/initrd.gz" ;;
proxy) echo 3128; exec sleep 3012 ;;
build) exec sleep 3013 ;;
esac
K
printf '#!/bin/sh\nexec sleep "${FAKE_QEMU_SECS:-3011}"\n' > "$fake/qemu-system-x86_64"
printf '#!/bin/sh\nexit 0\n' > "$fake/qemu-img"
chmod +x "$fake"/*
echo "suite: trixie" > "$TMP/p.yaml"
running() { pgrep -fx "sleep $1" > /dev/null; }
started() { # LOG WHAT: wait up to 20 s for "WHAT" in bench/build's log
        for _ in $(seq 100); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.2; done
        return 1
}

# A bare run's end stops its proxy, while cold goes on.
PATH=$fake:$PATH KILN=$fake/kiln FAKE_QEMU_SECS=1 KILN_BENCH_DIR=$TMP/a bash "$TOP/bench/build.sh" "$TMP/p.yaml" 2> "$TMP/a.log" &
pid=$!
started "$TMP/a.log" "bare done" && running 3013 && ! running 3012 &&
        ok "a bare run's proxy stops when its install ends" || not_ok "bare proxy outlives its run" "$(cat "$TMP/a.log"; pgrep -af 'sleep 30')"
kill -TERM "$pid"
wait "$pid"
check_eq "bench/build stopped by TERM exits 143" 143 "$?"

# Stopped halfway, with QEMU, the proxy and kiln build all running: nothing is left.
PATH=$fake:$PATH KILN=$fake/kiln KILN_BENCH_DIR=$TMP/b bash "$TOP/bench/build.sh" "$TMP/p.yaml" 2> "$TMP/b.log" &
pid=$!
started "$TMP/b.log" "bare started" && started "$TMP/b.log" "cold started" && sleep 0.5
running 3011 && running 3012 && running 3013 && ok "phase 1 runs QEMU, the proxy and kiln build" ||
        not_ok "phase 1 processes" "$(cat "$TMP/b.log"; pgrep -af 'sleep 30')"
kill -TERM "$pid"
wait "$pid"
sleep 0.5
left=$(pgrep -af 'sleep 301[123]$')
[ -z "$left" ] && ok "bench/build stopped halfway leaves no QEMU, proxy or kiln build running" || not_ok "processes left" "$left"
pkill -fx 'sleep 301[123]' 2> /dev/null
finish
