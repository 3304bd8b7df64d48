/* The content-addressed cache. Entries are immutable files named by their SHA-256, so concurrent
 * writers of the same entry produce identical bytes and the last rename wins harmlessly. */
#include "cache.h"

/* gcc 12's analyzer does not see that kiln_cache_tmp's failure returns a negative errno (it
 * follows a "success" with no temporary file): every use of tmp below is after r == 0. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-null-argument"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int kiln_cache_open(const char *dir, bool offline, struct kiln_cache **ret, struct kiln_error **reterr)
{
        _cleanup_free_ char *d = NULL;
        if (dir) {
                d = xstrdup(dir);
        } else {
                const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
                if (xdg && *xdg == '/')
                        d = xasprintf("%s/kiln", xdg);
                else if (home && *home == '/')
                        d = xasprintf("%s/.cache/kiln", home);
                else
                        return kiln_error_set(reterr, ENOENT,
                                              "no cache folder: set XDG_CACHE_HOME or HOME, or give --cache");
        }
        static const char *const subdirs[] = {"sha256", "tmp", "records"};
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *sub = xasprintf("%s/%s", d, subdirs[i]);
                int r = mkdir_p(sub, 0755);
                if (r < 0)
                        return kiln_error_set(reterr, -r, "cannot create cache folder '%s': %s", sub, strerror(-r));
        }
        _cleanup_free_ char *lock = xasprintf("%s/lock", d);
        int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        while (lfd >= 0 && flock(lfd, LOCK_SH) < 0 && errno == EINTR)
                ;
        struct kiln_cache *c = xcalloc(1, sizeof(*c));
        c->dir = TAKE_PTR(d);
        c->offline = offline;
        c->lock_fd = lfd; /* a read-only cache (no lock file) still works, unprotected from prune */
        *ret = c;
        return 0;
}

void kiln_cache_free(struct kiln_cache *c)
{
        if (!c)
                return;
        if (c->lock_fd >= 0)
                close(c->lock_fd);
        free(c->stage_dir);
        free(c->dir);
        free(c);
}

char *kiln_cache_path(const struct kiln_cache *c, const char *sha256)
{
        return xasprintf("%s/sha256/%.2s/%s", c->dir, sha256, sha256);
}

char *kiln_cache_lookup(const struct kiln_cache *c, const char *sha256)
{
        _cleanup_free_ char *path = kiln_cache_path(c, sha256);
        if (access(path, F_OK) < 0 && c->stage_dir) {
                free(path);
                path = xasprintf("%s/%s", c->stage_dir, sha256);
        }
        if (access(path, F_OK) < 0)
                return NULL;
        char hex[KILN_SHA256_HEX];
        /* Corrupt or truncated: a miss. It is not unlinked here (another build may be using what
         * it thinks is there); the verified copy fetched next replaces it by rename. */
        if (kiln_sha256_file(path, hex, NULL, NULL) < 0 || !STREQ(hex, sha256))
                return NULL;
        return TAKE_PTR(path);
}

int kiln_cache_tmp(const struct kiln_cache *c, char **ret_path, int *ret_fd, struct kiln_error **reterr)
{
        char *path = c->stage_dir ? xasprintf("%s/part-XXXXXX", c->stage_dir) : xasprintf("%s/tmp/part-XXXXXX", c->dir);
        int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
                int e = errno > 0 ? errno : EIO;
                free(path);
                kiln_error_set(reterr, e, "cannot create a file in '%s/tmp': %s", c->dir, strerror(e));
                return -e; /* spelt out: the analyzer then knows nothing was set */
        }
        *ret_path = path;
        *ret_fd = fd;
        return 0;
}

static int place(const struct kiln_cache *c, const char *tmp_path, const char *sha256, char **ret_path,
                 struct kiln_error **reterr)
{
        if (c->stage_dir) {
                char *staged = xasprintf("%s/%s", c->stage_dir, sha256);
                if (rename(tmp_path, staged) < 0) {
                        int e = errno;
                        unlink(tmp_path);
                        free(staged);
                        return kiln_error_set(reterr, e, "cannot stage '%s': %s", sha256, strerror(e));
                }
                if (ret_path)
                        *ret_path = staged;
                else
                        free(staged);
                return 0;
        }
        _cleanup_free_ char *dir = xasprintf("%s/sha256/%.2s", c->dir, sha256);
        _cleanup_free_ char *path = kiln_cache_path(c, sha256);
        int r = mkdir_p(dir, 0755);
        if (r < 0 || chmod(tmp_path, 0644) < 0 || rename(tmp_path, path) < 0) {
                int e = r < 0 ? -r : errno;
                unlink(tmp_path);
                return kiln_error_set(reterr, e, "cannot store '%s' in the cache: %s", path, strerror(e));
        }
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

int kiln_cache_commit(const struct kiln_cache *c, const char *tmp_path, char ret_sha256[KILN_SHA256_HEX],
                      char **ret_path, struct kiln_error **reterr)
{
        char hex[KILN_SHA256_HEX];
        int r = kiln_sha256_file(tmp_path, hex, NULL, reterr);
        if (r < 0) {
                unlink(tmp_path);
                return r;
        }
        if (ret_sha256)
                memcpy(ret_sha256, hex, KILN_SHA256_HEX);
        return place(c, tmp_path, hex, ret_path, reterr);
}

int kiln_cache_fetch_tried(const struct kiln_cache *c, const char *url, const char *sha256, uint64_t size,
                           const struct kiln_fetch_opts *opts, char **ret_path, struct kiln_buf *tried,
                           struct kiln_error **reterr)
{
        char *hit = kiln_cache_lookup(c, sha256);
        if (hit) {
                *ret_path = hit;
                return 0;
        }
        if (c->offline)
                return kiln_error_set(reterr, ENOENT, "offline, and the cache lacks '%s' (sha256 %s)", url, sha256);

        _cleanup_free_ char *tmp = NULL;
        int fd = -1;
        int r = kiln_cache_tmp(c, &tmp, &fd, reterr);
        if (r < 0)
                return r;
        /* The signed size bounds the body; a little more shows how far a replaced file is off. */
        long status = 0;
        struct kiln_fetch_opts fo = opts ? *opts : (struct kiln_fetch_opts){0};
        fo.ret_status = &status;
        if (size)
                fo.max_bytes = size + size / 2 + (1 << 20);
        r = kiln_fetch_to_fd(url, fd, &fo, reterr);
        if (opts && opts->ret_status)
                *opts->ret_status = status;
        if (r == 0 && fsync(fd) < 0)
                r = kiln_error_set(reterr, errno, "cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        if (r < 0) {
                if (tried && status)
                        buf_printf(tried, "\n    %s: HTTP %ld", url, status);
                else if (tried) {
                        const struct kiln_error *last = reterr ? *reterr : NULL;
                        while (last && last->next)
                                last = last->next;
                        buf_printf(tried, "\n    %s: %s", url, last ? last->msg : "failed");
                }
                unlink(tmp);
                return r;
        }
        char hex[KILN_SHA256_HEX];
        uint64_t got = 0;
        r = kiln_sha256_file(tmp, hex, &got, reterr);
        if (r == 0 && size && got != size)
                r = kiln_error_set(reterr, EBADMSG,
                                   "'%s' is %" PRIu64 " bytes, the signed index says %" PRIu64
                                   " (truncated or replaced)",
                                   url, got, size);
        else if (r == 0 && !STREQ(hex, sha256))
                r = kiln_error_set(reterr, EBADMSG, "'%s' has sha256 %s, expected %s: refusing it", url, hex, sha256);
        if (r < 0) {
                if (tried)
                        buf_printf(tried, "\n    %s: %" PRIu64 " bytes, sha256 %s", url, got, hex);
                unlink(tmp);
                return r;
        }
        return place(c, tmp, sha256, ret_path, reterr);
}

int kiln_cache_fetch(const struct kiln_cache *c, const char *url, const char *sha256, uint64_t size,
                     const struct kiln_fetch_opts *opts, char **ret_path, struct kiln_error **reterr)
{
        return kiln_cache_fetch_tried(c, url, sha256, size, opts, ret_path, NULL, reterr);
}

/* in to out, hashed on the way. 0, or -errno. */
/* At most max bytes (more is EFBIG: a file that grew after it was measured). */
static int copy_hashed(int in, int out, uint64_t max, char hex[KILN_SHA256_HEX])
{
        struct kiln_sha256 *h = kiln_sha256_new();
        char buf[1 << 16];
        int r = 0;
        uint64_t total = 0;
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n > 0 && (total += (uint64_t)n) > max) {
                        r = -EFBIG;
                        break;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : 0;
                        break;
                }
                kiln_sha256_update(h, buf, (size_t)n);
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0) {
                                r = -errno;
                                break;
                        }
                        off += w;
                }
                if (r < 0)
                        break;
        }
        kiln_sha256_finish(h, hex);
        return r;
}

static bool is_sha256_name(const char *s)
{
        size_t n = 0;
        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == KILN_SHA256_HEX - 1;
}

int kiln_cache_import(const struct kiln_cache *c, const char *dir, struct kiln_cache_import_limits lim,
                      unsigned *ret_dropped, struct kiln_error **reterr)
{
        unsigned dropped = 0;
        uint64_t total = 0;
        if (ret_dropped)
                *ret_dropped = 0;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0
                                       : kiln_error_set(reterr, errno, "cannot open '%s': %s", dir, strerror(errno));
        /* The folder becomes kiln's alone first: a process the staging user left behind (the proxy
         * may fork) can then add no entry, even through a descriptor it holds, and the loop below
         * ends. */
        struct stat dst;
        if (fstat(dfd, &dst) < 0 || (dst.st_uid != geteuid() && fchown(dfd, geteuid(), getegid()) < 0) ||
            fchmod(dfd, 0700) < 0)
                return kiln_error_set(reterr, errno, "cannot take over '%s': %s", dir, strerror(errno));
        DIR *d = fdopendir(dup(dfd));
        if (!d)
                return kiln_error_set(reterr, errno, "cannot read '%s': %s", dir, strerror(errno));
        int n = 0;
        unsigned tried = 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (STREQ(e->d_name, ".") || STREQ(e->d_name, ".."))
                        continue;
                /* O_NONBLOCK: a FIFO left there must not hang kiln (it is not a regular file: dropped). */
                int sfd = is_sha256_name(e->d_name)
                                  ? openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                                  : -1;
                struct stat st;
                bool fits = sfd >= 0 && fstat(sfd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
                            (uint64_t)st.st_size <= lim.file_bytes;
                /* Every file read counts against the limits, not only those that came in: a wrong
                 * hash costs its copy too. */
                if (fits && (tried >= lim.files || total + (uint64_t)st.st_size > lim.total_bytes)) {
                        fits = false;
                        dropped++;
                }
                if (fits) {
                        tried++;
                        total += (uint64_t)st.st_size;
                }
                if (fits) {
                        _cleanup_free_ char *have = kiln_cache_lookup(&(struct kiln_cache){.dir = c->dir}, e->d_name);
                        _cleanup_free_ char *tmp = NULL;
                        int tfd = -1;
                        char hex[KILN_SHA256_HEX];
                        struct kiln_cache real = {.dir = c->dir};
                        /* Copied while hashed: what is placed is what was hashed. */
                        if (!have && kiln_cache_tmp(&real, &tmp, &tfd, NULL) == 0) {
                                bool good = copy_hashed(sfd, tfd, (uint64_t)st.st_size, hex) == 0 &&
                                            STREQ(hex, e->d_name) && fsync(tfd) == 0;
                                close(tfd);
                                if (good && place(&real, tmp, hex, NULL, NULL) == 0)
                                        n++;
                                else if (!good)
                                        unlink(tmp);
                        }
                }
                if (sfd >= 0)
                        close(sfd);
                if (unlinkat(dfd, e->d_name, 0) < 0 && errno == EISDIR)
                        unlinkat(dfd, e->d_name, AT_REMOVEDIR);
        }
        closedir(d);
        rmdir(dir);
        if (ret_dropped)
                *ret_dropped = dropped;
        return n;
}

int kiln_cache_record_write(const struct kiln_cache *c, const char *key, const char *text, struct kiln_error **reterr)
{
        if (c->stage_dir)
                return 0; /* the proxy's process keeps no records */
        _cleanup_free_ char *tmp = NULL;
        int fd = -1;
        int r = kiln_cache_tmp(c, &tmp, &fd, reterr);
        if (r < 0)
                return r;
        size_t len = strlen(text);
        bool ok = write(fd, text, len) == (ssize_t)len && fchmod(fd, 0644) == 0;
        close(fd);
        _cleanup_free_ char *path = xasprintf("%s/records/%s", c->dir, key);
        if (!ok || rename(tmp, path) < 0) {
                int e = errno;
                unlink(tmp);
                return kiln_error_set(reterr, e, "cannot write cache record '%s': %s", path, strerror(e));
        }
        return 0;
}

char *kiln_cache_record_read(const struct kiln_cache *c, const char *key)
{
        _cleanup_free_ char *path = xasprintf("%s/records/%s", c->dir, key);
        char *data = NULL;
        size_t len;
        if (read_file_max(path, 1 << 16, &data, &len) < 0)
                return NULL;
        return data;
}
