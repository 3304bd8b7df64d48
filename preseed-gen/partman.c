/* Partitioning recipes: partman expert recipes for the layouts, when swap is sized by the profile. */
#include "preseed.h"

struct part {
        const char *mount; /* NULL: swap */
        unsigned min, prio;
        int max;  /* -1: grow */
        bool lvm; /* may live in the volume group */
};

static void recipe_part(struct kiln_buf *b, const struct part *pt, bool lvm_method)
{
        if (!pt->mount) {
                buf_printf(b, " %u %u %d linux-swap%s method{ swap } format{ } .", pt->min, pt->prio, pt->max,
                           lvm_method ? " $lvmok{ }" : "");
                return;
        }
        if (STREQ(pt->mount, "/boot")) {
                buf_printf(b,
                           " %u %u %d ext4 $primary{ } $bootable{ } method{ format } format{ } use_filesystem{ } "
                           "filesystem{ ext4 } mountpoint{ /boot } .",
                           pt->min, pt->prio, pt->max);
                return;
        }
        buf_printf(b,
                   " %u %u %d $default_filesystem%s%s method{ format } format{ } use_filesystem{ } "
                   "$default_filesystem{ } mountpoint{ %s } .",
                   pt->min, pt->prio, pt->max, lvm_method && pt->lvm ? " $lvmok{ }" : "",
                   STREQ(pt->mount, "/") && !lvm_method ? " $primary{ } $bootable{ }" : "", pt->mount);
}

char *kiln_partman_recipe(const struct kiln_profile *p)
{
        if (!p->disk.swap_set)
                return NULL;

        unsigned swap_mb = (unsigned)(p->disk.swap >> 20);
        struct part parts[8];
        size_t n = 0;
        bool lvm = p->disk.layout == KILN_LAYOUT_LVM;
        if (lvm)
                parts[n++] = (struct part){"/boot", 512, 512, 1024, false};
        switch (p->disk.layout) {
        case KILN_LAYOUT_ATOMIC:
        case KILN_LAYOUT_LVM:
                parts[n++] = (struct part){"/", 2048, 10000, -1, true};
                break;
        case KILN_LAYOUT_HOME:
                parts[n++] = (struct part){"/", 2048, 10000, 20480, true};
                parts[n++] = (struct part){"/home", 1024, 10000, -1, true};
                break;
        case KILN_LAYOUT_MULTI:
                parts[n++] = (struct part){"/", 2048, 5000, 8192, true};
                parts[n++] = (struct part){"/var", 1024, 3000, 10240, true};
                parts[n++] = (struct part){"/tmp", 512, 1000, 2048, true};
                parts[n++] = (struct part){"/home", 1024, 10000, -1, true};
                break;
        }
        if (swap_mb)
                parts[n++] = (struct part){NULL, swap_mb, swap_mb, (int)swap_mb, true};

        struct kiln_buf b = {0};
        buf_printf(&b, "kiln-%s ::", kiln_layout_name(p->disk.layout));
        for (size_t i = 0; i < n; i++)
                recipe_part(&b, &parts[i], lvm);
        return buf_steal(&b);
}
