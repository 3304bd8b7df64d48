#!/usr/bin/env bash
# One table per profile key: the key tables of profiles/README.md say what the schema table
# (builder/profile/profile-schema.c, where extract() takes its defaults) says, key by key: the
# same keys (in any order), each with the same type, default and meaning. A key added, renamed,
# given a new default or described anew in one place and not the other fails here.
. "$(dirname "$0")/../lib.sh"
"$KILN" validate --dump-keys > "$TMP/table" 2> "$TMP/err"
check_eq "kiln validate --dump-keys exits 0" "0" "$?"
# The README's rows under "## Keys": "| `KEY` | TYPE | DEFAULT | MEANING |"; a row may name more
# than one key ("`installer.kernel`, `installer.initrd`"), and a cell may hold an escaped "\|"
# (kept as written: the table prints its '|' so too).
awk -F'|' '
        function trim(s) { gsub(/^ +| +$/, "", s); return s }
        /^## Keys/ { on = 1; next }
        /^## / { on = 0 }
        on && /^\| `/ {
                gsub(/\\\|/, "\001")
                if (NF < 6) next
                keys = $2
                type = trim($3)
                def = trim($4)
                doc = trim($5)
                gsub(/\001/, "\\|", doc)
                while (match(keys, /`[^`]+`/)) {
                        print substr(keys, RSTART + 1, RLENGTH - 2) "|" type "|" def "|" doc
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
# The meaning is the schema's too: a row without one would let the README's text drift unchecked.
nodoc=$(awk -F'|' '$4 == "" && $1 != "repos[].components" { print $1 }' "$TMP/table")
check_eq "every key's row in the schema table has its meaning (but repos[].components, self-evident)" "" "$nodoc"
check_diff "profiles/README.md's key tables match the schema table (key, type, default, meaning)" "$TMP/table" "$TMP/readme"
finish
