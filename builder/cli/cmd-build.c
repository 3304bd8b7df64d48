/* kiln build: every stage, end to end, with one display. kiln finish: the stages after the
 * install, for a disk installed earlier (or elsewhere). Both parse their options, hand them to the
 * pipeline (builder/pipeline/) and print what it reports. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "finish.h"
#include "pipeline.h"
#include "qemu.h"
#include "cli.h"

struct build {
        const char *cmd;
        struct cli_install_opts o; /* the options kiln install takes too */
        const char *output, *out_format;
        const char *in_format_opt; /* kiln finish --format */
        const char *finalize;
        unsigned boot_timeout_sec;
        bool boot_test, libvirt_xml, keep_work, force;
        struct cli_display d;
};

enum {
        OPT_FINALIZE = CLI_OPT_INSTALL_END,
        OPT_LIBVIRT,
        OPT_NO_BOOT_TEST,
        OPT_BOOT_TIMEOUT,
        OPT_KEEP_WORK,
        OPT_FORCE,
        OPT_FORMAT
};

static const struct option build_opts[] = {
        CLI_INSTALL_OPTIONS,
        {"finalize", required_argument, NULL, OPT_FINALIZE},
        {"libvirt-xml", no_argument, NULL, OPT_LIBVIRT},
        {"no-boot-test", no_argument, NULL, OPT_NO_BOOT_TEST},
        {"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
        {"keep-work", no_argument, NULL, OPT_KEEP_WORK},
        {"force", no_argument, NULL, OPT_FORCE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {0},
};

/* Options both commands take; returns 0, or the usage exit status. */
static int parse(struct build *b, int argc, char **argv)
{
        int c;
        while ((c = getopt_long(argc, argv, "o:", build_opts, NULL)) != -1) {
                int r = cli_install_option(b->cmd, c, optarg, &b->o);
                if (r == 0)
                        continue;
                if (r != 1)
                        return r;
                switch (c) {
                case OPT_BOOT_TIMEOUT:
                        if (cli_parse_duration(b->cmd, "--boot-timeout", optarg, &b->boot_timeout_sec) != 0)
                                return KILN_EXIT_USAGE;
                        break;
                case OPT_FINALIZE:
                        if (!STREQ(optarg, "guestfs") && !STREQ(optarg, "dm"))
                                return cli_usage_error(b->cmd, "--finalize takes guestfs or dm (got '%s')", optarg);
                        b->finalize = optarg;
                        break;
                case OPT_LIBVIRT:
                        b->libvirt_xml = true;
                        break;
                case OPT_NO_BOOT_TEST:
                        b->boot_test = false;
                        break;
                case OPT_KEEP_WORK:
                        b->keep_work = true;
                        break;
                case OPT_FORCE:
                        b->force = true;
                        break;
                case OPT_FORMAT:
                        if (!STREQ(b->cmd, "finish"))
                                return cli_usage_error(b->cmd, "--format names the format of kiln finish's DISK");
                        b->in_format_opt = optarg;
                        break;
                default:
                        return cli_usage_error(b->cmd, "run 'kiln %s --help' for usage", b->cmd);
                }
        }
        b->output = b->o.output;
        int dr = cli_display_open(b->cmd, &b->o, &b->d);
        if (dr != 0)
                return dr;
        if (!b->output)
                return cli_usage_error(b->cmd, "-o OUTPUT is required (.qcow2, .raw, .img, .vmdk or .vhdx)");
        _cleanup_free_ char *bd = b->o.build_dir ? xstrdup(b->o.build_dir) : xasprintf("%s.d", b->output);
        if (!kiln_qemu_path_ok(b->output) || !kiln_qemu_path_ok(bd))
                return cli_usage_error(b->cmd,
                                       "'%s' contains a comma, which QEMU would read as more options; "
                                       "choose a path without one",
                                       kiln_qemu_path_ok(b->output) ? bd : b->output);
        b->out_format = kiln_output_format(b->output);
        if (!b->out_format)
                return cli_usage_error(b->cmd,
                                       "'%s': the output's extension names its format: .qcow2, .raw, .img, "
                                       ".vmdk or .vhdx",
                                       b->output);
        if (!b->force && access(b->output, F_OK) == 0)
                return cli_usage_error(b->cmd,
                                       "'%s' exists; kiln does not overwrite an image (--force replaces it "
                                       "when the new one is complete)",
                                       b->output);
        return 0;
}

static void on_stage(void *userdata, unsigned n, unsigned total, const char *stage, const char *what)
{
        cli_display_stage(userdata, n, total, stage, what);
}

static void on_progress(void *userdata, const char *label, uint64_t now, uint64_t total, bool done)
{
        cli_progress(userdata, label, now, total, done);
}

/* Load the profile, run the pipeline, print what it says. */
static int run(struct build *c, enum kiln_build_kind kind, const char *profile, const char *disk,
               const char *disk_format)
{
        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_free_ char *preseed = NULL;
        int r = cli_load_profile(profile, &p, &preseed);
        if (r != 0) {
                cli_display_error(&c->d, NULL, NULL);
                free(c->d.last_step);
                return r;
        }
        struct kiln_build_opts bo = {.kind = kind,
                                     .profile = p,
                                     .preseed = preseed,
                                     .output = c->output,
                                     .build_dir = c->o.build_dir,
                                     .cache_dir = c->o.cache_dir,
                                     .offline = c->o.offline,
                                     .no_preflight = c->o.no_preflight,
                                     .accel = c->o.accel,
                                     .hypervisor = c->o.hypervisor,
                                     .bridge = c->o.xen_bridge,
                                     .timeout_sec = c->o.timeout_sec,
                                     .watchdog_sec = c->o.watchdog_sec,
                                     .finalize = c->finalize,
                                     .boot_test = c->boot_test,
                                     .libvirt_xml = c->libvirt_xml,
                                     .keep_work = c->keep_work,
                                     .boot_timeout_sec = c->boot_timeout_sec,
                                     .disk = disk,
                                     .disk_format = disk_format,
                                     .hooks = {.stage = on_stage,
                                               .step = cli_display_event,
                                               .notice = cli_display_notice,
                                               .progress = c->d.json ? NULL : on_progress,
                                               .userdata = &c->d}};
        struct kiln_build *b = kiln_build_new(&bo);
        cli_catch_signals(kiln_build_cancel_flag(b));
        c->d.tty = !c->d.json && isatty(STDERR_FILENO);
        _cleanup_error_ struct kiln_error *err = NULL;
        r = kiln_build_run(b, &err);
        const struct kiln_build_result *res = kiln_build_result(b);
        int status = KILN_EXIT_OK;
        if (r < 0) {
                bool bad_dir = res->failed_in && STREQ(res->failed_in, "build-dir") && err &&
                               (err->errnum == EPERM || err->errnum == ENOTDIR);
                status = bad_dir ? KILN_EXIT_USAGE : KILN_EXIT_FAILED;
                cli_display_error(&c->d, err, res->build_dir);
                cli_print_errors(err);
                if (res->build_dir && access(res->build_dir, F_OK) == 0)
                        fprintf(stderr, "kiln: %s failed; nothing was written to '%s'; logs are in '%s'\n", c->cmd,
                                c->output, res->build_dir);
                if (res->kept_work)
                        fprintf(stderr, "kiln: the work disk is kept in '%s' (--keep-work)\n", res->kept_work);
        } else {
                struct cli_output outs[ELEMENTSOF(res->outputs)];
                for (size_t i = 0; i < res->n_outputs; i++)
                        outs[i] =
                                (struct cli_output){res->outputs[i].kind, res->outputs[i].path, res->outputs[i].sha256};
                cli_display_result(&c->d, outs, res->n_outputs, res->times, res->n_times);
                fprintf(stderr, "kiln: built '%s' (%s, bootloader %s); manifest '%s'\n", c->output, res->format,
                        res->bootloader, res->outputs[1].path);
        }
        kiln_build_free(b);
        free(c->d.last_step);
        return status;
}

int kiln_cmd_build(int argc, char **argv)
{
        struct build b = {.cmd = "build", .boot_test = true, .finalize = "guestfs"};
        int r = parse(&b, argc, argv);
        if (r != 0)
                return r;
        if (argc - optind != 1)
                return cli_usage_error("build", "usage: kiln build [OPTIONS] PROFILE -o OUTPUT");
        return run(&b, KILN_BUILD_FULL, argv[optind], NULL, NULL);
}

int kiln_cmd_finish(int argc, char **argv)
{
        struct build b = {.cmd = "finish", .boot_test = true, .finalize = "guestfs"};
        int r = parse(&b, argc, argv);
        if (r != 0)
                return r;
        if (argc - optind != 2)
                return cli_usage_error("finish", "usage: kiln finish [OPTIONS] PROFILE DISK -o OUTPUT");
        const char *disk = argv[optind + 1], *format = NULL;
        if (cli_disk_format("finish", disk, b.in_format_opt, &format) != 0)
                return KILN_EXIT_USAGE;
        if (access(disk, R_OK) < 0)
                return cli_usage_error("finish", "cannot read '%s': %s", disk, strerror(errno));
        return run(&b, KILN_BUILD_FINISH, argv[optind], disk, format);
}
