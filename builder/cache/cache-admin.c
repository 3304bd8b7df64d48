/* kiln cache stats and prune, and the proxy's hit and miss counters. Concurrent builds on one host
 * or on many (NFS) keep the cache consistent because every entry appears by rename; prune, which
 * deletes, waits for the exclusive lock no running build's shared lock allows. */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>

struct entry {
        char *path;
        bool is_dir;
        uint64_t bytes;
        int64_t used; /* the newest of atime and mtime: the recorded use */
};

static int64_t used_time(const struct stat *st)
{
        return st->st_atim.tv_sec > st->st_mtim.tv_sec ? st->st_atim.tv_sec : st->st_mtim.tv_sec;
}

static void push(struct entry **v, size_t *n, struct entry e)
{
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = e;
}

/* sha256/XX/HASH files, and results/keys/KEY folders (their bytes: the files in them). */
static void scan(const char *dir, struct entry **ret, size_t *ret_n, uint64_t *ret_tmp)
{
        _cleanup_free_ char *sha = xasprintf("%s/sha256", dir);
        DIR *top = opendir(sha);
        struct dirent *de;
        while (top && (de = readdir(top))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *sub = xasprintf("%s/%s", sha, de->d_name);
                DIR *d = opendir(sub);
                struct dirent *fe;
                while (d && (fe = readdir(d))) {
                        struct stat st;
                        if (fe->d_name[0] == '.' || fstatat(dirfd(d), fe->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                            !S_ISREG(st.st_mode))
                                continue;
                        push(ret, ret_n,
                             (struct entry){xasprintf("%s/%s", sub, fe->d_name), false, (uint64_t)st.st_blocks * 512,
                                            used_time(&st)});
                }
                if (d)
                        closedir(d);
        }
        if (top)
                closedir(top);
        _cleanup_free_ char *keys = xasprintf("%s/results/keys", dir);
        DIR *k = opendir(keys);
        while (k && (de = readdir(k))) {
                struct stat st;
                if (de->d_name[0] == '.' || fstatat(dirfd(k), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                struct entry e = {xasprintf("%s/%s", keys, de->d_name), true, 0, st.st_mtim.tv_sec};
                static const char *const parts[] = {"image", "manifest.json"};
                for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                        _cleanup_free_ char *f = xasprintf("%s/%s", e.path, parts[i]);
                        struct stat fs;
                        if (lstat(f, &fs) == 0)
                                e.bytes += (uint64_t)fs.st_blocks * 512;
                }
                push(ret, ret_n, e);
        }
        if (k)
                closedir(k);
        *ret_tmp = 0;
        static const char *const tmps[] = {"tmp", "results/tmp"};
        for (size_t i = 0; i < ELEMENTSOF(tmps); i++) {
                _cleanup_free_ char *t = xasprintf("%s/%s", dir, tmps[i]);
                DIR *td = opendir(t);
                while (td && (de = readdir(td)))
                        if (de->d_name[0] != '.')
                                (*ret_tmp)++;
                if (td)
                        closedir(td);
        }
}

static void entries_free(struct entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].path);
        free(v);
}

static void read_counters(const char *dir, uint64_t *hits, uint64_t *misses)
{
        _cleanup_free_ char *path = xasprintf("%s/records/proxy-stats", dir), *data = NULL;
        size_t len;
        *hits = *misses = 0;
        if (read_file_max(path, 4096, &data, &len) < 0)
                return;
        if (sscanf(data, "hits %" SCNu64 "\nmisses %" SCNu64, hits, misses) != 2)
                *hits = *misses = 0;
}

int kiln_cache_stats(const char *dir, struct kiln_cache_stats *ret, struct kiln_error **reterr)
{
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return kiln_error_set(reterr, ENOENT, "'%s' is not a kiln cache", dir);
        struct entry *v = NULL;
        size_t n = 0;
        struct kiln_cache_stats s = {0};
        scan(dir, &v, &n, &s.tmp_files);
        for (size_t i = 0; i < n; i++) {
                if (v[i].is_dir) {
                        s.results++;
                        s.result_bytes += v[i].bytes;
                } else {
                        s.files++;
                        s.file_bytes += v[i].bytes;
                }
        }
        entries_free(v, n);
        read_counters(dir, &s.hits, &s.misses);
        *ret = s;
        return 0;
}

int kiln_cache_count(const struct kiln_cache *c, uint64_t hits, uint64_t misses, struct kiln_error **reterr)
{
        _cleanup_free_ char *lock = xasprintf("%s/records/.lock", c->dir);
        _cleanup_close_ int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", lock, strerror(errno));
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return kiln_error_set(reterr, errno, "cannot lock '%s': %s", lock, strerror(errno));
        /* Read, add, replace by rename (kiln_cache_record_write): a reader never sees half. */
        uint64_t h, m;
        read_counters(c->dir, &h, &m);
        _cleanup_free_ char *text = xasprintf("hits %" PRIu64 "\nmisses %" PRIu64 "\n", h + hits, m + misses);
        return kiln_cache_record_write(c, "proxy-stats", text, reterr);
}

static int cmp_used(const void *a, const void *b)
{
        const struct entry *x = a, *y = b;
        return x->used < y->used ? -1 : x->used > y->used ? 1 : strcmp(x->path, y->path);
}

static void remove_entry(const char *dir, const struct entry *e)
{
        if (!e->is_dir) {
                unlink(e->path);
                return;
        }
        /* A result goes away by one rename first: a reader sees all of it or none. */
        _cleanup_free_ char *gone = xasprintf("%s/results/tmp/pruned-XXXXXX", dir);
        if (!mkdtemp(gone))
                return;
        _cleanup_free_ char *dst = xasprintf("%s/r", gone);
        const char *from = rename(e->path, dst) == 0 ? dst : e->path;
        static const char *const parts[] = {"image", "manifest.json"};
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                _cleanup_free_ char *f = xasprintf("%s/%s", from, parts[i]);
                unlink(f);
        }
        rmdir(from);
        rmdir(gone);
}

int kiln_cache_prune(const char *dir, uint64_t max_bytes, uint64_t *ret_removed, uint64_t *ret_freed,
                     struct kiln_error **reterr)
{
        _cleanup_free_ char *lock = xasprintf("%s/lock", dir);
        _cleanup_close_ int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "'%s' is not a kiln cache (no '%s'): %s", dir, lock,
                                      strerror(errno));
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return kiln_error_set(reterr, errno, "cannot lock '%s': %s", lock, strerror(errno));
        struct entry *v = NULL;
        size_t n = 0;
        uint64_t tmp = 0, total = 0, removed = 0, freed = 0;
        scan(dir, &v, &n, &tmp);
        for (size_t i = 0; i < n; i++)
                total += v[i].bytes;
        if (n > 0)
                qsort(v, n, sizeof(*v), cmp_used);
        for (size_t i = 0; i < n && total > max_bytes; i++) {
                remove_entry(dir, &v[i]);
                total -= v[i].bytes;
                freed += v[i].bytes;
                removed++;
        }
        entries_free(v, n);
        *ret_removed = removed;
        *ret_freed = freed;
        return 0;
}
