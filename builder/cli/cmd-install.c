/* kiln install: preseed, media and the guest; leaves the installed disk, or nothing. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>

#include "preseed.h"
#include "install.h"
#include "qemu.h"
#include "leftovers.h"
#include "cli.h"

static volatile sig_atomic_t interrupted;

int kiln_cmd_install(int argc, char **argv)
{
        static const struct option opts[] = {CLI_INSTALL_OPTIONS, {0}};
        struct cli_install_opts o = {0};
        int c;
        while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
                int r = cli_install_option("install", c, optarg, &o);
                if (r == 1)
                        return cli_usage_error("install", "run 'kiln install --help' for usage");
                if (r != 0)
                        return r;
        }
        const char *output = o.output;
        if (argc - optind != 1 || !output)
                return cli_usage_error("install", "usage: kiln install [OPTIONS] PROFILE -o DISK");
        if (access(output, F_OK) == 0)
                return cli_usage_error("install", "'%s' exists; kiln does not overwrite a disk", output);
        _cleanup_free_ char *bd = o.build_dir ? xstrdup(o.build_dir) : xasprintf("%s.d", output);
        if (!kiln_qemu_path_ok(output) || !kiln_qemu_path_ok(bd))
                return cli_usage_error("install",
                                       "'%s' contains a comma, which QEMU would read as more options; "
                                       "choose a path without one",
                                       kiln_qemu_path_ok(output) ? bd : output);

        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_error_ struct kiln_error *err = NULL;
        _cleanup_free_ char *preseed = NULL;
        int r = cli_load_profile(argv[optind], &p, &preseed);
        if (r != 0)
                return r;

        cli_catch_signals(&interrupted);

        struct cli_display d;
        if ((r = cli_display_open("install", &o, &d)) != 0)
                return r;
        struct kiln_cache *cache = NULL;
        struct kiln_media *m = NULL;
        struct kiln_install_result res = {0};
        _cleanup_free_ char *bdir = o.build_dir ? xstrdup(o.build_dir) : xasprintf("%s.d", output);
        char self[PATH_MAX];
        ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[sl > 0 ? sl : 0] = '\0';
        int status = KILN_EXIT_FAILED;

        if (kiln_build_dir_prepare(bdir, &err) < 0) {
                cli_print_errors(err);
                return KILN_EXIT_USAGE;
        }
        /* Held until exit (or SIGKILL): a later run sees whether this one is alive. */
        int bdir_lock = -1;
        if (kiln_build_dir_claim(bdir, cli_display_notice, &d, &bdir_lock, &err) < 0)
                goto out;
        if (kiln_cache_open(o.cache_dir, o.offline, &cache, &err) < 0)
                goto out;
        struct kiln_media_opts mo = {.cache = cache,
                                     .progress = o.json ? NULL : cli_progress,
                                     .notice = cli_display_notice,
                                     .userdata = &d,
                                     .skip_preflight = o.no_preflight};
        if (kiln_media_fetch(p, &mo, &m, &err) < 0)
                goto out;
        if (interrupted) {
                kiln_error_set(&err, EINTR, "interrupted");
                goto out;
        }
        struct kiln_install_opts io = {.profile = p,
                                       .preseed = preseed,
                                       .media = m,
                                       .cache = cache,
                                       .output = output,
                                       .build_dir = bdir,
                                       .accel = o.accel ? o.accel : p->vm.accel,
                                       .hypervisor = o.hypervisor ? o.hypervisor : p->vm.hypervisor,
                                       .timeout_sec = o.timeout_sec,
                                       .watchdog_sec = o.watchdog_sec,
                                       .self = self,
                                       .bridge = o.xen_bridge,
                                       .event = cli_display_event,
                                       .notice = cli_display_notice,
                                       .userdata = &d,
                                       .interrupted = &interrupted};
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
        kiln_lock_release(bdir, bdir_lock);
        return status;
}
