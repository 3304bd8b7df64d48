/* The expanded profile: every key resolved, defaults filled in, paths made absolute-or-relative-to-cwd. */
#pragma once

#include <stdint.h>

#include "node.h"

enum kiln_layout { KILN_LAYOUT_ATOMIC, KILN_LAYOUT_HOME, KILN_LAYOUT_MULTI, KILN_LAYOUT_LVM };
enum kiln_bootloader { KILN_BOOTLOADER_GUEST, KILN_BOOTLOADER_HOST };
enum kiln_sudo { KILN_SUDO_NO, KILN_SUDO_YES, KILN_SUDO_NOPASSWD };

struct kiln_user {
        char *name;
        char *password; /* crypt(3) hash, or NULL: locked */
        char **ssh_keys;
        enum kiln_sudo sudo;
        char *shell;
};

struct kiln_repo {
        char *name;
        char *url;
        char *suite;
        char **components;
        char *key;           /* armored key text, or NULL */
        char *key_file;      /* its real path, or NULL */
        char *key_file_data; /* what key_file held when the profile was checked: the bytes kiln uses */
        size_t key_file_len;
};

struct kiln_preseed_entry {
        char *owner, *question, *type, *value;
        const struct kiln_node *node; /* where the profile wrote it */
};

struct kiln_profile {
        char **files; /* the chain, the named file first, then what it extends */

        char *name;
        char *distro;
        char *release; /* codename: bookworm, trixie */
        unsigned release_number;
        char *arch;

        char *mirror; /* URL without trailing slash */
        bool mirror_from_host;
        char *mirror_keyring;      /* real path */
        char *mirror_keyring_data; /* the profile's keyring as checked, or NULL for the default */
        size_t mirror_keyring_len;
        bool mirror_keyring_set;
        char *security; /* URL, or NULL for none */

        char *hostname, *domain, *locale, *keymap, *timezone;
        char **kernel_args; /* the installed system's kernel command line */

        struct {
                uint64_t size;
                enum kiln_layout layout;
                char *filesystem;
                bool swap_set; /* false: the installer's recipe chooses */
                uint64_t swap; /* 0 with swap_set: none */
        } disk;

        struct kiln_user *users;
        size_t n_users;
        struct {
                char *password;
                char **ssh_keys;
        } root;

        char **packages;
        char **tasks;
        struct kiln_repo *repos;
        size_t n_repos;
        char **late_commands;
        enum kiln_bootloader bootloader;

        struct {
                char *version, *sha256;
                char **extra_args, **early_commands, **udebs;
                char *kernel, *initrd, *iso;
        } installer;

        struct {
                uint64_t memory;
                unsigned cpus;
                char *hypervisor;
                char *accel;
        } vm;

        struct {
                bool eatmydata;       /* dpkg under eatmydata during the install, removed at the end */
                bool defer_man_db;    /* man-db's auto-update off during the install, one mandb at the end */
                bool defer_initramfs; /* update_initramfs=no from pkgsel on, one build at the end */
                char *initramfs;      /* "targeted" (dep + kiln's hypervisor drivers), "most" (stock) or "dep" */
        } tuning;

        struct kiln_preseed_entry *preseed;
        size_t n_preseed;

        /* The merged tree, for locations of explicitly set keys. */
        struct kiln_node *tree;
        struct kiln_arena *arena;

        struct kiln_error *warnings;
};

struct kiln_profile_options {
        const char *apt_dir;      /* host apt configuration; NULL: $KILN_APT_DIR or /etc/apt */
        const char *profile_root; /* --profile-root: paths resolve beneath it; NULL: the profile's folder */
        bool trust_paths;         /* --trust-profile-paths: absolute paths and escapes allowed */
        bool allow_private;       /* --allow-private-mirrors: URLs may name loopback, private, ... hosts */
        bool untrusted;           /* --untrusted-profile: no file but 'extends', beneath library only */
        const char *library;      /* --profile-library DIR: what an untrusted profile may extend */
        const char *release;      /* --release: overrides the profile's 'release:' (or stands in for it) */
};

/* 'bookworm', 'trixie', '12' or '13': a release kiln builds. */
bool kiln_profile_release_ok(const char *release);

/* Load a profile and everything it extends, validate it, fill defaults.
 * All errors found are chained in *reterr (sorted by file and position). */
int kiln_profile_load(const char *path, const struct kiln_profile_options *opts, struct kiln_profile **ret,
                      struct kiln_error **reterr);
/* The same for a profile in memory; name is used in locations and places what it extends. */
int kiln_profile_load_buffer(const char *name, const char *data, size_t len, const struct kiln_profile_options *opts,
                             struct kiln_profile **ret, struct kiln_error **reterr);
void kiln_profile_free(struct kiln_profile *p);
static inline void kiln_profile_freep(struct kiln_profile **p)
{
        kiln_profile_free(*p);
}
#define _cleanup_profile_ _cleanup_(kiln_profile_freep)

/* The node an explicitly written dotted key path resolved to ("disk.layout"), or NULL if defaulted. */
const struct kiln_node *kiln_profile_key(const struct kiln_profile *p, const char *path);

/* Parse "20G" (K/M/G/T, powers of 1024; "GiB" also accepted). */
int kiln_parse_size(const char *s, uint64_t *ret);
/* "20G" style, exact when possible. */
char *kiln_format_size(uint64_t v);

const char *kiln_layout_name(enum kiln_layout l);
