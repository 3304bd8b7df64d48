/* kiln proxy: run a profile's proxy in the foreground; kiln proxy-relay: the per-connection helper
 * QEMU's guestfwd starts, joining the guest's TCP stream to the proxy on the host. */
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

int kiln_cmd_proxy_relay(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error("proxy-relay",
                                       "usage: kiln proxy-relay SOCKET|PORT (started by QEMU's guestfwd)");
        int fd;
        if (argv[1][0] == '/' || argv[1][0] == '@') { /* the build's unix socket ('@': abstract) */
                struct sockaddr_un su;
                socklen_t sl;
                if (kiln_proxy_unix_addr(argv[1], &su, &sl) < 0)
                        return cli_usage_error("proxy-relay", "'%s' is too long for a socket", argv[1]);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&su, sl) < 0) {
                        fprintf(stderr, "kiln proxy-relay: cannot reach the proxy at '%s': %s\n", argv[1],
                                strerror(errno));
                        return KILN_EXIT_FAILED;
                }
        } else {
                struct sockaddr_in sa = {.sin_family = AF_INET,
                                         .sin_port = htons((uint16_t)strtoul(argv[1], NULL, 10)),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                        fprintf(stderr, "kiln proxy-relay: cannot reach the proxy on 127.0.0.1:%s: %s\n", argv[1],
                                strerror(errno));
                        return KILN_EXIT_FAILED;
                }
        }
        /* From here the relay only moves bytes: a filter that allows nothing else. It already runs
         * as QEMU does (the sandbox user, NoNewPrivs, QEMU's own filter). */
        if (kiln_sandbox_relay() < 0) {
                fprintf(stderr, "kiln proxy-relay: cannot install its seccomp filter\n");
                return KILN_EXIT_FAILED;
        }
        /* stdin -> proxy, proxy -> stdout, until both directions have ended. */
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
        int out[2] = {fd, STDOUT_FILENO};
        char chunk[1 << 15];
        while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t n = read(pfd[i].fd, chunk, sizeof(chunk));
                        if (n <= 0) {
                                pfd[i].fd = -1;
                                if (i == 0)
                                        shutdown(fd, SHUT_WR);
                                else
                                        close(STDOUT_FILENO);
                                continue;
                        }
                        for (ssize_t off = 0; off < n;) {
                                ssize_t w = write(out[i], chunk + off, (size_t)(n - off));
                                if (w <= 0)
                                        _exit(KILN_EXIT_OK);
                                off += w;
                        }
                }
        }
        /* _exit: the libraries' destructors would make calls the relay's filter does not allow
         * (futex, seen killing relays in a real install), and there is nothing to flush. */
        _exit(KILN_EXIT_OK);
}
