/* What every backend shares: finding one by name, freeing a guest. */
#include "hv.h"

const struct kiln_hv_ops *kiln_hv_find(const char *name)
{
        if (STREQ(name, "qemu"))
                return &kiln_hv_qemu;
        if (STREQ(name, "xen"))
                return &kiln_hv_xen;
        return NULL;
}

void kiln_guest_free(struct kiln_guest *g)
{
        if (!g)
                return;
        strv_free(g->argv);
        free(g->config);
        free(g->domain);
        free(g);
}
