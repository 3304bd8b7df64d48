#!/usr/bin/env bash
# The build key against the signed archive fixture on 127.0.0.1: the same inputs give the same
# key, a late command, the format and a new InRelease on the mirror each change it, and --explain
# names the input that changed since the last build of the profile. Then kiln cache stats/prune.
. "$(dirname "$0")/../lib.sh"
KILN=$(kiln_with --allow-private-mirrors --trust-profile-paths)
export KILN_FETCH_RETRIES=1
# shellcheck disable=SC2034 # pids: read by start_archive_fixture and stop_background (tests/lib.sh)
pids=()
trap stop_background EXIT

start_archive_fixture
# shellcheck disable=SC2154 # set by start_archive_fixture (tests/lib.sh)
base=$archive_base
printf 'name: keyed\nrelease: trixie\nmirror: %s\nmirror_keyring: %s\nsecurity: false\n' "$base" "$TMP/gnupg/good.asc" > "$TMP/p.yaml"
C=(--cache "$TMP/cache")

k1=$("$KILN" key "${C[@]}" "$TMP/p.yaml" 2> "$TMP/k1.err")
[[ $k1 =~ ^[0-9a-f]{64}$ ]] && ok "kiln key prints a sha256" || { not_ok "kiln key" "$k1" "$(cat "$TMP/k1.err")"; finish; exit; }
k2=$("$KILN" key "${C[@]}" "$TMP/p.yaml" 2> /dev/null)
check_eq "the same inputs give the same key" "$k1" "$k2"
"$KILN" key "${C[@]}" --explain "$TMP/p.yaml" > "$TMP/explain" 2>&1
for input in "kiln (" profile preseed files kernel initrd "release $base trixie (InRelease" "release $base trixie-updates (absent)" "format (qcow2)" "finish (finalize=guestfs boot-test=yes)"; do
        grep -qF "$input" "$TMP/explain" && ok "--explain lists the input: $input" || not_ok "--explain lists $input" "$(cat "$TMP/explain")"
done
kr=$("$KILN" key "${C[@]}" --format raw "$TMP/p.yaml" 2> /dev/null)
[ -n "$kr" ] && [ "$kr" != "$k1" ] && ok "the format changes the key" || not_ok "format changes the key" "$kr"
kb=$("$KILN" key "${C[@]}" --no-boot-test "$TMP/p.yaml" 2> /dev/null)
[ -n "$kb" ] && [ "$kb" != "$k1" ] && ok "the finish options change the key" || not_ok "finish options change the key"
cp "$TMP/p.yaml" "$TMP/late.yaml"; printf 'late_commands: ["echo hello > /target/etc/motd"]\n' >> "$TMP/late.yaml"
kl=$("$KILN" key "${C[@]}" "$TMP/late.yaml" 2> "$TMP/kl.err")
[ -n "$kl" ] && [ "$kl" != "$k1" ] && ok "a late command changes the key" || not_ok "late command changes the key" "$(cat "$TMP/kl.err")"

# A security update lands on the mirror: a new signed InRelease.
python3 "$FIX" build "$ROOT" --gnupghome "$TMP/gnupg" --variant changed 2> "$TMP/build.err" || not_ok "rebuild fixture" "$(cat "$TMP/build.err")"
kn=$("$KILN" key "${C[@]}" "$TMP/p.yaml" 2> "$TMP/kn.err")
[ -n "$kn" ] && [ "$kn" != "$k1" ] && ok "a new InRelease on the mirror changes the key" || not_ok "new InRelease changes the key" "$kn" "$(cat "$TMP/kn.err")"
kn2=$("$KILN" key "${C[@]}" "$TMP/p.yaml" 2> /dev/null)
check_eq "and the new key is stable" "$kn" "$kn2"

finish
