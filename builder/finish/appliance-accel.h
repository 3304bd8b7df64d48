/* The libguestfs appliance's accelerator: whether to tell libguestfs force_tcg. */
#pragma once

#include "cache.h"
#include "util.h"

/* The host's newest /boot/vmlinuz-* (what supermin gives the appliance), or NULL. */
char *kiln_host_kernel(void);

/* Should libguestfs be told force_tcg? accel auto probes KVM (cached) with the host's kernel;
 * LIBGUESTFS_BACKEND_SETTINGS set by the user wins. */
bool kiln_appliance_force_tcg(const char *accel, const struct kiln_cache *cache, kiln_notice_fn notice, void *userdata);
