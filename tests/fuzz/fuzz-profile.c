/* Fuzz target for the profile reader: YAML parsing, schema checks, extraction and preseed generation. */
#include <stdint.h>

#include "profile.h"
#include "preseed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct kiln_profile_options opts = {.apt_dir = "/nonexistent-kiln-apt"};
        struct kiln_profile *p = NULL;
        struct kiln_error *err = NULL;
        if (kiln_profile_load_buffer("fuzz.yaml", (const char *)data, size, &opts, &p, &err) == 0) {
                char *text = NULL;
                if (kiln_preseed_generate(p, "fuzz", &text, &err) == 0)
                        free(text);
        }
        for (struct kiln_error *e = err; e; e = e->next)
                free(kiln_error_format(e));
        kiln_error_free(err);
        kiln_profile_free(p);
        return 0;
}
