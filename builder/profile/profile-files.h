/* The files a profile names (extends, keys, keyrings, udebs, a local installer): where they may be,
 * how they are opened, what they must contain. The trust model is in profiles/README.md. */
#pragma once

#include <stdint.h>

#include "error.h"

/* Where the paths of one profile load may lead. */
struct kiln_path_policy {
        int root_fd;     /* O_PATH folder: paths resolve beneath it (openat2 RESOLVE_BENEATH) */
        char *root;      /* its real path, for messages */
        bool trust;      /* --trust-profile-paths: absolute paths and escapes allowed */
        bool no_files;   /* an untrusted profile (kiln serve): only 'extends', into the library */
        char *untrusted; /* with no_files: the real path of the untrusted profile itself */
};

/* root: --profile-root, or NULL for the folder of top_real (the real path of the profile named on
 * the command line). Fails (with a message) when root is not a folder or top_real is not beneath it. */
int kiln_path_policy_init(struct kiln_path_policy *pol, const char *root, bool trust, const char *top_real,
                          struct kiln_error **reterr);
void kiln_path_policy_clear(struct kiln_path_policy *pol);
/* For a profile from an untrusted source (kiln serve's API): it names no file at all but what it
 * extends, and that only beneath library (the operator's folder of profiles; NULL: none). The
 * library's own profiles are the operator's: the files they name (keys, an installer's kernel)
 * are read beneath the library, as a trusted profile's are beneath its root. Set untrusted to the
 * untrusted profile's real path, so that it never counts as the library's, wherever it is. */
int kiln_path_policy_init_library(struct kiln_path_policy *pol, const char *library, struct kiln_error **reterr);

enum kiln_file_kind {
        KILN_FILE_PROFILE, /* YAML, 1 MiB */
        KILN_FILE_KEY,     /* OpenPGP public keys (binary or armored), 1 MiB */
        KILN_FILE_UDEB,    /* an ar archive, 512 MiB */
        KILN_FILE_KERNEL,  /* 256 MiB, read later */
        KILN_FILE_INITRD,  /* 1 GiB, read later */
        KILN_FILE_ISO,     /* 16 GiB, read later */
};

/* Open a path written in the file whose real path is in_real, under pol: beneath the root
 * (unless trusted), no magic links, never a device, FIFO, socket or folder, never a file of
 * /proc or /sys, at most the kind's size. The fd is O_RDONLY (opened without blocking);
 * ret_real is the real path it was opened at (no symlinks left in it). On failure ret_why says
 * why, lowercase, without the path; the return is a negative errno. */
int kiln_profile_file_open(const struct kiln_path_policy *pol, const char *in_real, const char *written,
                           enum kiln_file_kind kind, int *ret_fd, char **ret_real, char **ret_why);

/* The same, and read it whole (for kinds that are read now: profiles, keys, udebs), with the
 * content checked for the kind (keys: OpenPGP public keys). */
int kiln_profile_file_read(const struct kiln_path_policy *pol, const char *in_real, const char *written,
                           enum kiln_file_kind kind, char **ret_data, size_t *ret_len, char **ret_real, char **ret_why);

/* Re-read a file kiln checked earlier, at its real path: no symlink is followed on the way (one
 * planted since is refused), the same checks as at load. */
int kiln_checked_file_read(const char *real, enum kiln_file_kind kind, char **ret_data, size_t *ret_len,
                           char **ret_why);

/* OpenPGP public keys: binary packets (each key starts with a public-key packet, tag 6; only
 * packets a public key carries) or ASCII armor "PUBLIC KEY BLOCK". NULL when good, else why. */
char *kiln_openpgp_pubkeys_check(const char *data, size_t len);
