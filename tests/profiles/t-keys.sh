#!/usr/bin/env bash
# One table per profile key: the key tables of profiles/README.md say what the schema table
# (builder/profile/profile-schema.c, where extract() takes its defaults) says, key by key: the
# same keys (in any order), each with the same type and default. A key added, renamed or given
# a new default in one place and not the other fails here.
. "$(dirname "$0")/../lib.sh"
"$KILN" validate --dump-keys > "$TMP/table" 2> "$TMP/err"
check_eq "kiln validate --dump-keys exits 0" "0" "$?"
# The README's rows under "## Keys": "| `KEY` | TYPE | DEFAULT | meaning |"; a row may name more
# than one key ("`installer.kernel`, `installer.initrd`").
awk -F'|' '
        function trim(s) { gsub(/^ +| +$/, "", s); return s }
        /^## Keys/ { on = 1; next }
        /^## / { on = 0 }
        on && /^\| `/ && NF >= 5 {
                keys = $2
                type = trim($3)
                def = trim($4)
                while (match(keys, /`[^`]+`/)) {
                        print substr(keys, RSTART + 1, RLENGTH - 2) "|" type "|" def
                        keys = substr(keys, RSTART + RLENGTH)
                }
        }
' "$TOP/profiles/README.md" | sort > "$TMP/readme"
sort -o "$TMP/table" "$TMP/table"
if [ "$(wc -l < "$TMP/table")" -lt 40 ]; then
        not_ok "the schema table has its keys" "only $(wc -l < "$TMP/table") rows"
else
        ok "the schema table has its keys"
fi
check_diff "profiles/README.md's key tables match the schema table (key, type, default)" "$TMP/table" "$TMP/readme"
finish
