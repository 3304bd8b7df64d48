#!/usr/bin/env bash
# The install's proxy parses what the guest sends; if a guest's bytes ever ran code in it, that
# code could start a process that outlives kiln's kill of the proxy's group (or a program with
# more privilege than the proxy's). Its sandbox refuses both: no fork, vfork, clone of a process,
# clone3 (ENOSYS: glibc then makes threads with clone), posix_spawn or execve, and threads still
# work. A helper's sandbox (QEMU, qemu-img: they are executed) keeps them.
. "$(dirname "$0")/../lib.sh"
: "${FUZZ_DIR:?}"
bin="$(dirname "$FUZZ_DIR")/builder/test-sandbox"
got=$(timeout 20 "$bin" proxy 2>&1 | tr '\n' ' ')
check_eq "the proxy's sandbox: threads only" \
        "thread ok fork EPERM vfork EPERM clone EPERM clone3 ENOSYS posix_spawn EPERM execve EPERM " "$got"
got=$(timeout 20 "$bin" helper 2>&1 | tr '\n' ' ')
check_eq "a helper's sandbox: processes and programs" \
        "thread ok fork ok vfork ok clone ok clone3 ok posix_spawn ok execve ok " "$got"
finish
