/* The build key: one sha256 over every input that decides an image, and the result store that
 * keeps finished images under it. The key's inputs, in this order (each hashed on its own, so
 * that `--explain` can say which one changed):
 *
 *   kiln          kiln's version
 *   profile       the expanded profile as canonical JSON (kiln_profile_json: every key resolved,
 *                 defaults filled; password hashes are left out there but are in the preseed)
 *   preseed       the complete generated preseed text without its comment lines
 *   files         every file the preseed refers to (repository keys, udebs): path and sha256
 *   kernel        the installer kernel's sha256      initrd   the installer initrd's sha256
 *   release SUITE the verified InRelease (or Release + Release.gpg) of each suite the guest sees:
 *                 the mirror's suite and -updates, the security suite, each http repository
 *   format        the output format                  finish   the finish options
 *
 * The key is sha256("kiln-build-key 1\n" + "NAME SHA256\n" for each input). */
#pragma once

#include "media.h"
#include "profile.h"
#include "snapshot.h"

struct kiln_key_input {
        char *name;   /* "profile", "release http://host/debian trixie", ... */
        char *sha256; /* of the input's canonical bytes */
        char *value;  /* short inputs as text (version, format, finish options); else NULL */
};

struct kiln_build_key {
        char hex[KILN_SHA256_HEX];
        struct kiln_key_input *inputs;
        size_t n;
};

struct kiln_key_opts {
        const char *format; /* qcow2, raw, vmdk, vhdx */
        const char *finish; /* canonical finish options: "finalize=guestfs boot-test=yes" */
};

/* The key from what the media stage verified (m) and the pinned suites (snap). */
void kiln_build_key_compute(const struct kiln_profile *p, const char *preseed, const struct kiln_media *m,
                            const struct kiln_snapshot *snap, const struct kiln_key_opts *o,
                            struct kiln_build_key *ret);
/* Pin the suites (kiln_snapshot_for, the media's pin reused) and compute the key. */
int kiln_build_key_for(const struct kiln_profile *p, const char *preseed, const struct kiln_media *m,
                       struct kiln_cache *cache, const struct kiln_key_opts *o, kiln_notice_fn notice, void *userdata,
                       struct kiln_build_key *ret, struct kiln_error **reterr);
void kiln_build_key_clear(struct kiln_build_key *k);

/* {"sha256": KEY, "inputs": [{"name", "sha256", "value"?}...]} as JSON text; and back. */
char *kiln_build_key_json(const struct kiln_build_key *k);
int kiln_build_key_parse(const char *json, struct kiln_build_key *ret);

/* Which inputs differ between prev and cur, one line each ("changed: profile", "new: release ...",
 * "gone: ..."); "" when they are the same. */
char *kiln_build_key_diff(const struct kiln_build_key *prev, const struct kiln_build_key *cur);

/* The result store (result-store.c). A folder, shareable between concurrent builds and between
 * hosts on NFS: results/KEY/{image,manifest.json} appear by one rename of a finished folder;
 * profiles/NAME.key (the last key built for a profile name) is replaced by rename under lock. */
struct kiln_result_store {
        char *dir;
};
/* dir NULL: CACHE_DIR/results. Creates the folders. */
int kiln_result_store_open(const char *dir, const char *cache_dir, struct kiln_result_store **ret,
                           struct kiln_error **reterr);
void kiln_result_store_free(struct kiln_result_store *s);

/* The stored image and manifest for key, when complete; their use is recorded (for prune). */
bool kiln_result_lookup(const struct kiln_result_store *s, const char *key, char **ret_image, char **ret_manifest);
/* Store a finished image (copied, or reflinked where the filesystem can) and its manifest. A
 * result already stored under key (another build finished first) is kept. */
int kiln_result_put(const struct kiln_result_store *s, const char *key, const char *image, const char *manifest_text,
                    struct kiln_error **reterr);
/* Copy (or reflink) src to dst atomically: a temporary name beside dst, fsync, rename. */
int kiln_copy_atomic(const char *src, const char *dst, bool replace, struct kiln_error **reterr);

/* The key last built for this profile name and release (for --explain), and recording a new one. */
int kiln_result_last_key(const struct kiln_result_store *s, const char *profile_name, const char *release,
                         struct kiln_build_key *ret);
int kiln_result_record_key(const struct kiln_result_store *s, const char *profile_name, const char *release,
                           const struct kiln_build_key *k, struct kiln_error **reterr);

/* An exclusive (or shared) flock on DIR/NAME, created if needed, waiting for it. */
int kiln_lock_file(const char *dir, const char *name, bool exclusive, int *ret_fd, struct kiln_error **reterr);

/* The stored manifest for a published copy: image.file set to the new name, and "reused" (the
 * key and when the stored result was made) added. */
int kiln_result_manifest_reused(const char *manifest_path, const char *image_name, const char *key, char **ret_text,
                                char **ret_image_sha256, struct kiln_error **reterr);
