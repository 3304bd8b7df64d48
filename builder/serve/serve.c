/* kiln serve end to end: the state folder, the tokens, the database and its recovery, the
 * listening socket (a unix socket, or TCP: TLS unless loopback), then the scheduler, the webhook
 * sender and the HTTP server until a signal. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "addr-policy.h"
#include "fetch.h"
#include "serve-internal.h"

void serve_log(struct serve *s, const char *fmt, ...)
{
        if (!s->cfg->log)
                return;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = xvasprintf(fmt, ap);
        va_end(ap);
        s->cfg->log(s->cfg->userdata, m);
}

static int listen_unix(const char *path, struct kiln_error **reterr)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return kiln_error_set(reterr, ENAMETOOLONG, "--listen unix:'%s': the path is too long", path);
        strcpy(sa.sun_path, path);
        struct stat st;
        /* A socket left by an earlier run is replaced; anything else at the path is not. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return kiln_error_set(reterr, EEXIST, "--listen unix:'%s': exists and is not a socket", path);
                unlink(path);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "socket: %s", strerror(errno));
        mode_t old = umask(0117); /* 0660: the service's user and group */
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 64) < 0) {
                int e = errno;
                close(fd);
                return kiln_error_set(reterr, e, "--listen unix:'%s': %s", path, strerror(e));
        }
        return fd;
}

static int listen_tcp(const char *spec, bool tls, char **ret_shown, struct kiln_error **reterr)
{
        _cleanup_free_ char *copy = xstrdup(spec);
        char *host = copy, *port = strrchr(copy, ':');
        if (!port)
                return kiln_error_set(reterr, EINVAL, "--listen takes unix:PATH or HOST:PORT (got '%s')", spec);
        *port++ = '\0';
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                host++;
                host[strlen(host) - 1] = '\0';
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai = NULL;
        int g = getaddrinfo(host, port, &hints, &ai);
        if (g != 0)
                return kiln_error_set(reterr, EINVAL, "--listen '%s': %s (give an address, not a name)", spec,
                                      gai_strerror(g));
        enum kiln_addr_class cls = kiln_addr_classify_sockaddr(ai->ai_addr, ai->ai_addrlen);
        if (cls != KILN_ADDR_LOOPBACK && !tls) {
                freeaddrinfo(ai);
                return kiln_error_set(reterr, EPERM,
                                      "--listen '%s' is not a loopback address: kiln serve needs --tls-cert and "
                                      "--tls-key there (tokens must not cross a network in the clear)",
                                      spec);
        }
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return kiln_error_set(reterr, e, "--listen '%s': %s", spec, strerror(e));
        }
        freeaddrinfo(ai);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char ip[INET6_ADDRSTRLEN] = "?";
        unsigned p = 0;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
                if (ss.ss_family == AF_INET) {
                        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
                        p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
                } else {
                        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
                        p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
                }
        }
        *ret_shown = ss.ss_family == AF_INET6 ? xasprintf("[%s]:%u", ip, p) : xasprintf("%s:%u", ip, p);
        return fd;
}

/* Webhooks not yet delivered when the service stopped are sent again. */
static void requeue_webhooks(struct serve *s)
{
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT id, tenant FROM builds WHERE callback_url IS NOT NULL AND "
                                               "state IN ('succeeded','failed','cancelled') AND "
                                               "(webhook IS NULL OR webhook LIKE 'try %')");
        while (sqlite3_step(st) == SQLITE_ROW)
                serve_webhook_queue(s, (const char *)sqlite3_column_text(st, 1),
                                    (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
}

int kiln_serve_run(const struct kiln_serve_config *cfg, volatile sig_atomic_t *stop, struct kiln_error **reterr)
{
        struct serve s = {.cfg = cfg, .stop = stop, .builds_dir_fd = -1};
        int r = 0, lfd = -1;
        struct MHD_Daemon *d = NULL;
        _cleanup_free_ char *shown = NULL;
        pthread_t sched, hooks;
        bool sched_started = false, hooks_started = false;
        pthread_mutex_init(&s.lock, NULL);
        pthread_cond_init(&s.changed, NULL);
        pthread_cond_init(&s.hooks_changed, NULL);
        kiln_fetch_allow_private(cfg->allow_private_mirrors);

        if ((r = serve_tokens_load(cfg->tokens_file, &s.tokens, reterr)) < 0)
                goto out;
        if (mkdir(cfg->state_dir, 0750) < 0 && errno != EEXIST) {
                r = kiln_error_set(reterr, errno, "--state-dir '%s': %s", cfg->state_dir, strerror(errno));
                goto out;
        }
        s.builds_dir = xasprintf("%s/builds", cfg->state_dir);
        if (mkdir(s.builds_dir, 0750) < 0 && errno != EEXIST) {
                r = kiln_error_set(reterr, errno, "'%s': %s", s.builds_dir, strerror(errno));
                goto out;
        }
        s.builds_dir_fd = open(s.builds_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s.builds_dir_fd < 0) {
                r = kiln_error_set(reterr, errno, "'%s': %s", s.builds_dir, strerror(errno));
                goto out;
        }
        if ((r = serve_db_open(&s, reterr)) < 0)
                goto out;
        serve_db_recover(&s);
        requeue_webhooks(&s);

        if (str_has_prefix(cfg->listen, "unix:")) {
                lfd = listen_unix(cfg->listen + 5, reterr);
                shown = xstrdup(cfg->listen);
        } else
                lfd = listen_tcp(cfg->listen, cfg->tls_cert != NULL, &shown, reterr);
        if (lfd < 0) {
                r = lfd;
                goto out;
        }
        if ((r = serve_http_start(&s, lfd, &d, reterr)) < 0)
                goto out;
        lfd = -1; /* the daemon's now */
        if ((r = serve_runner_start(&s, &sched, reterr)) < 0)
                goto out;
        sched_started = true;
        if (serve_webhook_start(&s, &hooks) < 0) {
                r = kiln_error_set(reterr, EAGAIN, "cannot start the webhook thread");
                goto out;
        }
        hooks_started = true;
        serve_log(&s, "listening on %s%s (state in %s, %u builds at once)", shown, cfg->tls_cert ? " with TLS" : "",
                  cfg->state_dir, cfg->max_running ? cfg->max_running : kiln_serve_default_concurrency());
        while (!*stop) {
                struct timespec ts = {0, 200 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        serve_log(&s, "stopping");
out:
        /* Wake every waiter: streams end, the scheduler stops its builds (they stay 'running', so the
         * next start requeues them). */
        if (!*stop)
                *stop = SIGTERM;
        pthread_mutex_lock(&s.lock);
        pthread_cond_broadcast(&s.changed);
        pthread_cond_broadcast(&s.hooks_changed);
        pthread_mutex_unlock(&s.lock);
        if (d)
                MHD_stop_daemon(d);
        if (lfd >= 0)
                close(lfd);
        if (sched_started)
                pthread_join(sched, NULL);
        if (hooks_started)
                pthread_join(hooks, NULL);
        if (str_has_prefix(cfg->listen, "unix:") && d)
                unlink(cfg->listen + 5);
        serve_webhook_clear(&s); /* undelivered ones are sent again at the next start */
        serve_db_close(&s);
        serve_tokens_clear(&s.tokens);
        if (s.builds_dir_fd >= 0)
                close(s.builds_dir_fd);
        free(s.builds_dir);
        return r < 0 ? r : 0;
}
