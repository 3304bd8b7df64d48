/* Read-only inspection through libguestfs: the image's filesystems are mounted inside the
 * libguestfs appliance, a small VM, so a hostile filesystem meets the appliance's kernel, not the
 * host's. Nothing from the image runs anywhere. */
#include "inspect.h"

#include <errno.h>
#include <guestfs.h>
#include <sys/stat.h>

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

static int gerr(guestfs_h *g, struct kiln_error **reterr, const char *what)
{
        const char *e = guestfs_last_error(g);
        return kiln_error_set(reterr, EIO, "libguestfs: %s: %s", what, e ? e : "failed");
}

static int cmp_len(const void *a, const void *b)
{
        /* mount "/" before "/home": shorter mountpoints first */
        size_t x = strlen(*(char *const *) a), y = strlen(*(char *const *) b);
        return x < y ? -1 : x > y;
}

int kiln_inspect(const char *image, const char *format, bool force_tcg, const char *copy_logs_to,
                 struct kiln_inspection **ret, struct kiln_error **reterr)
{
        guestfs_h *g = guestfs_create();
        if (!g)
                return kiln_error_set(reterr, ENOMEM, "cannot create a libguestfs handle");
        guestfs_set_error_handler(g, NULL, NULL);
        struct kiln_inspection *in = xcalloc(1, sizeof(*in));
        char **roots = NULL, **mps = NULL;
        int r = 0;
        if (force_tcg) {
                char *settings[] = {"force_tcg", NULL};
                guestfs_set_backend_settings(g, settings);
        }
        if (guestfs_add_drive_opts(g, image, GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, GUESTFS_ADD_DRIVE_OPTS_FORMAT,
                                   format, -1) < 0) {
                r = gerr(g, reterr, "add the image");
                goto out;
        }
        if (guestfs_launch(g) < 0) {
                r = gerr(g, reterr, "launch the appliance");
                goto out;
        }
        roots = guestfs_inspect_os(g);
        if (!roots || !roots[0]) {
                r = kiln_error_set(reterr, ENOENT, "no operating system found in '%s'", image);
                goto out;
        }
        const char *root = roots[0];
        in->product = guestfs_inspect_get_product_name(g, root);
        in->distro = guestfs_inspect_get_distro(g, root);
        in->major = guestfs_inspect_get_major_version(g, root);
        in->minor = guestfs_inspect_get_minor_version(g, root);
        in->hostname = guestfs_inspect_get_hostname(g, root);

        mps = guestfs_inspect_get_mountpoints(g, root); /* pairs: mountpoint, device */
        size_t n = strv_length(mps) / 2;
        for (size_t i = 0; i < n; i++) {
                bool is_root = STREQ(mps[2 * i], "/"), boot = STREQ(mps[2 * i], "/boot");
                int num = (is_root || boot) && str_has_prefix(mps[2 * i + 1], "/dev/sd")
                                  ? guestfs_part_to_partnum(g, mps[2 * i + 1])
                                  : -1;
                if (num > 0 && is_root)
                        in->root_part = (unsigned) num;
                else if (num > 0)
                        in->boot_part = (unsigned) num;
        }
        char **order = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                order[i] = mps[2 * i];
        qsort(order, n, sizeof(char *), cmp_len);
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < n; k++)
                        if (mps[2 * k] == order[i])
                                guestfs_mount_ro(g, mps[2 * k + 1], mps[2 * k]); /* best effort: swap, odd fs */
        free(order);

        in->installer_finished = guestfs_is_dir(g, "/var/log/installer") > 0;
        if (in->installer_finished && copy_logs_to) {
                if (mkdir(copy_logs_to, 0755) < 0 && errno != EEXIST) {
                        r = kiln_error_set(reterr, errno, "cannot create '%s': %s", copy_logs_to, strerror(errno));
                        goto out;
                }
                if (guestfs_copy_out(g, "/var/log/installer", copy_logs_to) < 0) {
                        r = gerr(g, reterr, "copy out /var/log/installer");
                        goto out;
                }
        }

        size_t size = 0;
        char *status = guestfs_is_file(g, "/var/lib/dpkg/status") > 0 ? guestfs_read_file(g, "/var/lib/dpkg/status", &size)
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
                        if (pkg && ver && stat && STREQ(stat, "install ok installed"))
                                in->packages = strv_push(in->packages, xasprintf("%s=%s", pkg, ver));
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
                        in->problems = strv_push(in->problems,
                                                 xasprintf("%s still names the build's proxy", apt_conf[i]));
                free(c);
        }
        if (!in->installer_finished)
                in->problems = strv_push(in->problems, xstrdup("no /var/log/installer: the installer did not finish"));
        guestfs_umount_all(g);
        if (guestfs_shutdown(g) < 0)
                r = gerr(g, reterr, "shut the appliance down");
out:
        strv_free(roots);
        strv_free(mps);
        guestfs_close(g);
        if (r < 0) {
                kiln_inspection_free(in);
                return r;
        }
        *ret = in;
        return 0;
}
