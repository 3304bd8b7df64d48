/* After the install: GRUB from the host side, the output format, the libvirt domain. Nothing from
 * the image runs on the host: the default GRUB backend runs the image's own grub-install inside the
 * libguestfs appliance (a VM); the device-mapper backend (finish-dm.c) runs the host's grub-install
 * on a mapping of the image. */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "error.h"
#include "profile.h"

/* The disk formats kiln writes, from the output's extension: qcow2, raw (.raw, .img), vmdk, vhdx.
 * NULL for anything else. */
const char *kiln_output_format(const char *path);

/* bootloader: host, default backend, in an appliance already open read-write on the image
 * (appliance.h: the build's inspection opened it), which it always frees: written back and shut
 * down on success, closed on failure. Writes /etc/default/grub.d/kiln.cfg from the profile (serial
 * console, kernel_args), runs the image's own grub-install on the disk grub-probe names for /boot
 * and update-grub, and checks that /boot/grub/grub.cfg and the boot sector are there. *ret_log
 * (also on failure) gets what the commands printed. */
struct kiln_appliance;
int kiln_grub_appliance(struct kiln_appliance *a, const struct kiln_profile *p, char **ret_log,
                        struct kiln_error **reterr);

/* What /etc/default/grub.d/kiln.cfg says for a profile (the preseed's late command writes the same). */
char *kiln_grub_defaults(const struct kiln_profile *p);

/* qemu-img convert src (of src_format; never probed) into dst in dst_format, sparse; dst is
 * removed on failure (callers write a temporary name and rename it). compress: qcow2 output with
 * compressed clusters (slower to write, smaller to ship). */
int kiln_image_convert(const char *src, const char *src_format, const char *dst, const char *dst_format, bool compress,
                       volatile sig_atomic_t *interrupted, struct kiln_error **reterr);

/* A libvirt domain for the finished image: KVM, its memory and CPUs, virtio disk and network, a
 * serial console. The disk is named by its absolute path. */
char *kiln_libvirt_xml(const struct kiln_profile *p, const char *image_abs, const char *format);

/* device-mapper (finish-dm.c). */

/* Does the kernel answer DM_VERSION on /dev/mapper/control? 0 yes; otherwise an error saying why
 * (no control node, ENODEV: no device-mapper in this kernel, EACCES: not root). */
int kiln_dm_probe(struct kiln_error **reterr);

/* One step of a finalize plan: a command and the command that undoes it (NULL: nothing to undo). */
struct kiln_dm_step {
        char **argv;
        char **undo;
        char *what; /* for progress and errors */
};

struct kiln_dm_plan {
        struct kiln_dm_step *steps;
        size_t n;
};

struct kiln_dm_layout {
        const char *loop;     /* /dev/loopN, attached to the raw image */
        uint64_t sectors;     /* the image's size in 512-byte sectors */
        const char *name;     /* the mapping's disk-like name: hda */
        unsigned root_part;   /* the root filesystem's partition number */
        unsigned boot_part;   /* a separate /boot, or 0 */
        const char *mountdir; /* an empty folder kiln made */
};

/* The ordered plan after the loop device exists: map, partitions, mounts, grub-install. Writing
 * device.map and grub.cfg happen between the mounts and grub-install (kiln does them itself,
 * confined to the mount with openat2 RESOLVE_IN_ROOT). */
void kiln_dm_plan_build(const struct kiln_dm_layout *l, struct kiln_dm_plan *ret);
void kiln_dm_plan_free(struct kiln_dm_plan *plan);

/* Run steps in order; when one fails (or *interrupted), undo the done ones in reverse and stop.
 * run is the step runner (the real one runs the command); before_step, when set, is called before
 * step index k (for work kiln does itself between commands) and may fail too. Returns 0 with every
 * step done and *ret_done = n: the caller unwinds later with kiln_dm_unwind. */
typedef int (*kiln_dm_run_fn)(void *userdata, char *const *argv, struct kiln_error **reterr);
int kiln_dm_execute(const struct kiln_dm_plan *plan, kiln_dm_run_fn run,
                    int (*before_step)(void *, size_t, struct kiln_error **), void *userdata,
                    volatile sig_atomic_t *interrupted, size_t *ret_done, struct kiln_error **reterr);
/* Undo the first done steps in reverse; every undo is tried; the first failure is reported. */
int kiln_dm_unwind(const struct kiln_dm_plan *plan, size_t done, kiln_dm_run_fn run, void *userdata,
                   struct kiln_error **reterr);

/* The checks before kiln mounts on the image's /boot or hands it to the host's grub-install:
 * /boot a plain folder (no symbolic link on the way), and with grub, /boot/grub created if
 * missing and holding no symbolic link anywhere below it. Returns open fds when asked. */
int kiln_dm_check_tree(const char *mountdir, bool grub, int *ret_rootfd, int *ret_bootfd, struct kiln_error **reterr);

/* The whole --finalize=dm backend on a raw image: probe, losetup, plan, device.map, grub.cfg,
 * host grub-install, unwind (also on failure and interruption). root_part/boot_part from the
 * inspection. */
int kiln_grub_dm(const char *raw_image, const struct kiln_profile *p, unsigned root_part, unsigned boot_part,
                 volatile sig_atomic_t *interrupted, void (*notice)(void *, const char *), void *userdata,
                 struct kiln_error **reterr);
