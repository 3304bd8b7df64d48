/* kiln_cache_import: what a staging proxy left, as kiln copies it in. Usage: test-cache-import
 * CACHE_DIR STAGE_DIR: prints how many entries came in. */
#include <stdio.h>

#include "cache.h"

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: test-cache-import CACHE_DIR STAGE_DIR\n");
                return 2;
        }
        struct kiln_cache *c = NULL;
        struct kiln_error *err = NULL;
        if (kiln_cache_open(argv[1], false, &c, &err) < 0) {
                fprintf(stderr, "%s\n", err->msg);
                return 1;
        }
        int n = kiln_cache_import(c, argv[2], 1 << 20, &err);
        printf("%d\n", n);
        kiln_cache_free(c);
        return n < 0;
}
