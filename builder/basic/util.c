/* Small shared helpers: allocation, string vectors, text buffers, shell quoting, file reading. */
#include "util.h"

#include "error.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <time.h>

static void oom(void)
{
        fputs("kiln: out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

char *xstrdup(const char *s)
{
        char *r = strdup(s);
        if (!r)
                oom();
        return r;
}

char *xstrndup(const char *s, size_t n)
{
        char *r = strndup(s, n);
        if (!r)
                oom();
        return r;
}

char *xvasprintf(const char *fmt, va_list ap)
{
        char *r;
        if (vasprintf(&r, fmt, ap) < 0)
                oom();
        return r;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *r = xvasprintf(fmt, ap);
        va_end(ap);
        return r;
}

size_t strv_length(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

char **strv_push(char **v, char *s)
{
        size_t n = strv_length(v);
        v = xrealloc(v, (n + 2) * sizeof(char *));
        v[n] = s;
        v[n + 1] = NULL;
        return v;
}

bool strv_contains(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (STREQ(v[i], s))
                        return true;
        return false;
}

char *strv_join(char *const *v, const char *sep)
{
        struct kiln_buf b = {0};
        for (size_t i = 0; v && v[i]; i++) {
                if (i)
                        buf_puts(&b, sep);
                buf_puts(&b, v[i]);
        }
        return buf_steal(&b);
}

void buf_append(struct kiln_buf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2;
                b->data = xrealloc(b->data, b->cap);
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void buf_puts(struct kiln_buf *b, const char *s)
{
        buf_append(b, s, strlen(s));
}

void buf_printf(struct kiln_buf *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *s = xvasprintf(fmt, ap);
        va_end(ap);
        buf_puts(b, s);
}

char *buf_steal(struct kiln_buf *b)
{
        char *r = b->data ? b->data : xstrdup("");
        *b = (struct kiln_buf){0};
        return r;
}

void kiln_notify(kiln_notice_fn fn, void *userdata, const char *fmt, ...)
{
        if (!fn)
                return;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = xvasprintf(fmt, ap);
        va_end(ap);
        fn(userdata, m);
}

char *shell_quote(const char *s)
{
        struct kiln_buf b = {0};
        buf_puts(&b, "'");
        for (const char *p = s; *p; p++) {
                if (*p == '\'')
                        buf_puts(&b, "'\\''");
                else
                        buf_append(&b, p, 1);
        }
        buf_puts(&b, "'");
        return buf_steal(&b);
}

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0; *ret_cp is its code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
        if (!len || len > n)
                return 0;
        uint32_t cp = s[0] & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return len;
}

char *kiln_text_safe(const char *s, size_t n)
{
        struct kiln_buf b = {0};
        buf_puts(&b, "");
        const unsigned char *p = (const unsigned char *)s;
        for (size_t i = 0; i < n;) {
                uint32_t cp = p[i];
                size_t len = p[i] < 0x80 ? 1 : utf8_seq(p + i, n - i, &cp);
                /* C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides
                 * and isolates: each could move the cursor, start an escape, or disguise text. */
                bool bad = len == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
                           cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
                if (bad) {
                        buf_printf(&b, "\\x%02x", p[i]);
                        i++;
                        continue;
                }
                buf_append(&b, s + i, len);
                i += len;
        }
        return buf_steal(&b);
}

bool str_has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && STREQ(s + a - b, suffix);
}

int read_file_max(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
                return -EFBIG;

        size_t cap = 4096, len = 0;
        _cleanup_free_ char *data = xmalloc(cap + 1);
        for (;;) {
                if (len == cap) {
                        if (cap > max)
                                return -EFBIG;
                        cap *= 2;
                        data = xrealloc(data, cap + 1);
                }
                ssize_t n = read(fd, data + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > max)
                return -EFBIG;
        data[len] = '\0';
        *ret_data = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

double kiln_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *kiln_newest_kernel(int dirfd)
{
        int fd = dup(dirfd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        char *best = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (str_has_prefix(de->d_name, "vmlinuz-") && (!best || strverscmp(de->d_name + 8, best) > 0)) {
                        free(best);
                        best = xstrdup(de->d_name + 8);
                }
        closedir(d);
        return best;
}

void kiln_random_hex(char *buf, size_t size)
{
        unsigned char raw[32];
        size_t n = (size - 1) / 2 < sizeof(raw) ? (size - 1) / 2 : sizeof(raw);
        if (getrandom(raw, n, 0) != (ssize_t)n)
                abort();
        for (size_t i = 0; i < n; i++)
                snprintf(buf + 2 * i, 3, "%02x", raw[i]);
        buf[2 * n] = '\0';
}

void rm_rf_flat(const char *dir)
{
        /* A folder the sandbox user owned may hold anything: every entry goes, through the
         * folder's fd (a link is removed, never followed); its subfolders only when empty. */
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dup(dfd)) : NULL;
        for (struct dirent *e; d && (e = readdir(d));) {
                if (STREQ(e->d_name, ".") || STREQ(e->d_name, ".."))
                        continue;
                if (unlinkat(dfd, e->d_name, 0) < 0 && errno == EISDIR)
                        unlinkat(dfd, e->d_name, AT_REMOVEDIR);
        }
        if (d)
                closedir(d);
        rmdir(dir);
}

int write_file_atomic(const char *path, const char *data, size_t len, struct kiln_error **reterr)
{
        _cleanup_free_ char *tmp = xasprintf("%s.kiln-tmp-XXXXXX", path);
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "cannot create '%s': %s", tmp, strerror(errno));
        size_t off = 0;
        while (off < len) {
                ssize_t n = write(fd, data + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        close(fd);
                        unlink(tmp);
                        return kiln_error_set(reterr, e, "cannot write '%s': %s", path, strerror(e));
                }
                off += (size_t)n;
        }
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
                int e = errno;
                unlink(tmp);
                return kiln_error_set(reterr, e, "cannot write '%s': %s", path, strerror(e));
        }
        return 0;
}
