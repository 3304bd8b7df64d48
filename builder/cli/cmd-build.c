/* kiln build: every stage, end to end, with one display. kiln finish: the stages after the
 * install, for a disk installed earlier (or elsewhere).
 *
 *   fetch -> install -> inspect -> bootloader (host) -> convert -> boot-test -> manifest
 *
 * The output and its manifest appear together and only when every stage passed; the work disk
 * lives in the build folder and is removed at the end (kept on failure with --keep-work). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>

#include "preseed.h"
#include "boot-test.h"
#include "command.h"
#include "finish.h"
#include "hash.h"
#include "inspect.h"
#include "install.h"
#include "leftovers.h"
#include "manifest.h"
#include "cli.h"
#include "build-reuse.h"

static volatile sig_atomic_t interrupted;

struct build {
        const char *cmd;
        struct kiln_profile *p;
        char *preseed;
        struct cli_install_opts o; /* the options kiln install takes too */
        const char *output, *out_format;
        const char *in_format_opt; /* kiln finish --format */
        char *bdir;
        int bdir_lock; /* bdir/.kiln-lock, held until exit when bdir_locked */
        bool bdir_locked;
        const char *accel; /* o.accel, then what the install's probe found */
        const char *finalize;
        unsigned boot_timeout_sec;
        bool boot_test, libvirt_xml, keep_work, force;
        struct cli_display d;
        struct kiln_cache *cache;
        struct kiln_media *media;
        struct kiln_install_result res;
        struct kiln_inspection *in;
        struct kiln_stage_time times[8];
        size_t n_times;
        unsigned stage, total;
        char *work; /* the disk kiln works on, in the build folder */
        const char *work_format;
        char *tmp_out, *manifest, *xml;
        char image_sha[KILN_SHA256_HEX], manifest_sha[KILN_SHA256_HEX], xml_sha[KILN_SHA256_HEX];
        int tmp_fd; /* tmp_out, open and locked while tmp_out is set */
        bool output_done;
        const char *bootloader;
        const char *stage_name;             /* the stage running, for "interrupted in ..." */
        struct kiln_interrupt_watch *watch; /* stops children on a signal, during finish stages */
        struct cli_reuse reuse;             /* the build key and the result store */
        bool store_result;                  /* kiln finish --store-result */
};

static double stage_start;

static void stage(struct build *b, const char *name, const char *what)
{
        b->stage_name = name;
        stage_start = kiln_now();
        cli_display_stage(&b->d, ++b->stage, b->total, name, what);
}

static void stage_done(struct build *b, const char *name)
{
        b->times[b->n_times++] = (struct kiln_stage_time){.stage = name, .seconds = kiln_now() - stage_start};
}

static int check_interrupted(struct kiln_error **err)
{
        return interrupted ? kiln_error_set(err, EINTR, "interrupted") : 0;
}

/* inspect -> bootloader -> convert -> boot-test -> manifest, on b->work. */
static int finish_stages(struct build *b, struct kiln_error **err)
{
        /* One verdict on KVM for the libguestfs appliance and the boot test (probed once, cached). */
        const char *want = b->accel ? b->accel : b->p->vm.accel;
        if (!STREQ(want, "tcg") && !(b->accel && STREQ(b->accel, "kvm"))) {
                _cleanup_free_ char *k = b->media ? xstrdup(b->media->kernel) : cli_host_kernel(), *got = NULL;
                if (k && kiln_install_accel("auto", k, b->cache, cli_display_notice, &b->d, &got, NULL) == 0)
                        b->accel = STREQ(got, "kvm") ? "kvm" : "tcg";
                else
                        b->accel = "tcg";
        }
        bool force_tcg = cli_guestfs_force_tcg(b->accel ? b->accel : "tcg", b->cache);
        stage(b, "inspect", "inspecting the installed disk read-only (libguestfs appliance)");
        if (kiln_inspect(b->work, b->work_format, force_tcg, b->bdir, &b->in, err) < 0)
                return -EIO;
        _cleanup_free_ char *pkgs = strv_join(b->in->packages, "\n"), *pkg_path = xasprintf("%s/packages.txt", b->bdir);
        _cleanup_free_ char *pkg_text = xasprintf("%s\n", pkgs);
        if (cli_write_file_atomic(pkg_path, pkg_text, strlen(pkg_text), err) < 0)
                return -EIO;
        for (size_t i = 0; b->in->problems[i]; i++)
                kiln_error_set(err, EINVAL, "the installed image: %s", b->in->problems[i]);
        if (b->in->problems[0])
                return -EINVAL;
        stage_done(b, "inspect");
        if (check_interrupted(err) < 0)
                return -EINTR;

        b->bootloader = "guest";
        if (b->p->bootloader == KILN_BOOTLOADER_HOST) {
                if (STREQ(b->finalize, "dm")) {
                        stage(b, "bootloader", "installing GRUB from the host side (device-mapper, host grub-install)");
                        if (!b->in->root_part)
                                return kiln_error_set(err, ENOTSUP,
                                                      "--finalize=dm needs the root filesystem on a plain "
                                                      "partition; this image's is not (LVM?); use the "
                                                      "default backend");
                        /* The dm plan must not lose a step to a signal (a loop device attached but
                         * not yet printed would be left): it checks the flag between steps. */
                        kiln_interrupt_watch_stop(b->watch);
                        b->watch = NULL;
                        int g = kiln_grub_dm(b->work, b->p, b->in->root_part, b->in->boot_part, &interrupted,
                                             cli_display_notice, &b->d, err);
                        b->watch = kiln_interrupt_watch_start(&interrupted, 5);
                        if (g < 0)
                                return -EIO;
                        b->bootloader = "host (device-mapper)";
                } else {
                        stage(b, "bootloader",
                              "installing GRUB from the host side (the image's grub-install in the "
                              "libguestfs appliance)");
                        _cleanup_free_ char *glog = NULL, *glog_path = xasprintf("%s/grub-install.log", b->bdir);
                        int g = kiln_grub_guestfs(b->work, b->work_format, force_tcg, b->p, &glog, err);
                        if (glog)
                                cli_write_file_atomic(glog_path, glog, strlen(glog), NULL);
                        if (g < 0)
                                return -EIO;
                        b->bootloader = "host (libguestfs)";
                }
                stage_done(b, "bootloader");
        }
        if (check_interrupted(err) < 0)
                return -EINTR;

        stage(b, "convert", "writing the output image");
        _cleanup_free_ char *dir = xstrdup(b->output);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : b->output;
        if (slash)
                *slash = '\0';
        /* Named and locked as the install's partial disk is, so a run after a SIGKILL removes it. */
        char *tmp = xasprintf("%s.kiln-partial-XXXXXX", b->output);
        int tfd = mkostemp(tmp, O_CLOEXEC);
        if (tfd < 0) {
                int e = errno;
                kiln_error_set(err, e, "cannot create '%s': %s", tmp, strerror(e));
                free(tmp);
                return -e;
        }
        b->tmp_out = tmp;
        b->tmp_fd = tfd;
        if (kiln_lock_fresh(b->tmp_out, b->tmp_fd, err) < 0)
                return -EIO;
        if (kiln_image_convert(b->work, b->work_format, b->tmp_out, b->out_format, true, &interrupted, err) < 0)
                return -EIO;
        stage_done(b, "convert");

        if (b->boot_test) {
                stage(b, "boot-test", "boot-testing the output (snapshot, no network) until a login prompt");
                _cleanup_free_ char *console = xasprintf("%s/boot-console.log", b->bdir);
                const char *accel = b->accel ? b->accel : "tcg";
                struct kiln_boot_test_opts bo = {.image = b->tmp_out,
                                                 .format = b->out_format,
                                                 .console_log = console,
                                                 .accel = accel,
                                                 .cache = b->cache,
                                                 .timeout_sec = b->boot_timeout_sec,
                                                 .notice = cli_display_notice,
                                                 .userdata = &b->d,
                                                 .interrupted = &interrupted};
                double secs = 0;
                if (kiln_boot_test(&bo, &secs, err) < 0) {
                        kiln_error_set(err, EIO, "the console is in '%s'", console);
                        return -EIO;
                }
                cli_display_notice(&b->d, "boot-test passed: login prompt on the serial console");
                stage_done(b, "boot-test");
        }

        stage(b, "manifest", "hashing the image and writing the manifest");
        char hex[KILN_SHA256_HEX];
        if (kiln_sha256_file(b->tmp_out, hex, NULL, err) < 0)
                return -EIO;
        memcpy(b->image_sha, hex, KILN_SHA256_HEX);
        stage_done(b, "manifest");
        struct kiln_manifest_in mi = {.profile = b->p,
                                      .media = b->media,
                                      .served = b->res.served,
                                      .n_served = b->res.n_served,
                                      .inspection = b->in,
                                      .image = base,
                                      .format = b->out_format,
                                      .image_sha256 = hex,
                                      .bootloader = b->bootloader,
                                      .timings = b->times,
                                      .n_timings = b->n_times};
        _cleanup_free_ char *key_json = b->reuse.have_key ? kiln_build_key_json(&b->reuse.key) : NULL;
        mi.build_key_json = key_json;
        _cleanup_free_ char *json = kiln_manifest_json(&mi);
        b->manifest = xasprintf("%s.manifest.json", b->output);
        if (b->libvirt_xml) {
                char abs[PATH_MAX];
                b->xml = xasprintf("%s.xml", b->output);
                if (!realpath(slash ? dir : ".", abs))
                        return kiln_error_set(err, errno, "cannot resolve '%s': %s", dir, strerror(errno));
                _cleanup_free_ char *img = xasprintf("%s/%s", abs, base);
                _cleanup_free_ char *xml = kiln_libvirt_xml(b->p, img, b->out_format);
                kiln_sha256_buf(xml, strlen(xml), b->xml_sha);
                if (cli_write_file_atomic(b->xml, xml, strlen(xml), err) < 0)
                        return -EIO;
        }
        kiln_sha256_buf(json, strlen(json), b->manifest_sha);
        if (cli_write_file_atomic(b->manifest, json, strlen(json), err) < 0)
                return -EIO;
        if (rename(b->tmp_out, b->output) < 0)
                return kiln_error_set(err, errno, "cannot rename the image to '%s': %s", b->output, strerror(errno));
        b->output_done = true;
        cli_reuse_store(&b->reuse, b->p, b->output, json, &b->d);
        return 0;
}

static void cleanup_build(struct build *b, bool ok)
{
        kiln_interrupt_watch_stop(b->watch);
        b->watch = NULL;
        if (!ok) {
                if (b->tmp_out)
                        unlink(b->tmp_out);
                if (b->manifest)
                        unlink(b->manifest);
                if (b->xml)
                        unlink(b->xml);
        }
        if (b->work && (ok || !b->keep_work))
                unlink(b->work);
        else if (b->work && access(b->work, F_OK) == 0)
                fprintf(stderr, "kiln: the work disk is kept in '%s' (--keep-work)\n", b->work);
        if (b->bdir_locked)
                kiln_lock_release(b->bdir, b->bdir_lock);
        if (b->tmp_out)
                close(b->tmp_fd);
        free(b->work);
        free(b->tmp_out);
        free(b->manifest);
        free(b->xml);
        free(b->bdir);
        free(b->preseed);
        free(b->d.last_step);
        kiln_inspection_free(b->in);
        kiln_install_result_clear(&b->res);
        kiln_media_free(b->media);
        kiln_cache_free(b->cache);
        kiln_profile_free(b->p);
        cli_reuse_clear(&b->reuse);
}

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
        b->accel = b->o.accel;
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

static int prepare(struct build *b, const char *profile, struct kiln_error **err)
{
        int r = cli_load_profile(profile, &b->p, &b->preseed);
        if (r != 0)
                return r;
        if (b->p->bootloader == KILN_BOOTLOADER_HOST && STREQ(b->finalize, "dm") && kiln_dm_probe(err) < 0)
                return KILN_EXIT_FAILED; /* refuse before hours of work */
        b->bdir = b->o.build_dir ? xstrdup(b->o.build_dir) : xasprintf("%s.d", b->output);
        if (kiln_build_dir_prepare(b->bdir, err) < 0)
                return (*err)->errnum == EPERM || (*err)->errnum == ENOTDIR ? KILN_EXIT_USAGE : KILN_EXIT_FAILED;
        b->d.tty = !b->d.json && isatty(STDERR_FILENO);
        /* Held until exit (or SIGKILL): a later run sees whether this one is alive, and removes
         * the work disk a dead one left. */
        if (kiln_build_dir_claim(b->bdir, cli_display_notice, &b->d, &b->bdir_lock, err) < 0)
                return KILN_EXIT_FAILED;
        b->bdir_locked = true;
        kiln_sweep_run_dirs(NULL, cli_display_notice, &b->d);
        kiln_sweep_partials(b->output, cli_display_notice, &b->d);
        cli_catch_signals(&interrupted);
        if (kiln_cache_open(b->o.cache_dir, b->o.offline, &b->cache, err) < 0)
                return KILN_EXIT_FAILED;
        /* dm maps the disk through a loop device: the work disk is raw then. */
        b->work_format = STREQ(b->finalize, "dm") ? "raw" : "qcow2";
        b->work = xasprintf("%s/work.%s", b->bdir, b->work_format);
        return 0;
}

static int report(struct build *b, int r, struct kiln_error *err)
{
        bool ok = r == 0 && b->output_done;
        _cleanup_error_ struct kiln_error *why = NULL;
        if (!ok && interrupted && b->watch) { /* finish stages; the install names its own step */
                /* What the killed child said ("appliance closed the connection") is not the news. */
                const char *sig = sigabbrev_np(interrupted);
                kiln_error_set(&why, EINTR, "interrupted by SIG%s in the %s stage", sig ? sig : "?", b->stage_name);
                err = why;
        }
        if (!ok) {
                cli_display_error(&b->d, err, b->bdir);
                cli_print_errors(err);
                if (b->bdir && access(b->bdir, F_OK) == 0)
                        fprintf(stderr, "kiln: %s failed; nothing was written to '%s'; logs are in '%s'\n", b->cmd,
                                b->output, b->bdir);
        } else {
                struct cli_output outs[3] = {{"image", b->output, b->image_sha},
                                             {"manifest", b->manifest, b->manifest_sha}};
                size_t n = 2;
                if (b->xml)
                        outs[n++] = (struct cli_output){"libvirt-xml", b->xml, b->xml_sha};
                cli_display_result(&b->d, outs, n, b->times, b->n_times);
                fprintf(stderr, "kiln: built '%s' (%s, bootloader %s); manifest '%s'\n", b->output, b->out_format,
                        b->bootloader, b->manifest);
        }
        cleanup_build(b, ok);
        return ok ? KILN_EXIT_OK : r > 0 ? r : KILN_EXIT_FAILED;
}

/* The finish options that change the image (the boot test is in: a result that skipped it is not
 * one that passed it). */
static int build_key(struct build *b, struct kiln_error **err)
{
        _cleanup_free_ char *fin = xasprintf("finalize=%s boot-test=%s", b->finalize, b->boot_test ? "yes" : "no");
        struct kiln_key_opts ko = {.format = b->out_format, .finish = fin};
        return cli_reuse_key(&b->reuse, b->p, b->preseed, b->media, b->cache, &ko, &b->d, err);
}

/* The proxy's cache hits and misses, for kiln cache stats. */
static void count_served(struct build *b)
{
        uint64_t hits = 0, misses = 0;
        for (size_t i = 0; i < b->res.n_served; i++) {
                const struct kiln_proxy_served *s = &b->res.served[i];
                if (s->status == 200 && STREQ(s->method, "GET") && kiln_proxy_cacheable(s->url))
                        s->cached ? hits++ : misses++;
        }
        kiln_cache_count(b->cache, hits, misses, NULL);
}

/* A hit: the stored image and its manifest, published as a build's would be; nothing else runs. */
static int publish_stored(struct build *b, struct kiln_error **err)
{
        b->total = b->stage + 1;
        stage(b, "reuse", "publishing the stored image with the same build key");
        int r = cli_reuse_publish(&b->reuse, b->p, b->output, b->out_format, b->force, b->libvirt_xml, &b->manifest,
                                  &b->xml, b->image_sha, b->manifest_sha, b->xml_sha, err);
        if (r < 0)
                return r;
        stage_done(b, "reuse");
        b->bootloader = "reused";
        b->output_done = true;
        return 0;
}

int kiln_cmd_build(int argc, char **argv)
{
        struct build b = {.cmd = "build", .boot_test = true, .finalize = "guestfs"};
        int r = parse(&b, argc, argv);
        if (r != 0)
                return r;
        if (argc - optind != 1)
                return cli_usage_error("build", "usage: kiln build [OPTIONS] PROFILE -o OUTPUT");
        _cleanup_error_ struct kiln_error *err = NULL;
        r = prepare(&b, argv[optind], &err);
        if (r != 0)
                return report(&b, r, err);
        b.total = 5 + (b.p->bootloader == KILN_BOOTLOADER_HOST) + b.boot_test;

        stage(&b, "fetch", "fetching and verifying the installer; checking the mirror");
        struct kiln_media_opts mo = {.cache = b.cache,
                                     .progress = b.d.json ? NULL : cli_progress,
                                     .notice = cli_display_notice,
                                     .userdata = &b.d,
                                     .skip_preflight = b.o.no_preflight};
        if (kiln_media_fetch(b.p, &mo, &b.media, &err) < 0 || check_interrupted(&err) < 0)
                return report(&b, -EIO, err);
        if (build_key(&b, &err) < 0)
                return report(&b, -EIO, err);
        stage_done(&b, "fetch");
        if (b.reuse.hit)
                return report(&b, publish_stored(&b, &err), err);

        stage(&b, "install", "running the installer in an isolated guest");
        char self[PATH_MAX];
        ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[sl > 0 ? sl : 0] = '\0';
        unlink(b.work);
        struct kiln_install_opts io = {.profile = b.p,
                                       .preseed = b.preseed,
                                       .media = b.media,
                                       .cache = b.cache,
                                       .output = b.work,
                                       .build_dir = b.bdir,
                                       .accel = b.accel ? b.accel : b.p->vm.accel,
                                       .hypervisor = b.o.hypervisor ? b.o.hypervisor : b.p->vm.hypervisor,
                                       .timeout_sec = b.o.timeout_sec,
                                       .watchdog_sec = b.o.watchdog_sec,
                                       .self = self,
                                       .xen_bridge = b.o.xen_bridge,
                                       .event = cli_display_event,
                                       .notice = cli_display_notice,
                                       .userdata = &b.d,
                                       .interrupted = &interrupted};
        if (kiln_install_run(&io, &b.res, &err) < 0)
                return report(&b, -EIO, err);
        stage_done(&b, "install");
        count_served(&b);
        b.watch = kiln_interrupt_watch_start(&interrupted, 5);
        if (!b.accel && STREQ(io.accel, "auto"))
                b.accel = STREQ(b.res.accel, "kvm") ? "kvm" : "tcg"; /* probed once, used again below */
        else if (!b.accel)
                b.accel = io.accel;
        r = check_interrupted(&err);
        if (r == 0)
                r = finish_stages(&b, &err);
        return report(&b, r, err);
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
        _cleanup_error_ struct kiln_error *err = NULL;
        r = prepare(&b, argv[optind], &err);
        if (r != 0)
                return report(&b, r, err);
        b.total = 4 + (b.p->bootloader == KILN_BOOTLOADER_HOST) + b.boot_test + b.store_result;
        if (b.store_result) {
                /* The disk came from elsewhere; its key is what a build of PROFILE would have now. */
                stage(&b, "fetch", "fetching and verifying the installer, pinning the suites (the build key)");
                struct kiln_media_opts mo = {
                        .cache = b.cache, .notice = cli_display_notice, .userdata = &b.d, .skip_preflight = true};
                b.reuse.no_reuse = true;
                if (kiln_media_fetch(b.p, &mo, &b.media, &err) < 0 || build_key(&b, &err) < 0)
                        return report(&b, -EIO, err);
                stage_done(&b, "fetch");
        }
        b.watch = kiln_interrupt_watch_start(&interrupted, 5);
        /* The given disk is never changed: kiln works on a copy in the build folder. */
        stage(&b, "copy", "copying the installed disk into the build folder");
        unlink(b.work);
        if (kiln_image_convert(disk, format, b.work, b.work_format, false, &interrupted, &err) < 0)
                return report(&b, -EIO, err);
        stage_done(&b, "copy");
        r = finish_stages(&b, &err);
        return report(&b, r, err);
}
