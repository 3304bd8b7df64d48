/* Fuzz target for the archive-index readers: Release fields and hash lists, Packages stanzas,
 * and ASCII-armored keyrings. */
#include <stdint.h>

#include "archive-index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = xmalloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';

        struct kiln_release *r = NULL;
        struct kiln_error *err = NULL;
        if (kiln_release_parse(text, &r, &err) == 0) {
                char sha[65];
                uint64_t sz;
                kiln_release_sha256(r, "main/binary-all/Packages.xz", sha, &sz);
                kiln_release_free(r);
        }
        kiln_error_free(err), err = NULL;

        const char *pos = text, *st;
        size_t len;
        while ((st = kiln_stanza_next(&pos, &len)))
                free(kiln_stanza_field(st, len, "Package"));
        if ((st = kiln_stanza_find(text, "Package", "debian-installer-13-netboot-amd64", &len)))
                free(kiln_stanza_field(st, len, "SHA256"));

        char *bin = NULL;
        size_t bl;
        if (kiln_keyring_dearmor((const char *)data, size, &bin, &bl, &err) == 0)
                free(bin);
        kiln_error_free(err);
        free(text);
        return 0;
}
