/* Running helper programs (gpgv, qemu, qemu-img): argv arrays only, never a shell. */
#pragma once

#include <sys/types.h>

#include "error.h"

struct kiln_command_opts {
        int stdin_fd;          /* -1: /dev/null */
        int stdout_fd;         /* -1: /dev/null; -2: capture into *ret_out */
        int stderr_fd;         /* -1: /dev/null; -2: capture into *ret_err */
        unsigned timeout_sec;  /* 0: none */
        char *const *envp;     /* NULL: inherit */
};

/* Run argv to completion. Returns the exit status (0-255) on a normal exit, or fails with a
 * message naming the program: not found, killed by a signal, timed out. */
int kiln_command_run(char *const *argv, const struct kiln_command_opts *opts, char **ret_out, char **ret_err,
                     struct kiln_error **reterr);

/* Start argv in the background (its stdio as in opts). The child dies with kiln (PDEATHSIG). */
int kiln_command_spawn(char *const *argv, const struct kiln_command_opts *opts, pid_t *ret_pid,
                       struct kiln_error **reterr);

/* Stop a child: SIGTERM, up to grace_sec, then SIGKILL; always reaps. Returns its wait status. */
int kiln_command_stop(pid_t pid, unsigned grace_sec);

/* Is an executable of this name on PATH? */
bool kiln_command_exists(const char *name);
