/* What the files of builder/serve/ share: the server's state, the tenants, the database. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <sys/types.h>

#include "serve.h"

#define SERVE_ID_LEN 20 /* hex digits of a build id */

struct serve_tenant {
        char *name;
        unsigned char hash[32]; /* sha256 of the token */
        unsigned max_running, max_queued;
        uint64_t max_disk; /* bytes of build folders; 0: no limit */
        char *secret;      /* the webhook's HMAC key (secret=); NULL: the token's hash in hex */
        bool is_operator;  /* operator=yes: may read every tenant's builds (GET /v1/status) */
};

struct serve_tokens {
        struct serve_tenant *t;
        size_t n;
};
int serve_tokens_load(const char *path, struct serve_tokens *ret, struct kiln_error **reterr);
void serve_tokens_clear(struct serve_tokens *t);
/* The tenant whose token this is, in constant time over all of them; NULL when none. */
const struct serve_tenant *serve_tokens_find(const struct serve_tokens *t, const char *token);
const struct serve_tenant *serve_tokens_by_name(const struct serve_tokens *t, const char *name);

/* A build run by this server now: the child and the thread reading its events. */
struct serve_run {
        char id[SERVE_ID_LEN + 1];
        pid_t pid;
        int events_fd;
        pthread_t reader;
        double started, deadline;
        bool cancel, timed_out, done;
        struct serve_run *next;
};

struct serve {
        const struct kiln_serve_config *cfg;
        struct serve_tokens tokens;
        sqlite3 *db;
        pthread_mutex_t lock;   /* the database, runs, counters */
        pthread_cond_t changed; /* a new event or state: streams and the scheduler wake */
        struct serve_run *runs;
        unsigned n_running, n_streams, n_status_waiting;
        int builds_dir_fd;
        char *builds_dir;
        volatile sig_atomic_t *stop;
        bool tls;
        /* Counters for /metrics since start. */
        uint64_t requests, webhooks_ok, webhooks_failed;
        struct serve_webhook *hooks; /* deliveries waiting */
        pthread_cond_t hooks_changed;
};

void serve_log(struct serve *s, const char *fmt, ...) _printf_(2, 3);

/* serve-db.c: every call with s->lock held. */
int serve_db_open(struct serve *s, struct kiln_error **reterr);
void serve_db_close(struct serve *s);
int serve_db_exec(struct serve *s, const char *sql);
/* Prepare, or abort on a bug in kiln's own SQL. */
sqlite3_stmt *serve_db_prepare(struct serve *s, const char *sql);
/* Builds that were running when the service died: requeued once, then failed. */
void serve_db_recover(struct serve *s);
/* Append one event (JSON text) to a build: its number, or 0 when the build's backlog is full. */
int64_t serve_db_add_event(struct serve *s, const char *id, const char *json, bool must_keep);
/* Count of a tenant's builds in a state. */
unsigned serve_db_count(struct serve *s, const char *tenant, const char *state);
uint64_t serve_db_disk(struct serve *s, const char *tenant);
/* A build as the API's JSON object (NULL when it is not this tenant's, or there is none). tenant
 * NULL: any. */
struct json_object *serve_db_build_json(struct serve *s, const char *tenant, const char *id);
char *serve_db_text(struct serve *s, const char *id, const char *column);

/* serve-status.c: the operator's page and its JSON, every tenant's builds; with since (the tag of
 * the last answer) it waits up to wait_sec (25 at most) for a change. */
char *serve_status_json(struct serve *s, const char *since, unsigned wait_sec);
extern const char serve_status_page[];

/* serve-runner.c */
int serve_runner_start(struct serve *s, pthread_t *ret, struct kiln_error **reterr);
/* Ask a running build to stop (the reader marks it cancelled). True when it was running. */
bool serve_runner_cancel(struct serve *s, const char *id);
/* Remove a finished build's folder. */
void serve_remove_build_dir(struct serve *s, const char *id);
/* Remove what a build left in its folder, all but its profile (to run it again). */
void serve_sweep_build_dir(struct serve *s, const char *id);
uint64_t serve_dir_bytes(int dirfd, const char *name);

/* serve-webhook.c */
struct serve_webhook;
void serve_webhook_queue(struct serve *s, const char *tenant, const char *id);
int serve_webhook_start(struct serve *s, pthread_t *ret);
void serve_webhook_clear(struct serve *s);
/* Is this callback URL acceptable at submission (the address policy on its host as written)?
 * NULL when yes, else why. */
char *serve_webhook_check_url(const struct serve *s, const char *url);
/* The hex HMAC-SHA256 of data under key. */
void serve_hmac_hex(const char *key, const char *data, size_t len, char hex[65]);

/* serve-http.c */
struct MHD_Daemon;
int serve_http_start(struct serve *s, int listen_fd, struct MHD_Daemon **ret, struct kiln_error **reterr);
