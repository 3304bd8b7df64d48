/* The libguestfs appliance's accelerator: libguestfs boots the host's kernel under KVM unless told
 * force_tcg; where KVM cannot run it, kiln tells it (the same probe as the install's, cached). */
#include "appliance-accel.h"

#include <fcntl.h>

#include "qemu.h"

char *kiln_host_kernel(void)
{
        _cleanup_close_ int fd = open("/boot", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *v = fd >= 0 ? kiln_newest_kernel(fd) : NULL;
        return v ? xasprintf("/boot/vmlinuz-%s", v) : NULL;
}

bool kiln_appliance_force_tcg(const char *accel, const struct kiln_cache *cache, kiln_notice_fn notice, void *userdata)
{
        const char *env = getenv("LIBGUESTFS_BACKEND_SETTINGS");
        if (env && *env)
                return false; /* the user decided */
        if (!STREQ(accel, "auto"))
                return STREQ(accel, "tcg");
        _cleanup_free_ char *kernel = kiln_host_kernel(), *got = NULL;
        if (!kernel)
                return true;
        kiln_qemu_accel("auto", kernel, cache, notice, userdata, &got, NULL);
        return !got || STREQ(got, "tcg");
}
