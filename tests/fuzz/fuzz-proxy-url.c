/* Fuzz target for the proxy's request policy. Invariant: a URL the policy accepts is, as curl's
 * URL API reads it (the way it is fetched), http on the allowed host and port, with a path under
 * the allowed prefix, and no user info, query or fragment. */
#include <curl/curl.h>
#include <stdint.h>
#include <strings.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *allow[] = {"http://mirror.invalid:8080/debian/", NULL};
        char *connect[] = {"repo.invalid:443", NULL};
        struct kiln_proxy_policy pol = {.allow = allow, .connect = connect};
        char *url = xmalloc(size + 1);
        memcpy(url, data, size);
        url[size] = '\0';
        const char *why = NULL;
        char *fetched = NULL;
        if (strlen(url) == size && kiln_proxy_check_url(&pol, url, &fetched, &why) == 0) {
                CURLU *u = curl_url();
                char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *part = NULL;
                if (curl_url_set(u, CURLUPART_URL, fetched, 0) != CURLUE_OK ||
                    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcasecmp(scheme, "http") != 0 ||
                    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || strcasecmp(host, "mirror.invalid") != 0 ||
                    curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK || strcmp(port, "8080") != 0 ||
                    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || strncmp(path, "/debian/", 8) != 0 ||
                    strstr(path, "/../") || strstr(path, "/./") ||
                    curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
                    curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
                    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
                        abort();
                curl_free(scheme), curl_free(host), curl_free(port), curl_free(path);
                curl_url_cleanup(u);
        }
        kiln_proxy_check_connect(&pol, url);
        free(fetched);
        free(url);
        return 0;
}
