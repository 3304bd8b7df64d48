/* HTTP downloads with libcurl: one easy handle per transfer, bounded retries with backoff for
 * transient failures, and a multi handle for many HEADs at once (the preflight). */
#include "fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "addr-policy.h"

#ifndef KILN_VERSION
#define KILN_VERSION "dev"
#endif

const char *kiln_user_agent(void)
{
        return "kiln/" KILN_VERSION;
}

static void global_init(void)
{
        static bool done;
        if (!done) {
                curl_global_init(CURL_GLOBAL_DEFAULT);
                done = true;
        }
}

/* The address policy's state (see on_open_socket). */
static bool allow_private;
static _Thread_local char refused[160];

struct sink {
        int fd;
        struct kiln_buf *mem;
        size_t max;
        uint64_t written, max_bytes;
        bool too_big;
        int write_errno;
        const struct kiln_fetch_opts *opts;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct sink *s = userdata;
        size_t len = size * nmemb;
        if (s->mem) {
                if (s->mem->len + len > s->max) {
                        s->too_big = true;
                        return 0;
                }
                buf_append(s->mem, data, len);
                return len;
        }
        if (s->written + len > s->max_bytes) {
                s->too_big = true;
                return 0;
        }
        s->written += len;
        size_t off = 0;
        while (off < len) {
                ssize_t n = write(s->fd, data + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        s->write_errno = errno;
                        return 0;
                }
                off += (size_t)n;
        }
        return len;
}

/* Set by kiln_fetch_set_cancel: the signal flag of the command running (SIGTERM, SIGINT). */
static volatile sig_atomic_t *cancel_flag;

void kiln_fetch_set_cancel(volatile sig_atomic_t *flag)
{
        cancel_flag = flag;
}

static bool cancelled(void)
{
        return cancel_flag && *cancel_flag;
}

/* curl calls this about once a second even when no byte arrives, so a stalled transfer ends
 * within a second of a signal, not after LOW_SPEED_TIME (kiln serve's cancel would otherwise
 * wait out its grace and SIGKILL the build). A non-zero return aborts the transfer. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
        const struct sink *s = userdata;
        if (cancelled())
                return 1;
        if (s && s->opts && s->opts->progress)
                s->opts->progress(s->opts->userdata, s->opts->label, (uint64_t)dlnow, (uint64_t)dltotal, false);
        return 0;
}

static unsigned retries_of(const struct kiln_fetch_opts *o)
{
        if (o && o->no_retry)
                return 0;
        if (o && o->retries)
                return o->retries;
        const char *e = getenv("KILN_FETCH_RETRIES");
        if (e && *e)
                return (unsigned)strtoul(e, NULL, 10);
        return 3;
}

static bool transient(CURLcode c, long status)
{
        if (refused[0])
                return false;
        switch (c) {
        case CURLE_OK:
                return status >= 500 || status == 429 || status == 408;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

/* The address policy once names are resolved (addr-policy.c): every socket curl opens goes
 * through here, so a name that resolves to loopback, a private or a metadata address, or a
 * redirect to one, is refused before any packet leaves. The refusal is final, not retried. */
void kiln_fetch_allow_private(bool allow)
{
        allow_private = allow;
}
bool kiln_fetch_private_allowed(void)
{
        return allow_private;
}

static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *a)
{
        enum kiln_addr_class cls = kiln_addr_classify_sockaddr(&a->addr, a->addrlen);
        if (kiln_addr_forbidden(cls) && !allow_private) {
                char ip[INET6_ADDRSTRLEN] = "?";
                if (a->family == AF_INET)
                        inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof(ip));
                else if (a->family == AF_INET6)
                        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof(ip));
                snprintf(refused, sizeof(refused),
                         "kiln refuses to connect to %s, %s (unless run with "
                         "--allow-private-mirrors)",
                         ip, kiln_addr_class_name(cls));
                return CURL_SOCKET_BAD;
        }
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static CURL *easy_new(const char *url)
{
        refused[0] = '\0';
        CURL *c = curl_easy_init();
        if (!c)
                abort();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_USERAGENT, kiln_user_agent());
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        /* A stalled transfer (under 1 KiB/s for 60 s) is a transient failure, not a hang. */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, NULL);
        return c;
}

static int fetch(const char *url, struct sink *s, struct kiln_error **reterr)
{
        global_init();
        unsigned tries = retries_of(s->opts) + 1;
        CURLcode code = CURLE_OK;
        long status = 0;
        char errbuf[CURL_ERROR_SIZE];
        for (unsigned attempt = 1; attempt <= tries; attempt++) {
                if (cancelled())
                        return kiln_error_set(reterr, EINTR, "cannot fetch '%s': interrupted", url);
                if (attempt > 1) {
                        /* 1 s, 2 s, 4 s, ... capped at 30 s. */
                        unsigned delay = 1u << (attempt - 2 < 5 ? attempt - 2 : 5);
                        struct timespec ts = {delay > 30 ? 30 : delay, 0};
                        nanosleep(&ts, NULL);
                        s->written = 0;
                        if (s->mem)
                                s->mem->len = 0;
                        else if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
                                return kiln_error_set(reterr, errno, "cannot retry '%s': %s", url, strerror(errno));
                }
                CURL *c = easy_new(url);
                if (s->opts && s->opts->user_agent)
                        curl_easy_setopt(c, CURLOPT_USERAGENT, s->opts->user_agent);
                if (s->opts && s->opts->ret_location)
                        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
                errbuf[0] = '\0';
                curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
                curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
                curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
                code = curl_easy_perform(c);
                status = 0;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                char *location = NULL;
                if (code == CURLE_OK && status >= 300 && status < 400 && s->opts && s->opts->ret_location &&
                    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
                        *s->opts->ret_location = xstrdup(location);
                        if (s->opts->ret_status)
                                *s->opts->ret_status = status;
                        curl_easy_cleanup(c);
                        return kiln_error_set(reterr, EXDEV, "'%s' redirects (HTTP %ld)", url, status);
                }
                curl_easy_cleanup(c);
                if (s->opts && s->opts->progress)
                        s->opts->progress(s->opts->userdata, s->opts->label, 0, 0, true);
                if (s->opts && s->opts->ret_status)
                        *s->opts->ret_status = code == CURLE_OK ? status : 0;
                if (code == CURLE_OK && status >= 200 && status < 300)
                        return 0;
                if (code == CURLE_ABORTED_BY_CALLBACK && cancelled())
                        return kiln_error_set(reterr, EINTR, "cannot fetch '%s': interrupted", url);
                if (s->too_big)
                        return kiln_error_set(reterr, EFBIG, "'%s' is larger than %" PRIu64 " bytes", url,
                                              s->mem ? (uint64_t)s->max : s->max_bytes);
                if (s->write_errno)
                        return kiln_error_set(reterr, s->write_errno, "cannot store '%s': %s", url,
                                              strerror(s->write_errno));
                if (!transient(code, status))
                        break;
        }
        if (code == CURLE_OK)
                return kiln_error_set(reterr, status == 404 ? ENOENT : EIO, "cannot fetch '%s': HTTP %ld%s", url,
                                      status, status == 404 ? " (not found)" : "");
        _cleanup_free_ char *after =
                tries > 1 && transient(code, status) ? xasprintf(" (after %u tries)", tries) : xstrdup("");
        return kiln_error_set(reterr, refused[0] ? EPERM : EIO, "cannot fetch '%s': %s%s", url,
                              refused[0] ? refused
                              : *errbuf  ? errbuf
                                         : curl_easy_strerror(code),
                              after);
}

int kiln_fetch_to_fd(const char *url, int fd, const struct kiln_fetch_opts *opts, struct kiln_error **reterr)
{
        const char *env = getenv("KILN_FETCH_MAX_BYTES");
        uint64_t dflt = env && *env ? strtoull(env, NULL, 10) : 0;
        struct sink s = {.fd = fd,
                         .opts = opts,
                         .max_bytes = opts && opts->max_bytes ? opts->max_bytes
                                      : dflt                  ? dflt
                                                              : KILN_FETCH_MAX_BYTES};
        return fetch(url, &s, reterr);
}

int kiln_fetch_to_mem(const char *url, size_t max, const struct kiln_fetch_opts *opts, char **ret_data, size_t *ret_len,
                      struct kiln_error **reterr)
{
        struct kiln_buf b = {0};
        struct sink s = {.fd = -1, .mem = &b, .max = max, .opts = opts};
        int r = fetch(url, &s, reterr);
        if (r < 0) {
                free(b.data);
                return r;
        }
        *ret_len = b.len;
        *ret_data = buf_steal(&b);
        return 0;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
        return size * nmemb;
}

int kiln_fetch_head(const char *url, const char *user_agent, long *ret_status, int64_t *ret_length, char **ret_location,
                    struct kiln_error **reterr)
{
        global_init();
        CURL *c = easy_new(url);
        if (user_agent)
                curl_easy_setopt(c, CURLOPT_USERAGENT, user_agent);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
        CURLcode code = curl_easy_perform(c);
        long status = 0;
        curl_off_t len = -1;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        char *location = NULL;
        if (ret_location)
                *ret_location = code == CURLE_OK &&
                                                curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
                                                location
                                        ? xstrdup(location)
                                        : NULL;
        curl_easy_cleanup(c);
        if (code != CURLE_OK)
                return kiln_error_set(reterr, EIO, "cannot reach '%s': %s", url,
                                      refused[0] ? refused : curl_easy_strerror(code));
        *ret_status = status;
        *ret_length = len;
        return 0;
}

int kiln_fetch_heads(char *const *urls, size_t n, long *ret_status, struct kiln_error **reterr)
{
        global_init();
        CURLM *m = curl_multi_init();
        if (!m)
                abort();
        curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 8L);
        CURL **handles = xcalloc(n, sizeof(CURL *));
        for (size_t i = 0; i < n; i++) {
                ret_status[i] = 0;
                handles[i] = easy_new(urls[i]);
                curl_easy_setopt(handles[i], CURLOPT_NOBODY, 1L);
                curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, discard);
                curl_easy_setopt(handles[i], CURLOPT_TIMEOUT, 60L);
                curl_easy_setopt(handles[i], CURLOPT_PRIVATE, (void *)(uintptr_t)i);
                curl_multi_add_handle(m, handles[i]);
        }
        int running = 1;
        while (running) {
                if (curl_multi_perform(m, &running) != CURLM_OK)
                        break;
                if (running)
                        curl_multi_poll(m, NULL, 0, 1000, NULL);
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                void *priv = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
                long status = 0;
                if (msg->data.result == CURLE_OK)
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                ret_status[(uintptr_t)priv] = status;
        }
        for (size_t i = 0; i < n; i++) {
                curl_multi_remove_handle(m, handles[i]);
                curl_easy_cleanup(handles[i]);
        }
        free(handles);
        curl_multi_cleanup(m);
        return 0;
}
