#!/usr/bin/env bash
# An untrusted profile reads nothing of the host and says nothing the installer does not expect:
# the trust switches, files that would block or flood, the address policy after DNS, file names
# in the preseed, output paths QEMU would parse, foreign build folders, and (as root) a root-only
# file that must not reach any output, error or initrd.
. "$(dirname "$0")/../lib.sh"
FIX="$TOP/tests/helpers/archive-fixture.py"
WALK="$TOP/tests/helpers/initrd-walk.py"
export KILN_FETCH_RETRIES=1
server=
cleanup() { [ -n "$server" ] && { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; }; rm -rf "$TMP"; }
trap cleanup EXIT
cd "$TMP" || exit 1
hdr='name: u
release: trixie
security: false'

# --- files that block or flood: refused at once even where absolute paths are trusted
mkfifo fifo
printf '%s\nrepos:\n  - {name: r, url: "http://apt.example.org/d", key_file: %s}\n' "$hdr" "$TMP/fifo" > fifo-key.yaml
timeout 20 "$KILN" validate --trust-profile-paths fifo-key.yaml > /dev/null 2> err; rc=$?
check_eq "a FIFO key_file: exit 2, no hang" 2 "$rc"
check_eq "a FIFO key_file: located" "kiln: fifo-key.yaml:5:58: 'repos.key_file': cannot use '$TMP/fifo': it is not a regular file (a device, FIFO or socket)" "$(cat err)"
printf 'extends: %s\n%s\n' "$TMP/fifo" "$hdr" > fifo-extends.yaml
timeout 20 "$KILN" --trust-profile-paths validate fifo-extends.yaml > /dev/null 2> err; check_eq "a FIFO extends: exit 2, no hang" 2 $?
printf '%s\nmirror: http://apt.example.org/d\nmirror_keyring: /dev/zero\n' "$hdr" > zero.yaml
timeout 20 "$KILN" validate --trust-profile-paths zero.yaml > /dev/null 2> err; check_eq "/dev/zero keyring: exit 2" 2 $?
grep -q "zero.yaml:5:17: 'mirror_keyring': cannot use '/dev/zero': it is not a regular file" err && ok "/dev/zero: located" || not_ok "/dev/zero: located" "$(cat err)"
printf '%s\nmirror: http://apt.example.org/d\nmirror_keyring: /proc/self/environ\n' "$hdr" > environ.yaml
KILN_MARKER_ENV=marker-ENV-4410 "$KILN" validate --trust-profile-paths environ.yaml > out 2> err; check_eq "/proc/self/environ: exit 2" 2 $?
grep -q "marker-ENV-4410" out err && not_ok "nothing of the environment is printed" || ok "nothing of the environment is printed"
dd if=/dev/zero of=big.gpg bs=1M count=2 status=none
printf '%s\nmirror: http://apt.example.org/d\nmirror_keyring: big.gpg\n' "$hdr" > big.yaml
"$KILN" validate big.yaml > /dev/null 2> err
check_eq "a 2 MiB keyring is over the cap" "kiln: big.yaml:5:17: 'mirror_keyring': cannot use 'big.gpg': it is larger than 1 MiB" "$(cat err)"

# --- the switches: --profile-root widens the folder, --trust-profile-paths allows absolute paths
mkdir -p lib/keys app
cp "$TOP/profiles/keys/example-repo.asc" lib/keys/r.asc
printf '%s\nrepos:\n  - {name: r, url: "http://apt.example.org/d", key_file: ../lib/keys/r.asc}\n' "$hdr" > app/a.yaml
"$KILN" validate -q app/a.yaml 2> /dev/null; check_eq "'..' out of the profile's folder: refused" 2 $?
"$KILN" validate -q --profile-root . app/a.yaml 2> /dev/null; check_eq "--profile-root . allows it" 0 $?
"$KILN" validate -q --profile-root app app/a.yaml 2> /dev/null; check_eq "--profile-root app does not" 2 $?
"$KILN" validate -q --profile-root lib app/a.yaml 2> err; check_eq "a profile outside --profile-root: exit 2" 2 $?
ln -s ../lib/keys app/keys
sed 's#\.\./lib/keys#keys#' app/a.yaml > app/b.yaml
"$KILN" validate -q app/b.yaml 2> err; check_eq "a symlink out of the folder: refused" 2 $?
grep -q "it leads outside the profile's folder" err && ok "the symlink refusal says why" || not_ok "the symlink refusal says why" "$(cat err)"
"$KILN" validate -q --trust-profile-paths app/b.yaml 2> /dev/null; check_eq "--trust-profile-paths follows it" 0 $?

# --- the address policy again after DNS: a name that resolves to loopback
h=$(hostname)
if getent hosts "$h" | grep -qE '^(127\.|::1)'; then
        printf '%s\nmirror: "http://%s:9/debian"\n' "$hdr" "$h" > dns.yaml
        "$KILN" fetch --cache cache dns.yaml > /dev/null 2> err; check_eq "a name resolving to loopback: fetch fails" 1 $?
        grep -q "kiln refuses to connect to 127\.[0-9.]*, a loopback address" err && ok "refused after DNS, with the reason" ||
                not_ok "refused after DNS" "$(cat err)"
        grep -q "tries" err && not_ok "a refusal is not retried" "$(cat err)" || ok "a refusal is not retried"
else
        skip "refused after DNS" "the host name '$h' does not resolve to loopback here"
fi

# --- a file name never adds a line to the preseed
nl_name=$'evil\nd-i finish-install_x boolean false\\.yaml'
printf '%s\n' "$hdr" > "$nl_name"
"$KILN" preseed "$nl_name" > p.cfg 2> /dev/null; check_eq "a profile named with a newline builds" 0 $?
check_eq "its name is escaped in '# from:'" '# from: evil\x0ad-i finish-install_x boolean false\x5c.yaml' "$(sed -n 2p p.cfg)"
check_eq "no line of its own" 0 "$(grep -c '^d-i finish-install_x' p.cfg)"

# --- output paths: no comma reaches QEMU, no foreign build folder is used
printf '%s\nmirror: http://apt.example.org/d\n' "$hdr" > o.yaml
"$KILN" install -o 'x.qcow2,file.locking=off' o.yaml > /dev/null 2> err; check_eq "install: a comma in -o is exit 2" 2 $?
grep -q "contains a comma, which QEMU would read as more options" err && ok "install: the comma is named" || not_ok "install: the comma" "$(cat err)"
"$KILN" build -o 'y,format=raw.qcow2' o.yaml > /dev/null 2> err; check_eq "build: a comma in -o is exit 2" 2 $?
"$KILN" install --build-dir 'd,x' -o z.qcow2 o.yaml > /dev/null 2> err; check_eq "install: a comma in --build-dir is exit 2" 2 $?
: > 'img,file=x.qcow2'
"$KILN" boot-test 'img,file=x.qcow2' > /dev/null 2> err; check_eq "boot-test: a comma in the image is exit 2" 2 $?
ln -s /tmp w.qcow2.d
"$KILN" install -o w.qcow2 o.yaml > /dev/null 2> err; check_eq "a symlink OUTPUT.d is refused" 2 $?
grep -q "'w.qcow2.d' is a symlink" err && ok "the symlink build folder is named" || not_ok "symlink build folder" "$(cat err)"
: > f.qcow2.d
"$KILN" install -o f.qcow2 o.yaml > /dev/null 2> err; check_eq "a file OUTPUT.d is refused" 2 $?
if [ "$(id -u)" -eq 0 ] && id nobody > /dev/null 2>&1; then
        mkdir n.qcow2.d && chown nobody n.qcow2.d
        "$KILN" install -o n.qcow2 o.yaml > /dev/null 2> err; check_eq "another user's OUTPUT.d is refused" 2 $?
        grep -q "belongs to another user" err && ok "the owner is the reason" || not_ok "the owner is the reason" "$(cat err)"
else
        skip "another user's OUTPUT.d is refused" "needs root and the user nobody"
fi

# --- as root: a root-only file outside the profile's folder never reaches an output
if [ "$(id -u)" -ne 0 ]; then
        skip "root-only file" "needs root"
        finish
        exit
fi
secret_dir=$(mktemp -d /root/kiln-secret.XXXXXX)
marker="kiln-marker-$RANDOM$RANDOM-do-not-leak"
printf 'root:%s:19000:0:99999:7:::\n%s: yes\n' "$marker" "$marker" > "$secret_dir/shadow"
chmod 0600 "$secret_dir/shadow"
python3 "$FIX" keys gnupg > /dev/null 2>&1 || { not_ok "make test keys"; finish; exit; }
python3 "$FIX" build archive --gnupghome gnupg --variant good > /dev/null 2>&1 || { not_ok "build the fixture"; finish; exit; }
python3 "$FIX" serve archive > port 2> /dev/null &
server=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
PORT=$(cat port)
mkdir -p prof && cp gnupg/good.asc prof/keyring.asc && ln -sf "$secret_dir/shadow" prof/link.asc
base="name: t
release: trixie
mirror: http://127.0.0.1:$PORT/debian
mirror_keyring: keyring.asc
security: false"
i=0
for v in "key_file: $secret_dir/shadow" "key_file: link.asc" "key_file: ../../..$secret_dir/shadow" \
        "key_file: /proc/self/environ" "key_file: /dev/stdin"; do
        i=$((i + 1))
        printf '%s\nrepos:\n  - {name: r, url: "http://apt.example.org/d", %s}\n' "$base" "$v" > prof/k$i.yaml
done
printf 'extends: %s\n%s\n' "$secret_dir/shadow" "$base" > prof/k6.yaml
printf 'extends: link.asc\n%s\n' "$base" > prof/k7.yaml
printf '%s\nmirror_keyring: %s\n' "$(printf '%s\n' "$base" | grep -v mirror_keyring)" "$secret_dir/shadow" > prof/k8.yaml
leaks=0
for f in prof/k*.yaml; do
        for trust in "" --trust-profile-paths; do
                rm -rf out; mkdir out
                "$KILN" validate --allow-private-mirrors $trust "$f" > out/v.out 2> out/v.err < /dev/null; rc=$?
                [ "$rc" -eq 2 ] || { not_ok "validate $f $trust: exit 2" "exit $rc"; leaks=$((leaks + 1)); }
                "$KILN" fetch --allow-private-mirrors $trust --cache cache -o out/media "$f" > out/f.out 2> out/f.err < /dev/null
                [ -e out/media/initrd.gz ] && python3 "$WALK" out/media/initrd.gz > out/walk 2>&1
                if grep -rqa "$marker" out; then
                        not_ok "nothing of the root-only file: $f $trust" "$(grep -rla "$marker" out)"
                        leaks=$((leaks + 1))
                fi
        done
done
[ "$leaks" -eq 0 ] && ok "a root-only file reaches no output, error or initrd ($(ls prof/k*.yaml | wc -l) profiles, trusted or not)"
# and the good profile still fetches, its keyring in the initrd
printf '%s\n' "$base" > prof/good.yaml
rm -rf out; "$KILN" fetch --allow-private-mirrors --cache cache -o out "prof/good.yaml" > /dev/null 2> err
check_eq "the fixture profile fetches with a keyring beside it" 0 $? || cat err
rm -rf "$secret_dir"
finish
