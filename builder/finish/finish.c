/* GRUB from the host side through libguestfs, output conversion and the libvirt domain.
 *
 * The libguestfs backend never runs anything from the image on the host: grub-install and
 * update-grub are the image's own, run by the libguestfs daemon inside its appliance (a small VM),
 * chrooted into the image's filesystems with /dev, /proc and /sys bound in. Debian's appliance has
 * no grub-pc-bin, and the image's own GRUB is the one that matches its grub.cfg and modules. */
#include "finish.h"

#include <errno.h>
#include <fcntl.h>
#include <libxml/xmlwriter.h>
#include <sys/stat.h>

#include "appliance.h"
#include "command.h"
#include "image-format.h"

const char *kiln_output_format(const char *path)
{
        static const struct {
                const char *ext, *fmt;
        } map[] = {{".qcow2", "qcow2"}, {".raw", "raw"}, {".img", "raw"}, {".vmdk", "vmdk"}, {".vhdx", "vhdx"}};
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (str_has_suffix(path, map[i].ext) && strlen(path) > strlen(map[i].ext))
                        return map[i].fmt;
        return NULL;
}

/* A value for a double-quoted shell assignment (the file is sourced by grub-mkconfig). */
static void shell_dq(struct kiln_buf *b, const char *s)
{
        for (; *s; s++) {
                if (strchr("\"\\$`", *s))
                        buf_append(b, "\\", 1);
                buf_append(b, s, 1);
        }
}

char *kiln_grub_defaults(const struct kiln_profile *p)
{
        _cleanup_free_ char *args = strv_join(p->kernel_args, " ");
        struct kiln_buf b = {0};
        buf_puts(&b, "# Written by kiln: the installed system's kernel command line and a serial console.\n"
                     "GRUB_CMDLINE_LINUX=\"");
        shell_dq(&b, args);
        buf_puts(&b, "\"\nGRUB_TERMINAL=\"console serial\"\n"
                     "GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n"
                     "GRUB_TIMEOUT=1\n");
        return buf_steal(&b);
}

int kiln_grub_appliance(struct kiln_appliance *a, const struct kiln_profile *p, char **ret_log,
                        struct kiln_error **reterr)
{
        guestfs_h *g = a->g;
        char **devs = NULL, *disk = NULL;
        _cleanup_free_ char *defaults = kiln_grub_defaults(p);
        struct kiln_buf log = {0};
        int r;
        if ((r = kiln_appliance_mount_all(g, a->root, false, reterr)) < 0)
                goto out;
        if (guestfs_is_file_opts(g, "/usr/sbin/grub-install", GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1, -1) <= 0 ||
            guestfs_is_dir(g, "/usr/lib/grub/i386-pc") <= 0) {
                r = kiln_error_set(reterr, ENOENT,
                                   "the image has no grub-install for BIOS (package grub-pc); 'bootloader: host' "
                                   "installs it through the preseed, so the install did not finish as planned");
                goto out;
        }
        devs = guestfs_list_devices(g);
        if (!devs || !devs[0]) {
                r = kiln_appliance_error(g, reterr, "libguestfs: list the appliance's disks");
                goto out;
        }
        if (guestfs_mkdir_p(g, "/etc/default/grub.d") < 0 ||
            guestfs_write(g, "/etc/default/grub.d/kiln.cfg", defaults, strlen(defaults)) < 0) {
                r = kiln_appliance_error(g, reterr, "libguestfs: write /etc/default/grub.d/kiln.cfg");
                goto out;
        }
        /* Which disk to install on, in the appliance kernel's own names. libguestfs's API names
         * (guestfs_list_devices: the image is /dev/sda) are translated by its daemon; a program run
         * with guestfs_command sees the kernel's, and the kernel scans the appliance's disks
         * asynchronously: now and then the appliance's own root disk is sda and the image sdb. Then
         * "grub-install /dev/sda" aims at the appliance's disk and fails with "embedding is not
         * possible, but this is required for cross-disk install" (seen here under load, twice).
         * So GRUB itself names the disk that holds the image's /boot. */
        char *probe[] = {"grub-probe", "--target=disk", "/boot", NULL};
        disk = guestfs_command(g, probe);
        if (disk)
                disk[strcspn(disk, "\n")] = '\0';
        buf_printf(&log, "$ grub-probe --target=disk /boot\n%s\n", disk ? disk : guestfs_last_error(g));
        if (!disk || !str_has_prefix(disk, "/dev/") || strpbrk(disk, " \t") || !disk[5]) {
                r = disk ? kiln_error_set(reterr, EIO, "the image's grub-probe named no disk for /boot (said '%s')",
                                          disk)
                         : kiln_appliance_error(g, reterr, "the image's grub-probe (in the libguestfs appliance)");
                goto out;
        }
        if (!STREQ(disk, devs[0]))
                buf_printf(&log, "(the appliance's kernel calls the image %s; libguestfs calls it %s)\n", disk,
                           devs[0]);
        char *install[] = {"grub-install", "--target=i386-pc", "--recheck", disk, NULL};
        char *update[] = {"update-grub", NULL};
        char **steps[] = {install, update};
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                char *out = guestfs_command(g, steps[i]);
                if (!out) {
                        const char *e = guestfs_last_error(g);
                        buf_printf(&log, "$ %s (failed)\n%s\n", steps[i][0], e ? e : "");
                        _cleanup_free_ char *what =
                                xasprintf("the image's %s (in the libguestfs appliance) failed", steps[i][0]);
                        r = kiln_appliance_error(g, reterr, what);
                        goto out;
                }
                buf_printf(&log, "$ %s\n%s", steps[i][0], out);
                free(out);
        }
        if (guestfs_is_file(g, "/boot/grub/grub.cfg") <= 0 || guestfs_is_file(g, "/boot/grub/i386-pc/core.img") <= 0) {
                r = kiln_error_set(reterr, EIO,
                                   "grub-install and update-grub ran but left no /boot/grub/grub.cfg "
                                   "or core.img in the image");
                goto out;
        }
        size_t sz = 0;
        char *cfg = guestfs_read_file(g, "/boot/grub/grub.cfg", &sz);
        bool has_linux = cfg && memmem(cfg, sz, "\tlinux\t", 7) && memmem(cfg, sz, "root=", 5);
        if (cfg)
                buf_printf(&log, "$ cat /boot/grub/grub.cfg\n%.*s", (int)sz, cfg);
        free(cfg);
        if (!has_linux) {
                r = kiln_error_set(reterr, EIO,
                                   "update-grub wrote a grub.cfg with no Linux entry: is a kernel "
                                   "installed in the image's /boot?");
                goto out;
        }
        sz = 0;
        char *mbr = guestfs_pread_device(g, devs[0], 512, 0, &sz);
        bool boot_sector = mbr && sz == 512 && (unsigned char)mbr[510] == 0x55 && (unsigned char)mbr[511] == 0xaa &&
                           memmem(mbr, 512, "GRUB", 4);
        free(mbr);
        if (!boot_sector) {
                r = kiln_error_set(reterr, EIO, "grub-install ran but the disk's boot sector is not GRUB's");
                goto out;
        }
        r = kiln_appliance_free(a, true, reterr);
        a = NULL;
out:
        strv_free(devs);
        free(disk);
        if (a)
                kiln_appliance_free(a, false, NULL);
        if (ret_log)
                *ret_log = buf_steal(&log);
        else
                free(log.data);
        return r;
}

int kiln_image_convert(const char *src, const char *src_format, const char *dst, const char *dst_format, bool compress,
                       volatile sig_atomic_t *interrupted, struct kiln_error **reterr)
{
        /* -f and -O always: a format is never guessed from an image's contents. A qcow2 to ship gets
         * compressed clusters; compression is zlib on one thread unless qemu-img may keep several
         * requests in flight and write them out of order (-m 8 -W: the same guest data, clusters
         * laid out in whatever order they finish; measured in bench/README.md). convert skips
         * zeroes: the output is sparse. */
        int r = kiln_image_check(src, src_format, reterr);
        if (r < 0)
                return r;
        bool qcow2 = compress && STREQ(dst_format, "qcow2");
        const char *argv[16];
        size_t n = 0;
        argv[n++] = "qemu-img";
        argv[n++] = "convert";
        argv[n++] = "-q";
        argv[n++] = "-f";
        argv[n++] = src_format;
        argv[n++] = "-O";
        argv[n++] = dst_format;
        if (qcow2) {
                argv[n++] = "-c";
                argv[n++] = "-m";
                argv[n++] = "8";
                argv[n++] = "-W";
        }
        argv[n++] = src;
        argv[n++] = dst;
        argv[n] = NULL;
        _cleanup_free_ char *errs = NULL;
        struct kiln_command_opts o = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -2, .timeout_sec = 3600};
        r = kiln_command_run((char **)argv, &o, NULL, &errs, reterr);
        if (r == 0 && interrupted && *interrupted)
                r = kiln_error_set(reterr, EINTR, "interrupted");
        else if (r > 0)
                r = kiln_error_set(reterr, EIO, "qemu-img convert to %s failed: %s", dst_format,
                                   errs ? errs : "(no message)");
        if (r != 0)
                unlink(dst);
        return r;
}

/* <name a="x" b="y"/>; b may be NULL. */
static void empty_element(xmlTextWriterPtr w, const char *name, const char *a, const char *av, const char *b,
                          const char *bv)
{
        xmlTextWriterStartElement(w, BAD_CAST name);
        xmlTextWriterWriteAttribute(w, BAD_CAST a, BAD_CAST av);
        if (b)
                xmlTextWriterWriteAttribute(w, BAD_CAST b, BAD_CAST bv);
        xmlTextWriterEndElement(w);
}

char *kiln_libvirt_xml(const struct kiln_profile *p, const char *image_abs, const char *format)
{
        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
        xmlTextWriterSetIndent(w, 1);
        xmlTextWriterSetIndentString(w, BAD_CAST "  ");
        xmlTextWriterStartElement(w, BAD_CAST "domain");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "kvm");
        xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST p->name);
        xmlTextWriterStartElement(w, BAD_CAST "memory");
        xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "KiB");
        xmlTextWriterWriteFormatString(w, "%llu", (unsigned long long)(p->vm.memory / 1024));
        xmlTextWriterEndElement(w);
        xmlTextWriterWriteFormatElement(w, BAD_CAST "vcpu", "%u", p->vm.cpus);
        xmlTextWriterStartElement(w, BAD_CAST "os");
        xmlTextWriterStartElement(w, BAD_CAST "type");
        xmlTextWriterWriteAttribute(w, BAD_CAST "arch", BAD_CAST(STREQ(p->arch, "arm64") ? "aarch64" : "x86_64"));
        xmlTextWriterWriteString(w, BAD_CAST "hvm");
        xmlTextWriterEndElement(w);
        empty_element(w, "boot", "dev", "hd", NULL, NULL);
        xmlTextWriterEndElement(w); /* os */
        xmlTextWriterStartElement(w, BAD_CAST "features");
        xmlTextWriterWriteElement(w, BAD_CAST "acpi", BAD_CAST "");
        xmlTextWriterEndElement(w);
        xmlTextWriterStartElement(w, BAD_CAST "devices");
        xmlTextWriterStartElement(w, BAD_CAST "disk");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file");
        xmlTextWriterWriteAttribute(w, BAD_CAST "device", BAD_CAST "disk");
        empty_element(w, "driver", "name", "qemu", "type", format);
        empty_element(w, "source", "file", image_abs, NULL, NULL);
        empty_element(w, "target", "dev", "vda", "bus", "virtio");
        xmlTextWriterEndElement(w); /* disk */
        xmlTextWriterStartElement(w, BAD_CAST "interface");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "network");
        empty_element(w, "source", "network", "default", NULL, NULL);
        empty_element(w, "model", "type", "virtio", NULL, NULL);
        xmlTextWriterEndElement(w); /* interface */
        empty_element(w, "serial", "type", "pty", NULL, NULL);
        empty_element(w, "console", "type", "pty", NULL, NULL);
        xmlTextWriterEndElement(w); /* devices */
        xmlTextWriterEndElement(w); /* domain */
        xmlTextWriterEndDocument(w);
        xmlFreeTextWriter(w);
        char *s = xstrdup((const char *)xmlBufferContent(buf));
        xmlBufferFree(buf);
        return s;
}
