/* Feed files to a libFuzzer target without libFuzzer: `make check` replays the corpus with this. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

static int run_file(const char *path)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (read_file_max(path, 8 << 20, &data, &len) < 0) {
                fprintf(stderr, "replay: cannot read '%s'\n", path);
                return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        return 0;
}

int main(int argc, char **argv)
{
        int bad = 0, n = 0;
        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                if (!d) {
                        bad |= run_file(argv[i]);
                        n++;
                        continue;
                }
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *p = xasprintf("%s/%s", argv[i], de->d_name);
                        bad |= run_file(p);
                        n++;
                }
                closedir(d);
        }
        printf("replayed %d inputs\n", n);
        return bad;
}
