/* kiln fetch: the installer's kernel and initrd, verified through the archive's signed chain and
 * cached; with --output-dir, also the initrd with the profile's preseed injected. */
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>

#include "preseed.h"
#include "media.h"
#include "cli.h"

int kiln_cmd_fetch(int argc, char **argv)
{
        enum { OPT_CACHE = 0x100, OPT_OFFLINE, OPT_NO_PREFLIGHT };
        static const struct option opts[] = {
                {"cache", required_argument, NULL, OPT_CACHE},
                {"offline", no_argument, NULL, OPT_OFFLINE},
                {"no-preflight", no_argument, NULL, OPT_NO_PREFLIGHT},
                {"output-dir", required_argument, NULL, 'o'},
                CLI_PROFILE_OPTIONS,
                {0},
        };
        const char *cache_dir = NULL, *out_dir = NULL;
        bool offline = false, no_preflight = false;
        int c;
        while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
                switch (c) {
                case OPT_CACHE:
                        cache_dir = optarg;
                        break;
                case OPT_OFFLINE:
                        offline = true;
                        break;
                case OPT_NO_PREFLIGHT:
                        no_preflight = true;
                        break;
                case 'o':
                        out_dir = optarg;
                        break;
                default:
                        if (cli_profile_option(c, optarg) == 0)
                                break;
                        return cli_usage_error("fetch", "run 'kiln fetch --help' for usage");
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("fetch", "give exactly one profile; usage: kiln fetch [OPTIONS] PROFILE");

        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_error_ struct kiln_error *err = NULL;
        _cleanup_free_ char *preseed = NULL;
        int r = cli_load_profile(argv[optind], &p, &preseed);
        if (r != 0)
                return r;

        struct kiln_cache *cache = NULL;
        if (kiln_cache_open(cache_dir, offline, &cache, &err) < 0) {
                cli_print_errors(err);
                return KILN_EXIT_FAILED;
        }
        struct kiln_media_opts mo = {
                .cache = cache, .progress = cli_progress, .notice = cli_notice, .skip_preflight = no_preflight};
        struct kiln_media *m = NULL;
        int status = KILN_EXIT_OK;
        if (kiln_media_fetch(p, &mo, &m, &err) < 0) {
                cli_print_errors(err);
                status = KILN_EXIT_FAILED;
                goto out;
        }
        printf("kernel   %s\n         sha256 %s%s%s\n", m->kernel, m->kernel_sha256,
               m->kernel_version ? ", linux " : "", m->kernel_version ? m->kernel_version : "");
        printf("initrd   %s\n         sha256 %s\n", m->initrd, m->initrd_sha256);
        if (m->package)
                printf("from     %s %s (sha256 %s)\n", m->package, m->version, m->deb_sha256);
        printf("trusted  by %s\n", m->trust);
        if (m->release_date)
                printf("release  %s %s, dated %s\n", p->mirror, p->release, m->release_date);

        if (out_dir) {
                if (mkdir(out_dir, 0755) < 0 && errno != EEXIST) {
                        kiln_error_set(&err, errno, "cannot create '%s': %s", out_dir, strerror(errno));
                        cli_print_errors(err);
                        status = KILN_EXIT_FAILED;
                        goto out;
                }
                _cleanup_free_ char *initrd = xasprintf("%s/initrd.gz", out_dir);
                _cleanup_free_ char *linux_path = xasprintf("%s/linux", out_dir);
                _cleanup_free_ char *kdata = NULL;
                size_t klen;
                int k = read_file_max(m->kernel, 256 << 20, &kdata, &klen);
                if (k < 0)
                        kiln_error_set(&err, -k, "cannot read '%s': %s", m->kernel, strerror(-k));
                if (k < 0 || write_file_atomic(linux_path, kdata, klen, &err) < 0 ||
                    kiln_media_inject(p, m, preseed, initrd, &err) < 0) {
                        cli_print_errors(err);
                        unlink(linux_path);
                        status = KILN_EXIT_FAILED;
                        goto out;
                }
                printf("wrote    %s and %s (preseed injected)\n", linux_path, initrd);
        }
out:
        kiln_media_free(m);
        kiln_cache_free(cache);
        return status;
}
