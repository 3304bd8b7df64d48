/* The pipeline: the stage table, the per-build context, the stage timings, the atomic publish of
 * image, manifest and libvirt XML, and "interrupted in stage X".
 *
 *   kiln build:   fetch -> install -> inspect -> bootloader (host) -> convert -> boot-test -> manifest
 *   kiln finish:  copy -> inspect -> ...
 *   kiln install: fetch -> install (the installed disk is the output)
 *
 * The work disk lives in the build folder and is removed at the end (kept on failure with
 * keep_work); the outputs appear together and only when every stage passed. */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "appliance-accel.h"
#include "appliance.h"
#include "boot-test.h"
#include "command.h"
#include "finish.h"
#include "inspect.h"
#include "install.h"
#include "leftovers.h"
#include "media.h"
#include "qemu.h"

/* What a stage needs before it runs and leaves behind: the table is checked against these. */
enum {
        HAVE_MEDIA = 1 << 0,      /* the verified installer */
        HAVE_DISK = 1 << 1,       /* the installed disk (the work disk, or the output for INSTALL) */
        HAVE_ACCEL = 1 << 2,      /* one verdict on KVM for the appliance and the boot test */
        HAVE_INSPECTION = 1 << 3, /* what the disk holds, its partitions */
        HAVE_IMAGE = 1 << 4,      /* the output image under its temporary name */
        HAVE_HASH = 1 << 5,       /* the image's sha256 */
        HAVE_PUBLISHED = 1 << 6,  /* image, manifest and XML at their names */
};

enum { K_FULL = 1 << KILN_BUILD_FULL, K_INSTALL = 1 << KILN_BUILD_INSTALL, K_FINISH = 1 << KILN_BUILD_FINISH };

struct kiln_build {
        const struct kiln_build_opts *o;
        volatile sig_atomic_t cancel; /* this build's own: set by the caller (its signal handler) */
        const struct kiln_profile *p;
        struct kiln_build_result res;
        char *bdir;
        int bdir_lock; /* bdir/.kiln-lock, held until kiln_build_free when bdir_locked */
        bool bdir_locked;
        const char *accel; /* o->accel, then what the install's probe found */
        const char *finalize;
        const char *out_format;
        struct kiln_cache *cache;
        struct kiln_media *media;
        struct kiln_install_result install;
        struct kiln_inspection *in;
        /* The inspection's appliance, kept for the host-side GRUB (one launch, not two), or NULL. */
        struct kiln_appliance *appliance;
        bool force_tcg; /* libguestfs's appliance */
        unsigned have;
        unsigned stage_n, stage_total;
        const char *stage_name; /* the stage running, for "interrupted in ..." */
        double stage_start;
        char *work; /* the disk kiln works on, in the build folder */
        const char *work_format;
        char *tmp_out, *manifest, *xml;
        int tmp_fd; /* tmp_out, open and locked while tmp_out is set */
        char self[PATH_MAX];
        struct kiln_interrupt_watch *watch; /* stops children on cancel, during the watched stages */
        bool reuse_hit;                     /* the result store holds this build's key */
        bool done;                          /* published early (reuse): no stage after it runs */
};

struct stage {
        const char *name;
        const char *what; /* for people, at its start */
        int (*run)(struct kiln_build *b, struct kiln_error **reterr);
        unsigned kinds; /* the builds that run it */
        unsigned needs, makes;
        bool (*applies)(const struct kiln_build *b); /* NULL: always, in its kinds */
        /* Children are stopped as soon as the build is cancelled (the interrupt watch); a stage that
         * is not watched checks the flag itself (the install names its step). */
        bool watched;
        bool quiet; /* no stage event, no timing: bookkeeping between stages */
};

static void notice(struct kiln_build *b, const char *msg)
{
        if (b->o->hooks.notice)
                b->o->hooks.notice(b->o->hooks.userdata, msg);
}

static void notice_fn(void *userdata, const char *msg)
{
        notice(userdata, msg);
}

static int stage_fetch(struct kiln_build *b, struct kiln_error **err)
{
        bool preflight = !b->o->no_preflight && b->o->kind != KILN_BUILD_FINISH;
        /* With a result store, the preflight (every index the installer reads, fetched and hashed)
         * waits for the key: a stored result runs no installer, so it needs no preflight. */
        bool keyed = b->o->reuse.key && b->o->kind == KILN_BUILD_FULL;
        struct kiln_media_opts mo = {.cache = b->cache,
                                     .progress = b->o->hooks.progress,
                                     .notice = b->o->hooks.notice,
                                     .userdata = b->o->hooks.userdata,
                                     .skip_preflight = !preflight || keyed};
        int r = kiln_media_fetch(b->p, &mo, &b->media, err);
        if (r == 0 && b->o->reuse.key)
                r = b->o->reuse.key(b->o->reuse.userdata, b->media, b->cache, &b->reuse_hit, err);
        if (b->o->kind != KILN_BUILD_FULL)
                b->reuse_hit = false;
        if (r == 0 && keyed && preflight && !b->reuse_hit && b->media->pin && !b->cache->offline) {
                _cleanup_free_ char *summary = NULL;
                r = kiln_preflight(b->p, b->media, &mo, &summary, err);
                if (r == 0)
                        notice(b, summary);
        }
        return r;
}

static bool fetch_on(const struct kiln_build *b)
{
        return b->o->kind != KILN_BUILD_FINISH || b->o->reuse.finish_fetch;
}

static bool reuse_on(const struct kiln_build *b)
{
        return b->reuse_hit;
}

static bool build_on(const struct kiln_build *b)
{
        return !b->reuse_hit;
}

static void add_output(struct kiln_build *b, const char *kind, const char *path);

/* A hit: the stored image and its manifest (and XML), published as a build's would be. */
static int stage_reuse(struct kiln_build *b, struct kiln_error **err)
{
        if (!b->o->reuse.publish)
                return kiln_error_set(err, EINVAL, "internal: a reuse hit without a publish hook");
        char xml_sha[KILN_SHA256_HEX] = "";
        int r = b->o->reuse.publish(b->o->reuse.userdata, b->o->output, b->out_format, b->o->libvirt_xml, &b->manifest,
                                    &b->xml, b->res.outputs[0].sha256, b->res.outputs[1].sha256, xml_sha, err);
        if (r < 0)
                return r;
        add_output(b, "manifest", b->manifest);
        if (b->xml) {
                add_output(b, "libvirt-xml", b->xml);
                memcpy(b->res.outputs[2].sha256, xml_sha, KILN_SHA256_HEX);
        }
        b->res.bootloader = "reused";
        b->done = true;
        return 0;
}

static int stage_install(struct kiln_build *b, struct kiln_error **err)
{
        const struct kiln_build_opts *o = b->o;
        const char *self = o->self;
        if (!self) {
                ssize_t sl = readlink("/proc/self/exe", b->self, sizeof(b->self) - 1);
                b->self[sl > 0 ? sl : 0] = '\0';
                self = b->self;
        }
        const char *disk = o->kind == KILN_BUILD_INSTALL ? o->output : b->work;
        if (o->kind != KILN_BUILD_INSTALL)
                unlink(b->work);
        struct kiln_install_opts io = {.profile = b->p,
                                       .preseed = o->preseed,
                                       .media = b->media,
                                       .cache = b->cache,
                                       .output = disk,
                                       .build_dir = b->bdir,
                                       .accel = b->accel ? b->accel : b->p->vm.accel,
                                       .hypervisor = o->hypervisor ? o->hypervisor : b->p->vm.hypervisor,
                                       .timeout_sec = o->timeout_sec,
                                       .watchdog_sec = o->watchdog_sec,
                                       .self = self,
                                       .bridge = o->bridge,
                                       .event = o->hooks.step,
                                       .notice = o->hooks.notice,
                                       .userdata = o->hooks.userdata,
                                       .interrupted = &b->cancel};
        int r = kiln_install_run(&io, &b->install, err);
        if (r < 0)
                return r;
        if (o->reuse.served)
                o->reuse.served(o->reuse.userdata, &b->install, b->cache);
        b->res.accel = b->install.accel;
        b->res.install_seconds = b->install.seconds;
        struct kiln_build_proxy *px = &b->res.proxy;
        *px = (struct kiln_build_proxy){.ran = true};
        for (size_t i = 0; i < b->install.n_served; i++) {
                const struct kiln_proxy_served *s = &b->install.served[i];
                px->requests++;
                px->upstream += s->upstream;
                px->bytes = s->bytes > INT64_MAX - px->bytes ? INT64_MAX : px->bytes + s->bytes; /* the records' */
                if (s->status == 403)
                        px->refused++;
                else if (s->status == 200 && s->sha256 && STREQ(s->method, "GET")) {
                        px->files++;
                        px->cached += s->cached;
                }
        }
        _cleanup_free_ char *said =
                xasprintf("the proxy answered %u requests: %u files (%u from the cache), %u refused; %u went to "
                          "the mirror",
                          px->requests, px->files, px->cached, px->refused, px->upstream);
        notice(b, said);
        if (!b->accel && STREQ(io.accel, "auto"))
                b->accel = STREQ(b->install.accel, "kvm") ? "kvm" : "tcg"; /* probed once, used again below */
        else if (!b->accel)
                b->accel = io.accel;
        return 0;
}

/* kiln finish: the given disk is never changed; kiln works on a copy in the build folder. */
static int stage_copy(struct kiln_build *b, struct kiln_error **err)
{
        unlink(b->work);
        return kiln_image_convert(b->o->disk, b->o->disk_format, b->work, b->work_format, false, &b->cancel, err);
}

/* One verdict on KVM for the libguestfs appliance and the boot test (probed once, cached). */
static int stage_accel(struct kiln_build *b, struct kiln_error **err)
{
        const char *want = b->accel ? b->accel : b->p->vm.accel;
        if (!STREQ(want, "tcg") && !(b->accel && STREQ(b->accel, "kvm"))) {
                _cleanup_free_ char *k = b->media ? xstrdup(b->media->kernel) : kiln_host_kernel(), *got = NULL;
                if (k && kiln_qemu_accel("auto", k, b->cache, notice_fn, b, &got, NULL) == 0)
                        b->accel = STREQ(got, "kvm") ? "kvm" : "tcg";
                else
                        b->accel = "tcg";
        }
        b->force_tcg = kiln_appliance_force_tcg(b->accel ? b->accel : "tcg", b->cache, notice_fn, b);
        return 0;
}

static bool host_bootloader(const struct kiln_build *b);

static int stage_inspect(struct kiln_build *b, struct kiln_error **err)
{
        /* With GRUB from the host side through libguestfs next, the work disk (kiln's own copy) is
         * opened read-write once, for both: an appliance launch is ~10-30 s under TCG. The
         * inspection still mounts its filesystems read-only. */
        if (host_bootloader(b) && !STREQ(b->finalize, "dm")) {
                if (kiln_appliance_new(b->work, b->work_format, false, b->force_tcg, &b->appliance, err) < 0 ||
                    kiln_inspect_appliance(b->appliance, b->bdir, &b->in, err) < 0)
                        return -EIO;
        } else if (kiln_inspect(b->work, b->work_format, b->force_tcg, b->bdir, &b->in, err) < 0)
                return -EIO;
        _cleanup_free_ char *pkgs = strv_join(b->in->packages, "\n"), *pkg_path = xasprintf("%s/packages.txt", b->bdir);
        _cleanup_free_ char *pkg_text = xasprintf("%s\n", pkgs);
        if (write_file_atomic(pkg_path, pkg_text, strlen(pkg_text), err) < 0)
                return -EIO;
        for (size_t i = 0; b->in->problems[i]; i++)
                kiln_error_set(err, EINVAL, "the installed image: %s", b->in->problems[i]);
        return b->in->problems[0] ? -EINVAL : 0;
}

static bool host_bootloader(const struct kiln_build *b)
{
        return b->p->bootloader == KILN_BOOTLOADER_HOST;
}

static int stage_bootloader(struct kiln_build *b, struct kiln_error **err)
{
        if (STREQ(b->finalize, "dm")) {
                if (!b->in->root_part)
                        return kiln_error_set(err, ENOTSUP,
                                              "--finalize=dm needs the root filesystem on a plain partition; this "
                                              "image's is not (LVM?); use the default backend");
                /* The dm plan must not lose a step to a signal (a loop device attached but not yet
                 * printed would be left): it checks the flag between steps. */
                kiln_interrupt_watch_stop(b->watch);
                b->watch = NULL;
                int g = kiln_grub_dm(b->work, b->p, b->in->root_part, b->in->boot_part, &b->cancel, b->o->hooks.notice,
                                     b->o->hooks.userdata, err);
                b->watch = kiln_interrupt_watch_start(&b->cancel, 5);
                if (g < 0)
                        return -EIO;
                b->res.bootloader = "host (device-mapper)";
                return 0;
        }
        _cleanup_free_ char *glog = NULL, *glog_path = xasprintf("%s/grub-install.log", b->bdir);
        struct kiln_appliance *a = TAKE_PTR(b->appliance); /* stage_inspect opened it */
        if (!a)
                return kiln_error_set(err, EINVAL, "internal: the bootloader stage has no appliance");
        int g = kiln_grub_appliance(a, b->p, &glog, err);
        if (glog)
                write_file_atomic(glog_path, glog, strlen(glog), NULL);
        if (g < 0)
                return -EIO;
        b->res.bootloader = "host (libguestfs)";
        return 0;
}

static int stage_convert(struct kiln_build *b, struct kiln_error **err)
{
        /* Named and locked as the install's partial disk is, so a run after a SIGKILL removes it. */
        char *tmp = xasprintf("%s.kiln-partial-XXXXXX", b->o->output);
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
        if (kiln_image_convert(b->work, b->work_format, b->tmp_out, b->out_format, true, &b->cancel, err) < 0)
                return -EIO;
        return 0;
}

static bool boot_test_on(const struct kiln_build *b)
{
        return b->o->boot_test;
}

static int stage_boot_test(struct kiln_build *b, struct kiln_error **err)
{
        _cleanup_free_ char *console = xasprintf("%s/boot-console.log", b->bdir);
        struct kiln_boot_test_opts bo = {.image = b->tmp_out,
                                         .format = b->out_format,
                                         .console_log = console,
                                         .accel = b->accel ? b->accel : "tcg",
                                         .cache = b->cache,
                                         .timeout_sec = b->o->boot_timeout_sec,
                                         .notice = b->o->hooks.notice,
                                         .userdata = b->o->hooks.userdata,
                                         .interrupted = &b->cancel};
        double secs = 0;
        if (kiln_boot_test(&bo, &secs, err) < 0) {
                kiln_error_set(err, EIO, "the console is in '%s'", console);
                return -EIO;
        }
        notice(b, "boot-test passed: login prompt on the serial console");
        return 0;
}

static int stage_manifest(struct kiln_build *b, struct kiln_error **err)
{
        return kiln_sha256_file(b->tmp_out, b->res.outputs[0].sha256, NULL, err) < 0 ? -EIO : 0;
}

static void add_output(struct kiln_build *b, const char *kind, const char *path)
{
        struct kiln_build_output *out = &b->res.outputs[b->res.n_outputs++];
        out->kind = kind;
        out->path = path;
}

/* The manifest and the XML by temporary name then rename, the image last: a reader that sees the
 * image sees its manifest. On failure, kiln_build_run removes the ones already there. The manifest
 * holds every stage's timing, its own hashing included. */
static int stage_publish(struct kiln_build *b, struct kiln_error **err)
{
        const char *output = b->o->output;
        _cleanup_free_ char *dir = xstrdup(output);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : output;
        if (slash)
                *slash = '\0';
        struct kiln_manifest_in mi = {.profile = b->p,
                                      .media = b->media,
                                      .served = b->install.served,
                                      .n_served = b->install.n_served,
                                      .inspection = b->in,
                                      .image = base,
                                      .format = b->out_format,
                                      .image_sha256 = b->res.outputs[0].sha256,
                                      .bootloader = b->res.bootloader,
                                      .timings = b->res.times,
                                      .n_timings = b->res.n_times};
        _cleanup_free_ char *key_json = b->o->reuse.key_json ? b->o->reuse.key_json(b->o->reuse.userdata) : NULL;
        mi.build_key_json = key_json;
        _cleanup_free_ char *json = kiln_manifest_json(&mi);
        b->manifest = xasprintf("%s.manifest.json", output);
        add_output(b, "manifest", b->manifest);
        if (b->o->libvirt_xml) {
                char abs[PATH_MAX];
                b->xml = xasprintf("%s.xml", output);
                add_output(b, "libvirt-xml", b->xml);
                if (!realpath(slash ? dir : ".", abs))
                        return kiln_error_set(err, errno, "cannot resolve '%s': %s", dir, strerror(errno));
                _cleanup_free_ char *img = xasprintf("%s/%s", abs, base);
                _cleanup_free_ char *xml = kiln_libvirt_xml(b->p, img, b->out_format);
                kiln_sha256_buf(xml, strlen(xml), b->res.outputs[2].sha256);
                if (write_file_atomic(b->xml, xml, strlen(xml), err) < 0)
                        return -EIO;
        }
        kiln_sha256_buf(json, strlen(json), b->res.outputs[1].sha256);
        if (write_file_atomic(b->manifest, json, strlen(json), err) < 0)
                return -EIO;
        if (rename(b->tmp_out, output) < 0)
                return kiln_error_set(err, errno, "cannot rename the image to '%s': %s", output, strerror(errno));
        free(b->tmp_out);
        b->tmp_out = NULL;
        if (b->o->reuse.store)
                b->o->reuse.store(b->o->reuse.userdata, output, json);
        return 0;
}

/* The pipeline, in the order it runs. Columns: name, what (NULL: stage_what says), run, kinds, needs,
 * makes, applies, watched, quiet. */
static const struct stage stages[] = {
        {"copy", "copying the installed disk into the build folder", stage_copy, K_FINISH, 0, HAVE_DISK, NULL, true},
        {"fetch", "fetching and verifying the installer; checking the mirror", stage_fetch,
         K_FULL | K_INSTALL | K_FINISH, 0, HAVE_MEDIA, fetch_on},
        {"reuse", "publishing the stored image with the same build key", stage_reuse, K_FULL, HAVE_MEDIA,
         HAVE_PUBLISHED, reuse_on},
        {"install", "running the installer in an isolated guest", stage_install, K_FULL | K_INSTALL, HAVE_MEDIA,
         HAVE_DISK, build_on},
        {"accel", NULL, stage_accel, K_FULL | K_FINISH, 0, HAVE_ACCEL, NULL, true, true},
        {"inspect", "inspecting the installed disk, its filesystems read-only (libguestfs appliance)", stage_inspect,
         K_FULL | K_FINISH, HAVE_DISK | HAVE_ACCEL, HAVE_INSPECTION, NULL, true},
        {"bootloader", NULL /* bootloader_what */, stage_bootloader, K_FULL | K_FINISH, HAVE_INSPECTION, 0,
         host_bootloader, true},
        {"convert", "writing the output image", stage_convert, K_FULL | K_FINISH, HAVE_DISK, HAVE_IMAGE, NULL, true},
        {"boot-test", "boot-testing the output (snapshot, no network) until a login prompt", stage_boot_test,
         K_FULL | K_FINISH, HAVE_IMAGE | HAVE_ACCEL, 0, boot_test_on, true},
        {"manifest", "hashing the image and writing the manifest", stage_manifest, K_FULL | K_FINISH, HAVE_IMAGE,
         HAVE_HASH, NULL, true},
        {"publish", NULL, stage_publish, K_FULL | K_FINISH, HAVE_HASH | HAVE_INSPECTION, HAVE_PUBLISHED, NULL, true,
         true},
};

static const char *stage_what(const struct kiln_build *b, const struct stage *s)
{
        if (s->run == stage_bootloader)
                return STREQ(b->finalize, "dm")
                               ? "installing GRUB from the host side (device-mapper, host grub-install)"
                               : "installing GRUB from the host side (the image's grub-install in "
                                 "the libguestfs appliance)";
        return s->what;
}

static bool stage_runs(const struct kiln_build *b, const struct stage *s)
{
        return (s->kinds & (1u << b->o->kind)) && (!s->applies || s->applies(b));
}

struct kiln_build *kiln_build_new(const struct kiln_build_opts *o)
{
        struct kiln_build *b = xcalloc(1, sizeof(*b));
        b->o = o;
        b->p = o->profile;
        b->accel = o->accel;
        b->finalize = o->finalize ? o->finalize : "guestfs";
        b->bdir_lock = -1;
        b->tmp_fd = -1;
        b->res.bootloader = "guest";
        return b;
}

volatile sig_atomic_t *kiln_build_cancel_flag(struct kiln_build *b)
{
        return &b->cancel;
}

const struct kiln_build_result *kiln_build_result(const struct kiln_build *b)
{
        return &b->res;
}

/* The build folder, its lock, what dead runs left, the cache: before any stage. */
static int build_open(struct kiln_build *b, struct kiln_error **err)
{
        const struct kiln_build_opts *o = b->o;
        if (o->kind != KILN_BUILD_INSTALL) {
                b->out_format = kiln_output_format(o->output);
                if (!b->out_format)
                        return kiln_error_set(err, EINVAL, "'%s': the output's extension names no format", o->output);
                b->res.format = b->out_format;
        }
        if (o->kind != KILN_BUILD_INSTALL && host_bootloader(b) && STREQ(b->finalize, "dm")) {
                b->res.failed_in = "preflight";
                if (kiln_dm_probe(err) < 0) /* refuse before hours of work */
                        return -ENODEV;
        }
        b->bdir = o->build_dir ? xstrdup(o->build_dir) : xasprintf("%s.d", o->output);
        b->res.build_dir = b->bdir;
        b->res.failed_in = "build-dir";
        int r = kiln_build_dir_prepare(b->bdir, err);
        if (r < 0)
                return r;
        /* Held until the end (or SIGKILL): a later run sees whether this one is alive, and removes
         * the work disk a dead one left. */
        b->res.failed_in = "lock";
        r = kiln_build_dir_claim(b->bdir, o->hooks.notice, o->hooks.userdata, &b->bdir_lock, err);
        if (r < 0)
                return r;
        b->bdir_locked = true;
        if (o->kind != KILN_BUILD_INSTALL) {
                kiln_sweep_run_dirs(NULL, o->hooks.notice, o->hooks.userdata);
                kiln_sweep_partials(o->output, o->hooks.notice, o->hooks.userdata);
        }
        b->res.failed_in = "cache";
        r = kiln_cache_open(o->cache_dir, o->offline, &b->cache, err);
        if (r < 0)
                return r;
        b->res.failed_in = NULL;
        /* dm maps the disk through a loop device: the work disk is raw then. */
        b->work_format = STREQ(b->finalize, "dm") ? "raw" : "qcow2";
        b->work = xasprintf("%s/work.%s", b->bdir, b->work_format);
        return 0;
}

static void stage_end(struct kiln_build *b, const struct stage *s)
{
        if (!s->quiet && b->res.n_times < KILN_BUILD_STAGES_MAX)
                b->res.times[b->res.n_times++] =
                        (struct kiln_stage_time){.stage = s->name, .seconds = kiln_now() - b->stage_start};
}

/* A cancelled build fails with where it was, not with what a killed child said ("appliance closed
 * the connection" is not the news). The install names its own step. */
static int interrupted_error(struct kiln_build *b, struct kiln_error **err)
{
        const char *sig = b->cancel > 0 && b->cancel < NSIG ? sigabbrev_np(b->cancel) : NULL;
        if (err) {
                kiln_error_free(*err);
                *err = NULL;
        }
        if (sig)
                return kiln_error_set(err, EINTR, "interrupted by SIG%s in the %s stage", sig, b->stage_name);
        return kiln_error_set(err, EINTR, "interrupted in the %s stage", b->stage_name);
}

static int run_stages(struct kiln_build *b, struct kiln_error **err)
{
        b->stage_total = 0;
        for (size_t i = 0; i < ELEMENTSOF(stages); i++)
                if (stage_runs(b, &stages[i]) && !stages[i].quiet)
                        b->stage_total++;
        for (size_t i = 0; i < ELEMENTSOF(stages); i++) {
                const struct stage *s = &stages[i];
                if (!stage_runs(b, s))
                        continue;
                if (s->needs & ~b->have)
                        return kiln_error_set(err, EINVAL, "internal: stage '%s' runs before what it needs", s->name);
                if (s->watched && !b->watch)
                        b->watch = kiln_interrupt_watch_start(&b->cancel, 5);
                else if (!s->watched && b->watch) {
                        kiln_interrupt_watch_stop(b->watch);
                        b->watch = NULL;
                }
                if (b->cancel)
                        return b->watch && b->stage_name ? interrupted_error(b, err)
                                                         : kiln_error_set(err, EINTR, "interrupted");
                if (s->run == stage_reuse)
                        b->stage_total = b->stage_n + 1; /* nothing after it runs */
                if (!s->quiet) {
                        b->stage_name = s->name;
                        b->stage_start = kiln_now();
                        if (b->o->hooks.stage)
                                b->o->hooks.stage(b->o->hooks.userdata, ++b->stage_n, b->stage_total, s->name,
                                                  stage_what(b, s));
                }
                int r = s->run(b, err);
                if (r < 0) {
                        b->res.failed_in = s->name;
                        return b->cancel && b->watch ? interrupted_error(b, err) : r;
                }
                stage_end(b, s);
                b->have |= s->makes;
                if (b->done)
                        break;
        }
        return 0;
}

int kiln_build_run(struct kiln_build *b, struct kiln_error **err)
{
        if (b->o->kind != KILN_BUILD_INSTALL)
                add_output(b, "image", b->o->output);
        int r = build_open(b, err);
        if (r == 0)
                r = run_stages(b, err);
        /* The install stage published the disk itself: the result names it, with its sha256. */
        if (r == 0 && b->o->kind == KILN_BUILD_INSTALL) {
                add_output(b, "image", b->o->output);
                if (kiln_sha256_file(b->o->output, b->res.outputs[0].sha256, NULL, err) < 0) {
                        unlink(b->o->output); /* nothing at the output of a failed build */
                        r = -EIO;
                }
        }
        bool ok = r == 0;
        kiln_interrupt_watch_stop(b->watch);
        b->watch = NULL;
        /* A build that failed after its inspection: the appliance it kept goes before the disk. */
        kiln_appliance_free(TAKE_PTR(b->appliance), false, NULL);
        if (!ok) {
                if (b->tmp_out)
                        unlink(b->tmp_out);
                if (b->manifest)
                        unlink(b->manifest);
                if (b->xml)
                        unlink(b->xml);
                if (!b->res.failed_in)
                        b->res.failed_in = b->stage_name ? b->stage_name : "start";
        }
        if (b->work && (ok || !b->o->keep_work))
                unlink(b->work);
        else if (b->work && access(b->work, F_OK) == 0)
                b->res.kept_work = b->work;
        return ok ? 0 : r < 0 ? r : -EIO;
}

void kiln_build_free(struct kiln_build *b)
{
        if (!b)
                return;
        kiln_interrupt_watch_stop(b->watch);
        if (b->bdir_locked)
                kiln_lock_release(b->bdir, b->bdir_lock);
        if (b->tmp_fd >= 0)
                close(b->tmp_fd);
        free(b->work);
        free(b->tmp_out);
        free(b->manifest);
        free(b->xml);
        free(b->bdir);
        kiln_inspection_free(b->in);
        kiln_appliance_free(b->appliance, false, NULL);
        kiln_install_result_clear(&b->install);
        kiln_media_free(b->media);
        kiln_cache_free(b->cache);
        free(b);
}
