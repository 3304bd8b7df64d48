/* Errors that say where and what: one struct, chained when a run finds several. */
#pragma once

#include "util.h"

struct kiln_error {
        int errnum;      /* positive errno-style code */
        char *msg;       /* lowercase, no trailing newline */
        char *file;      /* NULL when the error has no location */
        unsigned line;   /* 1-based; 0 = no line */
        unsigned column; /* 1-based; 0 = no column */
        struct kiln_error *next;
};

/* Set (or, if *reterr is already set, append) an error; returns -errnum. */
int kiln_error_set(struct kiln_error **reterr, int errnum, const char *fmt, ...) _printf_(3, 4);

/* The same with a location; line and column are 1-based. */
int kiln_error_at(struct kiln_error **reterr, int errnum, const char *file, unsigned line, unsigned column,
                  const char *fmt, ...) _printf_(6, 7);

/* Prefix the message of every chained error with context: "context: inner". Returns -errnum. */
int kiln_error_wrap(struct kiln_error **err, const char *fmt, ...) _printf_(2, 3);

void kiln_error_free(struct kiln_error *err);
static inline void kiln_error_freep(struct kiln_error **e)
{
        kiln_error_free(*e);
}
#define _cleanup_error_ _cleanup_(kiln_error_freep)

/* "FILE:LINE:COL: msg" (parts left out when absent). */
char *kiln_error_format(const struct kiln_error *err);

/* Sort a chain by file (in the order of files, NULL-terminated; others after, by first appearance),
 * then line and column; stable. */
void kiln_error_sort(struct kiln_error **err, char *const *files);

size_t kiln_error_count(const struct kiln_error *err);
