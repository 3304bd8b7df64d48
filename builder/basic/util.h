/* Small shared helpers: cleanup attributes, allocation that aborts on OOM, string vectors. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

#define TAKE_PTR(p)                                                                                                    \
        ({                                                                                                             \
                __typeof__(p) _p = (p);                                                                                \
                (p) = NULL;                                                                                            \
                _p;                                                                                                    \
        })

#define TAKE_FD(fd)                                                                                                    \
        ({                                                                                                             \
                int _fd = (fd);                                                                                        \
                (fd) = -1;                                                                                             \
                _fd;                                                                                                   \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define STREQ(a, b)   (strcmp((a), (b)) == 0)

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* NULL-terminated string vectors. */
size_t strv_length(char *const *v);
void strv_free(char **v);
static inline void strv_freep(char ***v)
{
        strv_free(*v);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
char **strv_push(char **v, char *s); /* takes s */
bool strv_contains(char *const *v, const char *s);
char *strv_join(char *const *v, const char *sep);

/* A growable text buffer; never fails (OOM aborts). */
struct kiln_buf {
        char *data;
        size_t len, cap;
};
void buf_append(struct kiln_buf *b, const char *s, size_t n);
void buf_puts(struct kiln_buf *b, const char *s);
void buf_printf(struct kiln_buf *b, const char *fmt, ...) _printf_(2, 3);
char *buf_steal(struct kiln_buf *b);

/* Format a message and hand it to a notice callback (library code never prints); fn may be NULL. */
typedef void (*kiln_notice_fn)(void *userdata, const char *msg);
void kiln_notify(kiln_notice_fn fn, void *userdata, const char *fmt, ...) _printf_(3, 4);

/* Quote s for a POSIX shell as one word: 'it'\''s'. */
char *shell_quote(const char *s);

/* Remove a folder and the entries in it, without following links or descending. */
void rm_rf_flat(const char *dir);

#define _returns_nonnull_ __attribute__((returns_nonnull))

/* Text from a guest or an image, made safe to print: every control character (C0, DEL, C1), line
 * or paragraph separator, bidirectional override and malformed UTF-8 byte becomes "\xNN". */
char *kiln_text_safe(const char *s, size_t n) _returns_nonnull_;

/* size - 1 random hex digits (rounded down to even) and a NUL, from getrandom(). */
void kiln_random_hex(char *buf, size_t size);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/* Read a whole file of at most max bytes; -EFBIG when larger. */
int read_file_max(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* Write data to path atomically: a temporary file in the same folder, renamed on success. */
struct kiln_error;
int write_file_atomic(const char *path, const char *data, size_t len, struct kiln_error **reterr);

/* Seconds on the monotonic clock: for timeouts, watchdogs and stage timings. */
double kiln_now(void);

/* VERSION of the newest vmlinuz-VERSION in an open folder (strverscmp order), or NULL. */
char *kiln_newest_kernel(int dirfd);
