#!/usr/bin/env bash
# kiln's xl configs, checked with Xen's own parser (libxlutil from libxen-dev) and against goldens
# (libxlutil accepts unknown keys, so the golden pins them). No Xen hypervisor runs here.
. "$(dirname "$0")/../lib.sh"
# The mirror is on 127.0.0.1: the operator's own fixture.
KILN=$(kiln_with --allow-private-mirrors)
: "${FUZZ_DIR:?}"
bin="$(dirname "$FUZZ_DIR")/hypervisors/test-xen-config"
[ -x "$bin" ] || { skip "xl configs parse with libxlutil" "built without libxen-dev"; finish; exit 0; }
golden="$TOP/tests/hypervisors/golden"
mkdir -p "$TMP/cfg"
"$bin" "$TMP/cfg" > "$TMP/parsed" 2> "$TMP/err"
check_eq "libxlutil parses every generated config" 0 $?
[ -n "${UPDATE_GOLDEN:-}" ] && cp "$TMP/parsed" "$golden/parsed.txt" && cp "$TMP"/cfg/*.cfg "$golden/"
check_diff "what libxlutil reads back" "$golden/parsed.txt" "$TMP/parsed"
for f in "$golden"/*.cfg; do check_diff "golden $(basename "$f")" "$f" "$TMP/cfg/$(basename "$f")"; done
[ ! -s "$TMP/err" ] && ok "libxlutil printed no warnings" || not_ok "libxlutil printed no warnings" "$(cat "$TMP/err")"

# kiln install under Xen without its host-only bridge: a clear error before anything starts.
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | head -1)
if [ -r "$kernel" ]; then
        cp "$kernel" "$TMP/vmlinuz"; printf 'x' > "$TMP/initrd.gz"
        printf 'name: xentest\nrelease: trixie\nmirror: http://127.0.0.1:9/debian\nsecurity: false\nvm: {hypervisor: xen}\ninstaller: {kernel: vmlinuz, initrd: initrd.gz}\n' > "$TMP/x.yaml"
        "$KILN" install --xen-bridge kiln-no-such-br -o "$TMP/x.qcow2" "$TMP/x.yaml" > /dev/null 2> "$TMP/err"
        check_eq "xen without its bridge exits 1" 1 $?
        grep -q "Xen needs a host-only bridge 'kiln-no-such-br' with an IPv4 address" "$TMP/err" && ok "xen without its bridge says so" || not_ok "xen without its bridge says so" "$(cat "$TMP/err")"
        [ ! -e "$TMP/x.qcow2" ] && ! ls "$TMP"/x.qcow2.kiln-partial-* > /dev/null 2>&1 && ok "xen failure leaves no disk" || not_ok "xen failure leaves no disk"
fi

# Where a Xen host is running, the real xl path is exercised; elsewhere say why not.
if command -v xl > /dev/null && xl info > /dev/null 2>&1; then
        skip "xl create/console/destroy on a real dom0" "not automated yet: see README, 'Running on a Xen dom0'"
else
        skip "xl create/console/destroy on a real dom0" "no Xen hypervisor on this machine"
fi
finish
