/* The installer media stage: the verified kernel and initrd for a profile, the preflight that
 * proves the mirror can serve what that installer will fetch, and the preseed injected. */
#pragma once

#include "cache.h"
#include "profile.h"
#include "snapshot.h"

struct kiln_media {
        char *kernel, *initrd; /* paths (in the cache, or the profile's own files) */
        char kernel_sha256[KILN_SHA256_HEX], initrd_sha256[KILN_SHA256_HEX];
        char *kernel_version; /* from the bzImage header; NULL if unreadable (non-x86) */
        char *package;        /* debian-installer-13-netboot-amd64, or NULL for local files */
        char *version;        /* its version */
        char deb_sha256[KILN_SHA256_HEX];
        char *trust;        /* how the files were trusted, for people and the manifest */
        char *release_date; /* the signed Release's Date */
        char *release_signer;
        struct kiln_pin *pin; /* the mirror's suite as verified now (NULL for local files) */
};

struct kiln_media_opts {
        struct kiln_cache *cache;
        kiln_progress_fn progress;
        void *userdata;
        void (*notice)(void *userdata, const char *msg);
        bool skip_preflight;
};

int kiln_media_fetch(const struct kiln_profile *p, const struct kiln_media_opts *o, struct kiln_media **ret,
                     struct kiln_error **reterr);
void kiln_media_free(struct kiln_media *m);

/* Write the profile's preseed and the files it refers to (repository keys, udebs, the mirror's
 * keyring as the installer's archive keyring) into a copy of the media's initrd at out_path. */
int kiln_media_inject(const struct kiln_profile *p, const struct kiln_media *m, const char *preseed,
                      const char *out_path, struct kiln_error **reterr);

/* Preflight (preflight.c): every index the installer reads matches the signed Release (or has a
 * by-hash copy that does), the installer's kernel has its udebs on the mirror, and every udeb the
 * installer will fetch is there. Index inconsistencies and missing udebs are listed apart. */
int kiln_preflight(const struct kiln_profile *p, const struct kiln_media *m, const struct kiln_media_opts *o,
                   char **ret_summary, struct kiln_error **reterr);

/* An index of the media's verified suite ("main/binary-amd64/Packages"; every compression, by hash
 * first) into the cache, returned decompressed (snapshot.h's kiln_pin_index). */
int kiln_media_index(const struct kiln_media *m, const char *path_noext, const struct kiln_media_opts *o,
                     char **ret_text, struct kiln_error **reterr);
