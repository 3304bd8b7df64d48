/* bench/inject: appending the preseed as a new cpio member (what kiln does) against unpacking and
 * repacking the whole initrd, on a real debian-installer initrd. Prints both and the ratio. */
#include <archive.h>
#include <archive_entry.h>
#include <time.h>

#include "installer-files.h"
#include "preseed.h"

int main(int argc, char **argv);

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The other way: decompress every entry and write them all again, plus the preseed. */
static int repack(const char *in, const char *out, const char *preseed)
{
        struct archive *r = archive_read_new(), *w = archive_write_new();
        archive_read_support_filter_all(r);
        archive_read_support_format_cpio(r);
        archive_write_set_format_cpio_newc(w);
        archive_write_add_filter_gzip(w);
        if (archive_read_open_filename(r, in, 1 << 16) != ARCHIVE_OK ||
            archive_write_open_filename(w, out) != ARCHIVE_OK)
                return -1;
        struct archive_entry *e;
        static char chunk[1 << 16];
        while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
                archive_write_header(w, e);
                la_ssize_t n;
                while ((n = archive_read_data(r, chunk, sizeof(chunk))) > 0)
                        archive_write_data(w, chunk, (size_t)n);
        }
        e = archive_entry_new();
        archive_entry_set_pathname(e, "preseed.cfg");
        archive_entry_set_mode(e, AE_IFREG | 0644);
        archive_entry_set_size(e, (la_int64_t)strlen(preseed));
        archive_write_header(w, e);
        archive_write_data(w, preseed, strlen(preseed));
        archive_entry_free(e);
        archive_write_close(w);
        archive_write_free(w);
        archive_read_free(r);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: %s INITRD PRESEED [RUNS]\n", argv[0]);
                return 2;
        }
        int runs = argc > 3 ? atoi(argv[3]) : 5;
        char *preseed = NULL;
        size_t len;
        if (read_file_max(argv[2], 1 << 20, &preseed, &len) < 0)
                return 1;
        struct kiln_initrd_file f = {.path = "preseed.cfg", .data = preseed, .len = len, .mode = 0644};
        const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char *out = xasprintf("%s/bench-inject.gz", tmpdir);
        double best_a = 1e9, best_b = 1e9;
        for (int i = 0; i < runs; i++) {
                double t = now();
                struct kiln_error *err = NULL;
                if (kiln_initrd_inject(argv[1], out, &f, 1, &err) < 0) {
                        fprintf(stderr, "inject failed: %s\n", err->msg);
                        return 1;
                }
                double a = now() - t;
                t = now();
                if (repack(argv[1], out, preseed) < 0)
                        return 1;
                double b = now() - t;
                best_a = a < best_a ? a : best_a;
                best_b = b < best_b ? b : best_b;
        }
        unlink(out);
        printf("initrd %s, best of %d runs\n", argv[1], runs);
        printf("%-28s %10.3f s\n", "append member (kiln)", best_a);
        printf("%-28s %10.3f s\n", "unpack + repack", best_b);
        printf("%-28s %10.1fx\n", "ratio", best_b / best_a);
        free(out);
        free(preseed);
        return 0;
}
