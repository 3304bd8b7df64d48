/* kiln cache stats|prune: what the shared cache holds, and keeping it under a size. */
#include <getopt.h>
#include <inttypes.h>

#include "cache.h"
#include "cli.h"

static char *human(uint64_t v)
{
        return v >= (1ULL << 30)   ? xasprintf("%.1f GiB", (double)v / (1ULL << 30))
               : v >= (1ULL << 20) ? xasprintf("%.1f MiB", (double)v / (1ULL << 20))
                                   : xasprintf("%.0f KiB", (double)v / 1024);
}

int kiln_cmd_cache(int argc, char **argv)
{
        static const struct option opts[] = {
                {"cache", required_argument, NULL, 'C'}, {"max-size", required_argument, NULL, 'm'}, {0}};
        const char *dir = NULL, *max = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                if (c == 'C')
                        dir = optarg;
                else if (c == 'm')
                        max = optarg;
                else
                        return cli_usage_error("cache", "run 'kiln cache --help' for usage");
        }
        if (optind >= argc)
                return cli_usage_error("cache", "usage: kiln cache [--cache DIR] stats|prune --max-size SIZE");
        const char *verb = argv[optind++];
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (c == 'C')
                        dir = optarg;
                else if (c == 'm')
                        max = optarg;
                else
                        return cli_usage_error("cache", "run 'kiln cache --help' for usage");
        }
        if (optind != argc)
                return cli_usage_error("cache", "unexpected '%s'", argv[optind]);
        _cleanup_error_ struct kiln_error *err = NULL;
        struct kiln_cache *cache = NULL;
        if (STREQ(verb, "stats")) {
                if (kiln_cache_open(dir, true, &cache, &err) < 0) {
                        cli_print_errors(err);
                        return KILN_EXIT_FAILED;
                }
                struct kiln_cache_stats s;
                int r = kiln_cache_stats(cache->dir, &s, &err);
                if (r == 0) {
                        _cleanup_free_ char *fb = human(s.file_bytes), *rb = human(s.result_bytes),
                                            *tb = human(s.file_bytes + s.result_bytes);
                        printf("cache:   %s\n", cache->dir);
                        printf("files:   %" PRIu64 " (%s)\n", s.files, fb);
                        printf("results: %" PRIu64 " (%s)\n", s.results, rb);
                        printf("total:   %" PRIu64 " entries, %" PRIu64 " bytes (%s)\n", s.files + s.results,
                               s.file_bytes + s.result_bytes, tb);
                        printf("in flight or left over: %" PRIu64 " temporary files\n", s.tmp_files);
                        printf("proxy:   %" PRIu64 " hits, %" PRIu64 " misses\n", s.hits, s.misses);
                }
                kiln_cache_free(cache);
                if (r < 0)
                        cli_print_errors(err);
                return r < 0 ? KILN_EXIT_FAILED : KILN_EXIT_OK;
        }
        if (STREQ(verb, "prune")) {
                uint64_t max_bytes;
                if (!max)
                        return cli_usage_error("cache", "prune needs --max-size SIZE (20G, 500M, 0)");
                char *end;
                unsigned long long plain = strtoull(max, &end, 10);
                if (*max && !*end && max[0] != '-')
                        max_bytes = plain; /* bytes */
                else if (kiln_parse_size(max, &max_bytes) < 0)
                        return cli_usage_error("cache", "--max-size: '%s' is not a size (20G, 500M, bytes)", max);
                /* Not kiln_cache_open: its shared lock would stop our own exclusive one. */
                _cleanup_free_ char *d = dir ? xstrdup(dir) : NULL;
                if (!d) {
                        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
                        d = xdg && *xdg == '/' ? xasprintf("%s/kiln", xdg)
                                               : xasprintf("%s/.cache/kiln", home ? home : "");
                }
                uint64_t removed = 0, freed = 0;
                if (kiln_cache_prune(d, max_bytes, &removed, &freed, &err) < 0) {
                        cli_print_errors(err);
                        return KILN_EXIT_FAILED;
                }
                _cleanup_free_ char *fb = human(freed);
                printf("removed %" PRIu64 " entries, %s\n", removed, fb);
                return KILN_EXIT_OK;
        }
        return cli_usage_error("cache", "unknown '%s': stats or prune", verb);
}
