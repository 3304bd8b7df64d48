/* The content-addressed cache: files stored by SHA-256, written under a temporary name and renamed,
 * verified on every use, shareable by concurrent kiln processes. */
#pragma once

#include <stdint.h>

#include "fetch.h"
#include "hash.h"

struct kiln_cache {
        char *dir;
        bool offline; /* never fetch: what is missing is an error */
        int lock_fd;  /* DIR/lock, held shared while open: kiln cache prune waits for it */
        /* Set in the proxy's own process, which may not write the cache: new entries go to this
         * folder of its own (flat, by sha256), and kiln copies them in after (kiln_cache_import). */
        char *stage_dir;
};

/* dir NULL: $XDG_CACHE_HOME/kiln, else ~/.cache/kiln. Creates the folders. Holds the cache's
 * shared lock until kiln_cache_free (cache-admin.c takes it exclusive to prune). */
int kiln_cache_open(const char *dir, bool offline, struct kiln_cache **ret, struct kiln_error **reterr);
void kiln_cache_free(struct kiln_cache *c);

/* Where the file with this hash lives (whether or not it is there). */
char *kiln_cache_path(const struct kiln_cache *c, const char *sha256);

/* The cached file's path if it is there and intact (a corrupt entry is a miss, left to be replaced). */
char *kiln_cache_lookup(const struct kiln_cache *c, const char *sha256);

/* Make sure the file with this hash (and size, if nonzero) is cached, fetching url if needed.
 * On failure nothing is left in the cache. */
int kiln_cache_fetch(const struct kiln_cache *c, const char *url, const char *sha256, uint64_t size,
                     const struct kiln_fetch_opts *opts, char **ret_path, struct kiln_error **reterr);

/* The same, appending what a failed try got to tried ("\n    URL: HTTP 404", or its size and
 * sha256), for an error that lists every copy tried. */
int kiln_cache_fetch_tried(const struct kiln_cache *c, const char *url, const char *sha256, uint64_t size,
                           const struct kiln_fetch_opts *opts, char **ret_path, struct kiln_buf *tried,
                           struct kiln_error **reterr);

/* A temporary file inside the cache, for content whose hash is known only afterwards. */
int kiln_cache_tmp(const struct kiln_cache *c, char **ret_path, int *ret_fd, struct kiln_error **reterr);
/* Hash a finished temporary file and rename it into place; ret_sha256 may be NULL. */
int kiln_cache_commit(const struct kiln_cache *c, const char *tmp_path, char ret_sha256[KILN_SHA256_HEX],
                      char **ret_path, struct kiln_error **reterr);

/* Small named records (what a mirror's installer resolved to), for --offline. */
/* What one import may bring in: the proxy that staged it runs as the sandbox user and may have
 * been taken over by the guest, so no more than this many files, bytes per file and bytes in all. */
struct kiln_cache_import_limits {
        unsigned files;
        uint64_t file_bytes, total_bytes;
};
/* An install's worth, with room to spare: a large desktop install fetches ~3,000 packages, ~4 GiB. */
#define KILN_CACHE_IMPORT_LIMITS ((struct kiln_cache_import_limits){20000, 4ULL << 30, 16ULL << 30})
/* The entries a staging proxy left in dir: each regular file named by a sha256 whose bytes have
 * that sha256 is copied into the cache (a fresh file of kiln's: the sandbox user that wrote it can
 * change nothing), anything else is dropped, and so is whatever is past the limits; dir is emptied
 * and removed. Returns how many came in; *ret_dropped (may be NULL) counts files left out for the
 * limits. */
int kiln_cache_import(const struct kiln_cache *c, const char *dir, struct kiln_cache_import_limits lim,
                      unsigned *ret_dropped, struct kiln_error **reterr);

int kiln_cache_record_write(const struct kiln_cache *c, const char *key, const char *text, struct kiln_error **reterr);
char *kiln_cache_record_read(const struct kiln_cache *c, const char *key);

/* cache-admin.c: what kiln cache stats and prune do, and the proxy's hit and miss counters. */
struct kiln_cache_stats {
        uint64_t files, file_bytes;     /* sha256/ */
        uint64_t results, result_bytes; /* results/keys/ */
        uint64_t tmp_files;             /* tmp/: in flight, or left by a killed writer */
        uint64_t hits, misses;          /* pool files the proxy served from the cache / fetched */
};
int kiln_cache_stats(const char *dir, struct kiln_cache_stats *ret, struct kiln_error **reterr);
/* Add to the counters in records/proxy-stats, under the records' lock. */
int kiln_cache_count(const struct kiln_cache *c, uint64_t hits, uint64_t misses, struct kiln_error **reterr);
/* Remove least recently used entries (files by atime or mtime, results by their recorded use)
 * until the cache holds at most max_bytes; under the cache's exclusive lock. */
int kiln_cache_prune(const char *dir, uint64_t max_bytes, uint64_t *ret_removed, uint64_t *ret_freed,
                     struct kiln_error **reterr);
