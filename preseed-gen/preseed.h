/* From an expanded profile to debian-installer's preseed: pure functions, no I/O. */
#pragma once

#include "profile.h"

/* A file the preseed refers to, to be placed in the installer's initrd. */
struct kiln_initrd_file {
        char *path;   /* inside the initrd, no leading slash: "kiln/keys/web.asc" */
        char *source; /* a host file to copy, or NULL */
        char *data;   /* inline content when source is NULL */
        size_t len;
        unsigned mode;
};

void kiln_initrd_files_free(struct kiln_initrd_file *f, size_t n);

/* The complete preseed. Errors (a raw 'preseed' entry contradicting a modeled key, or overriding one
 * kiln owns) carry the entry's location. */
int kiln_preseed_generate(const struct kiln_profile *p, const char *kiln_version, char **ret_text,
                          struct kiln_error **reterr);

/* The disk drivers tuning.initramfs "targeted" adds to the image's initramfs: QEMU/KVM (virtio),
 * Xen HVM (xen-blkfront, ata_piix before the PV unplug), SATA and NVMe controllers any of them may
 * emulate, VMware (vmw_pvscsi, mptspi, mptsas), Hyper-V (hv_storvsc), virtio over MMIO (arm64's virt
 * machine); sd_mod for the SCSI and SATA ones. */
#define KILN_INITRAMFS_DRIVERS                                                                                         \
        "virtio_pci virtio_mmio virtio_blk virtio_scsi sd_mod ahci ata_piix ata_generic nvme xen-blkfront vmw_pvscsi " \
        "mptspi mptsas hv_storvsc"

/* tuning.eatmydata: base-installer's own dpkg option file (in the target), which kiln writes before
 * debootstrap already; base-installer writes it after debootstrap and removes it at finish-install. */
#define KILN_UNSAFE_IO_CONF "/etc/dpkg/dpkg.cfg.d/force-unsafe-io"

/* The files the preseed refers to (repository keys, udebs) and kiln's installer hooks. */
void kiln_preseed_files(const struct kiln_profile *p, struct kiln_initrd_file **ret, size_t *ret_n);

/* Where an extra repository's key lands inside the installer. */
char *kiln_repo_key_path(const struct kiln_repo *r);

/* The partman expert recipe for a custom swap size, or NULL to use the installer's stock recipe. */
char *kiln_partman_recipe(const struct kiln_profile *p);

/* A question kiln owns (raw 'preseed' entries and installer.extra_args may not set it, under any
 * owner): NULL when free, "" when owned, or the profile key to use instead. */
const char *kiln_preseed_owned(const char *question);
