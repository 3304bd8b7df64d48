/* Running helper programs (gpgv, qemu, qemu-img): argv arrays only, never a shell. */
#pragma once

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "sandbox.h"

struct kiln_command_opts {
        int stdin_fd;                       /* -1: /dev/null */
        int stdout_fd;                      /* -1: /dev/null; -2: capture into *ret_out */
        int stderr_fd;                      /* -1: /dev/null; -2: capture into *ret_err */
        unsigned timeout_sec;               /* 0: none */
        char *const *envp;                  /* NULL: inherit */
        const struct kiln_sandbox *sandbox; /* NULL: run as kiln runs; else as sandbox.h says */
        const int *pass_fds;                /* kept open in the child, same numbers (e.g. for /dev/fd/N paths) */
        size_t n_pass_fds;
        const struct kiln_netns *netns; /* not NULL: the child joins these namespaces */
};

/* A network namespace where only loopback is up and one socket listens, on 127.0.0.1:port: the
 * one place a child that joins it can connect to. When kiln is not root it lives in a user
 * namespace that maps only kiln's own uid and gid. */
struct kiln_netns {
        int net_fd, user_fd; /* user_fd -1: none (kiln is root) */
        int listen_fd;
};
int kiln_netns_new(uint16_t port, struct kiln_netns *ret, struct kiln_error **reterr);
void kiln_netns_clear(struct kiln_netns *ns);

/* Run argv to completion. Returns the exit status (0-255) on a normal exit, or fails with a
 * message naming the program: not found, killed by a signal, timed out. Captured output keeps its
 * first KILN_COMMAND_CAPTURE_MAX bytes per stream. */
#define KILN_COMMAND_CAPTURE_MAX ((size_t)16 << 20)
int kiln_command_run(char *const *argv, const struct kiln_command_opts *opts, char **ret_out, char **ret_err,
                     struct kiln_error **reterr);

/* Start argv in the background (its stdio as in opts). The child dies with kiln (PDEATHSIG). */
int kiln_command_spawn(char *const *argv, const struct kiln_command_opts *opts, pid_t *ret_pid,
                       struct kiln_error **reterr);

/* Stop a child: SIGTERM, up to grace_sec, then SIGKILL; always reaps. Returns its wait status. */
int kiln_command_stop(pid_t pid, unsigned grace_sec);

/* Is an executable of this name on PATH? */
bool kiln_command_exists(const char *name);

/* While a long step runs in a child (the libguestfs appliance, qemu-img), a thread watches an
 * interrupt flag and, once it is set, sends SIGTERM to every child kiln has, and SIGKILL to those
 * left after grace_sec. A signal sent to kiln alone (a portal's kill, systemd stopping a unit)
 * then ends the step in seconds instead of after it (Ctrl-C on a terminal reaches the children
 * anyway: they share kiln's process group). Not for steps that must finish once begun (the dm
 * plan stops between its steps instead). */
struct kiln_interrupt_watch;
struct kiln_interrupt_watch *kiln_interrupt_watch_start(volatile sig_atomic_t *flag, unsigned grace_sec);
void kiln_interrupt_watch_stop(struct kiln_interrupt_watch *w);
