/* Following the installer: its syslog (second serial port) and console (first) read into steps,
 * percentages, and the signs of an install that will never finish. */
#pragma once

#include <stdint.h>

#include "error.h"

struct kiln_install_log {
        char *step;                     /* main-menu's current item, e.g. "pkgsel" */
        int percent;                    /* never goes back */
        char *failure;                  /* set once the install cannot succeed: why, in one line */
        char *last_url;                 /* the last URL the syslog mentioned */
        bool finish_seen;               /* finish-install ran: a power-off after this is success */
        char *pending_input;            /* a debconf INPUT waiting for its answer line */
        bool dialog_generic;            /* failure is "a dialog nobody will answer"; its text may sharpen it */
        long bar_min, bar_max, bar_now; /* the installer's current progress bar (debconf PROGRESS) */
        int step_from, step_to;         /* the percent range the current step covers */
        struct kiln_buf syslog_part, console_part; /* an unfinished last line */
        char *console_tail;                        /* the last ~4 KiB of console text, escape sequences removed */
        uint64_t lines;                            /* complete syslog lines read: what counts as the guest's activity */
        uint64_t overlong; /* bytes of the current syslog line past KILN_SYSLOG_LINE_MAX, dropped */
};

/* A syslog line is cut at this length (the rest dropped, the cut marked); a line that goes on
 * past KILN_SYSLOG_LINE_FLOOD without ending is a flood and fails the install. */
#define KILN_SYSLOG_LINE_MAX   4096
#define KILN_SYSLOG_LINE_FLOOD (1 << 20)

typedef void (*kiln_install_event_fn)(void *userdata, const char *step, int percent, const char *message);

void kiln_install_log_syslog(struct kiln_install_log *l, const char *data, size_t len, kiln_install_event_fn ev,
                             void *userdata);
void kiln_install_log_console(struct kiln_install_log *l, const char *data, size_t len, kiln_install_event_fn ev,
                              void *userdata);
void kiln_install_log_clear(struct kiln_install_log *l);

/* The installer's steps and how far along each one puts the install. */
int kiln_install_step_percent(const char *step, const char **ret_title);
