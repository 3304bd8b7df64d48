/* kiln install: preseed, media and the guest; leaves the installed disk, or nothing. It parses its
 * options and runs the pipeline's fetch and install stages (builder/pipeline/). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "pipeline.h"
#include "qemu.h"
#include "cli.h"

static void on_progress(void *userdata, const char *label, uint64_t now, uint64_t total, bool done)
{
        cli_progress(userdata, label, now, total, done);
}

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

        struct cli_display d;
        if ((r = cli_display_open("install", &o, &d)) != 0)
                return r;
        struct kiln_build_opts bo = {.kind = KILN_BUILD_INSTALL,
                                     .profile = p,
                                     .preseed = preseed,
                                     .output = output,
                                     .build_dir = bd,
                                     .cache_dir = o.cache_dir,
                                     .offline = o.offline,
                                     .no_preflight = o.no_preflight,
                                     .accel = o.accel,
                                     .hypervisor = o.hypervisor,
                                     .bridge = o.xen_bridge,
                                     .timeout_sec = o.timeout_sec,
                                     .watchdog_sec = o.watchdog_sec,
                                     .hooks = {.step = cli_display_event,
                                               .notice = cli_display_notice,
                                               .progress = o.json ? NULL : on_progress,
                                               .userdata = &d}};
        struct kiln_build *b = kiln_build_new(&bo);
        cli_catch_signals(kiln_build_cancel_flag(b));
        r = kiln_build_run(b, &err);
        const struct kiln_build_result *res = kiln_build_result(b);
        int status = KILN_EXIT_OK;
        if (r < 0 && res->failed_in && STREQ(res->failed_in, "build-dir")) {
                cli_print_errors(err);
                status = KILN_EXIT_USAGE;
        } else if (r < 0) {
                cli_display_error(&d, err, bd);
                cli_print_errors(err);
                if (access(bd, F_OK) == 0)
                        fprintf(stderr, "kiln: the installer's logs are in '%s' (syslog.log, console.log, proxy.log)\n",
                                bd);
                status = KILN_EXIT_FAILED;
        } else {
                if (d.tty)
                        fputc('\n', stderr);
                fprintf(stderr, "kiln: installed '%s' in %.0f s (%s); logs in %s\n", output, res->install_seconds,
                        res->accel, bd);
                /* The stream's last event, as kiln build's: the disk with its sha256, the stages. */
                struct cli_output outs[ELEMENTSOF(res->outputs)];
                for (size_t i = 0; i < res->n_outputs; i++)
                        outs[i] =
                                (struct cli_output){res->outputs[i].kind, res->outputs[i].path, res->outputs[i].sha256};
                cli_display_result(&d, outs, res->n_outputs, res->times, res->n_times, &res->proxy);
        }
        kiln_build_free(b);
        free(d.last_step);
        return status;
}
