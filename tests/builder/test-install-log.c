/* Feed a syslog and a console capture to the install-log reader in small chunks, as they would
 * arrive from the serial ports, and print its events, final state and failure. */
#include "install-log.h"

int main(int argc, char **argv);

static void on_event(void *userdata, const char *step, int percent, const char *message)
{
        printf("event %s %d %s\n", step, percent, message);
}

static void feed(struct kiln_install_log *l, const char *path, bool syslog)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (!path || read_file_max(path, 64 << 20, &data, &len) < 0)
                return;
        for (size_t off = 0; off < len; off += 7) {
                size_t n = len - off < 7 ? len - off : 7;
                if (syslog)
                        kiln_install_log_syslog(l, data + off, n, on_event, NULL);
                else
                        kiln_install_log_console(l, data + off, n, on_event, NULL);
        }
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: %s SYSLOG [CONSOLE]\n", argv[0]);
                return 2;
        }
        struct kiln_install_log l = {0};
        feed(&l, argv[1], true);
        feed(&l, argc > 2 ? argv[2] : NULL, false);
        printf("step %s\npercent %d\nfinish %s\nfailure %s\n", l.step ? l.step : "-", l.percent,
               l.finish_seen ? "yes" : "no", l.failure ? l.failure : "-");
        kiln_install_log_clear(&l);
        return 0;
}
