/* Errors that say where and what: construction, wrapping, formatting, ordering. */
#include "error.h"

#include <errno.h>

_printf_(6, 0) static int error_vappend(struct kiln_error **reterr, int errnum, const char *file, unsigned line,
                                        unsigned column, const char *fmt, va_list ap)
{
        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EINVAL;
        struct kiln_error *e = xcalloc(1, sizeof(*e));
        e->errnum = errnum;
        e->msg = xvasprintf(fmt, ap);
        e->file = file ? xstrdup(file) : NULL;
        e->line = line;
        e->column = column;
        if (reterr) {
                struct kiln_error **tail = reterr;
                while (*tail)
                        tail = &(*tail)->next;
                *tail = e;
        } else {
                kiln_error_free(e);
        }
        return -errnum;
}

int kiln_error_set(struct kiln_error **reterr, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vappend(reterr, errnum, NULL, 0, 0, fmt, ap);
        va_end(ap);
        return r;
}

int kiln_error_at(struct kiln_error **reterr, int errnum, const char *file, unsigned line, unsigned column,
                  const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vappend(reterr, errnum, file, line, column, fmt, ap);
        va_end(ap);
        return r;
}

int kiln_error_wrap(struct kiln_error **err, const char *fmt, ...)
{
        if (!err || !*err)
                return -EINVAL;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *ctx = xvasprintf(fmt, ap);
        va_end(ap);
        for (struct kiln_error *e = *err; e; e = e->next) {
                char *m = xasprintf("%s: %s", ctx, e->msg);
                free(e->msg);
                e->msg = m;
        }
        return -(*err)->errnum;
}

void kiln_error_free(struct kiln_error *err)
{
        while (err) {
                struct kiln_error *next = err->next;
                free(err->msg);
                free(err->file);
                free(err);
                err = next;
        }
}

char *kiln_error_format(const struct kiln_error *e)
{
        if (!e->file)
                return xstrdup(e->msg);
        if (e->line == 0)
                return xasprintf("%s: %s", e->file, e->msg);
        if (e->column == 0)
                return xasprintf("%s:%u: %s", e->file, e->line, e->msg);
        return xasprintf("%s:%u:%u: %s", e->file, e->line, e->column, e->msg);
}

size_t kiln_error_count(const struct kiln_error *err)
{
        size_t n = 0;
        for (; err; err = err->next)
                n++;
        return n;
}

struct sort_item {
        struct kiln_error *e;
        size_t file_rank, seq;
};

static int sort_cmp(const void *a, const void *b)
{
        const struct sort_item *x = a, *y = b;
        if (x->file_rank != y->file_rank)
                return x->file_rank < y->file_rank ? -1 : 1;
        if (x->e->line != y->e->line)
                return x->e->line < y->e->line ? -1 : 1;
        if (x->e->column != y->e->column)
                return x->e->column < y->e->column ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void kiln_error_sort(struct kiln_error **err, char *const *order)
{
        size_t n = kiln_error_count(*err);
        if (n < 2)
                return;
        size_t norder = strv_length(order);
        _cleanup_free_ struct sort_item *items = xcalloc(n, sizeof(*items));
        _cleanup_free_ const char **files = xcalloc(n + norder, sizeof(char *));
        size_t nfiles = 0, i = 0;
        for (; nfiles < norder; nfiles++)
                files[nfiles] = order[nfiles];
        for (struct kiln_error *e = *err; e; e = e->next, i++) {
                size_t rank = 0;
                const char *f = e->file ? e->file : "";
                while (rank < nfiles && !STREQ(files[rank], f))
                        rank++;
                if (rank == nfiles)
                        files[nfiles++] = f;
                items[i] = (struct sort_item){.e = e, .file_rank = rank, .seq = i};
        }
        qsort(items, n, sizeof(*items), sort_cmp);
        for (i = 0; i + 1 < n; i++)
                items[i].e->next = items[i + 1].e;
        items[n - 1].e->next = NULL;
        *err = items[0].e;
}
