/* What a kiln killed with SIGKILL leaves behind, and its removal by a later run: a lock file with
 * its owner's PID in each run folder and build folder, held (flock) for the life of the process,
 * so that "abandoned" means the lock is free, not that a PID is absent (PIDs are reused). */
#pragma once

#include "error.h"

#define KILN_LOCK_NAME ".kiln-lock"

/* Take dir/.kiln-lock (made if missing) and write our PID into it. *ret_fd holds the lock until
 * closed (kiln_lock_release); *ret_stale_pid is the PID a dead owner left in it (0: none, or the
 * lock file was new). -EBUSY, with the holder's PID in the message, when a live process holds it. */
int kiln_lock_take(const char *dir, int *ret_fd, long *ret_stale_pid, struct kiln_error **reterr);

/* Remove dir/.kiln-lock if it is still the one fd holds, then close fd. fd < 0: nothing. */
void kiln_lock_release(const char *dir, int fd);

/* Lock an open file for as long as fd (or a dup of it) is open: a partial disk, whose lock tells a
 * later run it is in use. flock locks do not meet QEMU's own image locks (OFD fcntl locks). */
int kiln_lock_fd(int fd);

/* Lock fd, a file just made at path (mkostemp), and check path still names it: a sweeping run that
 * found it before the lock may have removed it. 0, or an error saying so. */
int kiln_lock_fresh(const char *path, int fd, struct kiln_error **reterr);

/* kiln-run-* (install) and kiln-boot-* (boot-test) folders in tmpdir (NULL: $TMPDIR or /tmp) that are ours (euid), hold
 * a lock file and whose lock is free: removed, each with a notice. Folders without a lock file, with a held lock, of
 * another user or behind a symlink are left alone. */
void kiln_sweep_run_dirs(const char *tmpdir, kiln_notice_fn notice, void *userdata);

/* Where the libguestfs appliance's run folder goes: TMPDIR when its name is short, else /tmp.
 * libguestfs 1.48 builds the shell command of its QEMU feature tests (the wrapper's path in it)
 * in a buffer it grows by 256 bytes without checking what it copies fits: a wrapper path past
 * ~75 characters writes past the buffer (found by the ASan pass). The sweep (tmpdir NULL) looks
 * in both. */
#define KILN_APPLIANCE_BASE_MAX 32
const char *kiln_appliance_run_base(void);

/* OUTPUT.kiln-partial-XXXXXX next to output, ours and not locked by a live run: removed. */
void kiln_sweep_partials(const char *output, kiln_notice_fn notice, void *userdata);

/* A build folder for this process: kiln_lock_take on bdir; when a dead owner's lock was there, the
 * work disks (work.qcow2, work.raw) and temporary files (*.kiln-tmp-XXXXXX) it left are removed,
 * with a notice. */
int kiln_build_dir_claim(const char *bdir, kiln_notice_fn notice, void *userdata, int *ret_fd,
                         struct kiln_error **reterr);
