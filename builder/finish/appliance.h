/* The libguestfs appliance, as kiln opens it: one place for the handle's settings (errors
 * returned, not printed; TCG where KVM cannot run the host's kernel), the image added with its
 * format stated (never probed), the OS found, and its filesystems mounted in order. Both the
 * inspection and the host-side GRUB work through it. */
#pragma once

#include <guestfs.h>
#include <stdint.h>

#include "error.h"

/* What libguestfs runs as its QEMU when kiln is root: a link to kiln by this name, which executes
 * the real QEMU as the sandbox user (appliance-qemu.c). */
#define KILN_APPLIANCE_QEMU_NAME "kiln-appliance-qemu"
int kiln_appliance_qemu_main(int argc, char **argv);

/* Launch the appliance on image and find its OS. When kiln is root, the appliance's QEMU runs as
 * the sandbox user with NoNewPrivs and kiln's seccomp filter, and gets the image as a descriptor. *ret_root is the root
 * device libguestfs's inspection found. On failure nothing is left open. */
int kiln_appliance_open(const char *image, const char *format, bool readonly, bool force_tcg, guestfs_h **ret_g,
                        char **ret_root, struct kiln_error **reterr);

/* The same, kept as one object: an appliance that outlives one call (the build's inspection, then
 * its host-side GRUB, in one launch). kiln_appliance_free with shutdown unmounts, writes the image
 * back and stops the appliance, and returns that step's error; without, it just closes (QEMU is
 * killed). Either way a is freed. */
struct kiln_appliance {
        guestfs_h *g;
        char *root;
};
int kiln_appliance_new(const char *image, const char *format, bool readonly, bool force_tcg,
                       struct kiln_appliance **ret, struct kiln_error **reterr);
int kiln_appliance_free(struct kiln_appliance *a, bool shutdown, struct kiln_error **reterr);

/* Mount every filesystem the inspection found for root, "/" first ("/" before "/home"), read-only
 * or not. Fails only when "/" cannot be mounted; others (swap, an odd filesystem) are skipped. */
int kiln_appliance_mount_all(guestfs_h *g, const char *root, bool readonly, struct kiln_error **reterr);

/* Bring a folder of the image out as data only: streamed out of the appliance as a tar
 * (guestfs_tar_out), then extracted on the host by libarchive into dest (created; it must not
 * exist) keeping nothing but folders (0755) and regular files (0644), owned by kiln's user: no
 * setuid bits, symbolic or hard links, device nodes or FIFOs. At most max_files entries and
 * max_bytes in all, by each file's own size (a sparse file counts in full, as tar writes it): a
 * file past the budget is left out of the tar, so it never leaves the appliance. More than twice
 * max_files entries: nothing is copied. *ret_skipped counts what was left out. */
struct kiln_copy_out_limits {
        uint64_t max_bytes;
        size_t max_files;
};
int kiln_appliance_copy_out(guestfs_h *g, const char *src, const char *dest, const struct kiln_copy_out_limits *lim,
                            size_t *ret_skipped, struct kiln_error **reterr);

/* An error from libguestfs's last message, "WHAT: message"; long command output is cut to its
 * last 2000 bytes. Returns the negative errno for chaining. */
int kiln_appliance_error(guestfs_h *g, struct kiln_error **reterr, const char *what);
