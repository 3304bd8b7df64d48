/* kiln serve: parse the options and run the job service (builder/serve/). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "serve.h"
#include "cli.h"

static volatile sig_atomic_t stopping;

static void serve_log_line(void *userdata, const char *msg)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char stamp[32];
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "%s kiln serve: %s\n", stamp, msg);
}

static int parse_uint(const char *opt, const char *arg, unsigned min, unsigned max, unsigned *ret)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(arg, &end, 10);
        if (errno || end == arg || *end || v < min || v > max)
                return cli_usage_error("serve", "%s takes a number from %u to %u (got '%s')", opt, min, max, arg);
        *ret = (unsigned)v;
        return 0;
}

int kiln_cmd_serve(int argc, char **argv)
{
        enum {
                OPT_LISTEN = 0x200,
                OPT_STATE,
                OPT_TOKENS,
                OPT_NEW_TOKEN,
                OPT_TLS_CERT,
                OPT_TLS_KEY,
                OPT_MAX_RUNNING,
                OPT_BUILD_TIMEOUT,
                OPT_EXPIRE,
                OPT_MAX_BODY,
                OPT_MAX_STREAMS,
                OPT_MAX_EVENTS,
                OPT_CACHE,
                OPT_ALLOW_PRIVATE_CALLBACKS,
                OPT_ALLOW_ROOT,
                OPT_ACCEL,
                OPT_RESULT_STORE,
        };
        static const struct option opts[] = {
                {"listen", required_argument, NULL, OPT_LISTEN},
                {"state-dir", required_argument, NULL, OPT_STATE},
                {"tokens", required_argument, NULL, OPT_TOKENS},
                {"new-token", required_argument, NULL, OPT_NEW_TOKEN},
                {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
                {"tls-key", required_argument, NULL, OPT_TLS_KEY},
                {"max-running", required_argument, NULL, OPT_MAX_RUNNING},
                {"build-timeout", required_argument, NULL, OPT_BUILD_TIMEOUT},
                {"expire", required_argument, NULL, OPT_EXPIRE},
                {"max-body", required_argument, NULL, OPT_MAX_BODY},
                {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
                {"max-events", required_argument, NULL, OPT_MAX_EVENTS},
                {"cache", required_argument, NULL, OPT_CACHE},
                {"allow-private-callbacks", no_argument, NULL, OPT_ALLOW_PRIVATE_CALLBACKS},
                {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
                {"accel", required_argument, NULL, OPT_ACCEL},
                {"result-store", required_argument, NULL, OPT_RESULT_STORE},
                CLI_PROFILE_OPTIONS,
                {0},
        };
        struct kiln_serve_config cfg = {.listen = NULL,
                                        .build_timeout_sec = 4 * 3600,
                                        .expire_sec = 7 * 24 * 3600,
                                        .max_body = 1 << 20,
                                        .max_streams = 64,
                                        .max_events = 10000,
                                        .max_connections = 256,
                                        .log = serve_log_line};
        const char *new_token = NULL;
        bool allow_root = false;
        unsigned kib = 0;
        int c, r;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case OPT_LISTEN:
                        cfg.listen = optarg;
                        break;
                case OPT_STATE:
                        cfg.state_dir = optarg;
                        break;
                case OPT_TOKENS:
                        cfg.tokens_file = optarg;
                        break;
                case OPT_NEW_TOKEN:
                        new_token = optarg;
                        break;
                case OPT_TLS_CERT:
                        cfg.tls_cert = optarg;
                        break;
                case OPT_TLS_KEY:
                        cfg.tls_key = optarg;
                        break;
                case OPT_MAX_RUNNING:
                        if ((r = parse_uint("--max-running", optarg, 1, 1024, &cfg.max_running)))
                                return r;
                        break;
                case OPT_BUILD_TIMEOUT:
                        if ((r = cli_parse_duration("serve", "--build-timeout", optarg, &cfg.build_timeout_sec)))
                                return r;
                        break;
                case OPT_EXPIRE:
                        if ((r = cli_parse_duration("serve", "--expire", optarg, &cfg.expire_sec)))
                                return r;
                        break;
                case OPT_MAX_BODY:
                        if ((r = parse_uint("--max-body", optarg, 1, 16384, &kib)))
                                return r;
                        cfg.max_body = (size_t)kib << 10;
                        break;
                case OPT_MAX_STREAMS:
                        if ((r = parse_uint("--max-streams", optarg, 1, 4096, &cfg.max_streams)))
                                return r;
                        break;
                case OPT_MAX_EVENTS:
                        if ((r = parse_uint("--max-events", optarg, 10, 1000000, &cfg.max_events)))
                                return r;
                        break;
                case OPT_CACHE:
                        cfg.cache_dir = optarg;
                        break;
                case OPT_RESULT_STORE:
                        cfg.result_store = optarg;
                        break;
                case OPT_ALLOW_PRIVATE_CALLBACKS:
                        cfg.allow_private_callbacks = true;
                        break;
                case OPT_ALLOW_ROOT:
                        allow_root = true;
                        break;
                case OPT_ACCEL:
                        if (!STREQ(optarg, "auto") && !STREQ(optarg, "kvm") && !STREQ(optarg, "tcg"))
                                return cli_usage_error("serve", "--accel takes auto, kvm or tcg (got '%s')", optarg);
                        cfg.accel = optarg;
                        break;
                default:
                        if (cli_profile_option(c, optarg) != 0)
                                return cli_usage_error("serve", "run 'kiln serve --help' for usage");
                        if (kiln_globals.trust_paths || kiln_globals.profile_root)
                                return cli_usage_error("serve", "profiles from the API are never trusted: "
                                                                "--trust-profile-paths and --profile-root do not "
                                                                "apply (--profile-library names what they may "
                                                                "extend)");
                }
        }
        if (optind != argc)
                return cli_usage_error("serve", "takes no arguments; run 'kiln serve --help'");
        if (new_token) {
                _cleanup_error_ struct kiln_error *err = NULL;
                _cleanup_free_ char *token = NULL, *line = NULL;
                if (kiln_serve_new_token(new_token, &token, &line, &err) < 0) {
                        cli_print_errors(err);
                        return KILN_EXIT_USAGE;
                }
                printf("token: %s\n# add to the tokens file:\n%s\n", token, line);
                return KILN_EXIT_OK;
        }
        if (!cfg.state_dir || !cfg.tokens_file)
                return cli_usage_error("serve", "--state-dir and --tokens are required");
        if (!!cfg.tls_cert != !!cfg.tls_key)
                return cli_usage_error("serve", "--tls-cert and --tls-key go together");
        if (geteuid() == 0 && !allow_root)
                return cli_usage_error("serve", "refusing to run as root: run it as its own user (the systemd "
                                                "unit's User=kiln), or pass --allow-root");
        char state[PATH_MAX], exe[PATH_MAX];
        _cleanup_free_ char *sock = NULL;
        if (mkdir(cfg.state_dir, 0750) < 0 && errno != EEXIST)
                return cli_usage_error("serve", "--state-dir '%s': %s", cfg.state_dir, strerror(errno));
        if (!realpath(cfg.state_dir, state))
                return cli_usage_error("serve", "--state-dir '%s': %s", cfg.state_dir, strerror(errno));
        cfg.state_dir = state;
        if (!cfg.listen)
                cfg.listen = sock = xasprintf("unix:%s/serve.sock", state);
        /* Builds run the very binary serving, not whatever 'kiln' is on PATH. */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return cli_usage_error("serve", "cannot tell kiln's own binary: %s", strerror(errno));
        exe[n] = '\0';
        cfg.kiln_exe = exe;
        cfg.apt_dir = kiln_globals.apt_dir;
        cfg.library = kiln_globals.library;
        cfg.allow_private_mirrors = kiln_globals.allow_private;
        char lib[PATH_MAX];
        if (cfg.library) {
                if (!realpath(cfg.library, lib))
                        return cli_usage_error("serve", "--profile-library '%s': %s", cfg.library, strerror(errno));
                cfg.library = lib;
                /* The library's profiles may name files (they are the operator's); the builds'
                 * folders hold the tenants' profiles. Neither may lie inside the other, or a tenant
                 * could extend another tenant's profile as if it were the library's. */
                size_t nl = strlen(lib), ns = strlen(state);
                if ((strncmp(state, lib, nl) == 0 && (state[nl] == '/' || !state[nl] || STREQ(lib, "/"))) ||
                    (strncmp(lib, state, ns) == 0 && (lib[ns] == '/' || !lib[ns])))
                        return cli_usage_error("serve",
                                               "--profile-library '%s' and --state-dir '%s' must not "
                                               "contain one another",
                                               lib, state);
        }
        cli_catch_signals(&stopping);
        signal(SIGPIPE, SIG_IGN);
        _cleanup_error_ struct kiln_error *err = NULL;
        if (kiln_serve_run(&cfg, &stopping, &err) < 0) {
                cli_print_errors(err);
                return KILN_EXIT_FAILED;
        }
        return KILN_EXIT_OK;
}
