/* test-sandbox MODE: a child enters the sandbox kiln gives the install's proxy (MODE=proxy: the
 * sandbox user, NoNewPrivs, the helpers' filter and the threads-only one) or a helper's (MODE=helper),
 * then tries to make processes, the way a proxy taken over by a guest's bytes would. It prints
 * one line per attempt, "NAME ok" or "NAME errno-name" (execve's "ok" is the program it ran),
 * and exits 0 once every attempt was made. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

extern char **environ;

static void *thread_main(void *arg)
{
        return arg;
}

static void report(const char *name, int r)
{
        printf("%s %s\n", name, r == 0 ? "ok" : strerrorname_np(r));
        fflush(stdout);
}

/* A process made: reaped at once (it exits at its first instruction of its own). */
static int made(pid_t pid)
{
        if (pid < 0)
                return errno;
        if (pid == 0)
                _exit(0);
        waitpid(pid, NULL, 0);
        return 0;
}

static int child(void)
{
        pthread_t t;
        int r = pthread_create(&t, NULL, thread_main, NULL);
        if (r == 0)
                pthread_join(t, NULL);
        report("thread", r);
        report("fork", made(fork()));
        pid_t v = vfork();
        if (v == 0)
                _exit(0);
        if (v > 0)
                waitpid(v, NULL, 0);
        report("vfork", v < 0 ? errno : 0);
        report("clone", made((pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)));
        struct {
                unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
        } args = {.exit_signal = SIGCHLD};
        report("clone3", made((pid_t)syscall(SYS_clone3, &args, sizeof(args))));
        pid_t pid;
        char *argv[] = {"/bin/true", NULL};
        char *echo[] = {"echo", "execve", "ok", NULL};
        r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
        if (r == 0)
                waitpid(pid, NULL, 0);
        report("posix_spawn", r);
        execve("/bin/echo", echo, environ);
        report("execve", errno);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc != 2 || (strcmp(argv[1], "proxy") != 0 && strcmp(argv[1], "helper") != 0)) {
                fprintf(stderr, "usage: test-sandbox proxy|helper\n");
                return 2;
        }
        struct kiln_sandbox sb;
        struct kiln_error *err = NULL;
        if (kiln_sandbox_init(&sb, &err) < 0 ||
            (strcmp(argv[1], "proxy") == 0 && kiln_sandbox_threads_only(&sb, &err) < 0)) {
                fprintf(stderr, "test-sandbox: %s\n", err ? err->msg : "no sandbox");
                return 1;
        }
        pid_t pid = fork();
        if (pid == 0) {
                int r = kiln_sandbox_enter(&sb);
                if (r < 0) {
                        fprintf(stderr, "test-sandbox: cannot enter the sandbox: %s\n", strerror(-r));
                        _exit(1);
                }
                _exit(child());
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return 1;
        kiln_sandbox_clear(&sb);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
