/* kiln's proxy server. kiln accepts each connection itself and peeks at it: CONNECT is tunnelled
 * here (libmicrohttpd cannot), everything else is handed to libmicrohttpd with MHD_add_connection.
 * Upstream goes through libcurl; pool files land in the shared cache, keyed by SHA-256. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <search.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "proxy.h"
#include "addr-policy.h"
#include "archive-index.h"
#include "snapshot.h"

/* One accepted connection, until it is a CONNECT tunnel or handed to libmicrohttpd. */
struct conn {
        struct kiln_proxy *proxy;
        int fd;
        struct sockaddr_storage ss;
        socklen_t sl;
        struct conn *prev, *next;
};

/* What a guest can open at once; past it new connections are closed at once. */
#define KILN_PROXY_MAX_CONNECTIONS 256
/* How long a connection may take to say what it wants, and stay idle after. */
#define KILN_PROXY_HEAD_TIMEOUT_MS 10000
#define KILN_PROXY_IDLE_TIMEOUT_S  60u

struct kiln_proxy {
        struct kiln_proxy_policy policy;
        struct kiln_cache *cache;
        const struct kiln_snapshot *snapshot;
        FILE *log;
        int listen_fd;
        uint16_t port;
        char *socket_path; /* listening on a unix socket: removed at stop */
        bool admit_set;    /* a unix socket admits this uid's peers (and root's) alone */
        uid_t admit_uid;
        struct MHD_Daemon *mhd;
        pthread_t accept_thread;
        pthread_mutex_t lock;
        struct kiln_proxy_served *served;
        size_t n_served, cap_served, n_unrecorded;
        uint64_t log_bytes;
        /* Pool files the verified indices vouch for: URL -> sha256 and size (under pool_lock). */
        pthread_mutex_t pool_lock;
        struct hsearch_data pool;
        bool pool_ready;
        size_t n_pool, cap_pool;
        char **pool_keys;    /* the table's keys (n_pool of them), owned here with their values */
        char **indices_read; /* sha256 of each index already learnt */
        struct conn *conns;  /* connections being dispatched or tunnelled (under lock) */
        unsigned n_conns;
        pthread_cond_t conns_done;
        volatile bool stopping;
};

#define KILN_PROXY_MAX_RECORDS 200000
#define KILN_PROXY_LOG_MAX     (64ULL << 20)

/* Who answered a request: the mirror (through the proxy, or a tunnel to it), kiln's cache, or kiln
 * itself without asking anyone (a refusal, a file outside the verified snapshot). */
enum origin { UPSTREAM, CACHE, KILN };

static void record(struct kiln_proxy *p, const char *method, const char *raw_url, int status, uint64_t bytes,
                   const char *sha256, enum origin origin, const char *raw_why)
{
        /* The guest wrote the URL (and the upstream the reasons): escaped before any log holds them. */
        _cleanup_free_ char *url = kiln_text_safe(raw_url, strlen(raw_url));
        _cleanup_free_ char *why = raw_why ? kiln_text_safe(raw_why, strlen(raw_why)) : NULL;
        pthread_mutex_lock(&p->lock);
        /* The guest decides how many requests there are: the record and the log are bounded. */
        if (p->n_served == KILN_PROXY_MAX_RECORDS) {
                p->n_unrecorded++;
        } else {
                if (p->n_served == p->cap_served) {
                        p->cap_served = p->cap_served ? p->cap_served * 2 : 64;
                        p->served = xrealloc(p->served, p->cap_served * sizeof(*p->served));
                }
                p->served[p->n_served++] = (struct kiln_proxy_served){.method = xstrdup(method),
                                                                      .url = xstrdup(url),
                                                                      .sha256 = sha256 ? xstrdup(sha256) : NULL,
                                                                      .status = status,
                                                                      .bytes = bytes,
                                                                      .cached = origin == CACHE,
                                                                      .upstream = origin == UPSTREAM};
        }
        if (p->log && p->log_bytes < KILN_PROXY_LOG_MAX) {
                int n = fprintf(p->log, "%s %s %d %" PRIu64 "%s%s%s%s\n", method, url, status, bytes,
                                sha256 ? " sha256=" : "", sha256 ? sha256 : "", origin == CACHE ? " cached" : "",
                                why ? why : "");
                p->log_bytes += n > 0 ? (uint64_t)n : 0;
                if (p->log_bytes >= KILN_PROXY_LOG_MAX)
                        fputs("[kiln: the proxy log is cut here: the guest made more requests than kiln logs]\n",
                              p->log);
                fflush(p->log);
        }
        pthread_mutex_unlock(&p->lock);
}

static enum MHD_Result reply_status(struct MHD_Connection *c, unsigned status, const char *text)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "text/plain");
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result reply_fd(struct MHD_Connection *c, int fd);

/* An upstream redirect is never followed here: the guest gets it, and its next request meets the
 * allowlist like any other. */
static enum MHD_Result reply_redirect(struct MHD_Connection *c, unsigned status, const char *location)
{
        static const char text[] = "kiln proxy: redirected\n";
        struct MHD_Response *r =
                MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "text/plain");
        if (!strpbrk(location, "\r\n"))
                MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

#define KILN_PROXY_MAX_POOL_ENTRIES 600000

/* The pool table's key for a URL. glibc's hsearch hashes, in effect, a key's first eight
 * characters (each one shifts the sum left by 4 bits, the first one last), and every pool URL
 * starts "http://HOST": they all collided, and the table was a list, filled in O(n^2) for an
 * index's tens of thousands of entries (a stopping `kiln proxy` was seen spending minutes in its
 * FIND loop). Each key leads with an FNV-1a hash of the URL, in hex. */
static char *pool_key(const char *url)
{
        uint32_t h = 2166136261u;
        for (const unsigned char *c = (const unsigned char *)url; *c; c++)
                h = (h ^ *c) * 16777619u;
        return xasprintf("%08" PRIx32 "%s", h, url);
}

struct pool_entry {
        char sha256[KILN_SHA256_HEX];
        uint64_t size;
};

/* A Packages index the guest got from the verified snapshot: each file it lists, with its hash,
 * becomes something the cache may keep. Learnt once per index. */
static void learn_index(struct kiln_proxy *p, const struct kiln_pin *pin, const char *path, const char *sha)
{
        pthread_mutex_lock(&p->pool_lock);
        bool known = strv_contains(p->indices_read, sha);
        if (!known)
                p->indices_read = strv_push(p->indices_read, xstrdup(sha));
        pthread_mutex_unlock(&p->pool_lock);
        if (known)
                return;
        _cleanup_free_ char *data = NULL, *text = NULL;
        size_t len, tlen;
        if (read_file_max(path, 256 << 20, &data, &len) < 0 || kiln_decompress(data, len, &text, &tlen, NULL) < 0)
                return;
        pthread_mutex_lock(&p->pool_lock);
        const char *pos = text, *st;
        size_t sl;
        while ((st = kiln_stanza_next(&pos, &sl)) && p->n_pool < KILN_PROXY_MAX_POOL_ENTRIES) {
                _cleanup_free_ char *file = kiln_stanza_field(st, sl, "Filename");
                _cleanup_free_ char *hash = kiln_stanza_field(st, sl, "SHA256");
                _cleanup_free_ char *size = kiln_stanza_field(st, sl, "Size");
                if (!file || !hash || strlen(hash) != 64 || !size || strstr(file, ".."))
                        continue;
                _cleanup_free_ char *url = xasprintf("%s/%s", pin->base, file);
                char *key = pool_key(url);
                ENTRY want = {.key = key}, *found = NULL;
                if (hsearch_r(want, FIND, &found, &p->pool) && found) {
                        free(key);
                        continue;
                }
                struct pool_entry *e = xcalloc(1, sizeof(*e));
                memcpy(e->sha256, hash, KILN_SHA256_HEX);
                e->size = strtoull(size, NULL, 10);
                want.data = e;
                if (!hsearch_r(want, ENTER, &found, &p->pool)) {
                        free(key);
                        free(e);
                        break;
                }
                if (p->n_pool == p->cap_pool) {
                        p->cap_pool = p->cap_pool ? p->cap_pool * 2 : 4096;
                        p->pool_keys = xrealloc(p->pool_keys, p->cap_pool * sizeof(char *));
                }
                p->pool_keys[p->n_pool++] = key;
        }
        pthread_mutex_unlock(&p->pool_lock);
}

/* What the verified indices say of a pool URL; false when none lists it. */
static bool pool_lookup(struct kiln_proxy *p, const char *url, struct pool_entry *ret)
{
        _cleanup_free_ char *key = pool_key(url);
        pthread_mutex_lock(&p->pool_lock);
        ENTRY want = {.key = key}, *found = NULL;
        bool ok = hsearch_r(want, FIND, &found, &p->pool) && found;
        if (ok)
                *ret = *(struct pool_entry *)found->data;
        pthread_mutex_unlock(&p->pool_lock);
        return ok;
}

static bool is_packages_index(const char *relpath)
{
        const char *base = strrchr(relpath, '/');
        base = base ? base + 1 : relpath;
        return STREQ(base, "Packages") || STREQ(base, "Packages.xz") || STREQ(base, "Packages.gz") ||
               STREQ(base, "Packages.bz2");
}

/* A file of the verified snapshot, by its signed hash: the cache, else the mirror (by hash, then by
 * name), kept only when the bytes match. Nothing else is ever served under a pinned suite. */
static enum MHD_Result serve_signed(struct kiln_proxy *p, struct MHD_Connection *c, const char *method, const char *url,
                                    const char *ua, const struct kiln_pin *pin, const char *relpath, const char *sha,
                                    uint64_t size)
{
        _cleanup_free_ char *hit = p->cache ? kiln_cache_lookup(p->cache, sha) : NULL;
        _cleanup_free_ char *path = NULL;
        struct kiln_error *err = NULL;
        int r = -EIO;
        bool from_cache = hit != NULL;
        if (hit)
                path = TAKE_PTR(hit), r = 0;
        else if (p->cache && relpath) {
                struct kiln_fetch_opts fo = {.user_agent = ua, .retries = 2};
                r = kiln_pin_file(p->cache, pin, relpath, sha, size, &fo, &path, NULL, &err);
        }
        if (r < 0) {
                unsigned code = r == -ENOENT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_GATEWAY;
                _cleanup_free_ char *why = xasprintf(" (%s)", err ? err->msg : "not in the cache");
                record(p, method, url, (int)code, 0, NULL, !hit && p->cache && relpath ? UPSTREAM : KILN, why);
                kiln_error_free(err);
                return reply_status(c, code,
                                    code == MHD_HTTP_NOT_FOUND ? "Not Found\n"
                                                               : "kiln proxy: the mirror has no copy that "
                                                                 "matches its signed Release\n");
        }
        if (relpath && is_packages_index(relpath))
                learn_index(p, pin, path, sha);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return reply_status(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "kiln proxy: cannot read the file\n");
        struct stat st;
        fstat(fd, &st);
        record(p, method, url, 200, (uint64_t)st.st_size, sha, from_cache ? CACHE : UPSTREAM, NULL);
        return reply_fd(c, fd);
}

static bool is_hex64(const char *s)
{
        size_t n = strspn(s, "0123456789abcdef");
        return n == 64 && s[n] == '\0';
}

/* A request under a pinned suite's dists/ folder. Returns MHD_NO with *ret_pass set when the
 * Release does not list the file (translations, for instance): that passes through unstored. */
static enum MHD_Result handle_pinned(struct kiln_proxy *p, struct MHD_Connection *c, const char *method,
                                     const char *url, const char *ua, const struct kiln_pin *pin, const char *rest,
                                     bool *ret_pass)
{
        *ret_pass = false;
        if (!pin->release) {
                record(p, method, url, 404, 0, NULL, KILN, " (the suite had no Release when the build started)");
                return reply_status(c, MHD_HTTP_NOT_FOUND, "Not Found\n");
        }
        const char *signed_sha = STREQ(rest, "InRelease")     ? pin->inrelease
                                 : STREQ(rest, "Release")     ? pin->release_file
                                 : STREQ(rest, "Release.gpg") ? pin->release_gpg
                                                              : NULL;
        if (signed_sha) {
                if (!*signed_sha) {
                        record(p, method, url, 404, 0, NULL, KILN, " (not part of the verified snapshot)");
                        return reply_status(c, MHD_HTTP_NOT_FOUND, "Not Found\n");
                }
                return serve_signed(p, c, method, url, ua, pin, NULL, signed_sha, 0);
        }
        const char *bh = strstr(rest, "by-hash/SHA256/");
        if (bh && (bh == rest || bh[-1] == '/') && is_hex64(bh + 15)) {
                uint64_t size = 0;
                _cleanup_free_ char *relpath = kiln_release_path_of(pin->release, bh + 15, &size);
                if (!relpath) {
                        record(p, method, url, 404, 0, NULL, KILN, " (a hash the verified Release does not list)");
                        return reply_status(c, MHD_HTTP_NOT_FOUND, "Not Found\n");
                }
                return serve_signed(p, c, method, url, ua, pin, relpath, bh + 15, size);
        }
        char sha[KILN_SHA256_HEX];
        uint64_t size = 0;
        if (kiln_release_sha256(pin->release, rest, sha, &size) == 0)
                return serve_signed(p, c, method, url, ua, pin, rest, sha, size);
        *ret_pass = true;
        return MHD_NO;
}

static enum MHD_Result reply_fd(struct MHD_Connection *c, int fd)
{
        struct stat st;
        if (fstat(fd, &st) < 0) {
                close(fd);
                return reply_status(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "kiln proxy: cannot read the file\n");
        }
        struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* takes fd */
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result handle_get(struct kiln_proxy *p, struct MHD_Connection *c, const char *url, const char *ua)
{
        /* The cache keeps a pool file only when an index kiln verified for this build lists its
         * hash and size; a file no index vouches for is passed through and never stored, so one
         * bad answer cannot be served to every later build that shares the cache. */
        struct pool_entry want = {{0}, 0};
        bool cacheable = p->cache && kiln_proxy_cacheable(url) && pool_lookup(p, url, &want);
        if (cacheable) {
                _cleanup_free_ char *path = kiln_cache_lookup(p->cache, want.sha256);
                int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
                if (fd >= 0) {
                        record(p, "GET", url, 200, want.size, want.sha256, CACHE, NULL);
                        return reply_fd(c, fd);
                }
        }
        _cleanup_free_ char *tmp = NULL;
        int fd;
        struct kiln_error *err = NULL;
        if (!p->cache || kiln_cache_tmp(p->cache, &tmp, &fd, &err) < 0) {
                kiln_error_free(err);
                return reply_status(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "kiln proxy: no room for the download\n");
        }
        long status = 0;
        _cleanup_free_ char *location = NULL;
        struct kiln_fetch_opts fo = {.user_agent = ua,
                                     .ret_status = &status,
                                     .retries = 2,
                                     .ret_location = &location,
                                     .max_bytes = cacheable && want.size ? want.size : 0};
        int r = kiln_fetch_to_fd(url, fd, &fo, &err);
        close(fd);
        if (r == -EXDEV && location) {
                unlink(tmp);
                kiln_error_free(err);
                _cleanup_free_ char *why = xasprintf(" redirect to %s, not followed", location);
                record(p, "GET", url, (int)status, 0, NULL, UPSTREAM, why);
                return reply_redirect(c, (unsigned)status, location);
        }
        if (r < 0) {
                unlink(tmp);
                unsigned code = status >= 400 && status < 600 ? (unsigned)status : MHD_HTTP_BAD_GATEWAY;
                _cleanup_free_ char *why = err ? xasprintf(" (%s)", err->msg) : NULL;
                record(p, "GET", url, (int)code, 0, NULL, UPSTREAM, why);
                kiln_error_free(err);
                return reply_status(c, code, code == 404 ? "Not Found\n" : "kiln proxy: upstream failed\n");
        }
        char sha[KILN_SHA256_HEX];
        _cleanup_free_ char *path = NULL;
        if (!cacheable) {
                /* Anything but a pool file is served from its own temporary file and never enters the
                 * shared store, so it can neither go stale there nor replace an entry it shares bytes
                 * with. */
                fd = open(tmp, O_RDONLY | O_CLOEXEC);
                bool hashed = fd >= 0 && kiln_sha256_file(tmp, sha, NULL, NULL) == 0;
                unlink(tmp);
                if (!hashed) {
                        if (fd >= 0)
                                close(fd);
                        return reply_status(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                            "kiln proxy: cannot read the download\n");
                }
        } else {
                uint64_t got = 0;
                if (kiln_sha256_file(tmp, sha, &got, NULL) < 0 || !STREQ(sha, want.sha256) || got != want.size) {
                        unlink(tmp);
                        _cleanup_free_ char *why = xasprintf(
                                " (%" PRIu64 " bytes, sha256 %s; the verified index says %" PRIu64 " bytes, sha256 %s)",
                                got, sha, want.size, want.sha256);
                        record(p, "GET", url, 502, 0, NULL, UPSTREAM, why);
                        return reply_status(c, MHD_HTTP_BAD_GATEWAY,
                                            "kiln proxy: the mirror's file does not match its signed index\n");
                }
                if (kiln_cache_commit(p->cache, tmp, sha, &path, &err) < 0) {
                        kiln_error_free(err);
                        return reply_status(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                            "kiln proxy: cannot store the download\n");
                }
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return reply_status(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                            "kiln proxy: cannot read the download\n");
        }
        struct stat st;
        fstat(fd, &st);
        record(p, "GET", url, 200, (uint64_t)st.st_size, sha, UPSTREAM, NULL);
        return reply_fd(c, fd);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
        struct kiln_proxy *p = cls;
        static int marker;
        if (!*con_cls) {
                *con_cls = &marker;
                return MHD_YES;
        }
        if (*upload_data_size) {
                *upload_data_size = 0; /* a body on a request kiln will refuse anyway */
                return MHD_YES;
        }
        const char *why = NULL;
        bool get = STREQ(method, "GET"), head = STREQ(method, "HEAD");
        _cleanup_free_ char *checked = NULL;
        if (!get && !head)
                why = "only GET and HEAD are allowed";
        else if (kiln_proxy_check_url(&p->policy, url, &checked, &why) == 0)
                why = NULL, url = checked; /* from here on, the URL as curl fetches it */
        if (why) {
                _cleanup_free_ char *w = xasprintf(" denied: %s", why);
                record(p, method, url, 403, 0, NULL, KILN, w);
                return reply_status(c, MHD_HTTP_FORBIDDEN, "kiln proxy: forbidden by the profile's allowlist\n");
        }
        const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
        const char *rest = NULL;
        const struct kiln_pin *pin = kiln_snapshot_match(p->snapshot, url, &rest);
        if (pin) { /* GET and HEAD alike: MHD sends no body for HEAD */
                bool pass = false;
                enum MHD_Result res = handle_pinned(p, c, method, url, ua, pin, rest, &pass);
                if (!pass)
                        return res;
        } else if (kiln_snapshot_unpinned_suite(p->snapshot, url)) {
                record(p, method, url, 404, 0, NULL, KILN, " (not part of the verified snapshot)");
                return reply_status(c, MHD_HTTP_NOT_FOUND, "Not Found\n");
        }
        if (get)
                return handle_get(p, c, url, ua);
        long status = 0;
        int64_t len = -1;
        struct kiln_error *err = NULL;
        _cleanup_free_ char *location = NULL;
        if (kiln_fetch_head(url, ua, &status, &len, &location, &err) < 0) {
                kiln_error_free(err);
                record(p, "HEAD", url, 502, 0, NULL, UPSTREAM, NULL);
                return reply_status(c, MHD_HTTP_BAD_GATEWAY, "");
        }
        record(p, "HEAD", url, (int)status, 0, NULL, UPSTREAM, NULL);
        if (location)
                return reply_redirect(c, (unsigned)status, location);
        return reply_status(c, (unsigned)status, "");
}

/* ---- CONNECT tunnels ---- */

static int read_request_head(int fd, char *buf, size_t cap)
{
        size_t len = 0;
        while (len + 1 < cap) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                if (poll(&pfd, 1, 30000) <= 0)
                        return -1;
                ssize_t n = read(fd, buf + len, 1); /* byte by byte: nothing past the head is consumed */
                if (n <= 0)
                        return -1;
                len += (size_t)n;
                buf[len] = '\0';
                if (len >= 4 && STREQ(buf + len - 4, "\r\n\r\n"))
                        return 0;
        }
        return -1;
}

static int dial(const char *authority)
{
        _cleanup_free_ char *host = NULL, *port = NULL;
        const char *colon = strrchr(authority, ':');
        if (!colon)
                return -1;
        host = authority[0] == '[' ? xstrndup(authority + 1, (size_t)(colon - authority) - 2)
                                   : xstrndup(authority, (size_t)(colon - authority));
        port = xstrdup(colon + 1);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(host, port, &hints, &res) != 0)
                return -1;
        int fd = -1;
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                /* The address policy on the address actually connected to, as for every download. */
                if (kiln_addr_forbidden(kiln_addr_classify_sockaddr(a->ai_addr, a->ai_addrlen)) &&
                    !kiln_fetch_private_allowed())
                        continue;
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        break;
                if (fd >= 0)
                        close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        return fd;
}

static void relay(int a, int b)
{
        struct pollfd pfd[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        char chunk[1 << 15];
        for (;;) {
                if (poll(pfd, 2, 300000) <= 0)
                        return;
                for (int i = 0; i < 2; i++) {
                        if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t n = read(pfd[i].fd, chunk, sizeof(chunk));
                        if (n <= 0)
                                return;
                        for (ssize_t off = 0; off < n;) {
                                ssize_t w = write(pfd[1 - i].fd, chunk + off, (size_t)(n - off));
                                if (w <= 0)
                                        return;
                                off += w;
                        }
                }
        }
}

static void tunnel(struct kiln_proxy *p, int fd)
{
        char head[4096];
        char authority[512] = "";
        if (read_request_head(fd, head, sizeof(head)) == 0)
                sscanf(head, "CONNECT %511s", authority);
        if (!*authority || kiln_proxy_check_connect(&p->policy, authority) < 0) {
                static const char no[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
                (void)!write(fd, no, sizeof(no) - 1);
                record(p, "CONNECT", authority, 403, 0, NULL, KILN, " denied: not a host:port the profile names");
                return;
        }
        int up = dial(authority);
        if (up < 0) {
                static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
                (void)!write(fd, bad, sizeof(bad) - 1);
                record(p, "CONNECT", authority, 502, 0, NULL, UPSTREAM, NULL);
                return;
        }
        static const char yes[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        if (write(fd, yes, sizeof(yes) - 1) == (ssize_t)sizeof(yes) - 1)
                relay(fd, up);
        close(up);
        record(p, "CONNECT", authority, 200, 0, NULL, UPSTREAM, NULL);
}

static void conn_done(struct conn *c, bool close_fd)
{
        struct kiln_proxy *p = c->proxy;
        pthread_mutex_lock(&p->lock);
        if (c->prev)
                c->prev->next = c->next;
        else
                p->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (close_fd)
                close(c->fd);
        if (--p->n_conns == 0)
                pthread_cond_broadcast(&p->conns_done);
        pthread_mutex_unlock(&p->lock);
        free(c);
}

/* Each connection in its own detached thread, so a silent one never holds up the others: it has
 * KILN_PROXY_HEAD_TIMEOUT_MS to say whether it is a CONNECT. */
static void *conn_main(void *arg)
{
        struct conn *c = arg;
        struct kiln_proxy *p = c->proxy;
        char peek[8] = {0};
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        ssize_t n = poll(&pfd, 1, KILN_PROXY_HEAD_TIMEOUT_MS) > 0 ? recv(c->fd, peek, sizeof(peek), MSG_PEEK) : -1;
        if (n >= 8 && memcmp(peek, "CONNECT ", 8) == 0 && !p->stopping) {
                tunnel(p, c->fd);
                shutdown(c->fd, SHUT_RDWR);
                conn_done(c, true);
                return NULL;
        }
        if (n <= 0 || p->stopping) {
                conn_done(c, true);
                return NULL;
        }
        /* libmicrohttpd owns the fd from here: it closes it, and its own limits apply. */
        int fd = c->fd;
        struct sockaddr_storage ss = c->ss;
        socklen_t sl = c->sl;
        conn_done(c, false);
        if (MHD_add_connection(p->mhd, fd, (struct sockaddr *)&ss, sl) != MHD_YES)
                close(fd);
        return NULL;
}

static void *accept_main(void *arg)
{
        struct kiln_proxy *p = arg;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        while (!p->stopping) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = accept4(p->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                struct timespec ts = {0, 100 * 1000 * 1000};
                                nanosleep(&ts, NULL); /* out of descriptors: let connections end */
                                continue;
                        }
                        break;
                }
                if (p->admit_set) {
                        struct ucred cred;
                        socklen_t cl = sizeof(cred);
                        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
                            (cred.uid != p->admit_uid && cred.uid != 0)) {
                                close(fd); /* another local user: the proxy is not theirs */
                                continue;
                        }
                }
                pthread_mutex_lock(&p->lock);
                bool full = p->stopping || p->n_conns + MHD_get_daemon_info(p->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
                                                                   ->num_connections >=
                                                   KILN_PROXY_MAX_CONNECTIONS;
                struct conn *c = NULL;
                if (!full) {
                        c = xcalloc(1, sizeof(*c));
                        *c = (struct conn){.proxy = p, .fd = fd, .ss = ss, .sl = sl, .next = p->conns};
                        if (p->conns)
                                p->conns->prev = c;
                        p->conns = c;
                        p->n_conns++;
                }
                pthread_mutex_unlock(&p->lock);
                if (full) {
                        close(fd);
                        continue;
                }
                pthread_t t;
                if (pthread_create(&t, &attr, conn_main, c) != 0)
                        conn_done(c, true);
        }
        pthread_attr_destroy(&attr);
        return NULL;
}

int kiln_proxy_start(const struct kiln_proxy_policy *pol, struct kiln_cache *cache,
                     const struct kiln_snapshot *snapshot, const char *log_path, const char *addr, uint16_t port,
                     struct kiln_proxy **ret, struct kiln_error **reterr)
{
        struct kiln_proxy *p = xcalloc(1, sizeof(*p));
        p->snapshot = snapshot;
        p->listen_fd = -1;
        for (size_t i = 0; pol->allow && pol->allow[i]; i++)
                p->policy.allow = strv_push(p->policy.allow, xstrdup(pol->allow[i]));
        for (size_t i = 0; pol->connect && pol->connect[i]; i++)
                p->policy.connect = strv_push(p->policy.connect, xstrdup(pol->connect[i]));
        p->cache = cache;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->conns_done, NULL);
        pthread_mutex_init(&p->pool_lock, NULL);
        p->pool_ready = hcreate_r(KILN_PROXY_MAX_POOL_ENTRIES * 4 / 3, &p->pool) != 0;
        if (!p->pool_ready)
                abort();
        int r;
        if (log_path && !(p->log = fopen(log_path, "ae"))) {
                r = kiln_error_set(reterr, errno, "cannot open '%s': %s", log_path, strerror(errno));
                goto fail;
        }
        int one = 1;
        if (addr && str_has_prefix(addr, "fd:")) {
                /* A socket already listening, kiln's own (made in the guest's network namespace): the
                 * proxy serves a copy of it; the caller keeps and closes its own. */
                char *end;
                long fd = strtol(addr + 3, &end, 10);
                int type = 0;
                socklen_t tl = sizeof(type);
                if (*end || fd < 0 || fd > INT_MAX || getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
                    type != SOCK_STREAM || (p->listen_fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 3)) < 0) {
                        r = kiln_error_set(reterr, EBADF, "'%s' is not a listening socket", addr);
                        goto fail;
                }
        } else if (addr && (addr[0] == '/' || addr[0] == '@')) {
                /* A unix socket: a path, or '@NAME' in the abstract namespace (nothing on disk to
                 * reach or to leave behind; kiln_proxy_admit_uid says whose peers it takes). */
                struct sockaddr_un su;
                socklen_t sl;
                if (kiln_proxy_unix_addr(addr, &su, &sl) < 0) {
                        r = kiln_error_set(reterr, ENAMETOOLONG, "'%s' is too long for a socket", addr);
                        goto fail;
                }
                p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&su, sl) < 0 ||
                    listen(p->listen_fd, 64) < 0) {
                        r = kiln_error_set(reterr, errno, "cannot listen on '%s': %s", addr, strerror(errno));
                        goto fail;
                }
                if (addr[0] == '/')
                        p->socket_path = xstrdup(addr);
        } else {
                p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in sa = {
                        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                if (addr && inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
                        r = kiln_error_set(reterr, EINVAL, "'%s' is not an IPv4 address", addr);
                        goto fail;
                }
                if (p->listen_fd >= 0)
                        setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    listen(p->listen_fd, 64) < 0) {
                        r = kiln_error_set(reterr, errno, "cannot listen on %s:%u: %s", addr ? addr : "127.0.0.1", port,
                                           strerror(errno));
                        goto fail;
                }
                socklen_t sl = sizeof(sa);
                getsockname(p->listen_fd, (struct sockaddr *)&sa, &sl);
                p->port = ntohs(sa.sin_port);
        }
        /* poll(), not select(): no FD_SETSIZE ceiling; a bounded number of connections, each
         * closed after a minute of silence. */
        p->mhd =
                MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_INTERNAL_POLLING_THREAD |
                                         MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, on_request, p, MHD_OPTION_CONNECTION_TIMEOUT, KILN_PROXY_IDLE_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)KILN_PROXY_MAX_CONNECTIONS,
                                 MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 << 10), MHD_OPTION_END);
        if (!p->mhd) {
                r = kiln_error_set(reterr, EIO, "cannot start the HTTP server (libmicrohttpd)");
                goto fail;
        }
        if (pthread_create(&p->accept_thread, NULL, accept_main, p) != 0) {
                r = kiln_error_set(reterr, EAGAIN, "cannot start the proxy's thread");
                goto fail;
        }
        *ret = p;
        return 0;
fail:
        hdestroy_r(&p->pool);
        pthread_mutex_destroy(&p->pool_lock);
        if (p->mhd)
                MHD_stop_daemon(p->mhd);
        if (p->listen_fd >= 0)
                close(p->listen_fd);
        if (p->socket_path)
                unlink(p->socket_path);
        free(p->socket_path);
        if (p->log)
                fclose(p->log);
        kiln_proxy_policy_clear(&p->policy);
        free(p);
        return r;
}

int kiln_proxy_unix_addr(const char *name, struct sockaddr_un *ret, socklen_t *ret_len)
{
        *ret = (struct sockaddr_un){.sun_family = AF_UNIX};
        size_t len = strlen(name);
        if (len >= sizeof(ret->sun_path))
                return -ENAMETOOLONG;
        memcpy(ret->sun_path, name, len);
        if (name[0] == '@')
                ret->sun_path[0] = '\0';
        *ret_len = name[0] == '@' ? (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len) : (socklen_t)sizeof(*ret);
        return 0;
}

uint16_t kiln_proxy_port(const struct kiln_proxy *p)
{
        return p->port;
}

void kiln_proxy_admit_uid(struct kiln_proxy *p, uid_t uid)
{
        p->admit_uid = uid;
        p->admit_set = true;
}

void kiln_proxy_stop(struct kiln_proxy *p)
{
        if (!p)
                return;
        p->stopping = true;
        shutdown(p->listen_fd, SHUT_RDWR);
        pthread_join(p->accept_thread, NULL);
        close(p->listen_fd);
        if (p->socket_path)
                unlink(p->socket_path);
        free(p->socket_path);
        /* Wake every connection still being dispatched or tunnelled, and wait for its thread. */
        pthread_mutex_lock(&p->lock);
        for (struct conn *c = p->conns; c; c = c->next)
                shutdown(c->fd, SHUT_RDWR);
        while (p->n_conns)
                pthread_cond_wait(&p->conns_done, &p->lock);
        pthread_mutex_unlock(&p->lock);
        MHD_stop_daemon(p->mhd);
        if (p->log)
                fclose(p->log);
        kiln_proxy_served_free(p->served, p->n_served);
        kiln_proxy_policy_clear(&p->policy);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->conns_done);
        for (size_t i = 0; i < p->n_pool; i++) {
                ENTRY want = {.key = p->pool_keys[i]}, *found = NULL;
                if (hsearch_r(want, FIND, &found, &p->pool) && found)
                        free(found->data);
                free(p->pool_keys[i]);
        }
        hdestroy_r(&p->pool);
        free(p->pool_keys);
        strv_free(p->indices_read);
        pthread_mutex_destroy(&p->pool_lock);
        free(p);
}

size_t kiln_proxy_served(struct kiln_proxy *p, struct kiln_proxy_served **ret)
{
        pthread_mutex_lock(&p->lock);
        struct kiln_proxy_served *s = xcalloc(p->n_served ? p->n_served : 1, sizeof(*s));
        for (size_t i = 0; i < p->n_served; i++) {
                s[i] = p->served[i];
                s[i].method = xstrdup(p->served[i].method);
                s[i].url = xstrdup(p->served[i].url);
                s[i].sha256 = p->served[i].sha256 ? xstrdup(p->served[i].sha256) : NULL;
        }
        size_t n = p->n_served;
        pthread_mutex_unlock(&p->lock);
        *ret = s;
        return n;
}

void kiln_proxy_served_free(struct kiln_proxy_served *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(s[i].method);
                free(s[i].url);
                free(s[i].sha256);
        }
        free(s);
}
