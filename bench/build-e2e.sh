#!/usr/bin/env bash
# bench/build-e2e.sh: bench/build.sh on this machine's mirror, as make check-e2e sees it: the
# pinned trixie netboot, the mirror-view and release-view fixtures (tests/e2e/e2e-setup.sh), and
# profiles/minimal.yaml with bootloader: host (KILN_BENCH_BOOTLOADER to change). The fixtures stay
# up until the three runs are done. KILN_BENCH_DIR keeps the runs' files (make bench-build-e2e).
# shellcheck disable=SC2034,SC2154 # pids is stop_background's; mirror and keyring are e2e-setup.sh's
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
pids=()
trap stop_background EXIT
# shellcheck source=tests/e2e/e2e-setup.sh
. "$TOP/tests/e2e/e2e-setup.sh"
cat > "$TMP/bench.yaml" << P
extends: $TMP/pinned.yaml
mirror: $mirror
mirror_keyring: $keyring
security: false
bootloader: ${KILN_BENCH_BOOTLOADER:-host}
P
KILN=$(kiln_binary) bash "$TOP/bench/build.sh" "$TMP/bench.yaml"
