/* Progress: download bars on a terminal, the build's steps as a bar or as lines, JSON events. */
#include <json-c/json.h>
#include <stdint.h>
#include <time.h>

#include "cli.h"
#include "manifest.h"
#include "pipeline.h"

static void human(uint64_t v, char *out, size_t n)
{
        if (v >= (1ULL << 20))
                snprintf(out, n, "%.1f MiB", (double)v / (1 << 20));
        else
                snprintf(out, n, "%.0f KiB", (double)v / 1024);
}

void cli_progress(void *userdata, const char *label, uint64_t now, uint64_t total, bool done)
{
        static struct timespec last;
        static bool drawn;
        if (!isatty(STDERR_FILENO))
                return;
        if (done) {
                if (drawn)
                        fputs("\r\033[K", stderr);
                drawn = false;
                return;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (drawn && (ts.tv_sec - last.tv_sec) * 1000 + (ts.tv_nsec - last.tv_nsec) / 1000000 < 100)
                return; /* at most ten redraws a second */
        last = ts;
        char a[32], b[32];
        human(now, a, sizeof(a));
        if (total) {
                int pct = (int)(now * 100 / total), width = 30, fill = pct * width / 100;
                human(total, b, sizeof(b));
                fprintf(stderr, "\r\033[K%-36.36s [%.*s%*s] %3d%% %s / %s", label, fill,
                        "##############################", width - fill, "", pct, a, b);
        } else {
                fprintf(stderr, "\r\033[K%-36.36s %s", label, a);
        }
        drawn = true;
}

void cli_notice(void *userdata, const char *msg)
{
        fprintf(stderr, "kiln: %s\n", msg);
}

/* Every event of the stream (docs/events.schema.json): v, time (RFC 3339, milliseconds, UTC),
 * type, and the build's id; then what the type carries. Old keys stay as they were. */
static struct json_object *event_new(struct cli_display *d, const char *type)
{
        if (!d->build_id[0])
                kiln_random_hex(d->build_id, sizeof(d->build_id));
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char t[32], full[48];
        strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(full, sizeof(full), "%s.%03ldZ", t, ts.tv_nsec / 1000000);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "v", json_object_new_int(KILN_EVENTS_VERSION));
        json_object_object_add(o, "time", json_object_new_string(full));
        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "build", json_object_new_string(d->build_id));
        return o;
}

static void emit(struct cli_display *d, struct json_object *o)
{
        FILE *f = d->out ? d->out : stdout;
        fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        fflush(f);
        json_object_put(o);
}

void cli_display_event(void *userdata, const char *step, int percent, const char *message)
{
        struct cli_display *d = userdata;
        if (d->json) {
                struct json_object *o = event_new(d, "step");
                json_object_object_add(o, "step", json_object_new_string(step));
                json_object_object_add(o, "percent", json_object_new_int(percent));
                json_object_object_add(o, "message", json_object_new_string(message));
                emit(d, o);
                if (!d->out)
                        return;
        }
        bool same_step = d->last_step && STREQ(d->last_step, step);
        if (same_step && (!d->tty || percent == d->last_percent))
                return;
        d->last_percent = percent;
        if (!same_step) {
                free(d->last_step);
                d->last_step = xstrdup(step);
        }
        if (d->tty) {
                int fill = percent * 30 / 100;
                fprintf(stderr, "\r\033[K[%.*s%*s] %3d%% %s", fill, "##############################", 30 - fill, "",
                        percent, message);
                if (STREQ(step, "done"))
                        fputc('\n', stderr);
        } else {
                fprintf(stderr, "kiln: [%3d%%] %s (%s)\n", percent, message, step);
        }
}

void cli_display_notice(void *userdata, const char *msg)
{
        struct cli_display *d = userdata;
        if (d->json) {
                struct json_object *o = event_new(d, "notice");
                json_object_object_add(o, "notice", json_object_new_string(msg));
                json_object_object_add(o, "message", json_object_new_string(msg));
                emit(d, o);
        }
        fprintf(stderr, "%skiln: %s\n", d->tty && d->last_step ? "\n" : "", msg);
}

void cli_display_stage(struct cli_display *d, unsigned n, unsigned total, const char *stage, const char *what)
{
        if (d->json) {
                struct json_object *o = event_new(d, "stage");
                json_object_object_add(o, "stage", json_object_new_string(stage));
                json_object_object_add(o, "index", json_object_new_int((int)n));
                json_object_object_add(o, "of", json_object_new_int((int)total));
                json_object_object_add(o, "message", json_object_new_string(what));
                emit(d, o);
                if (!d->out) /* --events-fd keeps the display for people on stderr */
                        return;
        }
        if (d->tty && d->last_step)
                fputc('\n', stderr);
        free(d->last_step);
        d->last_step = NULL;
        fprintf(stderr, "kiln: [%u/%u] %s\n", n, total, what);
}

void cli_display_error(struct cli_display *d, const struct kiln_error *err, const char *build_dir)
{
        if (d->tty && d->last_step)
                fputc('\n', stderr);
        if (!d->json || !err)
                return;
        struct json_object *o = event_new(d, "error");
        _cleanup_free_ char *msg = kiln_error_format(err);
        json_object_object_add(o, "error", json_object_new_string(msg));
        json_object_object_add(o, "message", json_object_new_string(err->msg));
        /* The whole chain, each with its location when it has one. */
        struct json_object *chain = json_object_new_array();
        for (const struct kiln_error *e = err; e; e = e->next) {
                struct json_object *c = json_object_new_object();
                json_object_object_add(c, "message", json_object_new_string(e->msg));
                if (e->file) {
                        json_object_object_add(c, "file", json_object_new_string(e->file));
                        json_object_object_add(c, "line", json_object_new_int((int)e->line));
                        json_object_object_add(c, "column", json_object_new_int((int)e->column));
                }
                json_object_array_add(chain, c);
        }
        json_object_object_add(o, "chain", chain);
        if (build_dir)
                json_object_object_add(o, "build_dir", json_object_new_string(build_dir));
        emit(d, o);
}

void cli_display_result(struct cli_display *d, const struct cli_output *outputs, size_t n_outputs,
                        const struct kiln_stage_time *times, size_t n_times, const struct kiln_build_proxy *proxy)
{
        if (!d->json)
                return;
        struct json_object *o = event_new(d, "result");
        json_object_object_add(o, "state", json_object_new_string("succeeded"));
        struct json_object *outs = json_object_new_array();
        for (size_t i = 0; i < n_outputs; i++) {
                struct json_object *x = json_object_new_object();
                json_object_object_add(x, "kind", json_object_new_string(outputs[i].kind));
                json_object_object_add(x, "path", json_object_new_string(outputs[i].path));
                json_object_object_add(x, "sha256", json_object_new_string(outputs[i].sha256));
                json_object_array_add(outs, x);
        }
        json_object_object_add(o, "outputs", outs);
        struct json_object *st = json_object_new_object();
        for (size_t i = 0; i < n_times; i++)
                json_object_object_add(st, times[i].stage, json_object_new_double(times[i].seconds));
        json_object_object_add(o, "stages", st);
        if (proxy && proxy->ran) {
                struct json_object *px = json_object_new_object();
                json_object_object_add(px, "requests", json_object_new_int64(proxy->requests));
                json_object_object_add(px, "files", json_object_new_int64(proxy->files));
                json_object_object_add(px, "cached", json_object_new_int64(proxy->cached));
                json_object_object_add(px, "refused", json_object_new_int64(proxy->refused));
                json_object_object_add(px, "upstream", json_object_new_int64(proxy->upstream));
                json_object_object_add(px, "bytes", json_object_new_int64((int64_t)proxy->bytes));
                json_object_object_add(o, "proxy", px);
        }
        emit(d, o);
}

void cli_display_key(struct cli_display *d, const char *key, bool reused, const char *why)
{
        _cleanup_free_ char *msg =
                xasprintf("build key %s: %s (%s)", key, reused ? "reusing the stored image" : "building", why);
        if (d->json) {
                struct json_object *o = event_new(d, "notice");
                json_object_object_add(o, "notice", json_object_new_string("key"));
                json_object_object_add(o, "key", json_object_new_string(key));
                json_object_object_add(o, "reused", json_object_new_boolean(reused));
                json_object_object_add(o, "why", json_object_new_string(why));
                json_object_object_add(o, "message", json_object_new_string(msg));
                emit(d, o);
        }
        fprintf(stderr, "%skiln: %s\n", d->tty && d->last_step ? "\n" : "", msg);
}
