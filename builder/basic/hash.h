/* SHA-256 of buffers, files and streams (OpenSSL's libcrypto). */
#pragma once

#include <stdint.h>

#include "error.h"

#define KILN_SHA256_HEX 65 /* 64 digits and NUL */

struct kiln_sha256;
struct kiln_sha256 *kiln_sha256_new(void);
void kiln_sha256_update(struct kiln_sha256 *h, const void *data, size_t len);
/* Writes the hex digest and frees h. */
void kiln_sha256_finish(struct kiln_sha256 *h, char hex[KILN_SHA256_HEX]);

void kiln_sha256_buf(const void *data, size_t len, char hex[KILN_SHA256_HEX]);
int kiln_sha256_file(const char *path, char hex[KILN_SHA256_HEX], uint64_t *ret_size, struct kiln_error **reterr);
