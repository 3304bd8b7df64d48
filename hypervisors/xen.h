/* What the Xen backend offers beyond its ops table: its network plan and its xl config text, for
 * tests (the config against libxlutil, the plan against a bridge). */
#pragma once

#include "hv.h"

/* Xen's network plan: the bridge's own IPv4 address (where the proxy listens), its netmask, and
 * the guest's static address (the bridge's plus one). */
struct kiln_xen_net {
        char bridge_ip[16], netmask[16], guest_ip[16];
};
int kiln_xen_net_plan(const char *bridge, struct kiln_xen_net *ret, struct kiln_error **reterr);

/* The xl config text for a guest; bridge NULL: no network. */
char *kiln_xen_config(const struct kiln_guest_config *cfg, const char *bridge, const char *guest_ip);
