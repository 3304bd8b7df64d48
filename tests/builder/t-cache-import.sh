#!/usr/bin/env bash
# What the install's proxy staged (it runs as the sandbox user and may not write kiln's cache),
# copied in by kiln once the proxy is gone: only regular files whose bytes have the sha256 they
# are named by, as fresh files of kiln's (0644, kiln's owner: the writer keeps no way to change
# them); a wrong hash, a link, a FIFO, a file over the size cap or a stray name is dropped, and
# the staging folder goes.
. "$(dirname "$0")/../lib.sh"
: "${FUZZ_DIR:?}"
bin="$(dirname "$FUZZ_DIR")/builder/test-cache-import"
st=$TMP/stage
mkdir -p "$st" "$TMP/cache"
good=$(printf 'a pool file' | sha256sum | cut -d' ' -f1)
printf 'a pool file' > "$st/$good"
bad=$(printf 'what the index lists' | sha256sum | cut -d' ' -f1)
printf 'something else' > "$st/$bad"
secret=$TMP/secret; printf 'host secret' > "$secret"
linked=$(sha256sum < "$secret" | cut -d' ' -f1)
ln -s "$secret" "$st/$linked"
fifo=$(printf 'fifo' | sha256sum | cut -d' ' -f1)
mkfifo "$st/$fifo"
head -c $((2 << 20)) /dev/zero > "$TMP/big"
big=$(sha256sum < "$TMP/big" | cut -d' ' -f1)
mv "$TMP/big" "$st/$big"
printf 'x' > "$st/part-abcdef"
[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$st"
check_eq "one entry comes in" 1 "$(timeout 20 "$bin" "$TMP/cache" "$st")"
f=$TMP/cache/sha256/${good:0:2}/$good
[ -f "$f" ] && [ ! -L "$f" ] && check_eq "it holds its bytes" "a pool file" "$(cat "$f")" || not_ok "the good entry is in the cache"
check_eq "a fresh file of kiln's, 0644" "$(id -u) 644" "$(stat -c '%u %a' "$f" 2>/dev/null)"
for n in "$bad" "$linked" "$fifo" "$big"; do
        [ ! -e "$TMP/cache/sha256/${n:0:2}/$n" ] || not_ok "a bad entry stays out ($n)"
done
ok "a wrong hash, a link to a host file, a FIFO and a file over the cap stay out"
[ ! -e "$st" ] && ok "the staging folder is gone" || not_ok "the staging folder is gone" "$(ls -la "$st")"
check_eq "nothing in the cache's tmp" "" "$(ls "$TMP/cache/tmp")"

# A proxy the guest took over can stage as much as it likes, each file named by its own hash: no
# more than the limits comes in (files, bytes in all), the rest is dropped and counted.
mkdir -p "$st" "$TMP/cache2"
for i in $(seq 1 12); do
        printf 'junk %04d' "$i" > "$TMP/j" # 9 bytes each
        mv "$TMP/j" "$st/$(printf 'junk %04d' "$i" | sha256sum | cut -d' ' -f1)"
done
[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$st"
check_eq "past the file limit: 5 come in, 7 are left out" "5 7" "$(timeout 20 "$bin" "$TMP/cache2" "$st" 5 1000)"
mkdir -p "$st"
for i in $(seq 1 12); do printf 'more %04d' "$i" > "$TMP/j"; mv "$TMP/j" "$st/$(printf 'more %04d' "$i" | sha256sum | cut -d' ' -f1)"; done
check_eq "past the byte limit (30 bytes): 3 come in, 9 are left out" "3 9" "$(timeout 20 "$bin" "$TMP/cache2" "$st" 1000 30)"
check_eq "the cache holds what came in, no more" 8 "$(find "$TMP/cache2/sha256" -type f | wc -l)"
# Files whose bytes do not match their name cost their copy all the same: they count too.
mkdir -p "$st"
for i in $(seq 1 12); do printf 'liar %04d' "$i" > "$st/$(printf 'claim %04d' "$i" | sha256sum | cut -d' ' -f1)"; done
check_eq "wrong hashes count against the limits: none comes in, 7 are left out unread" "0 7" "$(timeout 20 "$bin" "$TMP/cache2" "$st" 5 1000)"
# A second name for a file (a hard link to one the stager may not read) stays out.
mkdir -p "$st"
printf 'linked twice' > "$TMP/twice"
ln "$TMP/twice" "$st/$(sha256sum < "$TMP/twice" | cut -d' ' -f1)"
check_eq "a hard-linked entry stays out" "0 0" "$(timeout 20 "$bin" "$TMP/cache2" "$st" 5 1000)"
[ ! -e "$st" ] && ok "the staging folder is gone after the limits" || not_ok "the staging folder is gone after the limits"
finish
