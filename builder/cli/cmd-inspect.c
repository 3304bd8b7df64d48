/* kiln inspect: what an image holds, read through libguestfs without mounting it on the host. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>

#include "appliance-accel.h"
#include "boot-test.h"
#include "cache.h"
#include "image-format.h"
#include "inspect.h"
#include "install.h"
#include "qemu.h"
#include "cli.h"

int kiln_cmd_inspect(int argc, char **argv)
{
        enum { OPT_ACCEL = 0x100, OPT_CACHE, OPT_FORMAT };
        static const struct option opts[] = {
                {"build-dir", required_argument, NULL, 'd'},
                {"accel", required_argument, NULL, OPT_ACCEL},
                {"cache", required_argument, NULL, OPT_CACHE},
                {"format", required_argument, NULL, OPT_FORMAT},
                {0},
        };
        const char *dir = NULL, *accel = "auto", *cache_dir = NULL, *format_opt = NULL, *format = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
                if (c == 'd')
                        dir = optarg;
                else if (c == OPT_ACCEL && (STREQ(optarg, "auto") || STREQ(optarg, "kvm") || STREQ(optarg, "tcg")))
                        accel = optarg;
                else if (c == OPT_CACHE)
                        cache_dir = optarg;
                else if (c == OPT_FORMAT)
                        format_opt = optarg;
                else
                        return cli_usage_error("inspect", "run 'kiln inspect --help' for usage");
        }
        if (argc - optind != 1)
                return cli_usage_error("inspect", "usage: kiln inspect [-d DIR] [--format FMT] IMAGE");
        const char *image = argv[optind];
        if (cli_disk_format("inspect", image, format_opt, &format) != 0)
                return KILN_EXIT_USAGE;
        if (access(image, R_OK) < 0)
                return cli_usage_error("inspect", "cannot read '%s': %s", image, strerror(errno));
        _cleanup_free_ char *bdir = dir ? xstrdup(dir) : xasprintf("%s.d", image);
        _cleanup_error_ struct kiln_error *err = NULL;
        _cleanup_free_ char *pkgs = NULL, *pkg_path = NULL, *pkg_text = NULL;
        struct kiln_cache *cache = NULL;
        struct kiln_inspection *in = NULL;
        int status = KILN_EXIT_FAILED;
        if (kiln_image_check(image, format, &err) < 0 || kiln_cache_open(cache_dir, false, &cache, &err) < 0)
                goto out;
        if (kiln_build_dir_prepare(bdir, &err) < 0)
                goto out;
        if (kiln_inspect(image, format, kiln_appliance_force_tcg(accel, cache, cli_notice, NULL), bdir, &in, &err) < 0)
                goto out;
        pkgs = strv_join(in->packages, "\n");
        pkg_path = xasprintf("%s/packages.txt", bdir);
        pkg_text = xasprintf("%s\n", pkgs);
        if (write_file_atomic(pkg_path, pkg_text, strlen(pkg_text), &err) < 0)
                goto out;
        printf("os         %s (%s %d.%d)\n", in->product ? in->product : "?", in->distro ? in->distro : "?", in->major,
               in->minor);
        printf("hostname   %s\n", in->hostname ? in->hostname : "?");
        printf("installer  %s\n",
               in->installer_finished ? "finished (logs copied to the build folder)" : "did not finish");
        if (in->logs_skipped)
                printf("logs       %zu entries of /var/log/installer left out (links, devices, FIFOs, past the "
                       "caps)\n",
                       in->logs_skipped);
        printf("packages   %zu installed (list in %s)\n", strv_length(in->packages), pkg_path);
        for (size_t i = 0; in->problems[i]; i++)
                printf("problem    %s\n", in->problems[i]);
        status = in->problems[0] ? KILN_EXIT_FAILED : KILN_EXIT_OK;
out:
        if (err)
                cli_print_errors(err);
        kiln_inspection_free(in);
        kiln_cache_free(cache);
        return status;
}
