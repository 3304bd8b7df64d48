/* kiln serve: the job service a provisioning portal calls (HTTP/JSON under /v1, one child
 * `kiln build` per build, state in SQLite). The CLI parses options and calls kiln_serve_run(). */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "error.h"

struct kiln_serve_config {
        const char *listen;    /* "unix:PATH" or "HOST:PORT" */
        const char *state_dir; /* serve.db and builds/ID/ */
        const char *tokens_file;
        const char *library;      /* --profile-library: what API profiles may extend; NULL: nothing */
        const char *cache_dir;    /* the shared package cache, passed to every build */
        const char *result_store; /* passed to every build (--result-store); NULL: the cache's */
        const char *kiln_exe;     /* the kiln binary builds run as */
        const char *apt_dir;      /* passed to builds (--apt-dir) */
        const char *tls_cert, *tls_key;
        const char *accel; /* passed to builds (--accel), or NULL */
        bool allow_private_mirrors, allow_private_callbacks;
        unsigned max_running;       /* builds at once; 0: from cores and memory */
        unsigned build_timeout_sec; /* per build */
        unsigned expire_sec;        /* finished builds' files and rows are removed after this */
        size_t max_body;            /* request body cap, bytes */
        unsigned max_streams;       /* event stream clients at once */
        unsigned max_events;        /* events kept per build */
        unsigned max_connections;
        kiln_notice_fn log; /* one line per thing worth logging; may be NULL */
        void *userdata;
};

/* Serve until *stop is set (a signal). Returns 0, or a negative errno with the error filled. */
int kiln_serve_run(const struct kiln_serve_config *cfg, volatile sig_atomic_t *stop, struct kiln_error **reterr);

/* A new random token for a tenant: ret_token (to give the tenant) and ret_line (for the tokens
 * file: "TENANT SHA256 secret=HEX"). */
int kiln_serve_new_token(const char *tenant, char **ret_token, char **ret_line, struct kiln_error **reterr);

/* builds at once by default: one per core, and one per 2 GiB of memory, at least 1. */
unsigned kiln_serve_default_concurrency(void);
