/* The installer's own logs, read as they arrive. The syslog gives main-menu's steps and, with
 * DEBCONF_DEBUG=5 (cdebconf's developer level) on the command line, every question debconf is about
 * to show; under
 * priority=critical with everything preseeded, a question shown is one nobody will answer. The
 * console's newt dialogs ("[!!] Title") are the second witness. */
#include "install-log.h"

#include <regex.h>

static const struct {
        const char *step;
        int percent;
        const char *title;
} steps[] = {
        {"localechooser", 1, "choosing the language"},
        {"console-setup-udeb", 2, "configuring the keyboard"},
        {"ethdetect", 3, "detecting network hardware"},
        {"netcfg", 5, "configuring the network"},
        {"choose-mirror", 7, "choosing the mirror"},
        {"download-installer", 9, "downloading installer components"},
        {"user-setup-udeb", 12, "setting up users"},
        {"clock-setup", 13, "configuring the clock"},
        {"disk-detect", 14, "detecting disks"},
        {"partman-base", 16, "partitioning disks"},
        {"bootstrap-base", 20, "installing the base system"},
        {"apt-setup-udeb", 50, "configuring apt"},
        {"pkgsel", 55, "selecting and installing software"},
        {"grub-installer", 88, "installing the GRUB boot loader"},
        {"nobootloader", 88, "skipping the boot loader"},
        {"finish-install", 95, "finishing the installation"},
};

/* Where the step after this one starts (how far a step's own progress bar may take the total). */
static int next_percent(const char *step)
{
        for (size_t i = 0; i + 1 < ELEMENTSOF(steps); i++)
                if (STREQ(steps[i].step, step))
                        for (size_t k = i + 1; k < ELEMENTSOF(steps); k++)
                                if (steps[k].percent > steps[i].percent)
                                        return steps[k].percent;
        return 99;
}

int kiln_install_step_percent(const char *step, const char **ret_title)
{
        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                if (STREQ(steps[i].step, step)) {
                        if (ret_title)
                                *ret_title = steps[i].title;
                        return steps[i].percent;
                }
        return -1;
}

static void set_str(char **p, const char *v)
{
        free(*p);
        *p = v ? xstrdup(v) : NULL;
}

_printf_(2, 3) static void fail(struct kiln_install_log *l, const char *fmt, ...)
{
        if (l->failure)
                return; /* the first cause is the cause */
        va_list ap;
        va_start(ap, fmt);
        l->failure = xvasprintf(fmt, ap);
        va_end(ap);
}

static bool capture(const char *re, const char *line, char *out, size_t out_len)
{
        regex_t rx;
        regmatch_t m[2];
        if (regcomp(&rx, re, REG_EXTENDED) != 0)
                abort();
        bool ok = regexec(&rx, line, 2, m, 0) == 0 && m[1].rm_so >= 0;
        if (ok) {
                size_t n = (size_t)(m[1].rm_eo - m[1].rm_so);
                if (n >= out_len)
                        n = out_len - 1;
                memcpy(out, line + m[1].rm_so, n);
                out[n] = '\0';
        }
        regfree(&rx);
        return ok;
}

static void syslog_line(struct kiln_install_log *l, const char *raw, kiln_install_event_fn ev, void *userdata)
{
        /* The guest wrote this: whatever of it reaches a step name, a URL or an error (and so a
         * terminal) is escaped first. */
        _cleanup_free_ char *line = kiln_text_safe(raw, strlen(raw));
        char v[512];
        l->lines++;
        if (capture("main-menu\\[[0-9]+\\]: INFO: Menu item '([^']+)' selected", line, v, sizeof(v))) {
                set_str(&l->step, v);
                const char *title = v;
                int pct = kiln_install_step_percent(v, &title);
                if (pct > l->percent)
                        l->percent = pct;
                l->step_from = pct >= 0 ? pct : l->percent;
                l->step_to = pct >= 0 ? next_percent(v) : l->percent;
                l->bar_max = 0;
                if (STREQ(v, "finish-install"))
                        l->finish_seen = true;
                if (ev)
                        ev(userdata, v, l->percent, title);
                return;
        }
        /* kiln's own finish-install hook (preseed-gen: the tuning undone); finish-install only warns
         * when one of its scripts fails, and the image would keep eatmydata or a stale initramfs. */
        if (capture(" kiln-tuning: error: (.*)$", line, v, sizeof(v))) {
                fail(l, "the install-speed tuning could not be undone at the end of the install: %s failed", v);
                return;
        }
        /* pkgsel and base-installer report their own progress through debconf. */

        /* A step's own progress bar moves the total within the step's range. */
        long a, b;
        const char *prog = strstr(line, "debconf: --> PROGRESS ");
        if (prog) {
                prog += strlen("debconf: --> PROGRESS ");
                if (sscanf(prog, "START %ld %ld", &a, &b) == 2 && b > a)
                        l->bar_min = a, l->bar_max = b, l->bar_now = a;
                else if (sscanf(prog, "SET %ld", &a) == 1)
                        l->bar_now = a;
                else if (sscanf(prog, "STEP %ld", &a) == 1)
                        l->bar_now += a;
                if (l->bar_max > l->bar_min && l->step && l->step_to > l->step_from) {
                        long done = l->bar_now < l->bar_min   ? 0
                                    : l->bar_now > l->bar_max ? l->bar_max - l->bar_min
                                                              : l->bar_now - l->bar_min;
                        int pct = l->step_from +
                                  (int)((long)(l->step_to - l->step_from - 1) * done / (l->bar_max - l->bar_min));
                        if (pct > l->percent) {
                                l->percent = pct;
                                const char *title = l->step;
                                kiln_install_step_percent(l->step, &title);
                                if (ev)
                                        ev(userdata, l->step, l->percent, title);
                        }
                }
                return;
        }
        if (capture("main-menu\\[[0-9]+\\]: WARNING \\*\\*: Configuring '([^']+)' failed", line, v, sizeof(v))) {
                if (l->last_url)
                        fail(l, "the installer's step '%s' failed (last URL: %s)", v, l->last_url);
                else
                        fail(l, "the installer's step '%s' failed", v);
                return;
        }
        /* cdebconf's developer level (DEBCONF_DEBUG=5): "-->" is the command, "<--" the answer. */
        /* Only the installer's own cdebconf ("debconf: "); the target's debconf, passed through by
         * in-target, logs "in-target: debconf (developer): ..." with its own conventions. */
        if (capture(" debconf: --> INPUT [a-z]+ ([^ ]+)", line, v, sizeof(v))) {
                set_str(&l->pending_input, v);
                return;
        }
        if (l->pending_input && strstr(line, " debconf: <-- ")) {
                if (strstr(line, "<-- 0 question will be asked")) {
                        const char *q = l->pending_input;
                        bool error = strstr(q, "error") || strstr(q, "failed") || strstr(q, "/fail");
                        if (error && l->last_url)
                                fail(l, "the installer shows an error at step '%s': %s (last URL: %s)",
                                     l->step ? l->step : "?", q, l->last_url);
                        else if (error)
                                fail(l, "the installer shows an error at step '%s': %s", l->step ? l->step : "?", q);
                        else
                                fail(l, "the installer asks '%s' at step '%s', which nothing answers", q,
                                     l->step ? l->step : "?");
                }
                set_str(&l->pending_input, NULL);
                return;
        }
        if (capture("(https?://[^ '\"]+)", line, v, sizeof(v)))
                set_str(&l->last_url, v);
}

/* Drop ANSI/VT100 escape sequences and other control bytes from newt's screen output. */
static void console_text(struct kiln_install_log *l, const char *data, size_t len)
{
        struct kiln_buf b = {0};
        if (l->console_tail)
                buf_puts(&b, l->console_tail);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)data[i];
                if (c == 0x1b) {
                        size_t j = i + 1;
                        if (j < len && data[j] == '[') {
                                j++;
                                while (j < len && !((data[j] >= '@' && data[j] <= '~')))
                                        j++;
                        } else if (j < len && (data[j] == '(' || data[j] == ')')) {
                                j++;
                        }
                        i = j;
                        buf_append(&b, "\n", 1); /* a cursor move ends what was being written */
                        continue;
                }
                if (c == '\n' || (c >= 0x20 && c != 0x7f) || c >= 0x80)
                        buf_append(&b, (const char *)&data[i], 1);
        }
        if (b.len > 4096) {
                memmove(b.data, b.data + b.len - 4096, 4096);
                b.len = 4096;
                b.data[b.len] = '\0';
        }
        free(l->console_tail);
        l->console_tail = buf_steal(&b);
}

void kiln_install_log_syslog(struct kiln_install_log *l, const char *data, size_t len, kiln_install_event_fn ev,
                             void *userdata)
{
        while (len) {
                const char *nl = memchr(data, '\n', len);
                size_t n = nl ? (size_t)(nl - data) : len;
                if (l->overlong) { /* the rest of a cut line: dropped, but a flood is a failure */
                        l->overlong += n;
                        if (l->overlong > KILN_SYSLOG_LINE_FLOOD)
                                fail(l,
                                     "the guest wrote a syslog line of over %d MiB without ending it: a flood, "
                                     "stopped",
                                     KILN_SYSLOG_LINE_FLOOD >> 20);
                } else {
                        size_t room = KILN_SYSLOG_LINE_MAX - l->syslog_part.len;
                        buf_append(&l->syslog_part, data, n < room ? n : room);
                        if (n >= room && (n > room || !nl)) {
                                l->overlong = n - room + 1;
                                if (l->overlong > KILN_SYSLOG_LINE_FLOOD)
                                        fail(l,
                                             "the guest wrote a syslog line of over %d MiB without ending it: a "
                                             "flood, stopped",
                                             KILN_SYSLOG_LINE_FLOOD >> 20);
                        }
                }
                if (!nl)
                        break;
                /* A line ends: what was kept of it is read (a cut one marked as such). */
                if (l->syslog_part.len && l->syslog_part.data[l->syslog_part.len - 1] == '\r')
                        l->syslog_part.len--;
                if (l->overlong)
                        buf_puts(&l->syslog_part, " [cut by kiln]");
                buf_append(&l->syslog_part, "", 0);
                l->syslog_part.data[l->syslog_part.len] = '\0';
                syslog_line(l, l->syslog_part.data, ev, userdata);
                l->syslog_part.len = 0;
                l->syslog_part.data[0] = '\0';
                l->overlong = 0;
                data = nl + 1;
                len -= n + 1;
        }
}

void kiln_install_log_console(struct kiln_install_log *l, const char *data, size_t len, kiln_install_event_fn ev,
                              void *userdata)
{
        console_text(l, data, len);
        /* The installer's kernel panicked (an initrd it cannot start, for one): the guest stops there
         * and nothing more comes; without this, kiln waited for the install's whole timeout. */
        const char *panic = l->console_tail ? strstr(l->console_tail, "Kernel panic - not syncing: ") : NULL;
        if (panic && strchr(panic, '\n')) {
                panic += strlen("Kernel panic - not syncing: ");
                size_t pn = strcspn(panic, "\n");
                _cleanup_free_ char *why = kiln_text_safe(panic, pn < 160 ? pn : 160);
                fail(l, "the installer's kernel panicked at step '%s': %s", l->step ? l->step : "start", why);
                return;
        }
        /* A critical question on screen: newt titles it "[!!] Title". The title is complete once
         * something follows it; the dialog's text may still be arriving. */
        char *bang = l->console_tail ? strstr(l->console_tail, "[!!] ") : NULL;
        if (!bang || !strchr(bang + 5, '\n'))
                return;
        char title[160];
        size_t n = strcspn(bang + 5, "\n");
        while (n > 0 && bang[5 + n - 1] == ' ')
                n--;
        _cleanup_free_ char *safe = kiln_text_safe(bang + 5, n < sizeof(title) - 1 ? n : sizeof(title) - 1);
        snprintf(title, sizeof(title), "%s", safe);
        if (strstr(bang, "Downloading a file failed")) {
                if (l->failure && !l->dialog_generic)
                        return;
                free(l->failure), l->failure = NULL;
                l->dialog_generic = false;
                if (l->last_url)
                        fail(l,
                             "the installer shows an error at step '%s': %s: Downloading a file failed (last URL: %s)",
                             l->step ? l->step : "?", title, l->last_url);
                else
                        fail(l, "the installer shows an error at step '%s': %s: Downloading a file failed",
                             l->step ? l->step : "?", title);
        } else if (!l->failure) {
                fail(l, "the installer shows a dialog nobody will answer at step '%s': [!!] %s",
                     l->step ? l->step : "?", title);
                l->dialog_generic = true;
        }
}

void kiln_install_log_clear(struct kiln_install_log *l)
{
        free(l->step);
        free(l->failure);
        free(l->last_url);
        free(l->pending_input);
        free(l->syslog_part.data);
        free(l->console_part.data);
        free(l->console_tail);
        *l = (struct kiln_install_log){0};
}
