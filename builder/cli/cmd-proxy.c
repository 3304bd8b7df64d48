/* kiln proxy: run a profile's proxy in the foreground. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proxy.h"
#include "sandbox.h"
#include "snapshot.h"
#include "cli.h"

int kiln_cmd_proxy(int argc, char **argv)
{
        enum { OPT_CACHE = 0x100, OPT_LOG, OPT_PORT };
        static const struct option opts[] = {
                {"cache", required_argument, NULL, OPT_CACHE},
                {"log", required_argument, NULL, OPT_LOG},
                {"port", required_argument, NULL, OPT_PORT},
                CLI_PROFILE_OPTIONS,
                {0},
        };
        const char *cache_dir = NULL, *log = NULL;
        unsigned port = 0;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (c == OPT_CACHE)
                        cache_dir = optarg;
                else if (c == OPT_LOG)
                        log = optarg;
                else if (c == OPT_PORT && (port = (unsigned)strtoul(optarg, NULL, 10)) <= 65535)
                        ;
                else if (cli_profile_option(c, optarg) != 0)
                        return cli_usage_error("proxy", "run 'kiln proxy --help' for usage");
        }
        if (argc - optind != 1)
                return cli_usage_error("proxy", "give exactly one profile; usage: kiln proxy [OPTIONS] PROFILE");

        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_error_ struct kiln_error *err = NULL;
        int r = cli_load_profile(argv[optind], &p, NULL);
        if (r != 0)
                return r;
        struct kiln_cache *cache = NULL;
        if (kiln_cache_open(cache_dir, false, &cache, &err) < 0) {
                cli_print_errors(err);
                return KILN_EXIT_FAILED;
        }
        struct kiln_snapshot snapshot = {0};
        if (kiln_snapshot_for(p, NULL, cache, cli_notice, NULL, &snapshot, &err) < 0) {
                cli_print_errors(err);
                kiln_cache_free(cache);
                return KILN_EXIT_FAILED;
        }
        struct kiln_proxy_policy pol;
        kiln_proxy_policy_for(p, &pol);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the proxy's threads start, so they inherit it */
        struct kiln_proxy *proxy = NULL;
        if (kiln_proxy_start(&pol, cache, &snapshot, log, NULL, (uint16_t)port, &proxy, &err) < 0) {
                cli_print_errors(err);
                kiln_proxy_policy_clear(&pol);
                kiln_snapshot_clear(&snapshot);
                kiln_cache_free(cache);
                return KILN_EXIT_FAILED;
        }
        printf("%u\n", kiln_proxy_port(proxy));
        fflush(stdout);
        for (size_t i = 0; pol.allow && pol.allow[i]; i++)
                fprintf(stderr, "kiln: proxy allows GET/HEAD under %s\n", pol.allow[i]);
        for (size_t i = 0; pol.connect && pol.connect[i]; i++)
                fprintf(stderr, "kiln: proxy allows CONNECT to %s\n", pol.connect[i]);
        int sig;
        sigwait(&set, &sig);
        kiln_proxy_stop(proxy);
        kiln_proxy_policy_clear(&pol);
        kiln_snapshot_clear(&snapshot);
        kiln_cache_free(cache);
        return KILN_EXIT_OK;
}
