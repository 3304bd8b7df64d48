/* Check kiln's xl configs with Xen's own parser (libxlutil): every key's type and value, and the
 * disk spec through xlu_disk_parse. Writes each config to DIR/NAME.cfg for the golden compare. */
#include <libxl.h>
#include <libxlutil.h>

#include "xen.h"

int main(int argc, char **argv);

static int check(const char *dir, const char *name, const struct kiln_guest_config *c, const char *bridge,
                 const char *guest_ip)
{
        _cleanup_free_ char *text = kiln_xen_config(c, bridge, guest_ip);
        _cleanup_free_ char *path = xasprintf("%s/%s.cfg", dir, name);
        FILE *f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                return 1;
        XLU_Config *cfg = xlu_cfg_init(stderr, path);
        if (!cfg || xlu_cfg_readfile(cfg, path) != 0) {
                printf("%s: libxlutil cannot parse it\n", name);
                return 1;
        }
        int bad = 0;
        static const char *const strings[] = {"name",    "type",        "kernel",    "ramdisk",
                                              "cmdline", "on_poweroff", "on_reboot", "on_crash"};
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                const char *v = NULL;
                int r = xlu_cfg_get_string(cfg, strings[i], &v, 1);
                if (r == 0)
                        printf("%s: %s = '%s'\n", name, strings[i], v);
                else if (r != ESRCH)
                        printf("%s: %s is not a string\n", name, strings[i]), bad = 1;
        }
        static const char *const longs[] = {"memory", "vcpus", "vnc", "sdl"};
        for (size_t i = 0; i < ELEMENTSOF(longs); i++) {
                long v;
                if (xlu_cfg_get_long(cfg, longs[i], &v, 1) == 0)
                        printf("%s: %s = %ld\n", name, longs[i], v);
                else
                        printf("%s: %s is not a number\n", name, longs[i]), bad = 1;
        }
        XLU_ConfigList *disks = NULL;
        int n = 0;
        if (xlu_cfg_get_list(cfg, "disk", &disks, &n, 0) != 0 || n != 1) {
                printf("%s: disk is not a one-item list\n", name);
                bad = 1;
        } else {
                const char *spec = xlu_cfg_get_listitem(disks, 0);
                libxl_device_disk d;
                libxl_device_disk_init(&d);
                if (xlu_disk_parse(cfg, 1, &spec, &d) != 0) {
                        printf("%s: xlu_disk_parse refuses '%s'\n", name, spec);
                        bad = 1;
                } else {
                        printf("%s: disk vdev=%s target=%s format=%s rw=%d\n", name, d.vdev, d.pdev_path,
                               libxl_disk_format_to_string(d.format), d.readwrite);
                }
                libxl_device_disk_dispose(&d);
        }
        static const char *const lists[] = {"vif", "serial"};
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                XLU_ConfigList *l = NULL;
                int k = 0;
                const char *s = NULL;
                if (xlu_cfg_get_list(cfg, lists[i], &l, &k, 1) == 0) {
                        for (int j = 0; j < k; j++)
                                printf("%s: %s[%d] = '%s'\n", name, lists[i], j, xlu_cfg_get_listitem(l, j));
                        if (k == 0)
                                printf("%s: %s = []\n", name, lists[i]);
                } else if (xlu_cfg_get_string(cfg, lists[i], &s, 1) == 0) {
                        printf("%s: %s = '%s'\n", name, lists[i], s);
                } else {
                        printf("%s: %s missing\n", name, lists[i]), bad = 1;
                }
        }
        xlu_cfg_destroy(cfg);
        return bad;
}

int main(int argc, char **argv)
{
        if (argc != 2)
                return 2;
        struct kiln_guest_config install = {
                .name = "web",
                .kernel = "/var/cache/kiln/sha256/e7/linux",
                .initrd = "/tmp/kiln-run-x/initrd.gz",
                .cmdline = "auto=true priority=critical mirror/http/proxy=http://10.99.0.1:3128/ "
                           "partman-auto/disk=/dev/xvda netcfg/disable_autoconfig=true netcfg/get_ipaddress=10.99.0.2",
                .disk = "/srv/images/web.qcow2.kiln-partial-abc",
                .disk_format = "qcow2",
                .memory = 2ULL << 30,
                .cpus = 2,
                .accel = "hvm",
                .syslog_log = "/srv/images/web.qcow2.d/syslog.log",
        };
        struct kiln_guest_config boot = {.name = "boot-test",
                                         .disk = "/srv/images/web.raw",
                                         .disk_format = "raw",
                                         .memory = 1ULL << 30,
                                         .cpus = 1,
                                         .accel = "hvm"};
        return check(argv[1], "install", &install, "kilnbr0", "10.99.0.2") | check(argv[1], "boot", &boot, NULL, NULL);
}
