/* SHA-256 through libcrypto's EVP interface. */
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>

struct kiln_sha256 {
        EVP_MD_CTX *ctx;
};

struct kiln_sha256 *kiln_sha256_new(void)
{
        struct kiln_sha256 *h = xcalloc(1, sizeof(*h));
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
                abort();
        return h;
}

void kiln_sha256_update(struct kiln_sha256 *h, const void *data, size_t len)
{
        if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
                abort();
}

void kiln_sha256_finish(struct kiln_sha256 *h, char hex[KILN_SHA256_HEX])
{
        unsigned char md[32];
        unsigned n = 0;
        if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
                abort();
        for (unsigned i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        EVP_MD_CTX_free(h->ctx);
        free(h);
}

void kiln_sha256_buf(const void *data, size_t len, char hex[KILN_SHA256_HEX])
{
        struct kiln_sha256 *h = kiln_sha256_new();
        kiln_sha256_update(h, data, len);
        kiln_sha256_finish(h, hex);
}

int kiln_sha256_file(const char *path, char hex[KILN_SHA256_HEX], uint64_t *ret_size, struct kiln_error **reterr)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", path, strerror(errno));
        struct kiln_sha256 *h = kiln_sha256_new();
        uint64_t size = 0;
        static char chunk[1 << 16];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        kiln_sha256_finish(h, hex);
                        return kiln_error_set(reterr, e, "cannot read '%s': %s", path, strerror(e));
                }
                if (n == 0)
                        break;
                kiln_sha256_update(h, chunk, (size_t)n);
                size += (uint64_t)n;
        }
        kiln_sha256_finish(h, hex);
        if (ret_size)
                *ret_size = size;
        return 0;
}
