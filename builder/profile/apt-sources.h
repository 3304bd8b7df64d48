/* The host's own apt sources: where kiln finds its default mirror and security mirror. */
#pragma once

#include "error.h"

/* Find the Debian mirror and security mirror the host's apt uses.
 * apt_dir is an /etc/apt-like folder. *ret_security is NULL when the host has none.
 * Fails with ENOENT (and a message naming apt_dir) when no Debian mirror is configured. */
int kiln_host_mirrors(const char *apt_dir, char **ret_mirror, char **ret_security, struct kiln_error **reterr);

/* $KILN_APT_DIR or /etc/apt. */
const char *kiln_default_apt_dir(void);
