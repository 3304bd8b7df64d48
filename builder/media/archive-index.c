/* Debian archive indices. Trust flows one way: gpgv checks the Release signature and writes out
 * exactly the signed text, which is all kiln parses; every other file is checked by the hash the
 * signed text gives it. */
#include "archive-index.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <strings.h>

#include "command.h"

static char *field_in(const char *text, size_t len, const char *field)
{
        size_t fl = strlen(field);
        const char *p = text, *end = text + len;
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol)
                        eol = end;
                if ((size_t)(eol - p) > fl && strncmp(p, field, fl) == 0 && p[fl] == ':') {
                        const char *v = p + fl + 1;
                        while (v < eol && (*v == ' ' || *v == '\t'))
                                v++;
                        const char *ve = eol;
                        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\r'))
                                ve--;
                        return xstrndup(v, (size_t)(ve - v));
                }
                p = eol + 1;
        }
        return NULL;
}

char *kiln_stanza_field(const char *stanza, size_t len, const char *field)
{
        return field_in(stanza, len, field);
}

const char *kiln_stanza_next(const char **pos, size_t *ret_len)
{
        const char *p = *pos;
        while (*p == '\n')
                p++;
        if (!*p)
                return NULL;
        const char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
        *pos = p + len;
        *ret_len = len;
        return p;
}

const char *kiln_stanza_find(const char *text, const char *field, const char *value, size_t *ret_len)
{
        _cleanup_free_ char *needle = xasprintf("%s: %s\n", field, value);
        size_t nl = strlen(needle);
        for (const char *hit = text; (hit = strstr(hit, needle)); hit += nl) {
                if (hit != text && hit[-1] != '\n')
                        continue;
                const char *start = hit;
                while (start > text && !(start[-1] == '\n' && (start - 1 == text || start[-2] == '\n')))
                        start--;
                const char *end = strstr(hit, "\n\n");
                *ret_len = end ? (size_t)(end - start) + 1 : strlen(start);
                return start;
        }
        return NULL;
}

int kiln_release_parse(const char *text, struct kiln_release **ret, struct kiln_error **reterr)
{
        /* The Release's own fields are the first stanza's, before the hash lists. */
        struct kiln_release *r = xcalloc(1, sizeof(*r));
        r->text = xstrdup(text);
        const char *sha = strstr(text, "\nSHA256:");
        size_t head = sha ? (size_t)(sha - text) + 1 : strlen(text);
        r->suite = field_in(text, head, "Suite");
        r->codename = field_in(text, head, "Codename");
        r->date = field_in(text, head, "Date");
        r->valid_until = field_in(text, head, "Valid-Until");
        _cleanup_free_ char *by_hash = field_in(text, head, "Acquire-By-Hash");
        _cleanup_free_ char *no_all = field_in(text, head, "No-Support-for-Architecture-all");
        r->by_hash = by_hash && strcasecmp(by_hash, "yes") == 0;
        r->no_arch_all = no_all && STREQ(no_all, "Packages");
        if (!sha) {
                kiln_release_free(r);
                return kiln_error_set(reterr, EBADMSG, "the Release has no SHA256 list");
        }
        *ret = r;
        return 0;
}

void kiln_release_free(struct kiln_release *r)
{
        if (!r)
                return;
        free(r->text);
        free(r->suite);
        free(r->codename);
        free(r->date);
        free(r->valid_until);
        free(r->signer);
        free(r);
}

/* Walk the SHA256 list: the first line for which match() is true fills the out-parameters. */
static int sha256_walk(const struct kiln_release *r, const char *path, const char *sha256, char ret_sha256[65],
                       char **ret_path, uint64_t *ret_size)
{
        const char *p = strstr(r->text, "\nSHA256:");
        if (!p)
                return -ENOENT;
        p = strchr(p + 1, '\n');
        while (p && p[1] == ' ') {
                const char *line = p + 2, *eol = strchr(line, '\n');
                size_t n = eol ? (size_t)(eol - line) : strlen(line);
                char hash[65], name[512];
                unsigned long long size;
                _cleanup_free_ char *copy = xstrndup(line, n);
                if (sscanf(copy, "%64[0-9a-f] %llu %511s", hash, &size, name) == 3 && strlen(hash) == 64 &&
                    (path ? STREQ(name, path) : sha256 && STREQ(hash, sha256))) {
                        if (ret_sha256)
                                memcpy(ret_sha256, hash, 65);
                        if (ret_path)
                                *ret_path = xstrdup(name);
                        *ret_size = size;
                        return 0;
                }
                p = eol;
        }
        return -ENOENT;
}

int kiln_release_sha256(const struct kiln_release *r, const char *path, char ret_sha256[65], uint64_t *ret_size)
{
        return sha256_walk(r, path, NULL, ret_sha256, NULL, ret_size);
}

char *kiln_release_path_of(const struct kiln_release *r, const char *sha256, uint64_t *ret_size)
{
        char *path = NULL;
        return sha256_walk(r, NULL, sha256, NULL, &path, ret_size) == 0 ? path : NULL;
}

int kiln_keyring_dearmor(const char *data, size_t len, char **ret, size_t *ret_len, struct kiln_error **reterr)
{
        if (len == 0 || (unsigned char)data[0] & 0x80 || !memmem(data, len, "-----BEGIN PGP", 14)) {
                *ret = xmalloc(len + 1);
                memcpy(*ret, data, len);
                *ret_len = len;
                return 0;
        }
        /* Each armored block: header lines, a blank line, base64, "=CRC", the END line. */
        struct kiln_buf out = {0};
        const char *p = data, *end = data + len;
        while ((p = memmem(p, (size_t)(end - p), "-----BEGIN PGP", 14))) {
                const char *body = memmem(p, (size_t)(end - p), "\n\n", 2);
                const char *body_r = memmem(p, (size_t)(end - p), "\n\r\n", 3);
                if (!body || (body_r && body_r < body))
                        body = body_r ? body_r + 1 : NULL;
                const char *stop = memmem(p, (size_t)(end - p), "-----END PGP", 12);
                if (!body || !stop || stop < body) {
                        free(out.data);
                        return kiln_error_set(reterr, EBADMSG, "malformed ASCII-armored key");
                }
                struct kiln_buf b64 = {0};
                for (const char *q = body + 2; q < stop;) {
                        const char *eol = memchr(q, '\n', (size_t)(stop - q));
                        if (!eol)
                                eol = stop;
                        if (*q != '=') /* the CRC line */
                                for (const char *c = q; c < eol; c++)
                                        if (*c != '\r' && *c != ' ')
                                                buf_append(&b64, c, 1);
                        q = eol + 1;
                }
                size_t n = b64.len;
                unsigned char *bin = xmalloc(n + 4);
                int k = b64.len ? EVP_DecodeBlock(bin, (unsigned char *)b64.data, (int)n) : 0;
                if (k < 0) {
                        free(bin);
                        free(b64.data);
                        free(out.data);
                        return kiln_error_set(reterr, EBADMSG, "malformed ASCII-armored key (bad base64)");
                }
                /* EVP_DecodeBlock counts padding as data: drop one byte per trailing '='. */
                while (n > 0 && b64.data[n - 1] == '=')
                        n--, k--;
                buf_append(&out, (char *)bin, (size_t)k);
                free(bin);
                free(b64.data);
                p = stop + 12;
        }
        *ret_len = out.len;
        *ret = buf_steal(&out);
        return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len) {
                ssize_t n = write(fd, data, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

int kiln_release_verify(const char *signed_path, const char *detached_sig, const char *keyring,
                        struct kiln_release **ret, struct kiln_error **reterr)
{
        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *home = xasprintf("%s/kiln-gpgv-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(home))
                return kiln_error_set(reterr, errno, "cannot create a temporary folder: %s", strerror(errno));
        _cleanup_free_ char *kr_path = xasprintf("%s/keyring.gpg", home), *out_path = xasprintf("%s/Release", home);
        _cleanup_free_ char *kr = NULL, *bin = NULL, *out = NULL, *status = NULL, *errs = NULL;
        size_t kr_len = 0, bin_len = 0;
        int r = read_file_max(keyring, 64 << 20, &kr, &kr_len);
        if (r < 0) {
                r = kiln_error_set(reterr, -r, "cannot read keyring '%s': %s", keyring, strerror(-r));
                goto out;
        }
        r = kiln_keyring_dearmor(kr, kr_len, &bin, &bin_len, reterr);
        if (r < 0) {
                kiln_error_wrap(reterr, "keyring '%s'", keyring);
                goto out;
        }
        int fd = open(kr_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, bin, bin_len) < 0) {
                r = kiln_error_set(reterr, errno, "cannot write '%s': %s", kr_path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                goto out;
        }
        close(fd);

        char *argv_in[] = {"gpgv",  "--homedir", home,     "--status-fd",       "1", "--keyring",
                           kr_path, "--output",  out_path, (char *)signed_path, NULL};
        char *argv_det[] = {"gpgv",
                            "--homedir",
                            home,
                            "--status-fd",
                            "1",
                            "--keyring",
                            kr_path,
                            (char *)detached_sig,
                            (char *)signed_path,
                            NULL};
        struct kiln_command_opts o = {.stdin_fd = -1, .stdout_fd = -2, .stderr_fd = -2, .timeout_sec = 120};
        r = kiln_command_run(detached_sig ? argv_det : argv_in, &o, &status, &errs, reterr);
        if (r < 0)
                goto out;
        const char *valid = status ? strstr(status, "[GNUPG:] VALIDSIG ") : NULL;
        if (r != 0 || !valid) {
                const char *why = status && strstr(status, "[GNUPG:] BADSIG") ? "a bad signature"
                                  : status && strstr(status, "[GNUPG:] NO_PUBKEY")
                                          ? "a signature by a key not in the keyring"
                                  : status && strstr(status, "[GNUPG:] EXPKEYSIG") ? "a signature by an expired key"
                                  : status && strstr(status, "[GNUPG:] NODATA")    ? "no signature at all"
                                                                                   : "a signature gpgv does not accept";
                r = kiln_error_set(reterr, EBADMSG, "the Release has %s (keyring '%s')", why, keyring);
                goto out;
        }
        size_t out_len;
        if (detached_sig)
                r = read_file_max(signed_path, 64 << 20, &out, &out_len);
        else
                r = read_file_max(out_path, 64 << 20, &out, &out_len);
        if (r < 0) {
                r = kiln_error_set(reterr, -r, "cannot read the verified Release: %s", strerror(-r));
                goto out;
        }
        struct kiln_release *rel = NULL;
        r = kiln_release_parse(out, &rel, reterr);
        if (r < 0)
                goto out;
        valid += strlen("[GNUPG:] VALIDSIG ");
        rel->signer = xstrndup(valid, strcspn(valid, " \n"));
        *ret = rel;
        r = 0;
out:
        unlink(kr_path);
        unlink(out_path);
        rmdir(home);
        return r;
}

int kiln_decompress(const char *data, size_t len, char **ret, size_t *ret_len, struct kiln_error **reterr)
{
        struct archive *a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        struct archive_entry *e;
        int r = 0;
        if (archive_read_open_memory(a, data, len) != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK) {
                r = kiln_error_set(reterr, EBADMSG, "cannot decompress: %s", archive_error_string(a));
                goto out;
        }
        struct kiln_buf b = {0};
        char chunk[1 << 16];
        for (;;) {
                la_ssize_t n = archive_read_data(a, chunk, sizeof(chunk));
                if (n < 0) {
                        free(b.data);
                        r = kiln_error_set(reterr, EBADMSG, "cannot decompress: %s", archive_error_string(a));
                        goto out;
                }
                if (n == 0)
                        break;
                buf_append(&b, chunk, (size_t)n);
        }
        *ret_len = b.len;
        *ret = buf_steal(&b);
out:
        archive_read_free(a);
        return r;
}
