/* kiln boot-test: does the image boot to a login prompt? */
#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "boot-test.h"
#include "install.h"
#include "qemu.h"
#include "cli.h"

static volatile sig_atomic_t interrupted;

int kiln_cmd_boot_test(int argc, char **argv)
{
        enum { OPT_ACCEL = 0x100, OPT_TIMEOUT, OPT_KERNEL, OPT_FORMAT };
        static const struct option opts[] = {
                {"accel", required_argument, NULL, OPT_ACCEL},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {"console-log", required_argument, NULL, 'l'},
                {"format", required_argument, NULL, OPT_FORMAT},
                {0},
        };
        const char *accel = "tcg", *log = NULL, *format_opt = NULL, *format = NULL;
        unsigned timeout_sec = 0;
        int c;
        while ((c = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
                switch (c) {
                case OPT_ACCEL:
                        if (!STREQ(optarg, "kvm") && !STREQ(optarg, "tcg"))
                                return cli_usage_error("boot-test", "--accel takes kvm or tcg (got '%s')", optarg);
                        accel = optarg;
                        break;
                case OPT_TIMEOUT:
                        if (cli_parse_duration("boot-test", "--timeout", optarg, &timeout_sec) != 0)
                                return KILN_EXIT_USAGE;
                        break;
                case 'l':
                        log = optarg;
                        break;
                case OPT_FORMAT:
                        format_opt = optarg;
                        break;
                default:
                        return cli_usage_error("boot-test", "run 'kiln boot-test --help' for usage");
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("boot-test", "usage: kiln boot-test [OPTIONS] IMAGE");
        const char *image = argv[optind];
        if (cli_disk_format("boot-test", image, format_opt, &format) != 0)
                return KILN_EXIT_USAGE;
        if (access(image, R_OK) < 0)
                return cli_usage_error("boot-test", "cannot read '%s': %s", image, strerror(errno));
        _cleanup_free_ char *log_path = log ? xstrdup(log) : xasprintf("%s.boot-console.log", image);
        if (!kiln_qemu_path_ok(image) || !kiln_qemu_path_ok(log_path))
                return cli_usage_error("boot-test",
                                       "'%s' contains a comma, which QEMU would read as more options; "
                                       "choose a path without one",
                                       kiln_qemu_path_ok(image) ? log_path : image);
        cli_catch_signals(&interrupted);
        struct kiln_boot_test_opts o = {.image = image,
                                        .format = format,
                                        .console_log = log_path,
                                        .accel = accel,
                                        .timeout_sec = timeout_sec,
                                        .notice = cli_notice,
                                        .interrupted = &interrupted};
        _cleanup_error_ struct kiln_error *err = NULL;
        double secs = 0;
        fprintf(stderr, "kiln: booting '%s' (snapshot, no network) until a login prompt...\n", image);
        if (kiln_boot_test(&o, &secs, &err) < 0) {
                cli_print_errors(err);
                fprintf(stderr, "kiln: the console is in '%s'\n", log_path);
                return KILN_EXIT_FAILED;
        }
        printf("boot-test passed: login prompt after %.0f s (%s)\n", secs, accel);
        return KILN_EXIT_OK;
}
