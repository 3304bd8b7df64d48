#!/usr/bin/env bash
# Replay each fuzz target's corpus (and every profile in the tree) without libFuzzer.
. "$(dirname "$0")/../lib.sh"
: "${FUZZ_DIR:?}"
cd "$TOP" || exit 1
for t in tests/fuzz/corpus/*/; do
        name=$(basename "$t")
        case $name in
        fuzz-profile) extra=$(find profiles tests/profiles -name '*.yaml') ;;
        *) extra=$(find profiles/keys -type f) ;;
        esac
        if "$FUZZ_DIR/$name" "$t" $extra > "$TMP/out" 2>&1; then
                ok "fuzz corpus $name ($(tail -1 "$TMP/out"))"
        else
                not_ok "fuzz corpus $name" "$(tail -5 "$TMP/out")"
        fi
done
finish
