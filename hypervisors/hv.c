/* What every backend shares: finding one by name, a guest's life as an object. */
#include "hv.h"

const struct kiln_hv_ops *kiln_hv_find(const char *name)
{
        if (STREQ(name, "qemu"))
                return &kiln_hv_qemu;
        if (STREQ(name, "xen"))
                return &kiln_hv_xen;
        return NULL;
}

struct kiln_guest *kiln_guest_new(const struct kiln_hv_ops *ops)
{
        struct kiln_guest *g = xcalloc(1, sizeof(*g));
        g->ops = ops;
        g->data = ops->data_size ? xcalloc(1, ops->data_size) : NULL;
        return g;
}

void kiln_guest_free(struct kiln_guest *g)
{
        if (!g)
                return;
        strv_free(g->argv);
        free(g->stderr_path);
        free(g->data);
        free(g);
}

void kiln_hv_net_clear(struct kiln_hv_net *n)
{
        free(n->proxy_listen);
        free(n->guest_proxy_host);
        free(n->installer_args);
        *n = (struct kiln_hv_net){0};
}
