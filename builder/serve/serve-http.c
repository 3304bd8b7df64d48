/* The HTTP API under /v1 (libmicrohttpd, one thread per connection, bounded): bearer tokens,
 * a tenant sees only its own builds (another's is 404, as if it did not exist), JSON in and
 * out, every error as {"error": ...}. The contract is docs/api.openapi.yaml. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"
#include "preseed.h"
#include "profile.h"
#include "serve-internal.h"

#define STREAM_KEEPALIVE_SEC 15
#define LOG_FILE_MAX         (64 << 20)

static pthread_mutex_t validate_lock = PTHREAD_MUTEX_INITIALIZER;

struct request {
        struct kiln_buf body;
        bool too_large;
        const struct serve_tenant *tenant;
};

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *type, const char *text,
                                  size_t len, const char *h1, const char *v1)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "Content-Type", type);
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        if (h1)
                MHD_add_response_header(r, h1, v1);
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

/* Takes o. */
static enum MHD_Result reply_json_h(struct MHD_Connection *c, unsigned status, struct json_object *o, const char *h1,
                                    const char *v1)
{
        const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        _cleanup_free_ char *text = xasprintf("%s\n", t);
        json_object_put(o);
        return reply_text(c, status, "application/json", text, strlen(text), h1, v1);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, struct json_object *o)
{
        return reply_json_h(c, status, o, NULL, NULL);
}

static enum MHD_Result reply_error_h(struct MHD_Connection *c, unsigned status, const char *h1, const char *v1,
                                     const char *fmt, ...) _printf_(5, 6);
static enum MHD_Result reply_error_h(struct MHD_Connection *c, unsigned status, const char *h1, const char *v1,
                                     const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(msg));
        return reply_json_h(c, status, o, h1, v1);
}
#define reply_error(c, status, ...) reply_error_h(c, status, NULL, NULL, __VA_ARGS__)

static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled", NULL};
static const char *const formats[] = {"qcow2", "raw", "vmdk", "vhdx", NULL};

static bool in_list(const char *const *list, const char *s)
{
        for (size_t i = 0; list[i]; i++)
                if (STREQ(list[i], s))
                        return true;
        return false;
}

static bool is_finished(const char *state)
{
        return STREQ(state, "succeeded") || STREQ(state, "failed") || STREQ(state, "cancelled");
}

static const struct serve_tenant *authenticate(struct serve *s, struct MHD_Connection *c)
{
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return NULL;
        const char *tok = h + 7;
        while (*tok == ' ')
                tok++;
        if (!*tok || strlen(tok) > 256)
                return NULL;
        return serve_tokens_find(&s->tokens, tok);
}

/* ---- POST /v1/builds ---- */

static struct json_object *error_item(const char *file, unsigned line, unsigned column, const char *message)
{
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "file", file ? json_object_new_string(file) : NULL);
        json_object_object_add(e, "line", json_object_new_int((int)line));
        json_object_object_add(e, "column", json_object_new_int((int)column));
        json_object_object_add(e, "message", json_object_new_string(message));
        return e;
}

static enum MHD_Result reply_unprocessable(struct MHD_Connection *c, const char *summary, struct json_object *items)
{
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(summary));
        json_object_object_add(o, "errors", items);
        return reply_json(c, MHD_HTTP_UNPROCESSABLE_CONTENT, o);
}

static bool media_type_is(const char *h, const char *type)
{
        size_t n = strlen(type);
        return h && strncasecmp(h, type, n) == 0 && (h[n] == '\0' || h[n] == ';' || h[n] == ' ');
}

static int write_profile(struct serve *s, const char *id, const char *yaml, size_t len)
{
        if (mkdirat(s->builds_dir_fd, id, 0750) < 0)
                return -errno;
        _cleanup_free_ char *rel = xasprintf("%s/profile.yaml", id);
        int fd = openat(s->builds_dir_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        size_t off = 0;
        while (off < len) {
                ssize_t k = write(fd, yaml + off, len - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                off += (size_t)k;
        }
        return fsync(fd) < 0 || close(fd) < 0 ? -errno : 0;
}

static enum MHD_Result post_build(struct serve *s, struct MHD_Connection *c, struct request *rq)
{
        const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        _cleanup_free_ char *yaml = NULL, *callback = NULL;
        const char *format = "qcow2";
        bool boot_test = true, install_only = false;
        size_t yaml_len = 0;
        if (rq->too_large)
                return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the request body is larger than %zu bytes",
                                   s->cfg->max_body);
        if (media_type_is(ctype, "application/yaml") || media_type_is(ctype, "application/x-yaml") ||
            media_type_is(ctype, "text/yaml")) {
                yaml = xstrndup(rq->body.data ? rq->body.data : "", rq->body.len);
                yaml_len = rq->body.len;
        } else if (media_type_is(ctype, "application/json")) {
                struct json_tokener *tk = json_tokener_new_ex(16);
                struct json_object *o =
                        json_tokener_parse_ex(tk, rq->body.data ? rq->body.data : "", (int)rq->body.len);
                enum json_tokener_error je = json_tokener_get_error(tk);
                json_tokener_free(tk);
                if (!o || je != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                        json_object_put(o);
                        return reply_error(c, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object");
                }
                enum MHD_Result ret = MHD_NO;
                bool bad = false;
                json_object_object_foreach(o, key, val)
                {
                        if (bad)
                                break;
                        if (STREQ(key, "profile") && json_object_is_type(val, json_type_string)) {
                                yaml_len = (size_t)json_object_get_string_len(val);
                                yaml = xstrndup(json_object_get_string(val), yaml_len);
                        } else if (STREQ(key, "format") && json_object_is_type(val, json_type_string) &&
                                   in_list(formats, json_object_get_string(val))) {
                                for (size_t i = 0; formats[i]; i++)
                                        if (STREQ(formats[i], json_object_get_string(val)))
                                                format = formats[i];
                        } else if (STREQ(key, "boot_test") && json_object_is_type(val, json_type_boolean)) {
                                boot_test = json_object_get_boolean(val);
                        } else if (STREQ(key, "install_only") && json_object_is_type(val, json_type_boolean)) {
                                install_only = json_object_get_boolean(val);
                        } else if (STREQ(key, "callback_url") && json_object_is_type(val, json_type_string)) {
                                free(callback);
                                callback = xstrdup(json_object_get_string(val));
                        } else {
                                ret = reply_error(c, MHD_HTTP_BAD_REQUEST,
                                                  "'%s': unknown key or bad value (profile: string, format: "
                                                  "qcow2|raw|vmdk|vhdx, boot_test: boolean, install_only: boolean, "
                                                  "callback_url: string)",
                                                  key);
                                bad = true;
                        }
                }
                json_object_put(o);
                if (bad)
                        return ret;
                if (!yaml)
                        return reply_error(c, MHD_HTTP_BAD_REQUEST, "'profile' is required");
                if (install_only && !STREQ(format, "qcow2") && !STREQ(format, "raw")) {
                        struct json_object *items = json_object_new_array();
                        json_object_array_add(items, error_item(NULL, 0, 0,
                                                                "install_only gives the installer's own disk: "
                                                                "format qcow2 or raw"));
                        return reply_unprocessable(
                                c, "install_only gives the installer's own disk: format qcow2 or raw", items);
                }
        } else
                return reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "send the profile as application/yaml, or JSON as application/json");
        if (strlen(yaml) != yaml_len)
                return reply_unprocessable(c, "the profile has a NUL byte", json_object_new_array_ext(0));

        /* The profile as kiln build will read it: untrusted (no host paths), extends only into the
         * library, every error with its place. */
        struct kiln_profile_options po = {.apt_dir = s->cfg->apt_dir,
                                          .untrusted = true,
                                          .library = s->cfg->library,
                                          .allow_private = s->cfg->allow_private_mirrors};
        _cleanup_error_ struct kiln_error *err = NULL;
        struct kiln_profile *p = NULL;
        pthread_mutex_lock(&validate_lock);
        int r = kiln_profile_load_buffer("profile.yaml", yaml, yaml_len, &po, &p, &err);
        _cleanup_free_ char *preseed = NULL;
        if (r >= 0)
                r = kiln_preseed_generate(p, KILN_VERSION, &preseed, &err);
        kiln_profile_free(p);
        pthread_mutex_unlock(&validate_lock);
        if (r < 0 || err) {
                struct json_object *items = json_object_new_array();
                for (const struct kiln_error *e = err; e; e = e->next)
                        json_object_array_add(items, error_item(e->file, e->line, e->column, e->msg));
                if (!err)
                        json_object_array_add(items, error_item(NULL, 0, 0, "the profile is not valid"));
                _cleanup_free_ char *sum = xasprintf("the profile has %zu problem%s", kiln_error_count(err),
                                                     kiln_error_count(err) == 1 ? "" : "s");
                return reply_unprocessable(c, sum, items);
        }
        if (callback) {
                _cleanup_free_ char *why = serve_webhook_check_url(s, callback);
                if (why) {
                        struct json_object *items = json_object_new_array();
                        json_object_array_add(items, error_item(NULL, 0, 0, why));
                        return reply_unprocessable(c, why, items);
                }
        }

        pthread_mutex_lock(&s->lock);
        const struct serve_tenant *t = rq->tenant;
        unsigned queued = serve_db_count(s, t->name, "queued");
        uint64_t disk = t->max_disk ? serve_db_disk(s, t->name) : 0;
        if (queued >= t->max_queued) {
                pthread_mutex_unlock(&s->lock);
                return reply_error_h(c, MHD_HTTP_TOO_MANY_REQUESTS, "Retry-After", "30",
                                     "tenant '%s' has %u builds queued, its limit", t->name, queued);
        }
        if (t->max_disk && disk >= t->max_disk) {
                pthread_mutex_unlock(&s->lock);
                return reply_error_h(c, MHD_HTTP_TOO_MANY_REQUESTS, "Retry-After", "300",
                                     "tenant '%s' uses %llu bytes of build folders, its limit; delete finished "
                                     "builds",
                                     t->name, (unsigned long long)disk);
        }
        char id[SERVE_ID_LEN + 1];
        kiln_random_hex(id, sizeof(id));
        r = write_profile(s, id, yaml, yaml_len);
        if (r < 0) {
                serve_remove_build_dir(s, id);
                pthread_mutex_unlock(&s->lock);
                return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot write the build folder: %s",
                                   strerror(-r));
        }
        sqlite3_stmt *st =
                serve_db_prepare(s, "INSERT INTO builds(id, tenant, state, created, format, boot_test, "
                                    "callback_url, install_only) VALUES(?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7)");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        sqlite3_bind_double(st, 3, (double)now.tv_sec + now.tv_nsec / 1e9);
        sqlite3_bind_text(st, 4, format, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, boot_test);
        sqlite3_bind_text(st, 6, callback, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, install_only);
        int sr = sqlite3_step(st);
        sqlite3_finalize(st);
        if (sr != SQLITE_DONE) {
                serve_remove_build_dir(s, id);
                pthread_mutex_unlock(&s->lock);
                return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot queue the build: %s",
                                   sqlite3_errmsg(s->db));
        }
        struct json_object *full = serve_db_build_json(s, t->name, id), *o = json_object_new_object(), *v;
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "state", json_object_new_string("queued"));
        json_object_object_get_ex(full, "links", &v);
        json_object_object_add(o, "links", json_object_get(v));
        json_object_put(full);
        serve_log(s, "build %s queued by '%s'", id, t->name);
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        _cleanup_free_ char *loc = xasprintf("/v1/builds/%s", id);
        return reply_json_h(c, MHD_HTTP_CREATED, o, "Location", loc);
}

/* ---- GET /v1/builds, /v1/builds/{id}, DELETE ---- */

static enum MHD_Result list_builds(struct serve *s, struct MHD_Connection *c, const struct serve_tenant *t)
{
        const char *state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
        if (state && !in_list(states, state))
                return reply_error(c, MHD_HTTP_BAD_REQUEST,
                                   "?state= takes queued, running, succeeded, failed or cancelled");
        struct json_object *arr = json_object_new_array();
        pthread_mutex_lock(&s->lock);
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT id FROM builds WHERE tenant=?1 AND (?2 IS NULL OR "
                                               "state=?2) ORDER BY created DESC LIMIT 1000");
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        char **ids = NULL;
        while (sqlite3_step(st) == SQLITE_ROW)
                ids = strv_push(ids, xstrdup((const char *)sqlite3_column_text(st, 0)));
        sqlite3_finalize(st);
        for (size_t i = 0; ids && ids[i]; i++) {
                struct json_object *b = serve_db_build_json(s, t->name, ids[i]);
                if (b)
                        json_object_array_add(arr, b);
        }
        pthread_mutex_unlock(&s->lock);
        strv_free(ids);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "builds", arr);
        return reply_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result delete_build(struct serve *s, struct MHD_Connection *c, const struct serve_tenant *t,
                                    const char *id)
{
        pthread_mutex_lock(&s->lock);
        _cleanup_free_ char *state = serve_db_text(s, id, "state"), *owner = serve_db_text(s, id, "tenant");
        if (!state || !owner || !STREQ(owner, t->name)) {
                pthread_mutex_unlock(&s->lock);
                return reply_error(c, MHD_HTTP_NOT_FOUND, "no build '%s'", id);
        }
        unsigned code;
        if (STREQ(state, "running")) {
                serve_runner_cancel(s, id);
                code = MHD_HTTP_ACCEPTED;
        } else if (STREQ(state, "queued")) {
                sqlite3_stmt *st = serve_db_prepare(s, "UPDATE builds SET state='cancelled', error='cancelled', "
                                                       "finished=?2 WHERE id=?1");
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_double(st, 2, (double)time(NULL));
                sqlite3_step(st);
                sqlite3_finalize(st);
                serve_remove_build_dir(s, id);
                code = MHD_HTTP_OK;
                pthread_cond_broadcast(&s->changed);
        } else {
                serve_remove_build_dir(s, id);
                const char *sqls[] = {"DELETE FROM events WHERE build=?1", "DELETE FROM builds WHERE id=?1"};
                for (size_t i = 0; i < ELEMENTSOF(sqls); i++) {
                        sqlite3_stmt *st = serve_db_prepare(s, sqls[i]);
                        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                        sqlite3_step(st);
                        sqlite3_finalize(st);
                }
                serve_log(s, "build %s deleted by '%s'", id, t->name);
                pthread_mutex_unlock(&s->lock);
                return reply_text(c, MHD_HTTP_NO_CONTENT, "application/json", "", 0, NULL, NULL);
        }
        struct json_object *b = serve_db_build_json(s, t->name, id);
        pthread_mutex_unlock(&s->lock);
        return reply_json(c, code, b);
}

/* ---- GET /v1/builds/{id}/events: SSE or NDJSON, resumable ---- */

struct stream {
        struct serve *s;
        char id[SERVE_ID_LEN + 1];
        int64_t after;
        bool ndjson, ended;
        struct kiln_buf out;
        size_t off;
};

/* Fill st->out with the events after st->after; false when there are none now. Lock held. */
static bool stream_fill(struct stream *st)
{
        sqlite3_stmt *q = serve_db_prepare(st->s, "SELECT seq, json FROM events WHERE build=?1 AND seq>?2 "
                                                  "ORDER BY seq LIMIT 64");
        sqlite3_bind_text(q, 1, st->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, st->after);
        bool any = false;
        while (sqlite3_step(q) == SQLITE_ROW) {
                int64_t seq = sqlite3_column_int64(q, 0);
                const char *json = (const char *)sqlite3_column_text(q, 1);
                if (st->ndjson)
                        buf_printf(&st->out, "%s\n", json);
                else {
                        struct json_object *o = json_tokener_parse(json), *t = NULL;
                        const char *type =
                                o && json_object_object_get_ex(o, "type", &t) ? json_object_get_string(t) : "event";
                        buf_printf(&st->out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)seq, type, json);
                        json_object_put(o);
                }
                st->after = seq;
                any = true;
        }
        sqlite3_finalize(q);
        return any;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct stream *st = cls;
        struct serve *s = st->s;
        if (st->off == st->out.len) {
                st->out.len = 0;
                st->off = 0;
                if (st->ended)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                pthread_mutex_lock(&s->lock);
                double until = kiln_now() + STREAM_KEEPALIVE_SEC;
                while (!stream_fill(st)) {
                        _cleanup_free_ char *state = serve_db_text(s, st->id, "state");
                        if (!state || is_finished(state) || *s->stop) {
                                /* Every event is stored before the state changes (both under the lock). */
                                if (!stream_fill(st)) {
                                        pthread_mutex_unlock(&s->lock);
                                        return MHD_CONTENT_READER_END_OF_STREAM;
                                }
                                st->ended = true;
                                break;
                        }
                        if (kiln_now() >= until) {
                                /* Keep the connection (and any proxy between) from timing out. */
                                buf_puts(&st->out, st->ndjson ? "\n" : ": keepalive\n\n");
                                break;
                        }
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += 1;
                        pthread_cond_timedwait(&s->changed, &s->lock, &ts);
                }
                pthread_mutex_unlock(&s->lock);
        }
        size_t n = st->out.len - st->off;
        if (n > max)
                n = max;
        memcpy(buf, st->out.data + st->off, n);
        st->off += n;
        return (ssize_t)n;
}

static void stream_free(void *cls)
{
        struct stream *st = cls;
        pthread_mutex_lock(&st->s->lock);
        st->s->n_streams--;
        pthread_mutex_unlock(&st->s->lock);
        free(st->out.data);
        free(st);
}

static bool parse_count(const char *v, int64_t *ret)
{
        char *end;
        errno = 0;
        long long x = v ? strtoll(v, &end, 10) : -1;
        if (!v || errno || end == v || *end || x < 0)
                return false;
        *ret = x;
        return true;
}

static enum MHD_Result stream_events(struct serve *s, struct MHD_Connection *c, const char *id)
{
        const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
        const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
        int64_t from = 0;
        if ((after && !parse_count(after, &from)) || (!after && last && !parse_count(last, &from)))
                return reply_error(c, MHD_HTTP_BAD_REQUEST, "?after= and Last-Event-ID take an event number");
        pthread_mutex_lock(&s->lock);
        if (s->n_streams >= s->cfg->max_streams) {
                pthread_mutex_unlock(&s->lock);
                return reply_error_h(c, MHD_HTTP_TOO_MANY_REQUESTS, "Retry-After", "10",
                                     "%u event streams are open, the limit", s->n_streams);
        }
        s->n_streams++;
        pthread_mutex_unlock(&s->lock);
        struct stream *st = xcalloc(1, sizeof(*st));
        st->s = s;
        snprintf(st->id, sizeof(st->id), "%s", id);
        st->after = from;
        st->ndjson = accept && strstr(accept, "application/x-ndjson");
        struct MHD_Response *r =
                MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st, stream_free);
        MHD_add_response_header(r, "Content-Type", st->ndjson ? "application/x-ndjson" : "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

/* ---- files: image (with Range), manifest, logs ---- */

static int open_in_build(struct serve *s, const char *id, const char *rel, struct stat *st)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", id, rel);
        int fd = openat(s->builds_dir_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
                close(fd);
                return -ENOENT;
        }
        return fd;
}

/* "bytes=A-B", "bytes=A-", "bytes=-N": one range, as RFC 9110 14.1.2 reads them. */
static int parse_range(const char *h, uint64_t size, uint64_t *ret_off, uint64_t *ret_len)
{
        if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
                return -1;
        const char *p = h + 6;
        char *end;
        if (*p == '-') {
                unsigned long long n = strtoull(p + 1, &end, 10);
                if (end == p + 1 || *end || n == 0 || size == 0)
                        return -1;
                if (n > size)
                        n = size;
                *ret_off = size - n;
                *ret_len = n;
                return 0;
        }
        unsigned long long a = strtoull(p, &end, 10);
        if (end == p || *end != '-' || a >= size)
                return -1;
        p = end + 1;
        unsigned long long b = size - 1;
        if (*p) {
                b = strtoull(p, &end, 10);
                if (*end || b < a)
                        return -1;
                if (b >= size)
                        b = size - 1;
        }
        *ret_off = a;
        *ret_len = b - a + 1;
        return 0;
}

static enum MHD_Result get_image(struct serve *s, struct MHD_Connection *c, const char *id, const char *format,
                                 const char *sha, bool manifest)
{
        _cleanup_free_ char *rel = xasprintf("image.%s%s", format, manifest ? ".manifest.json" : "");
        struct stat st;
        int fd = open_in_build(s, id, rel, &st);
        if (fd < 0)
                return reply_error(c, MHD_HTTP_NOT_FOUND, "build '%s' has no %s", id, manifest ? "manifest" : "image");
        uint64_t size = (uint64_t)st.st_size, off = 0, len = size;
        unsigned code = MHD_HTTP_OK;
        const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
        _cleanup_free_ char *crange = NULL;
        if (range && !manifest) {
                if (parse_range(range, size, &off, &len) < 0) {
                        close(fd);
                        _cleanup_free_ char *v = xasprintf("bytes */%llu", (unsigned long long)size);
                        return reply_error_h(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, "Content-Range", v,
                                             "the range is not one satisfiable byte range");
                }
                code = MHD_HTTP_PARTIAL_CONTENT;
                crange = xasprintf("bytes %llu-%llu/%llu", (unsigned long long)off, (unsigned long long)(off + len - 1),
                                   (unsigned long long)size);
        }
        struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, off); /* takes fd */
        MHD_add_response_header(r, "Content-Type", manifest ? "application/json" : "application/octet-stream");
        if (!manifest) {
                MHD_add_response_header(r, "Accept-Ranges", "bytes");
                if (sha)
                        MHD_add_response_header(r, "X-Kiln-SHA256", sha);
                _cleanup_free_ char *cd = xasprintf("attachment; filename=\"%s.%s\"", id, format);
                MHD_add_response_header(r, "Content-Disposition", cd);
        }
        if (crange)
                MHD_add_response_header(r, "Content-Range", crange);
        enum MHD_Result ret = MHD_queue_response(c, code, r);
        MHD_destroy_response(r);
        return ret;
}

static la_ssize_t tar_write(struct archive *a, void *cls, const void *data, size_t n)
{
        buf_append(cls, data, n);
        return (la_ssize_t)n;
}

static void tar_add(struct archive *a, int dirfd, const char *name, const char *as)
{
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0)
                return;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > LOG_FILE_MAX) {
                close(fd);
                return;
        }
        _cleanup_free_ char *data = xmalloc((size_t)st.st_size + 1);
        ssize_t n = pread(fd, data, (size_t)st.st_size, 0);
        close(fd);
        if (n < 0)
                return;
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, as);
        archive_entry_set_size(e, n);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, st.st_mtime, 0);
        archive_write_header(a, e);
        archive_write_data(a, data, (size_t)n);
        archive_entry_free(e);
}

static enum MHD_Result get_logs(struct serve *s, struct MHD_Connection *c, const char *id)
{
        int bfd = openat(s->builds_dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (bfd < 0)
                return reply_error(c, MHD_HTTP_NOT_FOUND, "build '%s' has no logs (it was cancelled or deleted)", id);
        struct kiln_buf out = {0};
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
        archive_write_set_bytes_in_last_block(a, 1);
        archive_write_open(a, &out, NULL, tar_write, NULL);
        _cleanup_free_ char *top = xasprintf("%s/kiln.log", id);
        tar_add(a, bfd, "kiln.log", top);
        int wfd = openat(bfd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = wfd >= 0 ? fdopendir(wfd) : NULL;
        struct dirent *e;
        while (d && (e = readdir(d)))
                if (str_has_suffix(e->d_name, ".log") || STREQ(e->d_name, "packages.txt")) {
                        _cleanup_free_ char *as = xasprintf("%s/%s", id, e->d_name);
                        tar_add(a, dirfd(d), e->d_name, as);
                }
        if (d)
                closedir(d);
        else if (wfd >= 0)
                close(wfd);
        close(bfd);
        archive_write_close(a);
        archive_write_free(a);
        _cleanup_free_ char *fname = xasprintf("attachment; filename=\"%s-logs.tar.gz\"", id);
        enum MHD_Result ret = reply_text(c, MHD_HTTP_OK, "application/gzip", out.data ? out.data : "", out.len,
                                         "Content-Disposition", fname);
        free(out.data);
        return ret;
}

/* ---- health, metrics, status page ---- */

static enum MHD_Result get_health(struct serve *s, struct MHD_Connection *c)
{
        struct json_object *o = json_object_new_object();
        pthread_mutex_lock(&s->lock);
        json_object_object_add(o, "status", json_object_new_string("ok"));
        json_object_object_add(o, "version", json_object_new_string(KILN_VERSION));
        json_object_object_add(o, "running", json_object_new_int((int)s->n_running));
        json_object_object_add(o, "queued", json_object_new_int((int)serve_db_count(s, NULL, "queued")));
        pthread_mutex_unlock(&s->lock);
        return reply_json(c, MHD_HTTP_OK, o);
}

/* The shared cache the builds use (--cache, else the default every kiln command takes): the
 * proxy's counters that kiln build adds to after each install (records/proxy-stats) and the bytes
 * it holds, as kiln cache stats reads them. A scan of the cache, outside the service's lock. */
static void cache_metrics(struct serve *s, struct kiln_buf *b)
{
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        _cleanup_free_ char *dir = s->cfg->cache_dir      ? xstrdup(s->cfg->cache_dir)
                                   : xdg && *xdg == '/'   ? xasprintf("%s/kiln", xdg)
                                   : home && *home == '/' ? xasprintf("%s/.cache/kiln", home)
                                                          : NULL;
        struct kiln_cache_stats st = {0};
        struct kiln_error *err = NULL;
        if (dir && kiln_cache_stats(dir, &st, &err) < 0)
                kiln_error_free(err); /* no cache yet: nothing in it */
        buf_printf(b,
                   "# HELP kiln_proxy_cache_hits_total Package files the builds' proxy served from the cache.\n"
                   "# TYPE kiln_proxy_cache_hits_total counter\nkiln_proxy_cache_hits_total %" PRIu64 "\n"
                   "# HELP kiln_proxy_cache_misses_total Package files the builds' proxy fetched upstream.\n"
                   "# TYPE kiln_proxy_cache_misses_total counter\nkiln_proxy_cache_misses_total %" PRIu64 "\n"
                   "# HELP kiln_cache_bytes Bytes in the shared cache: files (packages, indices, installers) "
                   "and stored results.\n# TYPE kiln_cache_bytes gauge\n"
                   "kiln_cache_bytes{kind=\"files\"} %" PRIu64 "\nkiln_cache_bytes{kind=\"results\"} %" PRIu64 "\n"
                   "# HELP kiln_cache_entries Entries in the shared cache.\n# TYPE kiln_cache_entries gauge\n"
                   "kiln_cache_entries{kind=\"files\"} %" PRIu64 "\nkiln_cache_entries{kind=\"results\"} %" PRIu64 "\n",
                   st.hits, st.misses, st.file_bytes, st.result_bytes, st.files, st.results);
}

static enum MHD_Result get_metrics(struct serve *s, struct MHD_Connection *c)
{
        struct kiln_buf b = {0};
        cache_metrics(s, &b);
        pthread_mutex_lock(&s->lock);
        buf_puts(&b, "# HELP kiln_builds Builds known to the service, by state.\n# TYPE kiln_builds gauge\n");
        for (size_t i = 0; states[i]; i++)
                buf_printf(&b, "kiln_builds{state=\"%s\"} %u\n", states[i], serve_db_count(s, NULL, states[i]));
        buf_printf(&b,
                   "# HELP kiln_queue_depth Builds waiting to run.\n# TYPE kiln_queue_depth gauge\n"
                   "kiln_queue_depth %u\n",
                   serve_db_count(s, NULL, "queued"));
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT state, count(*), coalesce(sum(finished-started), 0) FROM "
                                               "builds WHERE finished IS NOT NULL AND started IS NOT NULL "
                                               "GROUP BY state");
        buf_puts(&b, "# HELP kiln_build_duration_seconds Wall time of finished builds.\n"
                     "# TYPE kiln_build_duration_seconds summary\n");
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *state = (const char *)sqlite3_column_text(st, 0);
                buf_printf(&b, "kiln_build_duration_seconds_sum{state=\"%s\"} %.3f\n", state,
                           sqlite3_column_double(st, 2));
                buf_printf(&b, "kiln_build_duration_seconds_count{state=\"%s\"} %d\n", state,
                           sqlite3_column_int(st, 1));
        }
        sqlite3_finalize(st);
        buf_printf(&b,
                   "# HELP kiln_event_streams Event streams open now.\n# TYPE kiln_event_streams gauge\n"
                   "kiln_event_streams %u\n"
                   "# HELP kiln_status_waiting Status pages waiting for a change now.\n"
                   "# TYPE kiln_status_waiting gauge\nkiln_status_waiting %u\n",
                   s->n_streams, s->n_status_waiting);
        buf_printf(&b,
                   "# HELP kiln_http_requests_total Requests since start.\n# TYPE kiln_http_requests_total "
                   "counter\nkiln_http_requests_total %llu\n",
                   (unsigned long long)s->requests);
        buf_printf(&b,
                   "# HELP kiln_webhooks_total Webhook deliveries since start.\n# TYPE kiln_webhooks_total "
                   "counter\nkiln_webhooks_total{result=\"delivered\"} %llu\n"
                   "kiln_webhooks_total{result=\"failed\"} %llu\n",
                   (unsigned long long)s->webhooks_ok, (unsigned long long)s->webhooks_failed);
        pthread_mutex_unlock(&s->lock);
        enum MHD_Result ret = reply_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", b.data, b.len, NULL, NULL);
        free(b.data);
        return ret;
}

/* The page is static (its data comes from /v1/status, with the operator's token): it needs none.
 * Its own script only, no external anything, and no framing by another site. */
static enum MHD_Result get_page(struct MHD_Connection *c)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(serve_status_page), (void *)serve_status_page,
                                                                 MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result get_status(struct serve *s, struct MHD_Connection *c, const struct serve_tenant *t)
{
        if (!t->is_operator)
                return reply_error(c, MHD_HTTP_FORBIDDEN,
                                   "the status of every build needs an operator's token "
                                   "(operator=yes in the tokens file)");
        const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
        const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
        unsigned w = wait ? (unsigned)strtoul(wait, NULL, 10) : 0;
        if (since && (strlen(since) != KILN_SHA256_HEX - 1 || strspn(since, "0123456789abcdef") != strlen(since)))
                since = NULL;
        _cleanup_free_ char *text = serve_status_json(s, since, w);
        return reply_text(c, MHD_HTTP_OK, "application/json", text, strlen(text), NULL, NULL);
}

/* ---- dispatch ---- */

static bool id_ok(const char *id, size_t n)
{
        return n == SERVE_ID_LEN && strspn(id, "0123456789abcdef") >= n;
}

static enum MHD_Result route(struct serve *s, struct MHD_Connection *c, const char *url, const char *method,
                             struct request *rq)
{
        bool get = STREQ(method, "GET") || STREQ(method, "HEAD");
        if (STREQ(url, "/v1/health"))
                return get ? get_health(s, c) : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
        if (STREQ(url, "/metrics"))
                return get ? get_metrics(s, c) : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
        if (STREQ(url, "/"))
                return get ? get_page(c) : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
        if (!str_has_prefix(url, "/v1/"))
                return reply_error(c, MHD_HTTP_NOT_FOUND, "no such path; the API is under /v1");
        const struct serve_tenant *t = rq->tenant;
        if (!t)
                return reply_error_h(c, MHD_HTTP_UNAUTHORIZED, "WWW-Authenticate", "Bearer realm=\"kiln\"",
                                     "a valid bearer token is required");
        if (STREQ(url, "/v1/status"))
                return get ? get_status(s, c, t) : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
        if (STREQ(url, "/v1/builds")) {
                if (STREQ(method, "POST"))
                        return post_build(s, c, rq);
                if (get)
                        return list_builds(s, c, t);
                return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or POST");
        }
        if (!str_has_prefix(url, "/v1/builds/"))
                return reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
        const char *id = url + strlen("/v1/builds/");
        const char *slash = strchr(id, '/');
        size_t idn = slash ? (size_t)(slash - id) : strlen(id);
        const char *sub = slash ? slash + 1 : "";
        if (!id_ok(id, idn))
                return reply_error(c, MHD_HTTP_NOT_FOUND, "no such build");
        char bid[SERVE_ID_LEN + 1];
        memcpy(bid, id, SERVE_ID_LEN);
        bid[SERVE_ID_LEN] = '\0';
        /* Another tenant's build is answered exactly as a build that does not exist. */
        pthread_mutex_lock(&s->lock);
        struct json_object *b = serve_db_build_json(s, t->name, bid);
        pthread_mutex_unlock(&s->lock);
        if (!b)
                return reply_error(c, MHD_HTTP_NOT_FOUND, "no build '%s'", bid);
        if (STREQ(method, "DELETE") && !*sub) {
                json_object_put(b);
                return delete_build(s, c, t, bid);
        }
        if (!get) {
                json_object_put(b);
                return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed here");
        }
        if (!*sub)
                return reply_json(c, MHD_HTTP_OK, b);
        struct json_object *v;
        _cleanup_free_ char *state =
                xstrdup(json_object_object_get_ex(b, "state", &v) ? json_object_get_string(v) : "");
        _cleanup_free_ char *format =
                xstrdup(json_object_object_get_ex(b, "format", &v) ? json_object_get_string(v) : "qcow2");
        _cleanup_free_ char *sha =
                json_object_object_get_ex(b, "image_sha256", &v) && v ? xstrdup(json_object_get_string(v)) : NULL;
        json_object_put(b);
        if (STREQ(sub, "events"))
                return stream_events(s, c, bid);
        if (STREQ(sub, "image") || STREQ(sub, "manifest")) {
                if (!STREQ(state, "succeeded"))
                        return reply_error(c, MHD_HTTP_NOT_FOUND, "build '%s' is %s: it has no %s", bid, state, sub);
                return get_image(s, c, bid, format, sha, STREQ(sub, "manifest"));
        }
        if (STREQ(sub, "logs"))
                return get_logs(s, c, bid);
        return reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
        struct serve *s = cls;
        struct request *rq = *con_cls;
        if (!rq) {
                rq = xcalloc(1, sizeof(*rq));
                *con_cls = rq;
                rq->tenant = authenticate(s, c);
                pthread_mutex_lock(&s->lock);
                s->requests++;
                pthread_mutex_unlock(&s->lock);
                return MHD_YES;
        }
        if (*upload_size) {
                /* Bodies only from a tenant, and only up to the cap (the rest is read and dropped). */
                if (rq->tenant && !rq->too_large) {
                        if (rq->body.len + *upload_size > s->cfg->max_body) {
                                rq->too_large = true;
                                free(rq->body.data);
                                rq->body = (struct kiln_buf){0};
                        } else
                                buf_append(&rq->body, upload_data, *upload_size);
                }
                *upload_size = 0;
                return MHD_YES;
        }
        return route(s, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
        struct request *rq = *con_cls;
        if (rq) {
                free(rq->body.data);
                free(rq);
        }
        *con_cls = NULL;
}

/* libmicrohttpd's own messages: the format is libmicrohttpd's (its MHD_LogCallback). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) _printf_(2, 0);
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        struct serve *s = cls;
        _cleanup_free_ char *m = xvasprintf(fmt, ap);
        size_t n = strlen(m);
        while (n && m[n - 1] == '\n')
                m[--n] = '\0';
        serve_log(s, "http: %s", m);
}

int serve_http_start(struct serve *s, int listen_fd, struct MHD_Daemon **ret, struct kiln_error **reterr)
{
        unsigned flags =
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG;
        _cleanup_free_ char *cert = NULL, *key = NULL;
        if (s->cfg->tls_cert) {
                size_t n;
                int r = read_file_max(s->cfg->tls_cert, 1 << 20, &cert, &n);
                if (r < 0)
                        return kiln_error_set(reterr, -r, "--tls-cert '%s': %s", s->cfg->tls_cert, strerror(-r));
                r = read_file_max(s->cfg->tls_key, 1 << 20, &key, &n);
                if (r < 0)
                        return kiln_error_set(reterr, -r, "--tls-key '%s': %s", s->cfg->tls_key, strerror(-r));
                if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                        return kiln_error_set(reterr, ENOTSUP, "this libmicrohttpd has no TLS support");
                flags |= MHD_USE_TLS;
        }
        struct MHD_Daemon *d;
        if (cert)
                d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                     MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT,
                                     s->cfg->max_connections, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY,
                                     key, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 << 10), MHD_OPTION_END);
        else
                d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                     MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT,
                                     s->cfg->max_connections, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 << 10),
                                     MHD_OPTION_END);
        if (!d)
                return kiln_error_set(reterr, EIO, "cannot start the HTTP server");
        *ret = d;
        return 0;
}
