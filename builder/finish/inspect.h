/* Inspecting an installed image without trusting it: libguestfs opens it read-only inside its own
 * appliance (a VM), never on the host's kernel. */
#pragma once

#include "error.h"

struct kiln_inspection {
        char *product; /* "Debian GNU/Linux 13 (trixie)" */
        char *distro;  /* "debian" */
        int major, minor;
        char *hostname;
        bool installer_finished;       /* /var/log/installer exists */
        char **packages;               /* "name=version", installed ones */
        unsigned root_part, boot_part; /* partition numbers of / and a separate /boot; 0: not a plain
                                        * partition (LVM) or no separate /boot */
        char **problems;               /* things a finished kiln image must not have, one line each */
        size_t logs_skipped; /* entries of /var/log/installer left out: links, devices, FIFOs, past the caps */
};

/* copy_logs_to (may be NULL): a folder that receives var/log/installer as "installer/". */
int kiln_inspect(const char *image, const char *format, bool force_tcg, const char *copy_logs_to,
                 struct kiln_inspection **ret, struct kiln_error **reterr);
/* The same in an appliance already open (appliance.h), which stays open with nothing mounted: a
 * build inspects its work disk and then installs GRUB on it in one launch. */
struct kiln_appliance;
int kiln_inspect_appliance(struct kiln_appliance *a, const char *copy_logs_to, struct kiln_inspection **ret,
                           struct kiln_error **reterr);
void kiln_inspection_free(struct kiln_inspection *i);
