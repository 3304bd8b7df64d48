/* Pieces of the finish stages that can be exercised without an appliance or device-mapper:
 *   test-finish BOOT_PART FAIL_AT|interrupt2   the --finalize=dm plan run with a recording
 *       runner: every command in order, step FAIL_AT failing (0: none), or Ctrl-C during step 2
 *   test-finish check-tree DIR 0|1             the checks on a mounted image's /boot (and /boot/grub)
 *   test-finish convert SRC SRC_FMT DST        kiln_image_convert to the format DST's extension names
 * The real dm commands need device-mapper, which t-finish.sh uses where the kernel has it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "finish.h"

static size_t calls, fail_at, interrupt_at;
static volatile sig_atomic_t interrupted;

static int record(void *userdata, char *const *argv, struct kiln_error **reterr)
{
        (void)userdata;
        _cleanup_free_ char *line = strv_join((char **)argv, " ");
        calls++;
        printf("%s %s\n", calls == fail_at ? "FAIL" : "run ", line);
        if (calls == fail_at)
                return kiln_error_set(reterr, EIO, "%s failed", argv[0]);
        if (calls == interrupt_at) {
                printf("-- Ctrl-C while it ran\n");
                interrupted = 1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 4 && STREQ(argv[1], "check-tree")) {
                /* The checks on the mounted image's /boot, on a folder the test made. */
                struct kiln_error *err = NULL;
                int r = kiln_dm_check_tree(argv[2], STREQ(argv[3], "1"), NULL, NULL, &err);
                if (r == 0)
                        printf("ok\n");
                for (struct kiln_error *e = err; e; e = e->next) {
                        _cleanup_free_ char *m = kiln_error_format(e);
                        printf("error: %s\n", m);
                }
                kiln_error_free(err);
                return r < 0;
        }
        if (argc == 5 && STREQ(argv[1], "convert")) {
                struct kiln_error *err = NULL;
                const char *fmt = kiln_output_format(argv[4]);
                int r = fmt ? kiln_image_convert(argv[2], argv[3], argv[4], fmt, STREQ(fmt, "qcow2"), NULL, &err)
                            : -EINVAL;
                printf("%s\n", r == 0 ? fmt : "failed");
                for (struct kiln_error *e = err; e; e = e->next) {
                        _cleanup_free_ char *m = kiln_error_format(e);
                        printf("error: %s\n", m);
                }
                kiln_error_free(err);
                return r < 0;
        }
        if (argc != 3) {
                fprintf(stderr, "usage: test-finish BOOT_PART FAIL_AT|interrupt2\n");
                return 2;
        }
        struct kiln_dm_layout l = {.loop = "/dev/loop7",
                                   .sectors = 16777216,
                                   .name = "hda",
                                   .root_part = 1,
                                   .boot_part = (unsigned)atoi(argv[1]),
                                   .mountdir = "/tmp/kiln-dm-test"};
        struct kiln_dm_plan plan;
        kiln_dm_plan_build(&l, &plan);
        if (STREQ(argv[2], "interrupt2"))
                interrupt_at = 2; /* the next step never starts; the two done are undone */
        else
                fail_at = (size_t)atoi(argv[2]);
        size_t done = 0;
        struct kiln_error *err = NULL;
        int r = kiln_dm_execute(&plan, record, NULL, NULL, &interrupted, &done, &err);
        if (r == 0) {
                printf("-- all %zu steps done; unwinding\n", done);
                r = kiln_dm_unwind(&plan, done, record, NULL, &err);
        }
        for (struct kiln_error *e = err; e; e = e->next) {
                _cleanup_free_ char *s = kiln_error_format(e);
                printf("error: %s\n", s);
        }
        kiln_error_free(err);
        kiln_dm_plan_free(&plan);
        return r < 0 ? 1 : 0;
}
