/* kiln install: preseed, media and the guest; leaves the installed disk, or nothing. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <time.h>

#include "../../preseed-gen/preseed.h"
#include "../lib/install.h"
#include "cli.h"

static volatile sig_atomic_t interrupted;

int kiln_cmd_install(int argc, char **argv)
{
        enum { OPT_CACHE = 0x100, OPT_BUILD_DIR, OPT_ACCEL, OPT_HV, OPT_TIMEOUT, OPT_WATCHDOG, OPT_EVENTS,
               OPT_NO_PREFLIGHT, OPT_OFFLINE, OPT_XEN_BRIDGE };
        static const struct option opts[] = {
                {"output", required_argument, NULL, 'o'},
                {"cache", required_argument, NULL, OPT_CACHE},
                {"build-dir", required_argument, NULL, OPT_BUILD_DIR},
                {"accel", required_argument, NULL, OPT_ACCEL},
                {"hypervisor", required_argument, NULL, OPT_HV},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {"watchdog", required_argument, NULL, OPT_WATCHDOG},
                {"events", required_argument, NULL, OPT_EVENTS},
                {"no-preflight", no_argument, NULL, OPT_NO_PREFLIGHT},
                {"offline", no_argument, NULL, OPT_OFFLINE},
                {"xen-bridge", required_argument, NULL, OPT_XEN_BRIDGE},
                {0},
        };
        const char *output = NULL, *cache_dir = NULL, *build_dir = NULL, *accel = NULL, *hv = NULL, *bridge = NULL;
        unsigned timeout_sec = 0, watchdog_sec = 0;
        bool json = false, no_preflight = false, offline = false;
        int c;
        while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
                switch (c) {
                case 'o': output = optarg; break;
                case OPT_CACHE: cache_dir = optarg; break;
                case OPT_BUILD_DIR: build_dir = optarg; break;
                case OPT_ACCEL:
                        if (!STREQ(optarg, "auto") && !STREQ(optarg, "kvm") && !STREQ(optarg, "tcg"))
                                return cli_usage_error("install", "--accel takes auto, kvm or tcg (got '%s')", optarg);
                        accel = optarg;
                        break;
                case OPT_HV:
                        if (!STREQ(optarg, "qemu") && !STREQ(optarg, "xen"))
                                return cli_usage_error("install", "--hypervisor takes qemu or xen (got '%s')", optarg);
                        hv = optarg;
                        break;
                case OPT_TIMEOUT:
                        if (cli_parse_duration("install", "--timeout", optarg, &timeout_sec) != 0)
                                return KILN_EXIT_USAGE;
                        break;
                case OPT_WATCHDOG:
                        if (cli_parse_duration("install", "--watchdog", optarg, &watchdog_sec) != 0)
                                return KILN_EXIT_USAGE;
                        break;
                case OPT_EVENTS:
                        if (!STREQ(optarg, "json"))
                                return cli_usage_error("install", "--events takes json (got '%s')", optarg);
                        json = true;
                        break;
                case OPT_NO_PREFLIGHT: no_preflight = true; break;
                case OPT_OFFLINE: offline = true; break;
                case OPT_XEN_BRIDGE: bridge = optarg; break;
                default: return cli_usage_error("install", "run 'kiln install --help' for usage");
                }
        }
        if (argc - optind != 1 || !output)
                return cli_usage_error("install", "usage: kiln install [OPTIONS] PROFILE -o DISK");
        if (access(output, F_OK) == 0)
                return cli_usage_error("install", "'%s' exists; kiln does not overwrite a disk", output);

        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_error_ struct kiln_error *err = NULL;
        _cleanup_free_ char *preseed = NULL;
        int r = cli_load_profile(argv[optind], &p, &preseed);
        if (r != 0)
                return r;

        cli_catch_signals(&interrupted);

        struct cli_display d = {.json = json, .tty = !json && isatty(STDERR_FILENO)};
        struct kiln_cache *cache = NULL;
        struct kiln_media *m = NULL;
        struct kiln_install_result res = {0};
        _cleanup_free_ char *bdir = build_dir ? xstrdup(build_dir) : xasprintf("%s.d", output);
        char self[PATH_MAX];
        ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[sl > 0 ? sl : 0] = '\0';
        int status = KILN_EXIT_FAILED;

        if (kiln_cache_open(cache_dir, offline, &cache, &err) < 0)
                goto out;
        struct kiln_media_opts mo = {.cache = cache, .progress = json ? NULL : cli_progress, .notice = cli_display_notice,
                                     .userdata = &d, .skip_preflight = no_preflight};
        if (kiln_media_fetch(p, &mo, &m, &err) < 0)
                goto out;
        if (interrupted) {
                kiln_error_set(&err, EINTR, "interrupted");
                goto out;
        }
        struct kiln_install_opts io = {
                .profile = p, .preseed = preseed, .media = m, .cache = cache, .output = output, .build_dir = bdir,
                .accel = accel ? accel : p->vm.accel, .hypervisor = hv ? hv : p->vm.hypervisor,
                .timeout_sec = timeout_sec, .watchdog_sec = watchdog_sec, .self = self, .xen_bridge = bridge,
                .event = cli_display_event, .notice = cli_display_notice, .userdata = &d, .interrupted = &interrupted};
        if (kiln_install_run(&io, &res, &err) < 0)
                goto out;
        if (d.tty)
                fputc('\n', stderr);
        fprintf(stderr, "kiln: installed '%s' in %.0f s (%s); logs in %s\n", output, res.seconds, res.accel, bdir);
        status = KILN_EXIT_OK;
out:
        if (status != KILN_EXIT_OK) {
                cli_display_error(&d, err, bdir);
                cli_print_errors(err);
                if (access(bdir, F_OK) == 0)
                        fprintf(stderr, "kiln: the installer's logs are in '%s' (syslog.log, console.log, proxy.log)\n",
                                bdir);
        }
        kiln_install_result_clear(&res);
        free(d.last_step);
        kiln_media_free(m);
        kiln_cache_free(cache);
        return status;
}
