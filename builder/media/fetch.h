/* HTTP downloads with libcurl: retries with backoff, errors naming the URL and status, progress. */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "error.h"

typedef void (*kiln_progress_fn)(void *userdata, const char *label, uint64_t now, uint64_t total, bool done);

struct kiln_fetch_opts {
        const char *label;         /* what the progress display calls it */
        kiln_progress_fn progress; /* NULL: none */
        void *userdata;
        unsigned retries;       /* further tries after a transient failure; 0: $KILN_FETCH_RETRIES or 3 */
        bool no_retry;          /* one try only (a probe whose failure is an answer) */
        const char *user_agent; /* NULL: kiln's own */
        long *ret_status;       /* the final HTTP status, when wanted */
        uint64_t max_bytes;     /* a body past this is refused (EFBIG); 0: KILN_FETCH_MAX_BYTES */
        /* Redirects are not followed: a 3xx fails with EXDEV, its target in *ret_location (the
         * proxy hands it to the guest, whose next request is checked again). */
        char **ret_location;
};

/* The cap on any one download whose size nothing vouches for ($KILN_FETCH_MAX_BYTES to change). */
#define KILN_FETCH_MAX_BYTES (4ULL << 30)

/* HEAD one URL, following no redirect; *ret_status is the HTTP status, *ret_length the
 * Content-Length (-1 unknown) and *ret_location (may be NULL) a 3xx's target, or NULL. */
int kiln_fetch_head(const char *url, const char *user_agent, long *ret_status, int64_t *ret_length, char **ret_location,
                    struct kiln_error **reterr);

/* Download url into fd (from its current start; truncated before each retry). */
int kiln_fetch_to_fd(const char *url, int fd, const struct kiln_fetch_opts *opts, struct kiln_error **reterr);

/* Download into memory, at most max bytes. */
int kiln_fetch_to_mem(const char *url, size_t max, const struct kiln_fetch_opts *opts, char **ret_data, size_t *ret_len,
                      struct kiln_error **reterr);

/* HEAD many URLs at once; ret_status[i] is the HTTP status, or 0 when no answer came. */
int kiln_fetch_heads(char *const *urls, size_t n, long *ret_status, struct kiln_error **reterr);

/* Allow connections to loopback, private, link-local and other addresses the address policy
 * (addr-policy.h) refuses; off by default. Process-wide: set once from --allow-private-mirrors. */
void kiln_fetch_allow_private(bool allow);
/* Whether the operator allowed them (the proxy's CONNECT tunnels follow the same policy). */
bool kiln_fetch_private_allowed(void);

/* Abort transfers (within about a second, a stalled one too) and retries once *flag is set;
 * process-wide, like the address policy: the CLI's signal flag (cli_catch_signals). */
void kiln_fetch_set_cancel(volatile sig_atomic_t *flag);

/* kiln's User-Agent. */
const char *kiln_user_agent(void);
