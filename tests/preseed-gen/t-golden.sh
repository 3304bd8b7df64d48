#!/usr/bin/env bash
# Golden preseeds for every example profile; each passes debconf-set-selections --checkonly.
# UPDATE_GOLDEN=1 rewrites the goldens (review the diff before committing).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
golden=tests/preseed-gen/golden
for f in $(find profiles -name '*.yaml' | sort); do
        name=$(echo "${f#profiles/}" | sed 's|/|-|g; s|\.yaml$||')
        case $name in org-base | org-server) continue ;; esac # partial profiles, extended by others
        if ! "$KILN" preseed "$f" > "$TMP/p.raw" 2> "$TMP/err"; then
                not_ok "preseed $f" "$(cat "$TMP/err")"
                continue
        fi
        # The version changes every release; the golden pins everything else.
        sed 's/made by kiln [^ ]*$/made by kiln VERSION/' "$TMP/p.raw" > "$TMP/p.cfg"
        [ -n "${UPDATE_GOLDEN:-}" ] && cp "$TMP/p.cfg" "$golden/$name.preseed"
        check_diff "golden preseed $name" "$golden/$name.preseed" "$TMP/p.cfg"
        if debconf-set-selections --checkonly "$TMP/p.cfg" > "$TMP/dc" 2>&1 && [ ! -s "$TMP/dc" ]; then
                ok "debconf-set-selections --checkonly $name"
        else
                not_ok "debconf-set-selections --checkonly $name" "$(head -5 "$TMP/dc")"
        fi
        tail -n 1 "$TMP/p.cfg" | grep -qx 'd-i debian-installer/exit/poweroff boolean true' &&
                ok "$name ends with poweroff" || not_ok "$name ends with poweroff"
        [ "$(grep -c '^d-i preseed/late_command ' "$TMP/p.cfg")" -le 1 ] &&
                ok "$name has at most one late_command" || not_ok "$name has at most one late_command"
        grep -q '^d-i preseed/early_command string .*/dev/ttyS1' "$TMP/p.cfg" &&
                ok "$name follows syslog on ttyS1" || not_ok "$name follows syslog on ttyS1"
done
finish
