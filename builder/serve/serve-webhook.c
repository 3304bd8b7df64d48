/* The webhook: when a build with a callback_url ends, kiln POSTs its final state there, signed
 * with HMAC-SHA256 under the tenant's secret ("X-Kiln-Signature: sha256=HEX" over the exact
 * body, which carries the time), retried with backoff. Every socket curl opens goes through the
 * address policy after DNS, as the fetcher's do: a callback name that resolves to loopback or a
 * private address is refused unless the operator allowed private callbacks. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>

#include "addr-policy.h"
#include "serve-internal.h"

#define WEBHOOK_TRIES   5
#define WEBHOOK_MAX_URL 2048

struct serve_webhook {
        char *tenant, *id;
        unsigned tries;
        double not_before;
        struct serve_webhook *next;
};

void serve_hmac_hex(const char *key, const char *data, size_t len, char hex[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)data, len, md, &n) || n != 32)
                abort();
        for (unsigned i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

char *serve_webhook_check_url(const struct serve *s, const char *url)
{
        if (strlen(url) > WEBHOOK_MAX_URL)
                return xstrdup("callback_url is longer than 2048 bytes");
        CURLU *u = curl_url();
        if (!u)
                abort();
        char *scheme = NULL, *host = NULL;
        char *why = NULL;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
                why = xstrdup("callback_url is not a URL");
        else if (!STREQ(scheme, "http") && !STREQ(scheme, "https"))
                why = xasprintf("callback_url must be http or https, not '%s'", scheme);
        else {
                enum kiln_addr_class c = kiln_addr_classify_host(host);
                if (kiln_addr_forbidden(c) && !s->cfg->allow_private_callbacks)
                        why = xasprintf("callback_url names %s (kiln serve refuses those unless run with "
                                        "--allow-private-callbacks)",
                                        kiln_addr_class_name(c));
        }
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return why;
}

static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *a)
{
        const struct serve *s = userdata;
        enum kiln_addr_class cls = kiln_addr_classify_sockaddr(&a->addr, a->addrlen);
        if (kiln_addr_forbidden(cls) && !s->cfg->allow_private_callbacks)
                return CURL_SOCKET_BAD;
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
        return size * n;
}

void serve_webhook_queue(struct serve *s, const char *tenant, const char *id)
{
        struct serve_webhook *w = xcalloc(1, sizeof(*w));
        w->tenant = xstrdup(tenant);
        w->id = xstrdup(id);
        w->next = s->hooks;
        s->hooks = w;
        pthread_cond_broadcast(&s->hooks_changed);
}

static void set_webhook(struct serve *s, const char *id, const char *text)
{
        sqlite3_stmt *st = serve_db_prepare(s, "UPDATE builds SET webhook=?2 WHERE id=?1");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_finalize(st);
}

/* One try; lock not held. 0 on a 2xx answer. */
static int deliver(struct serve *s, const char *url, const char *body, const char *sig, const char *id, char *why,
                   size_t why_len)
{
        CURL *c = curl_easy_init();
        if (!c)
                abort();
        struct curl_slist *h = NULL;
        _cleanup_free_ char *sig_h = xasprintf("X-Kiln-Signature: sha256=%s", sig);
        _cleanup_free_ char *id_h = xasprintf("X-Kiln-Build: %s", id);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, sig_h);
        h = curl_slist_append(h, id_h);
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-serve/" KILN_VERSION);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is not a delivery */
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, s);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        CURLcode code = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (code == CURLE_COULDNT_CONNECT && !errbuf[0])
                snprintf(errbuf, sizeof(errbuf), "cannot connect");
        if (code != CURLE_OK) {
                snprintf(why, why_len, "%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
                return -EIO;
        }
        if (status < 200 || status > 299) {
                snprintf(why, why_len, "the receiver answered %ld", status);
                return -EIO;
        }
        return 0;
}

static void *webhook_main(void *arg)
{
        struct serve *s = arg;
        pthread_mutex_lock(&s->lock);
        while (!*s->stop) {
                struct serve_webhook *w = NULL, **wp = NULL;
                double now = kiln_now();
                for (struct serve_webhook **p = &s->hooks; *p; p = &(*p)->next)
                        if ((*p)->not_before <= now) {
                                wp = p;
                                w = *p;
                                break;
                        }
                if (!w) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += 1;
                        pthread_cond_timedwait(&s->hooks_changed, &s->lock, &ts);
                        continue;
                }
                *wp = w->next;
                _cleanup_free_ char *url = serve_db_text(s, w->id, "callback_url");
                struct json_object *b = serve_db_build_json(s, NULL, w->id);
                const struct serve_tenant *t = serve_tokens_by_name(&s->tokens, w->tenant);
                if (!url || !b || !t) {
                        json_object_put(b);
                        free(w->tenant), free(w->id), free(w);
                        continue;
                }
                json_object_object_del(b, "callback_url");
                json_object_object_del(b, "webhook");
                char stamp[32];
                time_t tt = time(NULL);
                struct tm tm;
                gmtime_r(&tt, &tm);
                strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
                json_object_object_add(b, "sent", json_object_new_string(stamp));
                _cleanup_free_ char *body = xstrdup(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
                json_object_put(b);
                char key_hex[65];
                const char *key = t->secret;
                if (!key) {
                        for (unsigned i = 0; i < 32; i++)
                                snprintf(key_hex + 2 * i, 3, "%02x", t->hash[i]);
                        key = key_hex;
                }
                char sig[65];
                serve_hmac_hex(key, body, strlen(body), sig);
                w->tries++;
                pthread_mutex_unlock(&s->lock);
                char why[CURL_ERROR_SIZE + 64] = "";
                int r = deliver(s, url, body, sig, w->id, why, sizeof(why));
                pthread_mutex_lock(&s->lock);
                if (r == 0) {
                        _cleanup_free_ char *m = xasprintf("delivered (try %u)", w->tries);
                        set_webhook(s, w->id, m);
                        s->webhooks_ok++;
                        serve_log(s, "build %s: webhook %s", w->id, m);
                } else if (w->tries < WEBHOOK_TRIES) {
                        /* 2 s, 4 s, 8 s, 16 s */
                        w->not_before = kiln_now() + (double)(1u << w->tries);
                        _cleanup_free_ char *m = xasprintf("try %u failed: %s; retrying", w->tries, why);
                        set_webhook(s, w->id, m);
                        serve_log(s, "build %s: webhook %s", w->id, m);
                        w->next = s->hooks;
                        s->hooks = w;
                        continue;
                } else {
                        _cleanup_free_ char *m = xasprintf("failed after %u tries: %s", w->tries, why);
                        set_webhook(s, w->id, m);
                        s->webhooks_failed++;
                        serve_log(s, "build %s: webhook %s", w->id, m);
                }
                free(w->tenant), free(w->id), free(w);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int serve_webhook_start(struct serve *s, pthread_t *ret)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return pthread_create(ret, NULL, webhook_main, s) == 0 ? 0 : -EAGAIN;
}

void serve_webhook_clear(struct serve *s)
{
        while (s->hooks) {
                struct serve_webhook *w = s->hooks;
                s->hooks = w->next;
                free(w->tenant), free(w->id), free(w);
        }
}
