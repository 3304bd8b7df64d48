/* See appliance.h. */
#include "appliance.h"

#include <errno.h>

#include "util.h"

int kiln_appliance_error(guestfs_h *g, struct kiln_error **reterr, const char *what)
{
        const char *e = guestfs_last_error(g);
        _cleanup_free_ char *msg = xstrdup(e ? e : "failed");
        /* guestfs_command's errors carry the command's whole output; keep the last lines. */
        size_t len = strlen(msg);
        if (len > 2000)
                memmove(msg, msg + len - 2000, 2001);
        return kiln_error_set(reterr, EIO, "%s: %s", what, msg);
}

int kiln_appliance_open(const char *image, const char *format, bool readonly, bool force_tcg, guestfs_h **ret_g,
                        char **ret_root, struct kiln_error **reterr)
{
        guestfs_h *g = guestfs_create();
        if (!g)
                return kiln_error_set(reterr, ENOMEM, "cannot create a libguestfs handle");
        guestfs_set_error_handler(g, NULL, NULL);
        if (force_tcg) {
                char *settings[] = {"force_tcg", NULL};
                guestfs_set_backend_settings(g, settings);
        }
        char **roots = NULL;
        int r;
        if (guestfs_add_drive_opts(g, image, GUESTFS_ADD_DRIVE_OPTS_READONLY, readonly ? 1 : 0,
                                   GUESTFS_ADD_DRIVE_OPTS_FORMAT, format, -1) < 0)
                r = kiln_appliance_error(g, reterr, "libguestfs: add the image");
        else if (guestfs_launch(g) < 0)
                r = kiln_appliance_error(g, reterr, "libguestfs: launch the appliance");
        else if (!(roots = guestfs_inspect_os(g)) || !roots[0])
                r = kiln_error_set(reterr, ENOENT, "no operating system found in '%s'", image);
        else
                r = 0;
        if (r < 0) {
                strv_free(roots);
                guestfs_close(g);
                return r;
        }
        *ret_root = xstrdup(roots[0]);
        strv_free(roots);
        *ret_g = g;
        return 0;
}

static int cmp_len(const void *a, const void *b)
{
        size_t x = strlen(*(char *const *) a), y = strlen(*(char *const *) b);
        return x < y ? -1 : x > y;
}

int kiln_appliance_mount_all(guestfs_h *g, const char *root, bool readonly, struct kiln_error **reterr)
{
        char **mps = guestfs_inspect_get_mountpoints(g, root); /* pairs: mountpoint, device */
        if (!mps)
                return kiln_appliance_error(g, reterr, "libguestfs: read the image's mount points");
        size_t n = strv_length(mps) / 2;
        char **order = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                order[i] = mps[2 * i];
        qsort(order, n, sizeof(char *), cmp_len);
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++)
                for (size_t k = 0; k < n; k++) {
                        if (mps[2 * k] != order[i])
                                continue;
                        int m = readonly ? guestfs_mount_ro(g, mps[2 * k + 1], mps[2 * k])
                                         : guestfs_mount(g, mps[2 * k + 1], mps[2 * k]);
                        if (m < 0 && STREQ(mps[2 * k], "/"))
                                r = kiln_appliance_error(g, reterr, "libguestfs: mount the root filesystem");
                }
        free(order);
        strv_free(mps);
        return r;
}
