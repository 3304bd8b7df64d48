/* Read-only inspection through libguestfs: the image's filesystems are mounted inside the
 * libguestfs appliance, a small VM, so a hostile filesystem meets the appliance's kernel, not the
 * host's. Nothing from the image runs anywhere. */
#include "inspect.h"

#include <errno.h>
#include <sys/stat.h>

#include "appliance.h"
#include "archive-index.h"

void kiln_inspection_free(struct kiln_inspection *i)
{
        if (!i)
                return;
        free(i->product);
        free(i->distro);
        free(i->hostname);
        strv_free(i->packages);
        strv_free(i->problems);
        free(i);
}

static char *image_text(char *s)
{
        if (!s)
                return NULL;
        char *safe = kiln_text_safe(s, strlen(s));
        free(s);
        return safe;
}

int kiln_inspect(const char *image, const char *format, bool force_tcg, const char *copy_logs_to,
                 struct kiln_inspection **ret, struct kiln_error **reterr)
{
        struct kiln_appliance *a = NULL;
        int r = kiln_appliance_new(image, format, true, force_tcg, &a, reterr);
        if (r < 0)
                return r;
        r = kiln_inspect_appliance(a, copy_logs_to, ret, reterr);
        if (r < 0) {
                kiln_appliance_free(a, false, NULL);
                return r;
        }
        r = kiln_appliance_free(a, true, reterr);
        if (r < 0) {
                kiln_inspection_free(*ret);
                *ret = NULL;
        }
        return r;
}

int kiln_inspect_appliance(struct kiln_appliance *a, const char *copy_logs_to, struct kiln_inspection **ret,
                           struct kiln_error **reterr)
{
        guestfs_h *g = a->g;
        const char *root = a->root;
        int r = 0;
        struct kiln_inspection *in = xcalloc(1, sizeof(*in));
        char **mps = NULL;
        /* The image wrote all of these: escaped before anything prints them. */
        in->product = image_text(guestfs_inspect_get_product_name(g, root));
        in->distro = image_text(guestfs_inspect_get_distro(g, root));
        in->major = guestfs_inspect_get_major_version(g, root);
        in->minor = guestfs_inspect_get_minor_version(g, root);
        in->hostname = image_text(guestfs_inspect_get_hostname(g, root));

        mps = guestfs_inspect_get_mountpoints(g, root); /* pairs: mountpoint, device */
        size_t n = strv_length(mps) / 2;
        for (size_t i = 0; i < n; i++) {
                bool is_root = STREQ(mps[2 * i], "/"), boot = STREQ(mps[2 * i], "/boot");
                int num = (is_root || boot) && str_has_prefix(mps[2 * i + 1], "/dev/sd")
                                  ? guestfs_part_to_partnum(g, mps[2 * i + 1])
                                  : -1;
                if (num > 0 && is_root)
                        in->root_part = (unsigned)num;
                else if (num > 0)
                        in->boot_part = (unsigned)num;
        }
        /* Best effort, as before: an image whose root cannot be mounted reads as one where the
         * installer did not finish, which is what inspect then reports. */
        struct kiln_error *mount_err = NULL;
        kiln_appliance_mount_all(g, root, true, &mount_err);
        kiln_error_free(mount_err);

        in->installer_finished = guestfs_is_dir(g, "/var/log/installer") > 0;
        if (in->installer_finished && copy_logs_to) {
                if (mkdir(copy_logs_to, 0755) < 0 && errno != EEXIST) {
                        r = kiln_error_set(reterr, errno, "cannot create '%s': %s", copy_logs_to, strerror(errno));
                        goto out;
                }
                /* The guest wrote these: they come out as data (files and folders, nothing else),
                 * never through the host's tar running as root. */
                _cleanup_free_ char *dest = xasprintf("%s/installer", copy_logs_to);
                const struct kiln_copy_out_limits lim = {.max_bytes = 256 << 20, .max_files = 10000};
                r = kiln_appliance_copy_out(g, "/var/log/installer", dest, &lim, &in->logs_skipped, reterr);
                if (r < 0)
                        goto out;
        }

        size_t size = 0;
        char *status = guestfs_is_file(g, "/var/lib/dpkg/status") > 0
                               ? guestfs_read_file(g, "/var/lib/dpkg/status", &size)
                               : NULL;
        in->packages = xcalloc(1, sizeof(char *));
        if (status) {
                _cleanup_free_ char *text = xstrndup(status, size);
                free(status);
                const char *pos = text, *st;
                size_t len;
                while ((st = kiln_stanza_next(&pos, &len))) {
                        _cleanup_free_ char *pkg = kiln_stanza_field(st, len, "Package");
                        _cleanup_free_ char *ver = kiln_stanza_field(st, len, "Version");
                        _cleanup_free_ char *stat = kiln_stanza_field(st, len, "Status");
                        if (pkg && ver && stat && STREQ(stat, "install ok installed")) {
                                _cleanup_free_ char *entry = xasprintf("%s=%s", pkg, ver);
                                in->packages = strv_push(in->packages, kiln_text_safe(entry, strlen(entry)));
                        }
                }
        }

        /* What a finished kiln image must not keep from its build. */
        in->problems = xcalloc(1, sizeof(char *));
        static const char *const apt_conf[] = {"/etc/apt/apt.conf"};
        for (size_t i = 0; i < ELEMENTSOF(apt_conf); i++) {
                if (guestfs_is_file(g, apt_conf[i]) <= 0)
                        continue;
                size_t sz = 0;
                char *c = guestfs_read_file(g, apt_conf[i], &sz);
                if (c && memmem(c, sz, "Proxy", 5))
                        in->problems =
                                strv_push(in->problems, xasprintf("%s still names the build's proxy", apt_conf[i]));
                free(c);
        }
        if (!in->installer_finished)
                in->problems = strv_push(in->problems, xstrdup("no /var/log/installer: the installer did not finish"));
        if (guestfs_umount_all(g) < 0)
                r = kiln_appliance_error(g, reterr, "libguestfs: unmount the image's filesystems");
out:
        strv_free(mps);
        if (r < 0) {
                kiln_inspection_free(in);
                return r;
        }
        *ret = in;
        return 0;
}
