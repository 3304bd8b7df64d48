/* kiln_cache_import: what a staging proxy left, as kiln copies it in. Usage: test-cache-import
 * CACHE_DIR STAGE_DIR [MAX_FILES MAX_TOTAL_BYTES]: prints how many entries came in and how many
 * were left out for the limits (1 MiB per file). */
#include <stdlib.h>
#include <stdio.h>

#include "cache.h"

int main(int argc, char **argv)
{
        if (argc != 3 && argc != 5) {
                fprintf(stderr, "usage: test-cache-import CACHE_DIR STAGE_DIR [MAX_FILES MAX_TOTAL_BYTES]\n");
                return 2;
        }
        struct kiln_cache *c = NULL;
        struct kiln_error *err = NULL;
        if (kiln_cache_open(argv[1], false, &c, &err) < 0) {
                fprintf(stderr, "%s\n", err->msg);
                return 1;
        }
        struct kiln_cache_import_limits lim = {1000, 1 << 20, 1 << 30};
        if (argc == 5) {
                lim.files = (unsigned)strtoul(argv[3], NULL, 10);
                lim.total_bytes = strtoull(argv[4], NULL, 10);
        }
        unsigned dropped = 0;
        int n = kiln_cache_import(c, argv[2], lim, &dropped, &err);
        if (argc == 5)
                printf("%d %u\n", n, dropped);
        else
                printf("%d\n", n);
        kiln_cache_free(c);
        return n < 0;
}
