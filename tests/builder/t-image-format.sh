#!/usr/bin/env bash
# A disk's format comes from its name (or --format), never from its bytes: a guest writes those.
# Regression for issue 12, class A: a '.raw' that held a qcow2 header naming a root-only host file
# as its external data file made 'kiln finish' copy that file into the work disk. Here: the same
# '.raw' is read as raw by finish, inspect and boot-test; qcow2 images with a backing file or an
# external data file are refused before anything opens them; a name without a known extension
# needs --format. No libguestfs appliance and no guest boots: a QEMU stand-in records the command
# line libguestfs or kiln gives it and stops there.
. "$(dirname "$0")/../lib.sh"
for t in qemu-system-x86_64 qemu-img; do
        command -v $t > /dev/null || { skip "image formats" "$t is not installed"; finish; exit 0; }
done
export TMPDIR="$TMP/tmp"; mkdir -p "$TMPDIR"
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# The appliance libguestfs builds once per cache folder, not in this test's TMPDIR.
export LIBGUESTFS_CACHEDIR=${LIBGUESTFS_CACHEDIR:-/var/tmp}
profile=$TOP/profiles/minimal.yaml
marker="kiln-host-secret-$$-$RANDOM$RANDOM"

# qemu-img create resizes (and zeroes) an existing data file: name the secret's path first, then
# put the secret there, as a host file the image never had a right to.
secret=$TMP/secret
qemu-img create -q -f qcow2 -o data_file="$secret",data_file_raw=on "$TMP/evil.raw" 1M
qemu-img create -q -f qcow2 -o data_file="$secret",data_file_raw=on "$TMP/datafile.qcow2" 1M
qemu-img create -q -f qcow2 -F raw -b "$secret" "$TMP/backing.qcow2" 1M
python3 -c "import sys; sys.stdout.write(('$marker\n' * 40000)[:1048576])" > "$secret"
chmod 600 "$secret"
cp "$TMP/evil.raw" "$TMP/evil.bin"

# QEMU stand-in, for libguestfs (LIBGUESTFS_HV) and for kiln's boot test (KILN_QEMU): the feature
# queries go to the real QEMU; a command line with a disk is recorded, and the "guest" fails.
# The boot test's QEMU runs as the sandbox user: the stand-in and its record live where that user
# can reach them.
w=$(mktemp -d /tmp/kiln-fmt.XXXXXX)
chmod 0755 "$w"; mkdir -m 1777 "$w/out"
trap 'rm -rf "$TMP" "$w"' EXIT
fakeq=$w/fake-qemu
rec=$w/out/qemu.argv
# libguestfs hands QEMU a read-only image through a qcow2 overlay: what counts is the format the
# overlay names for its backing file (the image), so that is recorded too.
cat > "$fakeq" << EOF
#!/bin/bash
case " \$* " in
*" -drive "* | *" -blockdev "*)
        printf '%s\n' "\$@" >> "$rec"
        for a in "\$@"; do
                case \$a in
                *overlay*.qcow2*)
                        o=\${a#*filename=}; o=\${o%%,*}
                        qemu-img info -f qcow2 -U --output=json "\$o" | tr -d ' \n' >> "$rec"; echo >> "$rec" ;;
                fd=*,opaque=overlay)
                        # kiln-appliance-qemu hands the overlay over as a descriptor set
                        o=\${a#fd=}; o=/dev/fd/\${o%%,*}
                        qemu-img info -f qcow2 -U --output=json "\$o" | tr -d ' \n' >> "$rec"; echo >> "$rec" ;;
                esac
        done
        exit 1 ;;
esac
exec qemu-system-x86_64 "\$@"
EOF
chmod +x "$fakeq"
export LIBGUESTFS_HV=$fakeq KILN_QEMU=$fakeq

leaked() { grep -rlaF "$marker" "$@" 2> /dev/null | grep -v "^$secret\$"; }

# finish: the '.raw' is copied as raw (the work disk holds its bytes, not the secret's).
mkdir -p "$TMP/f" "$TMP/r-backing" "$TMP/r-datafile" "$TMP/u"
"$KILN" finish --accel tcg --no-boot-test --keep-work --cache "$TMP/cache" -o "$TMP/f/out.qcow2" "$profile" "$TMP/evil.raw" \
        > "$TMP/f.out" 2> "$TMP/f.err"; rc=$?
check_eq "finish of a qcow2-in-.raw fails at the inspection (no OS in it)" 1 $rc
work=$TMP/f/out.qcow2.d/work.qcow2
if [ -f "$work" ]; then
        qemu-img convert -f qcow2 -O raw "$work" "$TMP/work.raw"
        cmp -s "$TMP/work.raw" "$TMP/evil.raw" && ok "finish: the work disk holds the '.raw' file's own bytes" ||
                not_ok "finish: the work disk holds the '.raw' file's own bytes"
else
        not_ok "finish: the work disk holds the '.raw' file's own bytes" "no work disk kept" "$(cat "$TMP/f.err")"
fi
[ -z "$(leaked "$TMP/f" "$TMP/f.out" "$TMP/f.err" "$TMP/work.raw")" ] && ok "finish: the host file reached no output" ||
        not_ok "finish: the host file reached no output" "$(leaked "$TMP/f" "$TMP/f.out" "$TMP/f.err" "$TMP/work.raw")"

# inspect: libguestfs is told format=raw for the '.raw'.
rm -f "$rec"
"$KILN" inspect --accel tcg --cache "$TMP/cache" -d "$TMP/i.d" "$TMP/evil.raw" > "$TMP/i.out" 2> "$TMP/i.err"; rc=$?
check_eq "inspect of a qcow2-in-.raw fails (nothing to inspect)" 1 $rc
grep '"backing-filename":"[^"]*/evil.raw"' "$rec" 2> /dev/null | grep -q '"backing-filename-format":"raw"' && ok "inspect: libguestfs opens the '.raw' as raw" ||
        not_ok "inspect: libguestfs opens the '.raw' as raw" "$(grep evil "$rec" 2> /dev/null)" "$(tail -40 "$TMP/i.err")"

# inspect, with the real appliance: libguestfs's read-only overlay is a qcow2 node with no format
# above it, so QEMU would probe the guest's own bytes and, finding a qcow2 header, open the data
# file it names. Here it names a path QEMU could open (the sandbox user's): it must never try.
qemu-img create -q -f qcow2 -o data_file="$w/out/probe-target",data_file_raw=on "$TMP/probe.raw" 1M
rm -f "$w/out/probe-target"
long=$TMPDIR/a-temporary-folder-with-a-name-as-long-as-a-ci-runners-work-folder
mkdir -p "$long"
env -u LIBGUESTFS_HV -u KILN_QEMU LIBGUESTFS_DEBUG=1 TMPDIR="$long" "$KILN" inspect --accel tcg --cache "$TMP/cache" -d "$TMP/p.d" "$TMP/probe.raw" \
        > "$TMP/p.out" 2> "$TMP/p.debug"; rc=$?
grep -v '^libguestfs: \|^supermin: \|^\[\|^ *-\|^    ' "$TMP/p.debug" > "$TMP/p.err"
# libguestfs 1.48 writes past a buffer when the path of its QEMU (kiln's wrapper) is long: this
# TMPDIR here is, and the wrapper's folder goes to /tmp instead.
hv=$(grep -o 'cached test results of [^,]*' "$TMP/p.debug" | head -1 | sed 's/.* of //')
[ -n "$hv" ] && [ ${#hv} -le 70 ] && ok "a long TMPDIR: the appliance's QEMU has a short path (${#hv} characters)" ||
        not_ok "a long TMPDIR: the appliance's QEMU has a short path" "TMPDIR ${#long} characters, hv '$hv'"
[ $rc -eq 1 ] && grep -q "no operating system found in '$TMP/probe.raw'" "$TMP/p.err" &&
        ! grep -q probe-target "$TMP/p.err" && ok "inspect, real appliance: the guest's bytes are not probed as a format" ||
        not_ok "inspect, real appliance: the guest's bytes are not probed as a format" "rc $rc" "$(tail -5 "$TMP/p.err")"

# A comma in the image's real path would need QEMU's ",," escaping, which kiln-appliance-qemu
# refuses to parse: refused up front, by name.
mkdir -p "$TMP/a,b"
cp "$TMP/probe.raw" "$TMP/a,b/comma.raw"
"$KILN" inspect --accel tcg --cache "$TMP/cache" -d "$TMP/c.d" "$TMP/a,b/comma.raw" > /dev/null 2> "$TMP/c.err"; rc=$?
[ $rc -ne 0 ] && grep -q "has a comma in its real path" "$TMP/c.err" && ok "inspect: a comma in the image's real path is refused, by name" ||
        not_ok "inspect: a comma in the real path" "rc $rc" "$(cat "$TMP/c.err")"

# boot-test: QEMU is told format=raw for the '.raw'.
rm -f "$rec"
"$KILN" boot-test --timeout 20s -l "$TMP/b.console" "$TMP/evil.raw" > "$TMP/b.out" 2> "$TMP/b.err"; rc=$?
check_eq "boot-test of a qcow2-in-.raw fails" 1 $rc
# (it gets the image as a descriptor: QEMU's fd set 1)
grep -q "file=/dev/fdset/1,.*format=raw" "$rec" 2> /dev/null && ok "boot-test: QEMU opens the '.raw' as raw" ||
        not_ok "boot-test: QEMU opens the '.raw' as raw" "$(cat "$rec" 2> /dev/null)" "$(tail -2 "$TMP/b.err")"
[ -z "$(leaked "$TMP/i.d" "$TMP/i.out" "$TMP/i.err" "$TMP/b.out" "$TMP/b.err" "$TMP/b.console")" ] &&
        ok "inspect, boot-test: the host file reached no output" || not_ok "inspect, boot-test: the host file reached no output"

# qcow2 with a backing file or an external data file: refused before anything opens the image.
for img in backing datafile; do
        case $img in backing) why="has a backing file" ;; datafile) why="has an external data file" ;; esac
        rm -f "$rec"
        "$KILN" finish --accel tcg --no-boot-test --cache "$TMP/cache" -o "$TMP/r-$img/out.qcow2" "$profile" "$TMP/$img.qcow2" \
                > "$TMP/r.out" 2> "$TMP/r1.err"; rc1=$?
        "$KILN" inspect --accel tcg --cache "$TMP/cache" -d "$TMP/r-$img.d" "$TMP/$img.qcow2" > "$TMP/r.out" 2> "$TMP/r2.err"; rc2=$?
        "$KILN" boot-test --timeout 20s -l "$TMP/r.console" "$TMP/$img.qcow2" > "$TMP/r.out" 2> "$TMP/r3.err"; rc3=$?
        check_eq "$img.qcow2: finish, inspect and boot-test exit 1" "1 1 1" "$rc1 $rc2 $rc3"
        for e in r1 r2 r3; do
                grep -q "$img.qcow2' $why" "$TMP/$e.err" || not_ok "$img.qcow2: says '$why' ($e)" "$(cat "$TMP/$e.err")"
        done
        grep -q "$why" "$TMP/r1.err" "$TMP/r2.err" "$TMP/r3.err" && ok "$img.qcow2: says '$why'"
        [ ! -e "$rec" ] && [ ! -e "$TMP/r-$img/out.qcow2.d/work.qcow2" ] &&
                ok "$img.qcow2: refused before QEMU, libguestfs or qemu-img convert opened it" ||
                not_ok "$img.qcow2: refused before anything opened it" "$(cat "$rec" 2> /dev/null)"
        [ -z "$(leaked "$TMP/r.out" "$TMP/r1.err" "$TMP/r2.err" "$TMP/r3.err" "$TMP/r-$img" "$TMP/r-$img.d")" ] &&
                ok "$img.qcow2: the host file reached no output" || not_ok "$img.qcow2: the host file reached no output"
done

# A name kiln cannot read a format from needs --format; --format is the format, whatever the bytes.
"$KILN" finish --no-boot-test -o "$TMP/u/out.qcow2" "$profile" "$TMP/evil.bin" > /dev/null 2> "$TMP/u1.err"; rc1=$?
"$KILN" inspect -d "$TMP/u.d" "$TMP/evil.bin" > /dev/null 2> "$TMP/u2.err"; rc2=$?
"$KILN" boot-test "$TMP/evil.bin" > /dev/null 2> "$TMP/u3.err"; rc3=$?
check_eq "no known extension, no --format: exit 2 (finish, inspect, boot-test)" "2 2 2" "$rc1 $rc2 $rc3"
grep -q "evil.bin': kiln reads a disk's format from its name (.raw, .img or .qcow2) or --format" "$TMP/u3.err" &&
        ok "says how to name the format" || not_ok "says how to name the format" "$(cat "$TMP/u3.err")"
"$KILN" boot-test --format vmdk "$TMP/evil.raw" > /dev/null 2> "$TMP/u4.err"; rc=$?
[ $rc -eq 2 ] && grep -q "format takes raw or qcow2 (got 'vmdk')" "$TMP/u4.err" && ok "--format takes raw or qcow2" ||
        not_ok "--format takes raw or qcow2" "$rc $(cat "$TMP/u4.err")"
rm -f "$rec"
"$KILN" boot-test --format raw --timeout 20s -l "$TMP/b2.console" "$TMP/evil.bin" > /dev/null 2> "$TMP/b2.err"
grep -q "file=/dev/fdset/1,.*format=raw" "$rec" 2> /dev/null && ok "boot-test --format raw: QEMU opens it as raw" ||
        not_ok "boot-test --format raw" "$(cat "$rec" 2> /dev/null)" "$(tail -2 "$TMP/b2.err")"
"$KILN" boot-test --format qcow2 "$TMP/evil.bin" > /dev/null 2> "$TMP/b3.err"; rc=$?
[ $rc -eq 1 ] && grep -q "evil.bin' has an external data file" "$TMP/b3.err" &&
        ok "boot-test --format qcow2: the qcow2's data file is refused" || not_ok "--format qcow2 refusal" "$rc $(cat "$TMP/b3.err")"
finish
