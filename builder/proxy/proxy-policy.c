/* The proxy's policy: which URLs and tunnels a profile allows. Pure functions, tested directly. */
#include <curl/curl.h>
#include <errno.h>
#include <strings.h>

#include "proxy.h"

static char *prefix_of(const char *url)
{
        size_t n = strlen(url);
        return n && url[n - 1] == '/' ? xstrdup(url) : xasprintf("%s/", url);
}

static char *authority_of(const char *url)
{
        const char *p = strstr(url, "://");
        if (!p)
                return NULL;
        bool https = str_has_prefix(url, "https://");
        p += 3;
        size_t n = strcspn(p, "/");
        _cleanup_free_ char *a = xstrndup(p, n);
        if (a[0] == '[' ? !strstr(a, "]:") : !strchr(a, ':'))
                return xasprintf("%s:%s", a, https ? "443" : "80");
        return TAKE_PTR(a);
}

static void allow_url(struct kiln_proxy_policy *pol, const char *url)
{
        if (str_has_prefix(url, "https://")) {
                char *a = authority_of(url);
                if (a && !strv_contains(pol->connect, a))
                        pol->connect = strv_push(pol->connect, a);
                else
                        free(a);
                return;
        }
        char *pre = prefix_of(url);
        if (!strv_contains(pol->allow, pre))
                pol->allow = strv_push(pol->allow, pre);
        else
                free(pre);
}

void kiln_proxy_policy_for(const struct kiln_profile *p, struct kiln_proxy_policy *ret)
{
        *ret = (struct kiln_proxy_policy){0};
        allow_url(ret, p->mirror);
        if (p->security)
                allow_url(ret, p->security);
        for (size_t i = 0; i < p->n_repos; i++)
                allow_url(ret, p->repos[i].url);
}

void kiln_proxy_policy_clear(struct kiln_proxy_policy *pol)
{
        strv_free(pol->allow);
        strv_free(pol->connect);
        *pol = (struct kiln_proxy_policy){0};
}

/* The URL as curl will fetch it: parsed and normalised by curl's URL API (CURLU), so what is
 * checked is byte for byte what goes upstream. NULL when curl cannot parse it. */
static char *curl_normalised(const char *url, const char **ret_why)
{
        CURLU *u = curl_url();
        if (!u)
                abort();
        char *out = NULL, *user = NULL, *password = NULL, *query = NULL, *fragment = NULL, *scheme = NULL;
        if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
                *ret_why = "not a URL curl can parse";
        else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcasecmp(scheme, "http") != 0)
                *ret_why = "not an absolute http:// URL";
        else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                 curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
                *ret_why = "user info in the URL";
        else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
                 curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK)
                *ret_why = "a query or fragment ('?' or '#', decoded or not)";
        else if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
                *ret_why = "not a URL curl can parse";
        curl_free(user);
        curl_free(password);
        curl_free(query);
        curl_free(fragment);
        curl_free(scheme);
        curl_url_cleanup(u);
        char *copy = out ? xstrdup(out) : NULL;
        curl_free(out);
        return copy;
}

int kiln_proxy_check_url(const struct kiln_proxy_policy *pol, const char *url, char **ret_url, const char **ret_why)
{
        if (!str_has_prefix(url, "http://")) {
                *ret_why = "not an absolute http:// URL";
                return -EACCES;
        }
        /* No way around a prefix: no dot segments, no encoded dots or slashes, no backslashes,
         * no user info, no query or fragment (libmicrohttpd has decoded %3F and %23 by now),
         * nothing that is not printable ASCII. */
        const char *path = strchr(url + 7, '/');
        const char *host_end = path ? path : url + strlen(url);
        if (memchr(url + 7, '@', (size_t)(host_end - (url + 7)))) {
                *ret_why = "user info in the URL";
                return -EACCES;
        }
        for (const char *c = url; *c; c++)
                if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '\\') {
                        *ret_why = "a control, space, non-ASCII or backslash character";
                        return -EACCES;
                }
        if (strpbrk(url, "?#")) {
                *ret_why = "a query or fragment ('?' or '#', decoded or not)";
                return -EACCES;
        }
        if (strcasestr(url, "%2e") || strcasestr(url, "%2f") || strcasestr(url, "%5c") || strstr(url, "/./") ||
            strstr(url, "/../") || str_has_suffix(url, "/..") || str_has_suffix(url, "/.")) {
                *ret_why = "a dot segment or an encoded '.' or '/'";
                return -EACCES;
        }
        _cleanup_free_ char *norm = curl_normalised(url, ret_why);
        if (!norm)
                return -EACCES;
        /* What curl fetches must be what was written: any rewriting (a dot segment curl found, an
         * odd port) is refused rather than trusted. Scheme and host compare case-insensitively. */
        const char *np = strchr(norm + 7, '/');
        if (!path || !np || !STREQ(path, np)) {
                *ret_why = "a URL curl would rewrite";
                return -EACCES;
        }
        for (size_t i = 0; pol->allow && pol->allow[i]; i++) {
                size_t n = strlen(pol->allow[i]);
                const char *a_path = strchr(pol->allow[i] + 7, '/');
                if (!a_path)
                        continue; /* prefix_of() always ends a prefix with '/': never here */
                size_t host_len = (size_t)(a_path - pol->allow[i]);
                size_t url_host_len = (size_t)(np - norm);
                if (url_host_len == host_len && strncasecmp(norm, pol->allow[i], host_len) == 0 &&
                    strncmp(np, a_path, n - host_len) == 0) {
                        if (ret_url)
                                *ret_url = TAKE_PTR(norm);
                        return 0;
                }
        }
        *ret_why = "not under a mirror or repository the profile names";
        return -EACCES;
}

int kiln_proxy_check_connect(const struct kiln_proxy_policy *pol, const char *authority)
{
        for (size_t i = 0; pol->connect && pol->connect[i]; i++)
                if (strcasecmp(pol->connect[i], authority) == 0)
                        return 0;
        return -EACCES;
}

bool kiln_proxy_cacheable(const char *url)
{
        return strstr(url, "/pool/") &&
               (str_has_suffix(url, ".deb") || str_has_suffix(url, ".udeb") || str_has_suffix(url, ".dsc") ||
                str_has_suffix(url, ".tar.xz") || str_has_suffix(url, ".tar.gz"));
}
