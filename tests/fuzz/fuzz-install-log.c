/* Fuzz target for the reader of what a guest writes: the installer's syslog and console, fed in
 * pieces as the follow loop feeds them. Invariants: no crash, memory bounded by the line cap, and
 * nothing the reader reports (step, failure, URL) holds a control character. */
#include <stdint.h>

#include "install-log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_safe(const char *s)
{
        for (const unsigned char *c = (const unsigned char *)s; s && *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        abort();
}

static void on_event(void *userdata, const char *step, int percent, const char *message)
{
        check_safe(step);
        check_safe(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kiln_install_log l = {0};
        /* The first byte says where to split: syslog and console in several pieces. */
        size_t cut = size ? data[0] % (size + 1) : 0;
        for (size_t off = 0; off < size;) {
                size_t n = size - off < 97 ? size - off : 97;
                if (off < cut)
                        kiln_install_log_syslog(&l, (const char *)data + off, n, on_event, NULL);
                else
                        kiln_install_log_console(&l, (const char *)data + off, n, on_event, NULL);
                off += n;
                if (l.syslog_part.len > KILN_SYSLOG_LINE_MAX + 64)
                        abort();
        }
        check_safe(l.step);
        check_safe(l.failure);
        check_safe(l.last_url);
        kiln_install_log_clear(&l);
        return 0;
}
