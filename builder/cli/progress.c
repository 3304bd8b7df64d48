/* Progress: download bars on a terminal, the build's steps as a bar or as lines, JSON events. */
#include <json-c/json.h>
#include <stdint.h>
#include <time.h>

#include "cli.h"

static void human(uint64_t v, char *out, size_t n)
{
        if (v >= (1ULL << 20))
                snprintf(out, n, "%.1f MiB", (double) v / (1 << 20));
        else
                snprintf(out, n, "%.0f KiB", (double) v / 1024);
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
                int pct = (int) (now * 100 / total), width = 30, fill = pct * width / 100;
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

void cli_display_event(void *userdata, const char *step, int percent, const char *message)
{
        struct cli_display *d = userdata;
        if (d->json) {
                struct json_object *o = json_object_new_object();
                char ts[32];
                time_t t = time(NULL);
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
                json_object_object_add(o, "time", json_object_new_string(ts));
                json_object_object_add(o, "step", json_object_new_string(step));
                json_object_object_add(o, "percent", json_object_new_int(percent));
                json_object_object_add(o, "message", json_object_new_string(message));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                fflush(stdout);
                json_object_put(o);
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
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "notice", json_object_new_string(msg));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                fflush(stdout);
                json_object_put(o);
        }
        fprintf(stderr, "%skiln: %s\n", d->tty && d->last_step ? "\n" : "", msg);
}


static void json_line(struct json_object *o)
{
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        fflush(stdout);
        json_object_put(o);
}

void cli_display_stage(struct cli_display *d, unsigned n, unsigned total, const char *stage, const char *what)
{
        if (d->json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "stage", json_object_new_string(stage));
                json_object_object_add(o, "index", json_object_new_int((int) n));
                json_object_object_add(o, "of", json_object_new_int((int) total));
                json_object_object_add(o, "message", json_object_new_string(what));
                json_line(o);
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
        struct json_object *o = json_object_new_object();
        _cleanup_free_ char *msg = kiln_error_format(err);
        json_object_object_add(o, "error", json_object_new_string(msg));
        if (build_dir)
                json_object_object_add(o, "build_dir", json_object_new_string(build_dir));
        json_line(o);
}
