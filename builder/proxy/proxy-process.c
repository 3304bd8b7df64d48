/* See proxy.h: the install's proxy in a process of its own, as the sandbox user. It is a fork of
 * kiln, so it holds what the guest already sees (the profile, the preseed); it holds no privilege,
 * no descriptor but its own, and cannot write kiln's cache: what it fetches is staged in a folder
 * of its own and copied in by kiln, checked, after it is gone. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "command.h"
#include "proxy.h"
#include "sandbox.h"

#define PROCESS_MAX_RECORDS 200000         /* as the proxy keeps */
#define PROCESS_MAX_OUTPUT  (256ULL << 20) /* what kiln reads back from it */
#define PROCESS_STOP_MS     30000          /* for it to finish after kiln closes its end */
#define PROCESS_MAX_LINE    16384          /* one record; a longer one is dropped */
#define PROCESS_MAX_BYTES   (1ULL << 50)   /* one record's bytes sent */

struct kiln_proxy_process {
        pid_t pid;
        int ctl; /* kiln's end: closed to stop the proxy */
        int res; /* kiln's end: "P port", then what was served */
        uint16_t port;
        char *stage; /* the proxy's staging folder (kiln's path) */
};

/* Every descriptor but those in keep goes (the child's own; no allocation). */
static void close_all_but(const int *keep, size_t n)
{
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return;
        int self = dirfd(d);
        for (struct dirent *e; (e = readdir(d));) {
                int fd = atoi(e->d_name);
                bool kept = fd <= 2 || fd == self;
                for (size_t i = 0; i < n && !kept; i++)
                        kept = keep[i] == fd;
                if (!kept && e->d_name[0] != '.')
                        close(fd);
        }
        closedir(d);
}

/* What the parent reads back: a byte that is not a control character, a backslash or a tab
 * passes; the rest as \xHH. */
static void put_escaped(FILE *f, const char *s)
{
        for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
                if (*c < 0x21 || *c == 0x7f || *c == '\\')
                        fprintf(f, "\\x%02x", *c);
                else
                        fputc(*c, f);
        }
}

static int hex_digit(char c)
{
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

/* put_escaped's inverse, by hand (a scanf per byte rescans the rest of a long line). */
static char *unescape(const char *s, size_t len)
{
        char *out = xmalloc(len + 1), *o = out;
        for (size_t i = 0; i < len; i++) {
                int hi, lo;
                if (s[i] == '\\' && i + 3 < len && s[i + 1] == 'x' && (hi = hex_digit(s[i + 2])) >= 0 &&
                    (lo = hex_digit(s[i + 3])) >= 0) {
                        *o++ = (char)(hi << 4 | lo);
                        i += 3;
                } else {
                        *o++ = s[i];
                }
        }
        *o = '\0';
        return out;
}

_Noreturn static void child_main(const struct kiln_proxy_policy *pol, struct kiln_cache *cache,
                                 const struct kiln_snapshot *snapshot, const char *log_path, const char *addr,
                                 const struct kiln_sandbox *sb, const char *stage, int ctl, int res, pid_t parent)
{
        signal(SIGINT, SIG_IGN); /* Ctrl-C is kiln's to handle: it stops the proxy by closing ctl */
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(126);
        /* The cache and the staging folder through descriptors: the proxy needs no way through the
         * folders above them (a cache in root's home, a run folder of root's). */
        int cache_fd = open(cache->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int stage_fd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int log_fd = log_path ? open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644) : -1;
        long lfd = addr && str_has_prefix(addr, "fd:") ? strtol(addr + 3, NULL, 10) : -1;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (cache_fd < 0 || stage_fd < 0 || (log_path && log_fd < 0) || null < 0 || dup2(null, 0) < 0 ||
            dup2(null, 1) < 0 || dup2(null, 2) < 0)
                _exit(126);
        if (log_fd >= 0 && sb && sb->drop && fchown(log_fd, sb->uid, sb->gid) < 0)
                _exit(126);
        int keep[] = {cache_fd, stage_fd, log_fd, (int)lfd, ctl, res, null};
        close_all_but(keep, ELEMENTSOF(keep));
        struct kiln_cache c = *cache;
        c.dir = xasprintf("/proc/self/fd/%d", cache_fd);
        c.stage_dir = xasprintf("/proc/self/fd/%d", stage_fd);
        c.lock_fd = -1;
        _cleanup_free_ char *logp = log_fd >= 0 ? xasprintf("/proc/self/fd/%d", log_fd) : NULL;
        FILE *out = fdopen(res, "w");
        /* A process group of its own, which its descendants cannot leave (the filter refuses
         * setsid and setpgid): kiln kills the group when it stops the proxy. */
        if (!out || setpgid(0, 0) < 0 || kiln_sandbox_enter(sb) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
            getppid() != parent)
                _exit(126);
        struct kiln_proxy *p = NULL;
        struct kiln_error *err = NULL;
        if (kiln_proxy_start(pol, &c, snapshot, logp, addr, 0, &p, &err) < 0) {
                fprintf(out, "E ");
                put_escaped(out, err ? err->msg : "the proxy did not start");
                fprintf(out, "\n");
                fclose(out);
                _exit(1);
        }
        fprintf(out, "P %u\n", kiln_proxy_port(p));
        fflush(out);
        /* Until kiln closes its end. */
        char byte;
        while (read(ctl, &byte, 1) < 0 && errno == EINTR)
                ;
        /* What it served goes back first, then the proxy stops: its stop waits on connection
         * threads, and a real install left one that outlived kiln's 30 s wait for these records
         * (check-e2e's manifest came back with no files served). */
        struct kiln_proxy_served *served = NULL;
        size_t n = kiln_proxy_served(p, &served);
        for (size_t i = 0; i < n; i++) {
                fprintf(out, "R\t");
                put_escaped(out, served[i].method);
                /* who answered: 0 the mirror, 1 kiln's cache, 2 kiln itself */
                fprintf(out, "\t%d\t%" PRIu64 "\t%d\t%s\t", served[i].status, served[i].bytes,
                        served[i].cached     ? 1
                        : served[i].upstream ? 0
                                             : 2,
                        served[i].sha256 ? served[i].sha256 : "-");
                put_escaped(out, served[i].url);
                fputc('\n', out);
        }
        fclose(out);
        kiln_proxy_stop(p);
        _exit(0);
}

int kiln_proxy_process_start(const struct kiln_proxy_policy *pol, struct kiln_cache *cache,
                             const struct kiln_snapshot *snapshot, const char *log_path, const char *addr,
                             const struct kiln_sandbox *sb, const char *stage, struct kiln_proxy_process **ret,
                             struct kiln_error **reterr)
{
        if (mkdir(stage, 0700) < 0)
                return kiln_error_set(reterr, errno, "cannot create '%s': %s", stage, strerror(errno));
        int r = kiln_sandbox_give(sb, stage, reterr);
        if (r < 0)
                return r;
        int ctl[2], res[2];
        if (pipe2(ctl, O_CLOEXEC) < 0)
                return kiln_error_set(reterr, errno, "cannot make a pipe: %s", strerror(errno));
        if (pipe2(res, O_CLOEXEC) < 0) {
                int e = errno;
                close(ctl[0]);
                close(ctl[1]);
                return kiln_error_set(reterr, e, "cannot make a pipe: %s", strerror(e));
        }
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
                close(ctl[1]);
                close(res[0]);
                child_main(pol, cache, snapshot, log_path, addr, sb, stage, ctl[0], res[1], parent);
        }
        close(ctl[0]);
        close(res[1]);
        if (pid > 0)
                setpgid(pid, pid); /* also here: no race with a stop before the child ran setpgid */
        if (pid < 0) {
                int e = errno;
                close(ctl[1]);
                close(res[0]);
                return kiln_error_set(reterr, e, "cannot start the proxy's process: %s", strerror(e));
        }
        struct kiln_proxy_process *pp = xcalloc(1, sizeof(*pp));
        *pp = (struct kiln_proxy_process){.pid = pid, .ctl = ctl[1], .res = res[0], .stage = xstrdup(stage)};
        /* Its first line: the port it listens on, or why it could not. */
        struct pollfd pfd = {.fd = pp->res, .events = POLLIN};
        char line[512];
        ssize_t n = poll(&pfd, 1, 30000) == 1 ? read(pp->res, line, sizeof(line) - 1) : -1;
        line[n > 0 ? n : 0] = '\0';
        unsigned port = 0;
        if (n > 0 && sscanf(line, "P %u", &port) == 1 && port <= 65535 && strchr(line, '\n') == line + n - 1) {
                pp->port = (uint16_t)port;
                *ret = pp;
                return 0;
        }
        _cleanup_free_ char *why =
                n > 2 && line[0] == 'E' ? unescape(line + 2, strcspn(line + 2, "\n")) : xstrdup("it exited");
        kiln_proxy_process_stop(pp, NULL, NULL, NULL);
        return kiln_error_set(reterr, EIO, "the proxy's process did not start: %s", why);
}

uint16_t kiln_proxy_process_port(const struct kiln_proxy_process *pp)
{
        return pp->port;
}

/* A decimal field of at most max, digits only. */
static bool parse_decimal(const char *f, size_t len, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;
        if (len == 0 || len > 20)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (f[i] < '0' || f[i] > '9' || v > (max - (uint64_t)(f[i] - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t)(f[i] - '0');
        }
        *ret = v;
        return true;
}

/* "R\tMETHOD\tSTATUS\tBYTES\tCACHED\tSHA\tURL", from a process a guest may have taken over: every
 * field checked, text made safe as the proxy itself would, anything else dropped. */
static bool parse_served(const char *line, struct kiln_proxy_served *s)
{
        const char *f[7] = {0};
        size_t len[7] = {0};
        const char *p = line;
        if (strlen(line) > PROCESS_MAX_LINE)
                return false;
        for (int i = 0; i < 7; i++) {
                f[i] = p;
                const char *tab = i < 6 ? strchr(p, '\t') : NULL;
                len[i] = tab ? (size_t)(tab - p) : strlen(p);
                if (i < 6 && !tab)
                        return false;
                p = tab ? tab + 1 : p + len[i];
        }
        uint64_t status, bytes, origin;
        if (len[0] != 1 || f[0][0] != 'R' || !parse_decimal(f[2], len[2], 999, &status) ||
            !parse_decimal(f[3], len[3], PROCESS_MAX_BYTES, &bytes) || !parse_decimal(f[4], len[4], 2, &origin) ||
            len[1] == 0 || len[1] > 16 || len[6] == 0)
                return false;
        bool sha = len[5] == KILN_SHA256_HEX - 1;
        for (size_t i = 0; sha && i < len[5]; i++)
                sha = (f[5][i] >= '0' && f[5][i] <= '9') || (f[5][i] >= 'a' && f[5][i] <= 'f');
        if (!sha && !(len[5] == 1 && f[5][0] == '-'))
                return false;
        _cleanup_free_ char *method = unescape(f[1], len[1]), *url = unescape(f[6], len[6]);
        *s = (struct kiln_proxy_served){.method = kiln_text_safe(method, strlen(method)),
                                        .url = kiln_text_safe(url, strlen(url)),
                                        .sha256 = sha ? xstrndup(f[5], len[5]) : NULL,
                                        .status = (int)status,
                                        .bytes = bytes,
                                        .cached = origin == 1,
                                        .upstream = origin == 0};
        return true;
}

void kiln_proxy_process_stop(struct kiln_proxy_process *pp, struct kiln_cache *cache, struct kiln_proxy_served **ret,
                             size_t *ret_n)
{
        if (ret) {
                *ret = NULL;
                *ret_n = 0;
        }
        if (!pp)
                return;
        close(pp->ctl);
        /* What it served, bounded in size and time: a proxy that floods its pipe or hangs is cut
         * off (and killed below). */
        struct kiln_buf out = {0};
        double deadline = kiln_now() + PROCESS_STOP_MS / 1000.0;
        for (;;) {
                double left = deadline - kiln_now();
                struct pollfd pfd = {.fd = pp->res, .events = POLLIN};
                if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
                        break;
                char chunk[65536];
                ssize_t got = read(pp->res, chunk, sizeof(chunk));
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0 || out.len + (size_t)got > PROCESS_MAX_OUTPUT)
                        break;
                buf_append(&out, chunk, (size_t)got);
        }
        close(pp->res);
        /* What it said is read: the whole group goes, the proxy with whatever it left running,
         * before the proxy is reaped (so its pid, the group's id, cannot be anyone else's yet), and
         * before its records are parsed. */
        kill(-pp->pid, SIGKILL);
        kiln_command_stop(pp->pid, 5);
        size_t n = 0, cap = 0;
        struct kiln_proxy_served *s = NULL;
        for (char *line = out.data, *nl; ret && line && n < PROCESS_MAX_RECORDS && (nl = strchr(line, '\n'));
             line = nl + 1) {
                *nl = '\0';
                struct kiln_proxy_served one;
                if (!parse_served(line, &one))
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 256;
                        s = xrealloc(s, cap * sizeof(*s));
                }
                s[n++] = one;
        }
        free(out.data);
        /* It is gone: what it staged comes into the cache, checked, as kiln's own files. */
        unsigned dropped = 0;
        if (cache && kiln_cache_import(cache, pp->stage, KILN_CACHE_IMPORT_LIMITS, &dropped, NULL) >= 0 && dropped)
                fprintf(stderr,
                        "kiln: warning: the install's proxy staged more than one install's worth: %u files left out of "
                        "the cache\n",
                        dropped);
        rm_rf_flat(pp->stage);
        free(pp->stage);
        free(pp);
        if (ret) {
                *ret = s;
                *ret_n = n;
        } else {
                kiln_proxy_served_free(s, n);
        }
}
