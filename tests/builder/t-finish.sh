#!/usr/bin/env bash
# Everything after the install, on a real Debian image made at test time (tests/helpers/
# debian-fixture.sh: mmdebstrap + libguestfs, no installer, no boot loader): kiln finish inspects it,
# installs GRUB from the host side in the libguestfs appliance, converts it, boot-tests it to a
# login prompt and writes the manifest and the libvirt domain. Also: the manifest is the same for
# the same inputs, a failed finish leaves nothing, --finalize=dm refuses without device-mapper (and
# runs for real where the kernel has it), and the dm plan unwinds in reverse.
. "$(dirname "$0")/../lib.sh"
BUILD_DIR=$(dirname "$KILN")
fixdir=${KILN_FIXTURE_DIR:-$TOP/build/fixtures}
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# The ASan pass (make check-asan) runs the pipeline once without the boot test: the C code is the
# same, the minutes are not.
quick=${KILN_TEST_QUICK:-}

# The dm plan, without device-mapper: every command in order, and the unwinding on failure and
# on Ctrl-C (the runner records instead of running; the real commands are below where dm works).
plan=$BUILD_DIR/tests/builder/test-finish
for c in "0 0" "2 0" "0 3" "2 5" "0 interrupt2"; do
        name=$(echo "$c" | tr ' ' '-')
        "$plan" $c > "$TMP/plan-$name.out" 2>&1
        [ -n "${UPDATE_GOLDEN:-}" ] && cp "$TMP/plan-$name.out" "$TOP/tests/builder/dm-plan/$name.out"
        check_diff "dm plan: boot part, fail at / interrupt: $c" "$TOP/tests/builder/dm-plan/$name.out" "$TMP/plan-$name.out"
done

# What --finalize=dm checks before it mounts on the image's /boot or runs the host's grub-install
# there: a package inside the guest may have planted symbolic links to send root's writes into
# the host.
t=$TMP/tree
mkdir -p "$t/ok/boot" "$t/bootlink" "$t/grublink/boot" "$t/deep/boot/grub/i386-pc" "$TMP/victim"
ln -s "$TMP/victim" "$t/bootlink/boot"
ln -s "$TMP/victim" "$t/grublink/boot/grub"
ln -s "$TMP/victim" "$t/deep/boot/grub/i386-pc/fonts"
check_eq "dm: a plain /boot passes, /boot/grub is created" "ok" "$("$plan" check-tree "$t/ok" 1)"
[ -d "$t/ok/boot/grub" ] && ok "dm: /boot/grub made inside the image" || not_ok "dm: /boot/grub made"
"$plan" check-tree "$t/bootlink" 0 | grep -q "/boot is not a plain folder" && ok "dm: a /boot symlink is refused before mounting on it" || not_ok "dm: /boot symlink"
"$plan" check-tree "$t/grublink" 1 | grep -q "/boot/grub is not a plain folder" && ok "dm: a /boot/grub symlink is refused" || not_ok "dm: /boot/grub symlink"
"$plan" check-tree "$t/deep" 1 | grep -q "/boot/grub/i386-pc/fonts is a symbolic link" && ok "dm: a symlink deep below /boot/grub is refused" || not_ok "dm: deep symlink"
[ -z "$(ls -A "$TMP/victim")" ] && ok "dm: nothing was written through the links" || not_ok "dm: wrote through a link" "$(ls -A "$TMP/victim")"

# Conversion to each output format, sparse and never probing the source's format.
head -c 1M /dev/urandom > "$TMP/src.raw"; truncate -s 64M "$TMP/src.raw"
for ext in qcow2 raw img vmdk vhdx; do
        got=$("$plan" convert "$TMP/src.raw" raw "$TMP/conv.$ext" | head -1)
        want=$ext; [ $ext = img ] && want=raw
        actual=$(qemu-img info --output=json "$TMP/conv.$ext" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')
        check_eq "convert to .$ext writes $want" "$want $want" "$got $actual"
done
used=$(du -k "$TMP/conv.raw" | cut -f1)
[ "$used" -lt 8192 ] && ok "the raw output is sparse (${used} KiB used of 64 MiB)" || not_ok "sparse raw output" "$used KiB"
cmp -s "$TMP/src.raw" "$TMP/conv.raw" && ok "the converted raw holds the same bytes" || not_ok "conversion changed the bytes"
"$plan" convert "$TMP/src.raw" qcow2 "$TMP/bad.qcow2" > "$TMP/conv.err"
grep -q "is not a qcow2 image" "$TMP/conv.err" && [ ! -e "$TMP/bad.qcow2" ] &&
        ok "a source not of the stated format fails, and leaves no output" || not_ok "conversion failure" "$(cat "$TMP/conv.err")"

# Usage errors: exit 2, nothing created.
"$KILN" finish "$TOP/profiles/minimal.yaml" /dev/null > /dev/null 2> "$TMP/e1"; check_eq "finish without -o: exit 2" 2 $?
"$KILN" finish -o "$TMP/x.iso" "$TOP/profiles/minimal.yaml" /dev/null 2> "$TMP/e2"; rc=$?
[ $rc -eq 2 ] && grep -q "extension names its format" "$TMP/e2" && ok "an unknown output extension is refused" ||
        not_ok "unknown extension" "$(cat "$TMP/e2")"
touch "$TMP/exists.qcow2"
"$KILN" build -o "$TMP/exists.qcow2" "$TOP/profiles/minimal.yaml" 2> "$TMP/e3"; rc=$?
[ $rc -eq 2 ] && grep -q "does not overwrite" "$TMP/e3" && ok "an existing output is not overwritten" || not_ok "existing output" "$(cat "$TMP/e3")"
"$KILN" build --finalize=mount -o "$TMP/y.qcow2" "$TOP/profiles/minimal.yaml" 2> "$TMP/e4"; rc=$?
[ $rc -eq 2 ] && grep -q "guestfs or dm" "$TMP/e4" && ok "--finalize takes guestfs or dm" || not_ok "--finalize" "$(cat "$TMP/e4")"
[ ! -e "$TMP/y.qcow2" ] && [ ! -e "$TMP/y.qcow2.d" ] && ok "usage errors create nothing" || not_ok "usage errors create nothing"

command -v guestfish > /dev/null && command -v mmdebstrap > /dev/null ||
        { skip "kiln finish on a real image" "guestfish or mmdebstrap missing (make deps installs them)"; finish; exit; }
bash "$TOP/tests/helpers/debian-fixture.sh" "$fixdir" 2> "$TMP/fixture.err"; rc=$?
if [ $rc -eq 77 ]; then
        skip "kiln finish on a real image" "THE MIRROR could not serve the fixture's packages, not a kiln problem: $(head -2 "$TMP/fixture.err" | tr '\n' ' ')"
        finish; exit
elif [ $rc -ne 0 ]; then
        not_ok "build the Debian fixture image" "$(tail -5 "$TMP/fixture.err")"; finish; exit
fi
ok "a real Debian image without a boot loader (mmdebstrap + libguestfs)"
img=$fixdir/debian.qcow2
before=$(sha256sum < "$img")

cat > "$fixdir/host.yaml" <<X
name: fixture
release: bookworm
bootloader: host
root:
  ssh_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnTestKeyOnlyForTheFixture kiln-test]
X

# A disk with no operating system: the stage says so, and nothing is left.
if [ -z "$quick" ]; then
        qemu-img create -q -f qcow2 "$TMP/blank.qcow2" 64M
        "$KILN" finish --no-boot-test -o "$TMP/blank-out.qcow2" "$fixdir/host.yaml" "$TMP/blank.qcow2" > /dev/null 2> "$TMP/blank.err"; rc=$?
        [ $rc -eq 1 ] && grep -q "no operating system" "$TMP/blank.err" && ok "a disk without an OS fails at inspection" ||
                not_ok "a disk without an OS fails" "rc=$rc" "$(tail -3 "$TMP/blank.err")"
        left=$(find "$TMP" -mindepth 1 -maxdepth 1 \( -name 'blank-out*' -o -name '*kiln-partial*' \) ! -name blank-out.qcow2.d -printf '%f\n')
        leftd=$(find "$TMP/blank-out.qcow2.d" -mindepth 1 -maxdepth 1 -name 'work.*' -printf '%f\n')
        [ -z "$left$leftd" ] && ok "a failed finish leaves no image, manifest, partial or work disk" || not_ok "failed finish leaves nothing" "$left $leftd"
fi

# The main path: GRUB from the host side, a compressed qcow2, the boot test, manifest, libvirt XML.
mkdir -p "$TMP/a"
opts=(--libvirt-xml)
[ -n "$quick" ] && opts+=(--no-boot-test)
"$KILN" finish "${opts[@]}" --events-fd 3 -o "$TMP/a/fixture.qcow2" "$fixdir/host.yaml" "$img" 3> "$TMP/a.jsonl" > "$TMP/a.out" 2> "$TMP/a.err"; rc=$?
if [ $rc -ne 0 ]; then
        not_ok "kiln finish with bootloader: host" "$(grep -v warning "$TMP/a.err" | tail -8)"
        finish; exit
fi
ok "kiln finish with bootloader: host (libguestfs) succeeds"
if /usr/bin/python3 -c 'import jsonschema' 2> /dev/null; then
        out=$(/usr/bin/python3 "$TOP/tests/helpers/check-events.py" "$TOP/docs/events.schema.json" "$TMP/a.jsonl" --last result 2>&1) &&
                ok "its event stream passes the schema: $out, the result last" || not_ok "finish events: schema" "$out"
        check_eq "the result event names the image's sha256" "$(sha256sum < "$TMP/a/fixture.qcow2" | cut -d' ' -f1)" \
                "$(/usr/bin/python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print([o["sha256"] for o in r["outputs"] if o["kind"] == "image"][0])' "$TMP/a.jsonl")"
else
        skip "finish events: schema" "python3-jsonschema is not installed"
fi
for s in "inspecting" "installing GRUB from the host side" "writing the output" "hashing the image and writing the manifest"; do
        grep -q "\] $s" "$TMP/a.err" && ok "one display shows the stage: $s" || not_ok "stage shown: $s" "$(cat "$TMP/a.err")"
done
if [ -z "$quick" ]; then
        grep -q "boot-test passed" "$TMP/a.err" && grep -q "login:" "$TMP/a/fixture.qcow2.d/boot-console.log" &&
                ok "the finished image boots to a login prompt (it had no boot loader before)" ||
                not_ok "boot-test" "$(tail -5 "$TMP/a/fixture.qcow2.d/boot-console.log")"
fi
check_eq "the input disk is not changed" "$before" "$(sha256sum < "$img")"
fmt=$(qemu-img info --output=json "$TMP/a/fixture.qcow2" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["format"], "backing" if "backing-filename" in j else "self-contained")')
check_eq "the output is a self-contained qcow2" "qcow2 self-contained" "$fmt"
m=$TMP/a/fixture.qcow2.manifest.json
python3 - "$m" "$TMP/a/fixture.qcow2" > "$TMP/m.check" 2>&1 <<'PY'
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
h = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert m["image"]["sha256"] == h, "image sha256 differs from the file's"
assert m["image"]["file"] == "fixture.qcow2" and m["image"]["format"] == "qcow2"
assert m["image"]["bootloader"] == "host (libguestfs)", m["image"]["bootloader"]
assert m["profile"]["expanded"]["bootloader"] == "host"
assert len(m["profile"]["sha256"]) == 64 and m["profile"]["files"][0]["sha256"]
assert m["profile"]["expanded"]["root"]["password"] == "locked"
assert m["packages"]["grub-pc"] and m["packages"]["systemd"], "packages"
assert m["os"]["distro"] == "debian" and m["os"]["installer_finished"]
assert "inspect" in m["timings"] and "bootloader" in m["timings"]
assert m["kiln_version"]
print("manifest ok")
PY
grep -q "manifest ok" "$TMP/m.check" && ok "the manifest: image hash, profile and its hash, packages, OS, timings" ||
        not_ok "manifest" "$(cat "$TMP/m.check")"
xmllint --noout "$TMP/a/fixture.qcow2.xml" 2> "$TMP/xml.err" && grep -q "<source file=\"$TMP/a/fixture.qcow2\"/>" "$TMP/a/fixture.qcow2.xml" &&
        ok "--libvirt-xml writes a well-formed domain naming the image" || not_ok "libvirt xml" "$(cat "$TMP/xml.err")"
[ -s "$TMP/a/fixture.qcow2.d/installer/README" ] && grep -q "^grub-pc=" "$TMP/a/fixture.qcow2.d/packages.txt" &&
        ok "the image's /var/log/installer and package list are copied to the build folder" || not_ok "build folder contents"
[ -z "$(find "$TMP/a" -mindepth 1 -maxdepth 1 -name '*kiln-partial*')" ] && [ -z "$(find "$TMP/a/fixture.qcow2.d" -mindepth 1 -maxdepth 1 -name 'work.*')" ] &&
        ok "no partial output or work disk left after success" || not_ok "leftovers after success" "$(ls -A "$TMP/a" "$TMP/a/fixture.qcow2.d")"
grub=$(sed -n '/^\$ cat \/boot\/grub\/grub.cfg/,$p' "$TMP/a/fixture.qcow2.d/grub-install.log" | grep -c "linux.*root=.*console=ttyS0,115200n8")
[ "${grub:-0}" -gt 0 ] && ok "grub.cfg was written by the image's update-grub with the profile's kernel_args" || not_ok "grub.cfg"
# grub-install goes to the disk GRUB itself finds under /boot, in the appliance kernel's names
# (libguestfs's API names are translated; the kernel's order of the two disks is not fixed).
probed=$(sed -n '/^\$ grub-probe --target=disk \/boot$/{n;p;q}' "$TMP/a/fixture.qcow2.d/grub-install.log")
[[ "$probed" =~ ^/dev/[sv]d[a-z]$ ]] && ok "grub-install's disk is the one grub-probe names for /boot ($probed)" ||
        not_ok "grub-probe names the disk" "$(head -5 "$TMP/a/fixture.qcow2.d/grub-install.log")"

# Two finishes of the same inputs must give manifests that differ only in timings and the image
# hash. make check runs this script twice (the normal build, then the ASan build in quick mode):
# the first saves its manifest beside the fixture, the second compares, so the gate gets the check
# without a third appliance-heavy finish. The profile lives beside the fixture so that its path,
# which the manifest records, is the same in both passes.
saved=$fixdir/finish.manifest.json
strip='import json,sys; m=json.load(open(sys.argv[1])); m.pop("timings"); m["image"].pop("sha256"); print(json.dumps(m, indent=1))'
if [ -z "$quick" ]; then
        cp "$m" "$saved"
elif [ "$saved" -nt "$img" ]; then
        python3 -c "$strip" "$saved" > "$TMP/ma" 2>&1
        python3 -c "$strip" "$m" > "$TMP/mb" 2>&1
        check_diff "two finishes of the same inputs (the normal pass's and this one): manifests differ only in timings and the image hash" "$TMP/ma" "$TMP/mb"
else
        skip "two finishes of the same inputs give the same manifest" "no manifest from a normal pass on this fixture in $fixdir (make check-unit saves one)"
fi

# A signal to kiln alone (a portal's kill or systemd's stop; a terminal's Ctrl-C reaches every
# process of the group anyway) ends a finish stage in seconds, not when the appliance is done, and
# leaves no image, work disk or child process.
mkdir -p "$TMP/int"
"$KILN" finish --no-boot-test -o "$TMP/int/o.qcow2" "$fixdir/host.yaml" "$img" > /dev/null 2> "$TMP/int.err" &
pid=$!
for _ in $(seq 1500); do grep -q '\] inspecting' "$TMP/int.err" && break; kill -0 $pid 2>/dev/null || break; sleep 0.2; done
sleep 2
kids=$(cat /proc/$pid/task/*/children 2>/dev/null)
t0=$SECONDS
kill -TERM $pid
wait $pid; rc=$?
took=$((SECONDS - t0))
[ $rc -eq 1 ] && [ $took -le 15 ] && grep -q "interrupted by SIGTERM in the inspect stage" "$TMP/int.err" &&
        ok "SIGTERM to kiln alone stops the inspect stage's appliance (exit 1 in ${took} s)" ||
        not_ok "SIGTERM during a finish stage" "rc=$rc after $took s" "$(tail -3 "$TMP/int.err")"
left=""
for k in $kids; do kill -0 "$k" 2>/dev/null && left="$left $(tr '\0' ' ' < /proc/$k/cmdline | cut -c1-60)"; done
left="$left$(find "$TMP/int" -mindepth 1 -maxdepth 1 ! -name o.qcow2.d -printf '%f\n')$(find "$TMP/int/o.qcow2.d" -mindepth 1 -maxdepth 1 -name 'work.*' -printf '%f\n')"
[ -n "$kids" ] && [ -z "$left" ] && ok "after SIGTERM: no child process, image, partial or work disk left" ||
        not_ok "after SIGTERM: nothing left" "children seen: '$kids'; left: $left"

# --finalize=dm: where device-mapper answers, for real (root, loop, dmsetup, kpartx, the host's
# grub-install) and then a boot test; elsewhere it must refuse before doing anything.
"$KILN" finish --finalize=dm --no-boot-test -o "$TMP/dm.qcow2" "$fixdir/host.yaml" "$img" > /dev/null 2> "$TMP/dm.err"; rc=$?
if grep -q "this kernel has none\|cannot open /dev/mapper/control\|needs root" "$TMP/dm.err"; then
        [ $rc -eq 1 ] && [ ! -e "$TMP/dm.qcow2" ] && ok "--finalize=dm refuses clearly without device-mapper: $(grep -o 'needs.*' "$TMP/dm.err" | head -1 | cut -c1-80)" ||
                not_ok "--finalize=dm refusal" "$(cat "$TMP/dm.err")"
        skip "--finalize=dm for real" "this kernel has no device-mapper (DM_VERSION fails); the plan is tested above"
else
        [ $rc -eq 0 ] && ok "--finalize=dm installs GRUB with the host's grub-install" || not_ok "--finalize=dm" "$(tail -8 "$TMP/dm.err")"
        [ -z "$(dmsetup ls 2>/dev/null | grep '^hd')" ] && [ -z "$(losetup -j "$TMP/dm.qcow2.d/work.raw" 2>/dev/null)" ] &&
                ok "--finalize=dm unwinds: no mapping or loop device left" || not_ok "dm leftovers" "$(dmsetup ls; losetup -a)"
        if [ -z "$quick" ] && [ $rc -eq 0 ]; then
                "$KILN" boot-test "$TMP/dm.qcow2" > /dev/null 2> "$TMP/dmboot.err" && ok "the dm-finished image boots" ||
                        not_ok "dm image boots" "$(tail -5 "$TMP/dmboot.err")"
        fi
fi
finish
