/* kiln build: every stage, end to end, with one display. kiln finish: the stages after the
 * install, for a disk installed earlier (or elsewhere). Both parse their options, hand them to the
 * pipeline (builder/pipeline/) and print what it reports. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "cache.h"
#include "finish.h"
#include "install.h"
#include "pipeline.h"
#include "proxy.h"
#include "qemu.h"
#include "cli.h"
#include "build-reuse.h"

struct build {
        const char *cmd;
        struct cli_install_opts o; /* the options kiln install takes too */
        const char *output, *out_format;
        const char *in_format_opt; /* kiln finish --format */
        const char *finalize;
        unsigned boot_timeout_sec;
        bool boot_test, libvirt_xml, keep_work, force;
        struct cli_display d;
        struct cli_reuse reuse; /* the build key and the result store */
        bool store_result;      /* kiln finish --store-result */
        const struct kiln_profile *p;
        const char *preseed;
};

enum {
        OPT_FINALIZE = CLI_OPT_INSTALL_END,
        OPT_LIBVIRT,
        OPT_NO_BOOT_TEST,
        OPT_BOOT_TIMEOUT,
        OPT_KEEP_WORK,
        OPT_FORCE,
        OPT_FORMAT,
        OPT_RESULT_STORE,
        OPT_NO_REUSE,
        OPT_STORE_RESULT,
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
        {"result-store", required_argument, NULL, OPT_RESULT_STORE},
        {"no-reuse", no_argument, NULL, OPT_NO_REUSE},
        {"store-result", no_argument, NULL, OPT_STORE_RESULT},
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
                case OPT_RESULT_STORE:
                        b->reuse.store_dir = optarg;
                        break;
                case OPT_NO_REUSE:
                        b->reuse.no_reuse = true;
                        break;
                case OPT_STORE_RESULT:
                        if (!STREQ(b->cmd, "finish"))
                                return cli_usage_error(b->cmd,
                                                       "--store-result is kiln finish's (kiln build always stores)");
                        b->store_result = true;
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

/* Result reuse (build-reuse.c) through the pipeline's hooks. The finish options that change the
 * image are in the key (a result that skipped the boot test is not one that passed it). */
static int on_key(void *userdata, const struct kiln_media *m, struct kiln_cache *cache, bool *ret_hit,
                  struct kiln_error **err)
{
        struct build *c = userdata;
        _cleanup_free_ char *fin = xasprintf("finalize=%s boot-test=%s", c->finalize ? c->finalize : "guestfs",
                                             c->boot_test ? "yes" : "no");
        struct kiln_key_opts ko = {.format = c->out_format, .finish = fin};
        int r = cli_reuse_key(&c->reuse, c->p, c->preseed, m, cache, &ko, &c->d, err);
        *ret_hit = r == 0 && c->reuse.hit;
        return r;
}

static int on_publish_stored(void *userdata, const char *output, const char *format, bool libvirt_xml,
                             char **ret_manifest, char **ret_xml, char image_sha[KILN_SHA256_HEX],
                             char manifest_sha[KILN_SHA256_HEX], char xml_sha[KILN_SHA256_HEX], struct kiln_error **err)
{
        struct build *c = userdata;
        return cli_reuse_publish(&c->reuse, c->p, output, format, c->force, libvirt_xml, ret_manifest, ret_xml,
                                 image_sha, manifest_sha, xml_sha, err);
}

static char *on_key_json(void *userdata)
{
        struct build *c = userdata;
        return c->reuse.have_key ? kiln_build_key_json(&c->reuse.key) : NULL;
}

static void on_store(void *userdata, const char *output, const char *manifest_json)
{
        struct build *c = userdata;
        cli_reuse_store(&c->reuse, c->p, output, manifest_json, &c->d);
}

/* The proxy's cache hits and misses, for kiln cache stats. */
static void on_served(void *userdata, const struct kiln_install_result *res, struct kiln_cache *cache)
{
        uint64_t hits = 0, misses = 0;
        for (size_t i = 0; i < res->n_served; i++) {
                const struct kiln_proxy_served *s = &res->served[i];
                if (s->status == 200 && STREQ(s->method, "GET") && kiln_proxy_cacheable(s->url))
                        s->cached ? hits++ : misses++;
        }
        kiln_cache_count(cache, hits, misses, NULL);
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
        c->p = p;
        c->preseed = preseed;
        if (kind == KILN_BUILD_FINISH)
                c->reuse.no_reuse = true; /* its key is what a build of PROFILE would have now */
        bool keyed = kind == KILN_BUILD_FULL || c->store_result;
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
                                               .userdata = &c->d},
                                     .reuse = {.key = keyed ? on_key : NULL,
                                               .publish = on_publish_stored,
                                               .key_json = on_key_json,
                                               .store = keyed ? on_store : NULL,
                                               .served = on_served,
                                               .finish_fetch = c->store_result,
                                               .userdata = c}};
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
                cli_display_result(&c->d, outs, res->n_outputs, res->times, res->n_times, &res->proxy);
                fprintf(stderr, "kiln: built '%s' (%s, bootloader %s); manifest '%s'\n", c->output, res->format,
                        res->bootloader, res->outputs[1].path);
        }
        kiln_build_free(b);
        cli_reuse_clear(&c->reuse);
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
