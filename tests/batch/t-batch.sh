#!/usr/bin/env bash
# Result reuse and kiln batch, against the signed archive fixture on 127.0.0.1. The result store is
# seeded through the real code path: kiln finish --store-result on the real Debian image of
# tests/helpers/debian-fixture.sh (the media stage pins the fixture archive for the key). Then:
# kiln build with that key publishes the stored image without running an install; kiln batch of
# three (two reused, one failing) exits 1 with batch.json right; Ctrl-C stops a batch and leaves
# nothing half-written; concurrent writers share one cache without corruption; kiln cache
# stats/prune; and a real single-node Slurm cluster runs the batch as a job array (t-slurm part).
. "$(dirname "$0")/../lib.sh"
fixdir=${KILN_FIXTURE_DIR:-$TOP/build/fixtures}
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
export KILN_FETCH_RETRIES=1 LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        [ -n "${slurm_stop:-}" ] && $slurm_stop
        rm -rf "$TMP"
}
trap cleanup EXIT
py() { /usr/bin/python3 "$@"; }

start_archive_fixture
# shellcheck disable=SC2154 # set by start_archive_fixture (tests/lib.sh)
base=$archive_base
profile() { # NAME FILE [extra yaml line]
        printf 'name: %s\nrelease: trixie\nmirror: %s\nmirror_keyring: %s\nsecurity: false\nbootloader: host\nroot:\n  ssh_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnTestKeyOnlyForTheFixture kiln-test]\n%b' \
                "$1" "$base" "$TMP/gnupg/good.asc" "${3:-}" > "$2"
}
mkdir -p "$TMP/p"
profile web "$TMP/p/web.yaml"
C=(--cache "$TMP/cache")

# --- Seed the store: a real finish of a real Debian image, stored under web.yaml's key.
command -v guestfish > /dev/null && command -v mmdebstrap > /dev/null ||
        { skip "result reuse" "guestfish or mmdebstrap missing (make deps installs them)"; finish; exit; }
bash "$TOP/tests/helpers/debian-fixture.sh" "$fixdir" 2> "$TMP/fixture.err"; rc=$?
if [ $rc -eq 77 ]; then skip "result reuse" "THE MIRROR could not serve the fixture's packages: $(head -2 "$TMP/fixture.err" | tr '\n' ' ')"; finish; exit
elif [ $rc -ne 0 ]; then not_ok "the Debian fixture image" "$(tail -5 "$TMP/fixture.err")"; finish; exit; fi
key=$("$KILN" key "${C[@]}" --no-boot-test "$TMP/p/web.yaml" 2> "$TMP/key.err")
"$KILN" finish "${C[@]}" --store-result --no-boot-test -o "$TMP/seed.qcow2" "$TMP/p/web.yaml" "$fixdir/debian.qcow2" > /dev/null 2> "$TMP/seed.err" ||
        { not_ok "kiln finish --store-result seeds the store" "$(tail -5 "$TMP/seed.err")"; finish; exit; }
store=$TMP/cache/results/keys/$key
[ -f "$store/image" ] && [ -f "$store/manifest.json" ] && ok "kiln finish --store-result stores the image under kiln key's key" ||
        not_ok "seeded under the key" "$key" "$(ls "$TMP/cache/results/keys")"
check_eq "the seed's manifest records the build key" "$key" "$(py -c 'import json,sys; print(json.load(open(sys.argv[1]))["build_key"]["sha256"])' "$TMP/seed.qcow2.manifest.json")"

# --- Reuse: kiln build with the same key publishes the stored image and runs nothing else.
mkdir -p "$TMP/out"
start=$(date +%s.%N)
"$KILN" build "${C[@]}" --no-boot-test --events-fd 3 -o "$TMP/out/web.qcow2" "$TMP/p/web.yaml" 3> "$TMP/reuse.jsonl" > /dev/null 2> "$TMP/reuse.err"; rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
check_eq "kiln build with a stored key succeeds" 0 "$rc"
cmp -s "$store/image" "$TMP/out/web.qcow2" && ok "the published image is the stored one" || not_ok "published image" "$(tail -3 "$TMP/reuse.err")"
stages=$(py -c 'import json,sys; print(" ".join(e["stage"] for e in map(json.loads, open(sys.argv[1])) if e["type"] == "stage"))' "$TMP/reuse.jsonl")
check_eq "its events show the fetch stage, then reuse, and no install" "fetch reuse" "$stages"
py -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1])]; k=[x for x in e if x.get("notice") == "key"][0]; assert k["reused"] and k["key"] == sys.argv[2]; assert e[-1]["type"] == "result"' "$TMP/reuse.jsonl" "$key" &&
        ok "the key notice says reused, with the key; the result is last" || not_ok "key notice" "$(cat "$TMP/reuse.jsonl")"
[ ! -e "$TMP/out/web.qcow2.d/console.log" ] && ok "no installer console log: no QEMU ran" || not_ok "an install ran"
reuse_s=$(py -c 'import json,sys; print("%.3f" % [json.loads(l) for l in open(sys.argv[1])][-1]["stages"]["reuse"])' "$TMP/reuse.jsonl")
echo "# reuse took ${secs}s wall (the fetch stage against the fixture included), its reuse stage ${reuse_s}s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
# Under 1 s is the issue's bar. A machine loaded beyond its cores measures the load, not kiln:
# then the check is skipped, saying so (KILN_TEST_STRICT_TIME=1 makes it count anyway).
load=$(cut -d' ' -f1 /proc/loadavg)
if [ "$(echo "$secs < 1" | bc)" = 1 ]; then ok "reuse in under 1 s (${secs}s)"
elif [ -z "${KILN_TEST_STRICT_TIME:-}" ] && [ "$(echo "$load > $(nproc)" | bc)" = 1 ]; then skip "reuse in under 1 s" "took ${secs}s with load $load on $(nproc) cores"
else not_ok "reuse in under 1 s" "took ${secs}s (reuse stage ${reuse_s}s, load $load)"; fi
m=$TMP/out/web.qcow2.manifest.json
py -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["reused"]["key"] == sys.argv[2] and m["build_key"]["sha256"] == sys.argv[2] and m["image"]["file"] == "web.qcow2"' "$m" "$key" &&
        ok "the published manifest shows the reused key" || not_ok "manifest shows reused key" "$(head -c 600 "$m")"
if py -c 'import jsonschema' 2> /dev/null; then
        out=$(py "$TOP/tests/helpers/check-events.py" "$TOP/docs/events.schema.json" "$TMP/reuse.jsonl" --last result 2>&1) &&
                ok "the reuse's events pass the schema: $out" || not_ok "reuse events: schema" "$out"
fi

# --explain: a late command changes the key and kiln says which input.
profile web "$TMP/p/web-late.yaml" 'late_commands: ["echo hi > /target/etc/motd"]\n'
"$KILN" key "${C[@]}" --no-boot-test --explain "$TMP/p/web-late.yaml" > "$TMP/explain" 2>&1
grep -q "^stored: no" "$TMP/explain" && grep -q "^changed: profile" "$TMP/explain" && grep -q "^changed: preseed" "$TMP/explain" &&
        ok "--explain: a late command changed the profile and preseed since the last build of 'web'" || not_ok "--explain after a late command" "$(cat "$TMP/explain")"

# --- kiln batch of three: two reused (same inputs), one failing (its mirror refuses connections).
cp "$TMP/p/web.yaml" "$TMP/p/web2.yaml"
printf 'name: broken\nrelease: trixie\nmirror: http://127.0.0.1:9/debian\nsecurity: false\n' > "$TMP/p/broken.yaml"
printf '# the batch\n%s\n%s  # twin\n\n%s\n' "$TMP/p/web.yaml" "$TMP/p/broken.yaml" "$TMP/p/web2.yaml" > "$TMP/list"
"$KILN" batch "${C[@]}" --no-boot-test -j 2 --events json -O "$TMP/b" --file "$TMP/list" > "$TMP/batch.jsonl" 2> "$TMP/batch.err"; rc=$?
check_eq "a batch with one failure exits 1" 1 "$rc"
py - "$TMP/b/batch.json" "$key" > "$TMP/bj" 2>&1 <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); j = {x["id"]: x for x in b["builds"]}
assert sorted(j) == ["broken", "web", "web2"], sorted(j)
for i in ("web", "web2"):
    assert j[i]["state"] == "succeeded" and j[i]["reused"] is True and j[i]["key"] == sys.argv[2], j[i]
    assert j[i]["why"] and j[i]["exit"] == 0 and j[i]["duration"] >= 0
assert j["broken"]["state"] == "failed" and j["broken"]["reused"] is False and j["broken"]["exit"] == 1 and j["broken"]["error"], j["broken"]
assert (b["succeeded"], b["reused"], b["failed"]) == (2, 2, 1), b
print("ok")
PY
check_eq "batch.json: web and web2 reused with the key, broken failed with its error" ok "$(cat "$TMP/bj")"
cmp -s "$store/image" "$TMP/b/web2.qcow2" && ok "the failure did not stop the others: web2 published" || not_ok "web2 published"
ids=$(py -c 'import json,sys; print(" ".join(sorted({json.loads(l)["build"] for l in open(sys.argv[1])})))' "$TMP/batch.jsonl")
check_eq "--events json re-emits every build's events with its id" "broken web web2" "$ids"
grep -q "^broken .*failed" "$TMP/batch.err" && grep -q "^web .*succeeded *reused" "$TMP/batch.err" && ok "the table at the end" || not_ok "table" "$(tail -5 "$TMP/batch.err")"
[ -s "$TMP/b/logs/broken.log" ] && ok "each build's log in DIR/logs" || not_ok "logs"

# --- A batch file with a release column: 'trixie' and '13' are the stored key's release (reused,
# ids NAME-RELEASE); 'bookworm' reaches the build (the fixture has no bookworm suite: it fails there).
mkdir -p "$TMP/rel"
cp "$TMP/p/web.yaml" "$TMP/rel/web.yaml"
printf 'web.yaml trixie\nweb.yaml\t13  # by number\nweb.yaml bookworm\n' > "$TMP/rel/list"
(cd / && "$KILN" batch "${C[@]}" --no-boot-test -j 2 -O "$TMP/rb" --file "$TMP/rel/list" > /dev/null 2> "$TMP/rb.err"); rc=$?
check_eq "a release batch with one release the mirror lacks exits 1" 1 "$rc"
py - "$TMP/rb/batch.json" "$key" > "$TMP/rbj" 2>&1 <<'PY'
import json, sys
j = {x["id"]: x for x in json.load(open(sys.argv[1]))["builds"]}
assert sorted(j) == ["web-13", "web-bookworm", "web-trixie"], sorted(j)
for i in ("web-trixie", "web-13"):
    assert j[i]["reused"] is True and j[i]["key"] == sys.argv[2] and j[i]["release"] == i[4:], j[i]
assert j["web-bookworm"]["state"] == "failed" and "bookworm" in j["web-bookworm"]["error"], j["web-bookworm"]
print("ok")
PY
check_eq "batch.json: the release column reaches each build (ids, release, keys; bookworm asked of the mirror)" ok "$(cat "$TMP/rbj")"
printf '# bad\nweb.yaml sid\nweb.yaml trixie extra\n\nnone.yaml\nweb.yaml\n' > "$TMP/rel/bad"
"$KILN" batch "${C[@]}" -O "$TMP/rbad" --file "$TMP/rel/bad" > /dev/null 2> "$TMP/rbad.err"; rc=$?
check_eq "a batch file with bad lines: exit 2" 2 "$rc"
check_eq "every bad line with its place, and nothing run" "kiln: $TMP/rel/bad:2:10: unsupported release 'sid': use 'bookworm' (12) or 'trixie' (13)
kiln: $TMP/rel/bad:3:17: more than a profile and a release on one line: 'extra'
kiln: $TMP/rel/bad:5:1: cannot read profile '$TMP/rel/none.yaml': No such file or directory
kiln batch: 3 bad lines in the batch file: nothing was run" "$(cat "$TMP/rbad.err")"
[ ! -e "$TMP/rbad/batch.json" ] && ok "no batch.json after bad lines" || not_ok "bad lines ran a batch"

# --- Ctrl-C: a build hangs on a mirror that never answers; SIGINT to the batch stops everything.
py -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(8); print(s.getsockname()[1], flush=True); time.sleep(600)' > "$TMP/hport" &
pids+=($!)
for _ in $(seq 50); do [ -s "$TMP/hport" ] && break; sleep 0.1; done
printf 'name: hang\nrelease: trixie\nmirror: http://127.0.0.1:%s/debian\nsecurity: false\n' "$(cat "$TMP/hport")" > "$TMP/p/hang.yaml"
"$KILN" batch "${C[@]}" -j 2 -O "$TMP/c" "$TMP/p/hang.yaml" "$TMP/p/web.yaml" > /dev/null 2> "$TMP/int.err" &
bp=$!
for _ in $(seq 100); do [ -f "$TMP/c/logs/hang.log" ] && break; sleep 0.1; done
sleep 2
kill -INT $bp
t0=$(date +%s); wait $bp; rc=$?; t1=$(date +%s)
check_eq "Ctrl-C: the batch exits 1" 1 "$rc"
[ $((t1 - t0)) -le 20 ] && ok "Ctrl-C stops every build ($((t1 - t0))s)" || not_ok "Ctrl-C took $((t1 - t0))s"
left=$(pgrep -f -- "--build-id hang" || true)
[ -z "$left" ] && ok "no build process is left" || not_ok "builds left" "$left"
partial=$(find "$TMP/c" -name '*kiln-partial*' -o -name 'hang.qcow2' | head -3)
[ -z "$partial" ] && ok "nothing half-written is left" || not_ok "half-written" "$partial"
py -c 'import json,sys; j={x["id"]: x for x in json.load(open(sys.argv[1]))["builds"]}; assert j["hang"]["state"] == "interrupted", j' "$TMP/c/batch.json" &&
        ok "batch.json says interrupted" || not_ok "interrupted in batch.json" "$(cat "$TMP/c/batch.json")"

# --- Concurrent writers on one cache: four kiln key runs pin and store at once, on a fresh cache.
kp=()
for i in 1 2 3 4; do "$KILN" key --cache "$TMP/shared" "$TMP/p/web.yaml" > "$TMP/ck$i" 2> "$TMP/ck$i.err" & kp+=($!); done
wait_ok=0; for j in "${kp[@]}"; do wait "$j" || true; done
for i in 2 3 4; do cmp -s "$TMP/ck1" "$TMP/ck$i" || wait_ok=1; done
[ $wait_ok -eq 0 ] && [ -s "$TMP/ck1" ] && ok "four concurrent kiln key runs on one cache agree" || not_ok "concurrent keys" "$(cat "$TMP"/ck*)"
bad=0; n=0
for f in "$TMP"/shared/sha256/*/*; do n=$((n + 1)); [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad=$((bad + 1)); done
[ $bad -eq 0 ] && [ $n -gt 0 ] && ok "every cache entry holds the bytes of its name ($n entries)" || not_ok "corrupt cache entries: $bad of $n"
check_eq "no temporary file left in the cache" "" "$(ls -A "$TMP/shared/tmp")"

# shellcheck source=tests/batch/slurm-part.sh
. "$(dirname "$0")/slurm-part.sh"

# --- kiln cache stats and prune (least recently used first).
"$KILN" cache --cache "$TMP/cache" stats > "$TMP/stats" 2>&1
grep -q "^results: 1 " "$TMP/stats" && grep -q "^files: " "$TMP/stats" && grep -q "^proxy: " "$TMP/stats" && ok "kiln cache stats: files, results, proxy hits and misses" || not_ok "stats" "$(cat "$TMP/stats")"
total=$(sed -n 's/^total: .* entries, \([0-9]*\) bytes.*/\1/p' "$TMP/stats")
touch -d '2 days ago' "$store"; touch -a -m -d '1 day ago' "$TMP"/cache/sha256/*/*
result_bytes=$(du -B1 -s "$store" | cut -f1)
"$KILN" cache --cache "$TMP/cache" prune --max-size "$((total - result_bytes / 2))" > "$TMP/prune" 2>&1
[ ! -e "$store" ] && [ -n "$(ls "$TMP"/cache/sha256/*/ 2> /dev/null)" ] && ok "prune removes the least recently used entry first (the old result)" ||
        not_ok "prune LRU" "$(cat "$TMP/prune")" "$(ls "$TMP/cache/results/keys")"
"$KILN" cache --cache "$TMP/cache" prune --max-size 0 > "$TMP/prune0" 2>&1
check_eq "prune --max-size 0 empties it" "" "$(find "$TMP/cache/sha256" -type f)"

finish
