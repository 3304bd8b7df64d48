/* Helper programs run from argv arrays: a clean child (signals reset, PDEATHSIG, only stdio open),
 * timeouts with TERM then KILL, and waitpid retried on EINTR. */
#include "command.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static bool passed(const struct kiln_command_opts *o, int fd)
{
        for (size_t i = 0; i < o->n_pass_fds; i++)
                if (o->pass_fds[i] == fd)
                        return true;
        return false;
}

static void child_close_fds(const struct kiln_command_opts *o)
{
        /* Descriptors handed over on purpose stay, without FD_CLOEXEC; every other one goes. */
        for (size_t i = 0; i < o->n_pass_fds; i++)
                fcntl(o->pass_fds[i], F_SETFD, 0);
#ifdef SYS_close_range
        if (o->n_pass_fds == 0 && syscall(SYS_close_range, 3U, ~0U, 0) == 0)
                return;
#endif
        DIR *d = opendir("/proc/self/fd");
        if (!d) {
                for (int fd = 3; fd < 1024; fd++)
                        if (!passed(o, fd))
                                close(fd);
                return;
        }
        int keep = dirfd(d);
        struct dirent *de;
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (fd > 2 && fd != keep && !passed(o, fd))
                        close(fd);
        }
        closedir(d);
}

static int write_proc(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The namespace holder's child: a network namespace of its own with loopback up and one
 * listening socket; it sends kiln the socket and the namespace (with the user namespace, when
 * kiln is not root: one that maps only its own uid and gid), then exits. No allocation. */
static int holder_child(int sock, uint16_t port)
{
        uid_t uid = getuid();
        gid_t gid = getgid();
        bool root = geteuid() == 0;
        if (root) {
                if (unshare(CLONE_NEWNET) < 0)
                        return -1;
        } else {
                char map[64];
                if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0 || write_proc("/proc/self/setgroups", "deny") < 0)
                        return -1;
                snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
                if (write_proc("/proc/self/uid_map", map) < 0)
                        return -1;
                snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
                if (write_proc("/proc/self/gid_map", map) < 0)
                        return -1;
        }
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {0};
        strcpy(ifr.ifr_name, "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return -1;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                return -1;
        close(s);
        int fds[3];
        fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {
                .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (fds[0] < 0 || bind(fds[0], (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fds[0], 64) < 0)
                return -1;
        fds[1] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        fds[2] = root ? fds[1] : open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        if (fds[1] < 0 || fds[2] < 0)
                return -1;
        char byte = 'N';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union {
                char buf[CMSG_SPACE(sizeof(fds))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(cm), fds, sizeof(fds));
        return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

int kiln_netns_new(uint16_t port, struct kiln_netns *ret, struct kiln_error **reterr)
{
        *ret = (struct kiln_netns){.net_fd = -1, .user_fd = -1, .listen_fd = -1};
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return kiln_error_set(reterr, errno, "cannot make a socket pair: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(sp[0]);
                close(sp[1]);
                return kiln_error_set(reterr, e, "cannot fork: %s", strerror(e));
        }
        if (pid == 0) {
                close(sp[0]);
                _exit(holder_child(sp[1], port) == 0 ? 0 : 1);
        }
        close(sp[1]);
        int fds[3] = {-1, -1, -1};
        struct pollfd pfd = {.fd = sp[0], .events = POLLIN};
        char byte;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union {
                char buf[CMSG_SPACE(sizeof(fds))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
        bool got = poll(&pfd, 1, 10000) == 1 && recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC) == 1;
        struct cmsghdr *cm = got ? CMSG_FIRSTHDR(&mh) : NULL;
        got = cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
              cm->cmsg_len == CMSG_LEN(sizeof(fds));
        if (got)
                memcpy(fds, CMSG_DATA(cm), sizeof(fds));
        close(sp[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!got)
                return kiln_error_set(reterr, EPERM,
                                      "cannot make a network namespace for the guest (it needs root, or unprivileged "
                                      "user namespaces)");
        ret->listen_fd = fds[0];
        ret->net_fd = fds[1];
        /* As root the holder sent the net namespace twice: no user namespace to join. */
        struct stat a, b;
        if (fstat(fds[1], &a) == 0 && fstat(fds[2], &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
                close(fds[2]);
        else
                ret->user_fd = fds[2];
        return 0;
}

void kiln_netns_clear(struct kiln_netns *ns)
{
        int *fds[] = {&ns->net_fd, &ns->user_fd, &ns->listen_fd};
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                if (*fds[i] >= 0)
                        close(*fds[i]);
                *fds[i] = -1;
        }
}

static int open_null(int flags)
{
        return open("/dev/null", flags | O_CLOEXEC);
}

_Noreturn static void child_exec(char *const *argv, const struct kiln_command_opts *o, int out_w, int err_w,
                                 pid_t parent)
{
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        signal(s, SIG_DFL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(126);

        int in = o->stdin_fd >= 0 ? o->stdin_fd : open_null(O_RDONLY);
        int out = o->stdout_fd == -2 ? out_w : o->stdout_fd >= 0 ? o->stdout_fd : open_null(O_WRONLY);
        int err = o->stderr_fd == -2 ? err_w : o->stderr_fd >= 0 ? o->stderr_fd : open_null(O_WRONLY);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                _exit(126);
        /* Into the namespaces kiln made for it (the user namespace first: it grants the rest). */
        if (o->netns && ((o->netns->user_fd >= 0 && setns(o->netns->user_fd, CLONE_NEWUSER) < 0) ||
                         setns(o->netns->net_fd, CLONE_NEWNET) < 0))
                _exit(126);
        child_close_fds(o);
        /* The user changes here, and a change of credentials clears PDEATHSIG: set it again. */
        if (o->sandbox &&
            (kiln_sandbox_enter(o->sandbox) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
                _exit(126);
        if (o->envp)
                execvpe(argv[0], argv, o->envp);
        else
                execvp(argv[0], argv);
        _exit(errno == ENOENT ? 127 : 126);
}

int kiln_command_spawn(char *const *argv, const struct kiln_command_opts *opts, pid_t *ret_pid,
                       struct kiln_error **reterr)
{
        struct kiln_command_opts o = *opts;
        if (o.stdout_fd == -2)
                o.stdout_fd = -1;
        if (o.stderr_fd == -2)
                o.stderr_fd = -1;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return kiln_error_set(reterr, errno, "cannot start '%s': %s", argv[0], strerror(errno));
        if (pid == 0)
                child_exec(argv, &o, -1, -1, parent);
        *ret_pid = pid;
        return 0;
}

static int wait_child(pid_t pid, int *status, int flags)
{
        for (;;) {
                pid_t r = waitpid(pid, status, flags);
                if (r >= 0 || errno != EINTR)
                        return (int)r;
        }
}

int kiln_command_stop(pid_t pid, unsigned grace_sec)
{
        int status = 0;
        if (pid <= 0)
                return 0;
        if (wait_child(pid, &status, WNOHANG) == pid)
                return status;
        kill(pid, SIGTERM);
        for (unsigned i = 0; i < grace_sec * 10; i++) {
                if (wait_child(pid, &status, WNOHANG) == pid)
                        return status;
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        wait_child(pid, &status, 0);
        return status;
}

int kiln_command_run(char *const *argv, const struct kiln_command_opts *opts, char **ret_out, char **ret_err,
                     struct kiln_error **reterr)
{
        int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
        if ((opts->stdout_fd == -2 && pipe2(out_p, O_CLOEXEC) < 0) ||
            (opts->stderr_fd == -2 && pipe2(err_p, O_CLOEXEC) < 0))
                return kiln_error_set(reterr, errno, "pipe: %s", strerror(errno));

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                for (int i = 0; i < 2; i++) {
                        if (out_p[i] >= 0)
                                close(out_p[i]);
                        if (err_p[i] >= 0)
                                close(err_p[i]);
                }
                return kiln_error_set(reterr, e, "cannot start '%s': %s", argv[0], strerror(e));
        }
        if (pid == 0)
                child_exec(argv, opts, out_p[1], err_p[1], parent);
        if (out_p[1] >= 0)
                close(out_p[1]);
        if (err_p[1] >= 0)
                close(err_p[1]);

        struct kiln_buf out = {0}, err = {0};
        struct pollfd pfd[2] = {{.fd = out_p[0], .events = POLLIN}, {.fd = err_p[0], .events = POLLIN}};
        double deadline = opts->timeout_sec ? kiln_now() + opts->timeout_sec : 0;
        bool timed_out = false;
        while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
                int wait_ms = -1;
                if (deadline) {
                        double left = deadline - kiln_now();
                        if (left <= 0) {
                                timed_out = true;
                                break;
                        }
                        wait_ms = (int)(left * 1000) + 1;
                }
                int n = poll(pfd, 2, wait_ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                for (int i = 0; i < 2; i++) {
                        if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        char chunk[8192];
                        ssize_t k = read(pfd[i].fd, chunk, sizeof(chunk));
                        if (k > 0) {
                                /* A helper reading what a guest wrote may print without end: what
                                 * is past the cap is read and dropped. */
                                struct kiln_buf *b = i ? &err : &out;
                                size_t room = KILN_COMMAND_CAPTURE_MAX - b->len;
                                buf_append(b, chunk, (size_t)k < room ? (size_t)k : room);
                        } else if (k == 0 || errno != EINTR) {
                                close(pfd[i].fd);
                                pfd[i].fd = -1;
                        }
                }
        }
        for (int i = 0; i < 2; i++)
                if (pfd[i].fd >= 0)
                        close(pfd[i].fd);

        int status = 0;
        if (timed_out || (deadline && opts->timeout_sec)) {
                /* Wait for the exit within what is left of the deadline. */
                while (!timed_out && wait_child(pid, &status, WNOHANG) == 0) {
                        if (kiln_now() >= deadline) {
                                timed_out = true;
                                break;
                        }
                        struct timespec ts = {0, 20 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
                if (timed_out)
                        status = kiln_command_stop(pid, 5);
        } else {
                wait_child(pid, &status, 0);
        }

        _cleanup_free_ char *o_text = buf_steal(&out), *e_text = buf_steal(&err);
        if (timed_out)
                return kiln_error_set(reterr, ETIMEDOUT, "'%s' did not finish within %u seconds", argv[0],
                                      opts->timeout_sec);
        if (WIFSIGNALED(status))
                return kiln_error_set(reterr, EINTR, "'%s' was killed by signal %d", argv[0], WTERMSIG(status));
        int code = WEXITSTATUS(status);
        if (code == 127)
                return kiln_error_set(reterr, ENOENT, "cannot run '%s': not found (is its package installed?)",
                                      argv[0]);
        if (ret_out)
                *ret_out = TAKE_PTR(o_text);
        if (ret_err)
                *ret_err = TAKE_PTR(e_text);
        return code;
}

bool kiln_command_exists(const char *name)
{
        const char *path = getenv("PATH");
        if (!path)
                path = "/usr/bin:/bin";
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
                if (access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

/* Send sig to every child process of kiln (/proc/self/task/TID/children). */
static void children_signal(int sig)
{
        DIR *tasks = opendir("/proc/self/task");
        if (!tasks)
                return;
        struct dirent *de;
        while ((de = readdir(tasks))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = xasprintf("/proc/self/task/%s/children", de->d_name);
                _cleanup_fclose_ FILE *f = fopen(path, "re");
                long pid;
                while (f && fscanf(f, "%ld", &pid) == 1)
                        if (pid > 1)
                                kill((pid_t)pid, sig);
        }
        closedir(tasks);
}

struct kiln_interrupt_watch {
        pthread_t thread;
        volatile sig_atomic_t *flag;
        unsigned grace_sec;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;
};

static void *watch_main(void *arg)
{
        struct kiln_interrupt_watch *w = arg;
        double fired = 0;
        pthread_mutex_lock(&w->lock);
        while (!w->stop) {
                if (*w->flag && !fired) {
                        children_signal(SIGTERM);
                        fired = kiln_now();
                } else if (fired > 0 && kiln_now() - fired > w->grace_sec) {
                        children_signal(SIGKILL);
                        fired = -1; /* once */
                }
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 100 * 1000 * 1000;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&w->cond, &w->lock, &until);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

struct kiln_interrupt_watch *kiln_interrupt_watch_start(volatile sig_atomic_t *flag, unsigned grace_sec)
{
        struct kiln_interrupt_watch *w = xcalloc(1, sizeof(*w));
        w->flag = flag;
        w->grace_sec = grace_sec;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        /* The thread takes no signals: they stay with the main thread, whose handler sets the flag
         * and whose blocking calls they interrupt. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int e = pthread_create(&w->thread, NULL, watch_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e != 0) {
                free(w);
                return NULL; /* kiln still stops at the next step; only later */
        }
        return w;
}

void kiln_interrupt_watch_stop(struct kiln_interrupt_watch *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
}
