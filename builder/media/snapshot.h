/* The archive as kiln verified it when the build started. Each suite the guest will use (the
 * mirror's suite and its -updates, the security suite, each http repository) is pinned: its signed
 * Release, the exact bytes that carried the signature, and through the Release the hash of every
 * index. Indices are fetched the way apt fetches them (by-hash first, every compression), stored
 * under their signed hash, and the proxy serves the guest this one view for the whole install,
 * however the mirror changes meanwhile. */
#pragma once

#include "archive-index.h"
#include "cache.h"
#include "profile.h"

struct kiln_pin {
        char *base;                   /* the archive's root URL, no trailing slash: http://host/debian */
        char *suite;                  /* trixie, trixie-updates, trixie-security, ... */
        char *dists_url;              /* BASE/dists/SUITE/ */
        struct kiln_release *release; /* NULL: the suite had no Release when the build started */
        /* The signed files as served then, by their sha256 in the cache ("" when not pinned). */
        char inrelease[KILN_SHA256_HEX], release_file[KILN_SHA256_HEX], release_gpg[KILN_SHA256_HEX];
};

struct kiln_pin_opts {
        struct kiln_cache *cache;
        const char *keyring;          /* what must sign the Release */
        const char *fallback_keyring; /* tried when keyring does not verify it; may be NULL */
        bool optional;                /* no Release at all (404, no answer): an absent suite, not an error */
        kiln_progress_fn progress;
        void *userdata;
};

/* Fetch and verify the Release of BASE/dists/SUITE (InRelease, else Release + Release.gpg), and
 * keep the signed files in the cache. Offline (cache->offline): the copy pinned last time. */
int kiln_pin_fetch(const char *base, const char *suite, const struct kiln_pin_opts *o, struct kiln_pin **ret,
                   struct kiln_error **reterr);
void kiln_pin_free(struct kiln_pin *pin);
struct kiln_pin *kiln_pin_dup(const struct kiln_pin *pin);

/* A file the pinned Release lists (relpath, with its signed sha256 and size) into the cache:
 * from the cache, else the mirror's by-hash copy (when the Release says Acquire-By-Hash), else the
 * plain name. Only bytes with the signed hash are kept. Each failed try is appended to tried.
 * -ENOENT when every try was a 404. */
int kiln_pin_file(struct kiln_cache *cache, const struct kiln_pin *pin, const char *relpath, const char *sha256,
                  uint64_t size, const struct kiln_fetch_opts *fo, char **ret_path, struct kiln_buf *tried,
                  struct kiln_error **reterr);

/* An index by its name without compression ("main/binary-amd64/Packages"): every compression the
 * Release lists, each through kiln_pin_file; returned decompressed (ret_text NULL: only made sure
 * of, in the cache). When no copy matches, one
 * error naming the index, what the signed Release says (with its Date) and what each URL gave. */
int kiln_pin_index(struct kiln_cache *cache, const struct kiln_pin *pin, const char *path_noext,
                   const struct kiln_fetch_opts *fo, char **ret_text, struct kiln_error **reterr);

struct kiln_snapshot {
        struct kiln_pin **pins;
        size_t n;
};

/* Pin every suite the profile's guest will use. main is the mirror's suite as the media stage
 * verified it (copied), or NULL to pin it here. */
int kiln_snapshot_for(const struct kiln_profile *p, const struct kiln_pin *main, struct kiln_cache *cache,
                      kiln_notice_fn notice, void *userdata, struct kiln_snapshot *ret, struct kiln_error **reterr);
void kiln_snapshot_clear(struct kiln_snapshot *s);

/* The pin whose dists/ folder holds url (absolute http://), and the path below it; NULL if none. */
const struct kiln_pin *kiln_snapshot_match(const struct kiln_snapshot *s, const char *url, const char **ret_rest);

/* Whether URL is under the dists/ folder of an archive the snapshot pinned suites of, in a suite it
 * did not pin (choose-mirror asks for every suite name it knows): not part of what the guest may see. */
bool kiln_snapshot_unpinned_suite(const struct kiln_snapshot *s, const char *url);

/* Debian's own archive keyring, the default for the mirror and the security mirror. */
#define KILN_DEBIAN_KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"
