/* The installer's files: out of a netboot .deb or an ISO (libarchive, no dpkg-deb or tar), the
 * kernel's version from its bzImage header, and the initrd: what it holds, and the preseed appended. */
#pragma once

#include "cache.h"

/* Extract the members named in paths (as inside the archive, without "./") into the cache.
 * ret_sha256[i] gets each one's hash. Missing members are an error naming them. */
int kiln_deb_extract(const struct kiln_cache *c, const char *deb_path, const char *const *paths, size_t n,
                     char (*ret_sha256)[KILN_SHA256_HEX], struct kiln_error **reterr);

/* From an installer ISO, the text installer's kernel and initrd (install.ARCH/vmlinuz, initrd.gz). */
int kiln_iso_extract(const struct kiln_cache *c, const char *iso_path, char ret_kernel[KILN_SHA256_HEX],
                     char ret_initrd[KILN_SHA256_HEX], struct kiln_error **reterr);

/* "6.12.94+deb13-amd64" from an x86 bzImage's header; NULL (and 0) for an x86-64 ELF vmlinux, which has none. */
int kiln_kernel_version(const char *kernel_path, char **ret, struct kiln_error **reterr);

/* The packages in the initrd's var/lib/dpkg/status, as "NAME=VERSION" (a NULL-terminated vector). */
int kiln_initrd_packages(const char *initrd_path, char ***ret, struct kiln_error **reterr);

struct kiln_initrd_file;
/* Copy initrd to out_path and append one gzip-compressed newc cpio member holding files (with their
 * parent folders). The original bytes are never decompressed. Written under a temporary name. */
int kiln_initrd_inject(const char *initrd_path, const char *out_path, const struct kiln_initrd_file *files, size_t n,
                       struct kiln_error **reterr);
