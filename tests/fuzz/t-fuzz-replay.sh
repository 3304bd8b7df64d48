#!/usr/bin/env bash
# Replay each fuzz target's corpus (and every profile in the tree) without libFuzzer.
. "$(dirname "$0")/../lib.sh"
: "${FUZZ_DIR:?}"
cd "$TOP"
for t in tests/fuzz/corpus/*/; do
        name=$(basename "$t")
        if "$FUZZ_DIR/$name" "$t" $(find profiles tests/profiles -name '*.yaml') > "$TMP/out" 2>&1; then
                ok "fuzz corpus $name ($(tail -1 "$TMP/out"))"
        else
                not_ok "fuzz corpus $name" "$(tail -5 "$TMP/out")"
        fi
done
finish
