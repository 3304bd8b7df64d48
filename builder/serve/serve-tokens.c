/* The tokens file: one tenant a line, "TENANT SHA256HEX [key=value ...]", '#' comments. Only the
 * token's sha256 is stored; a presented token is hashed and compared with every line in constant
 * time (CRYPTO_memcmp, no early exit), so timing tells nothing about which bytes matched. */
#include <errno.h>
#include <openssl/crypto.h>

#include "hash.h"
#include "profile.h"
#include "serve-internal.h"

#define TOKENS_MAX_BYTES (1 << 20)
#define TOKEN_BYTES      32

static bool tenant_name_ok(const char *s)
{
        size_t n = strlen(s);
        return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == n;
}

static int hex_to_bytes(const char *hex, unsigned char *out, size_t n)
{
        if (strlen(hex) != 2 * n)
                return -1;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", hex[2 * i]) ||
                    !strchr("0123456789abcdef", hex[2 * i + 1]))
                        return -1;
                out[i] = (unsigned char)v;
        }
        return 0;
}

static int parse_limit(const char *v, unsigned *ret)
{
        char *end;
        errno = 0;
        unsigned long x = strtoul(v, &end, 10);
        if (errno || end == v || *end || x > 100000)
                return -1;
        *ret = (unsigned)x;
        return 0;
}

int serve_tokens_load(const char *path, struct serve_tokens *ret, struct kiln_error **reterr)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file_max(path, TOKENS_MAX_BYTES, &data, &len);
        if (r < 0)
                return kiln_error_set(reterr, -r, "--tokens '%s': %s", path,
                                      r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
        struct serve_tokens t = {0};
        unsigned lineno = 0;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                lineno++;
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                char *w_save = NULL, *name = strtok_r(line, " \t\r", &w_save);
                if (!name)
                        continue;
                char *hex = strtok_r(NULL, " \t\r", &w_save);
                struct serve_tenant te = {.max_running = 2, .max_queued = 10};
                if (!tenant_name_ok(name)) {
                        r = kiln_error_at(reterr, EINVAL, path, lineno, 1,
                                          "a tenant is 1 to 64 of a-z, 0-9, '-', '_', '.'");
                        continue;
                }
                if (!hex || hex_to_bytes(hex, te.hash, 32) < 0) {
                        r = kiln_error_at(reterr, EINVAL, path, lineno, 0,
                                          "tenant '%s': the second word must be the token's sha256 (64 lowercase "
                                          "hex digits)",
                                          name);
                        continue;
                }
                bool bad = false;
                for (char *kv = strtok_r(NULL, " \t\r", &w_save); kv; kv = strtok_r(NULL, " \t\r", &w_save)) {
                        char *eq = strchr(kv, '=');
                        if (!eq) {
                                bad = true;
                                r = kiln_error_at(reterr, EINVAL, path, lineno, 0, "'%s' is not key=value", kv);
                                continue;
                        }
                        *eq = '\0';
                        const char *v = eq + 1;
                        int ok = 0;
                        if (STREQ(kv, "running"))
                                ok = parse_limit(v, &te.max_running);
                        else if (STREQ(kv, "queued"))
                                ok = parse_limit(v, &te.max_queued);
                        else if (STREQ(kv, "disk"))
                                ok = kiln_parse_size(v, &te.max_disk) < 0 ? -1 : 0;
                        else if (STREQ(kv, "secret")) {
                                ok = strlen(v) >= 16 && strlen(v) <= 256 ? 0 : -1;
                                if (ok == 0) {
                                        free(te.secret);
                                        te.secret = xstrdup(v);
                                }
                        } else if (STREQ(kv, "operator")) {
                                ok = STREQ(v, "yes") || STREQ(v, "no") ? 0 : -1;
                                te.is_operator = STREQ(v, "yes");
                        } else {
                                bad = true;
                                r = kiln_error_at(reterr, EINVAL, path, lineno, 0,
                                                  "unknown key '%s' (running, queued, disk, secret, operator)", kv);
                                continue;
                        }
                        if (ok < 0) {
                                bad = true;
                                r = kiln_error_at(reterr, EINVAL, path, lineno, 0, "bad value for '%s': '%s'", kv, v);
                        }
                }
                if (bad || serve_tokens_by_name(&t, name)) {
                        if (!bad)
                                r = kiln_error_at(reterr, EINVAL, path, lineno, 1, "tenant '%s' appears twice", name);
                        free(te.secret);
                        continue;
                }
                te.name = xstrdup(name);
                t.t = xrealloc(t.t, (t.n + 1) * sizeof(*t.t));
                t.t[t.n++] = te;
        }
        if (r < 0) {
                serve_tokens_clear(&t);
                return r;
        }
        *ret = t;
        return 0;
}

void serve_tokens_clear(struct serve_tokens *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->t[i].name);
                free(t->t[i].secret);
        }
        free(t->t);
        *t = (struct serve_tokens){0};
}

const struct serve_tenant *serve_tokens_find(const struct serve_tokens *t, const char *token)
{
        unsigned char h[32];
        char hex[KILN_SHA256_HEX];
        kiln_sha256_buf(token, strlen(token), hex);
        hex_to_bytes(hex, h, 32);
        const struct serve_tenant *found = NULL;
        for (size_t i = 0; i < t->n; i++)
                if (CRYPTO_memcmp(h, t->t[i].hash, 32) == 0)
                        found = &t->t[i];
        return found;
}

const struct serve_tenant *serve_tokens_by_name(const struct serve_tokens *t, const char *name)
{
        for (size_t i = 0; i < t->n; i++)
                if (STREQ(t->t[i].name, name))
                        return &t->t[i];
        return NULL;
}

int kiln_serve_new_token(const char *tenant, char **ret_token, char **ret_line, struct kiln_error **reterr)
{
        if (!tenant_name_ok(tenant))
                return kiln_error_set(reterr, EINVAL, "'%s': a tenant is 1 to 64 of a-z, 0-9, '-', '_', '.'", tenant);
        char tok[2 * TOKEN_BYTES + 1], secret[2 * TOKEN_BYTES + 1], hex[KILN_SHA256_HEX];
        kiln_random_hex(tok, sizeof(tok));
        kiln_random_hex(secret, sizeof(secret));
        _cleanup_free_ char *token = xasprintf("kiln_%s", tok);
        kiln_sha256_buf(token, strlen(token), hex);
        *ret_line = xasprintf("%s %s running=2 queued=10 secret=%s", tenant, hex, secret);
        *ret_token = TAKE_PTR(token);
        return 0;
}
