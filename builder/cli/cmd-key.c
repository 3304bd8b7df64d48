/* kiln key: the build key of a profile, from the media stage (fetch and pin, no install). */
#include <errno.h>
#include <getopt.h>

#include "finish.h"
#include "key.h"
#include "media.h"
#include "cli.h"

enum { OPT_EXPLAIN = 0x200, OPT_CACHE, OPT_OFFLINE, OPT_STORE, OPT_FORMAT, OPT_FINALIZE, OPT_NO_BOOT_TEST };

static const struct option key_opts[] = {
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"offline", no_argument, NULL, OPT_OFFLINE},
        {"result-store", required_argument, NULL, OPT_STORE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, 'o'},
        {"finalize", required_argument, NULL, OPT_FINALIZE},
        {"no-boot-test", no_argument, NULL, OPT_NO_BOOT_TEST},
        CLI_PROFILE_OPTIONS,
        {0},
};

int kiln_cmd_key(int argc, char **argv)
{
        bool explain = false, offline = false, boot_test = true;
        const char *cache_dir = NULL, *store_dir = NULL, *format = "qcow2", *finalize = "guestfs";
        int c;
        while ((c = getopt_long(argc, argv, "o:", key_opts, NULL)) != -1) {
                if (cli_profile_option(c, optarg) == 0)
                        continue;
                switch (c) {
                case OPT_EXPLAIN:
                        explain = true;
                        break;
                case OPT_CACHE:
                        cache_dir = optarg;
                        break;
                case OPT_OFFLINE:
                        offline = true;
                        break;
                case OPT_STORE:
                        store_dir = optarg;
                        break;
                case 'o':
                        format = kiln_output_format(optarg);
                        if (!format)
                                return cli_usage_error("key", "'%s': the extension names the format", optarg);
                        break;
                case OPT_FORMAT:
                        if (!STREQ(optarg, "qcow2") && !STREQ(optarg, "raw") && !STREQ(optarg, "vmdk") &&
                            !STREQ(optarg, "vhdx"))
                                return cli_usage_error("key", "--format takes qcow2, raw, vmdk or vhdx (got '%s')",
                                                       optarg);
                        format = optarg;
                        break;
                case OPT_FINALIZE:
                        if (!STREQ(optarg, "guestfs") && !STREQ(optarg, "dm"))
                                return cli_usage_error("key", "--finalize takes guestfs or dm (got '%s')", optarg);
                        finalize = optarg;
                        break;
                case OPT_NO_BOOT_TEST:
                        boot_test = false;
                        break;
                default:
                        return cli_usage_error("key", "run 'kiln key --help' for usage");
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("key", "usage: kiln key [OPTIONS] PROFILE");

        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_free_ char *preseed = NULL;
        int r = cli_load_profile(argv[optind], &p, &preseed);
        if (r != 0)
                return r;
        _cleanup_error_ struct kiln_error *err = NULL;
        _cleanup_free_ char *fin = xasprintf("finalize=%s boot-test=%s", finalize, boot_test ? "yes" : "no");
        struct kiln_cache *cache = NULL;
        struct kiln_media *m = NULL;
        struct kiln_result_store *store = NULL;
        struct kiln_build_key k = {0}, prev = {0};
        r = KILN_EXIT_FAILED;
        if (kiln_cache_open(cache_dir, offline, &cache, &err) < 0)
                goto out;
        struct kiln_media_opts mo = {.cache = cache, .notice = cli_notice, .skip_preflight = true};
        if (kiln_media_fetch(p, &mo, &m, &err) < 0)
                goto out;
        struct kiln_key_opts ko = {.format = format, .finish = fin};
        if (kiln_build_key_for(p, preseed, m, cache, &ko, cli_notice, NULL, &k, &err) < 0)
                goto out;
        printf("%s\n", k.hex);
        if (explain) {
                for (size_t i = 0; i < k.n; i++)
                        printf("  %-8.8s  %s%s%s%s\n", k.inputs[i].sha256, k.inputs[i].name,
                               k.inputs[i].value ? " (" : "", k.inputs[i].value ? k.inputs[i].value : "",
                               k.inputs[i].value ? ")" : "");
                if (kiln_result_store_open(store_dir, cache->dir, &store, &err) < 0)
                        goto out;
                char *img = NULL, *man = NULL;
                if (kiln_result_lookup(store, k.hex, &img, &man))
                        printf("stored: %s\n", img);
                else
                        printf("stored: no (a build would run)\n");
                free(img);
                free(man);
                if (kiln_result_last_key(store, p->name, p->release, &prev) < 0) {
                        printf("last build of '%s': none in this store\n", p->name);
                } else {
                        char *diff = kiln_build_key_diff(&prev, &k);
                        printf("since the last build of '%s' (key %.12s):%s\n%s", p->name, prev.hex,
                               *diff ? "" : " nothing changed", diff);
                        free(diff);
                }
        }
        r = KILN_EXIT_OK;
out:
        if (r != KILN_EXIT_OK)
                cli_print_errors(err);
        kiln_build_key_clear(&k);
        kiln_build_key_clear(&prev);
        kiln_result_store_free(store);
        kiln_media_free(m);
        kiln_cache_free(cache);
        return r;
}
