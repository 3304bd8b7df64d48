/* Progress display for downloads: a bar on a terminal, nothing in a pipe. */
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
