/* The preseed generator: every question of a default debian-installer run answered, in a fixed order,
 * with the profile's raw 'preseed' entries applied last. */
#include "preseed.h"

#include <errno.h>

struct entry {
        const char *section; /* a comment line before this entry, or NULL */
        char *owner, *question, *type, *value;
        const char *from; /* the profile key this answer models, if any */
};

struct gen {
        const struct kiln_profile *p;
        struct entry *v;
        size_t n, cap;
        const char *section;
};

_printf_(5, 6) static void add(struct gen *g, const char *from, const char *question, const char *type, const char *fmt,
                               ...)
{
        if (g->n == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 64;
                g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
        }
        va_list ap;
        va_start(ap, fmt);
        const char *slash = strchr(question, ' ');
        struct entry *e = &g->v[g->n++];
        *e = (struct entry){.section = TAKE_PTR(g->section), .type = xstrdup(type), .from = from};
        if (slash) { /* "owner question" */
                e->owner = xstrndup(question, (size_t)(slash - question));
                e->question = xstrdup(slash + 1);
        } else {
                e->owner = xstrdup("d-i");
                e->question = xstrdup(question);
        }
        e->value = xvasprintf(fmt, ap);
        va_end(ap);
}

static void section(struct gen *g, const char *title)
{
        g->section = title;
}

/* "http://host:port/dir" -> protocol, "host:port", "/dir". */
static void split_url(const char *url, char **proto, char **host, char **dir)
{
        const char *p = strstr(url, "://");
        *proto = xstrndup(url, (size_t)(p - url));
        p += 3;
        size_t n = strcspn(p, "/");
        *host = xstrndup(p, n);
        *dir = xstrdup(p[n] ? p + n : "/");
}

static void gen_locale(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        section(g, "Localization (initrd preseeding answers these before the first question)");
        add(g, "locale", "debian-installer/locale", "string", "%s", p->locale);
        add(g, "keymap", "keyboard-configuration/xkb-keymap", "select", "%s", p->keymap);
        add(g, NULL, "console-setup/ask_detect", "boolean", "false");

        section(g, "Network: DHCP on the first interface; a static address, when needed, comes on the kernel command "
                   "line");
        add(g, NULL, "netcfg/choose_interface", "select", "auto");
        add(g, "hostname", "netcfg/get_hostname", "string", "%s", p->hostname);
        add(g, "domain", "netcfg/get_domain", "string", "%s", p->domain);
        add(g, "hostname", "netcfg/hostname", "string", "%s", p->hostname);
        /* The guest resolves no names (only kiln's proxy does), and DHCP under QEMU's restrict=on
         * offers no name server: netcfg would ask for one at critical priority (measured). */
        add(g, NULL, "netcfg/get_nameservers", "string", "%s", "");
        add(g, NULL, "netcfg/wireless_wep", "string", "%s", "");
        add(g, NULL, "hw-detect/load_firmware", "boolean", "false");
}

static void gen_mirror(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        _cleanup_free_ char *proto = NULL, *host = NULL, *dir = NULL;
        split_url(p->mirror, &proto, &host, &dir);
        section(g, "Mirror: the proxy address comes on the kernel command line (mirror/http/proxy)");
        add(g, NULL, "mirror/country", "string", "manual");
        add(g, "mirror", "mirror/protocol", "string", "%s", proto);
        _cleanup_free_ char *qh = xasprintf("mirror/%s/hostname", proto), *qd = xasprintf("mirror/%s/directory", proto);
        add(g, "mirror", qh, "string", "%s", host);
        add(g, "mirror", qd, "string", "%s", dir);
        add(g, "release", "mirror/suite", "string", "%s", p->release);
        add(g, "release", "mirror/udeb/suite", "string", "%s", p->release);
}

static void gen_accounts(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        section(g, "Accounts: root locked unless the profile gives a hash; users are created by the late command");
        add(g, NULL, "passwd/root-login", "boolean", "true");
        add(g, "root.password", "passwd/root-password-crypted", "password", "%s",
            p->root.password ? p->root.password : "*");
        add(g, NULL, "passwd/make-user", "boolean", "false");

        section(g, "Clock: the guest reaches no NTP server");
        add(g, NULL, "clock-setup/utc", "boolean", "true");
        add(g, "timezone", "time/zone", "string", "%s", p->timezone);
        add(g, NULL, "clock-setup/ntp", "boolean", "false");
}

static void gen_partman(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        bool lvm = p->disk.layout == KILN_LAYOUT_LVM;
        section(g, "Partitioning: the one disk (partman-auto/disk comes on the kernel command line)");
        add(g, "disk.layout", "partman-auto/method", "string", lvm ? "lvm" : "regular");
        add(g, NULL, "partman-lvm/device_remove_lvm", "boolean", "true");
        add(g, NULL, "partman-md/device_remove_md", "boolean", "true");
        add(g, NULL, "partman-lvm/confirm", "boolean", "true");
        add(g, NULL, "partman-lvm/confirm_nooverwrite", "boolean", "true");
        if (lvm) {
                add(g, NULL, "partman-auto-lvm/guided_size", "string", "max");
                add(g, "name", "partman-auto-lvm/new_vg_name", "string", "%s-vg", p->name);
        }
        _cleanup_free_ char *recipe = kiln_partman_recipe(p);
        if (recipe)
                add(g, "disk.swap", "partman-auto/expert_recipe", "string", "%s", recipe);
        else
                add(g, "disk.layout", "partman-auto/choose_recipe", "select", "%s",
                    lvm ? "atomic" : kiln_layout_name(p->disk.layout));
        add(g, "disk.filesystem", "partman/default_filesystem", "string", "%s", p->disk.filesystem);
        if (p->disk.swap_set && p->disk.swap == 0)
                add(g, "disk.swap", "partman-basicfilesystems/no_swap", "boolean", "false");
        add(g, NULL, "partman-partitioning/confirm_write_new_label", "boolean", "true");
        add(g, NULL, "partman/choose_partition", "select", "finish");
        add(g, NULL, "partman/confirm", "boolean", "true");
        add(g, NULL, "partman/confirm_nooverwrite", "boolean", "true");
        add(g, NULL, "partman/mount_style", "select", "uuid");
}

static void gen_apt(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        section(g, "Base system and apt");
        add(g, "arch", "base-installer/kernel/image", "string", "linux-image-%s", p->arch);
        add(g, NULL, "apt-setup/cdrom/set-first", "boolean", "false");
        add(g, NULL, "apt-setup/disable-cdrom-entries", "boolean", "true");
        add(g, NULL, "apt-setup/use_mirror", "boolean", "true");
        add(g, NULL, "apt-setup/non-free-firmware", "boolean", "false");
        add(g, NULL, "apt-setup/non-free", "boolean", "false");
        add(g, NULL, "apt-setup/contrib", "boolean", "false");
        if (p->security) {
                _cleanup_free_ char *proto = NULL, *host = NULL, *dir = NULL;
                split_url(p->security, &proto, &host, &dir);
                add(g, "security", "apt-setup/services-select", "multiselect", "security, updates");
                add(g, "security", "apt-setup/security_host", "string", "%s", host);
                add(g, "security", "apt-setup/security_path", "string", "%s", dir);
        } else {
                add(g, "security", "apt-setup/services-select", "multiselect", "updates");
        }
        for (size_t i = 0; i < p->n_repos; i++) {
                const struct kiln_repo *r = &p->repos[i];
                _cleanup_free_ char *q = NULL, *comps = strv_join(r->components, " "), *key = kiln_repo_key_path(r);
                q = xasprintf("apt-setup/local%zu/repository", i);
                if (i == 0)
                        section(g, "Extra repositories: keys travel as files in the installer's initrd");
                add(g, "repos", q, "string", "%s %s %s", r->url, r->suite, comps);
                free(q), q = xasprintf("apt-setup/local%zu/comment", i);
                add(g, "repos", q, "string", "kiln repo %s", r->name);
                free(q), q = xasprintf("apt-setup/local%zu/source", i);
                add(g, NULL, q, "boolean", "false");
                free(q), q = xasprintf("apt-setup/local%zu/key", i);
                add(g, "repos", q, "string", "file:///%s", key);
        }
}

static bool any_sudo(const struct kiln_profile *p)
{
        for (size_t i = 0; i < p->n_users; i++)
                if (p->users[i].sudo != KILN_SUDO_NO)
                        return true;
        return false;
}

static bool any_ssh_keys(const struct kiln_profile *p)
{
        if (p->root.ssh_keys[0])
                return true;
        for (size_t i = 0; i < p->n_users; i++)
                if (p->users[i].ssh_keys[0])
                        return true;
        return false;
}

static void gen_packages(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        char **pkgs = NULL;
        for (size_t i = 0; p->packages[i]; i++)
                pkgs = strv_push(pkgs, xstrdup(p->packages[i]));
        /* What the profile implies: sudo for sudoers, an SSH server for keys, GRUB for a host-side install. */
        if (any_sudo(p) && !strv_contains(pkgs, "sudo"))
                pkgs = strv_push(pkgs, xstrdup("sudo"));
        if (any_ssh_keys(p) && !strv_contains(pkgs, "openssh-server") && !strv_contains(p->tasks, "ssh-server"))
                pkgs = strv_push(pkgs, xstrdup("openssh-server"));
        if (p->bootloader == KILN_BOOTLOADER_HOST && STREQ(p->arch, "amd64") && !strv_contains(pkgs, "grub-pc"))
                pkgs = strv_push(pkgs, xstrdup("grub-pc"));
        _cleanup_free_ char *tasks = strv_join(p->tasks, ", "), *include = strv_join(pkgs, " ");
        strv_free(pkgs);

        section(g, "Packages");
        add(g, "tasks", "tasksel tasksel/first", "multiselect", "%s", tasks);
        add(g, "packages", "pkgsel/include", "string", "%s", include);
        add(g, NULL, "pkgsel/upgrade", "select", "safe-upgrade");
        add(g, NULL, "pkgsel/update-policy", "select", "none");
        add(g, NULL, "popularity-contest popularity-contest/participate", "boolean", "false");
}

/* A raw 'preseed' entry that answers this question (any owner): kiln then leaves it to the user. */
static bool raw_sets(const struct kiln_profile *p, const char *question)
{
        for (size_t i = 0; i < p->n_preseed; i++)
                if (STREQ(p->preseed[i].question, question))
                        return true;
        return false;
}

static bool tune_man_db(const struct kiln_profile *p)
{
        return p->tuning.defer_man_db && !raw_sets(p, "man-db/auto-update");
}

/* The package list holds it (name, name=version, name/suite): the user wants it kept. */
static bool wants_package(const struct kiln_profile *p, const char *name)
{
        for (size_t i = 0; p->packages[i]; i++)
                if (strncmp(p->packages[i], name, strlen(name)) == 0 && strchr("=/", p->packages[i][strlen(name)]))
                        return true;
        return false;
}

/* Install speed (issue 16). eatmydata-udeb is the installer's own: anna loads it from the mirror,
 * its post-base-installer.d and pre-pkgsel.d hooks apt-install eatmydata in the target and point
 * apt's Dir::Bin::dpkg at an eatmydata wrapper, its finish-install.d hook removes the wrapper
 * (the package itself stays: kiln's finish hook purges it). man-db's own debconf question stops
 * its trigger from rebuilding the index after every dpkg run (kiln's finish hook turns it back on
 * and runs mandb once). The driver policy is base-installer's own question. What the installer
 * hooks kiln adds do is in kiln_preseed_files. */
static void gen_tuning(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        bool man_db = tune_man_db(p), dep = !STREQ(p->tuning.initramfs, "most");
        if (!p->tuning.eatmydata && !man_db && !dep)
                return;
        section(g, "Install speed (tuning): undone by kiln's finish-install hook where the image would differ");
        if (p->tuning.eatmydata)
                add(g, "tuning.eatmydata", "anna/choose_modules", "string", "eatmydata-udeb");
        if (man_db)
                add(g, "tuning.defer_man_db", "man-db man-db/auto-update", "boolean", "false");
        if (dep)
                add(g, "tuning.initramfs", "base-installer/initramfs-tools/driver-policy", "select", "dep");
}

static void gen_bootloader(struct gen *g)
{
        const struct kiln_profile *p = g->p;
        _cleanup_free_ char *args = strv_join(p->kernel_args, " ");
        if (p->bootloader == KILN_BOOTLOADER_GUEST) {
                section(g, "Boot loader: the installer's own grub-installer on the first disk");
                add(g, NULL, "grub-installer/only_debian", "boolean", "true");
                add(g, NULL, "grub-installer/with_other_os", "boolean", "false");
                add(g, "bootloader", "grub-installer/bootdev", "string", "default");
                /* The installer sets GRUB up on the serial port but leaves the kernel command line empty. */
                add(g, "kernel_args", "debian-installer/add-kernel-opts", "string", "%s", args);
        } else {
                section(g, "Boot loader: none in the guest; kiln installs GRUB from the host side afterwards");
                add(g, "bootloader", "grub-installer/skip", "boolean", "true");
                add(g, "bootloader", "lilo-installer/skip", "boolean", "true");
                add(g, "bootloader", "nobootloader/confirmation_common", "boolean", "true");
                add(g, NULL, "grub-pc grub-pc/install_devices", "multiselect", "%s", "");
                add(g, NULL, "grub-pc grub-pc/install_devices_empty", "boolean", "true");
        }
}

/* The installer's syslog, followed onto the second serial port for kiln to read live. The
 * follower closes the fds it inherits from debconf (3 to 9): debconf waits for their EOF, and a
 * background process holding them would stop the installer at its first step (seen under TCG). */
static const char syslog_follower[] =
        "(exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; while [ ! -e /var/log/syslog ]; do sleep 1; done; "
        "exec tail -n +1 -f /var/log/syslog) </dev/null >/dev/ttyS1 2>&1 &";

static char *early_command(const struct kiln_profile *p)
{
        char **parts = NULL;
        if (p->installer.udebs[0])
                parts = strv_push(parts, xstrdup("for f in /kiln/udebs/*.udeb; do udpkg -i \"$f\" || exit 1; done"));
        for (size_t i = 0; p->installer.early_commands[i]; i++) {
                _cleanup_free_ char *q = shell_quote(p->installer.early_commands[i]);
                parts = strv_push(parts, xasprintf("sh -c %s", q));
        }
        _cleanup_free_ char *rest = strv_join(parts, " && ");
        strv_free(parts);
        return *rest ? xasprintf("%s %s", syslog_follower, rest) : xstrdup(syslog_follower);
}

/* Commands kiln writes into the preseed carry no backslash: debian-installer's debconf hands
 * "\n" in a value back as a line break, which cut a "printf '%s\n'" late_command in two and
 * stopped a real install at finish-install. Files are written with echo, one line per word. */
static void push_keys(char ***parts, const char *dir, char *const *keys, const char *owner)
{
        struct kiln_buf b = {0};
        buf_printf(&b, "mkdir -p /target%s/.ssh && for l in", dir);
        for (size_t i = 0; keys[i]; i++) {
                _cleanup_free_ char *q = shell_quote(keys[i]);
                buf_printf(&b, " %s", q);
        }
        buf_printf(&b,
                   "; do echo \"$l\"; done > /target%s/.ssh/authorized_keys && chmod 0700 /target%s/.ssh && chmod 0600 "
                   "/target%s/.ssh/authorized_keys",
                   dir, dir, dir);
        if (owner)
                buf_printf(&b, " && in-target chown -R %s:%s %s/.ssh", owner, owner, dir);
        *parts = strv_push(*parts, buf_steal(&b));
}

static char *late_command(const struct kiln_profile *p)
{
        char **parts = NULL;
        for (size_t i = 0; i < p->n_users; i++) {
                const struct kiln_user *u = &p->users[i];
                _cleanup_free_ char *qshell = shell_quote(u->shell),
                                    *qpw = u->password ? shell_quote(u->password) : NULL;
                if (qpw)
                        parts = strv_push(parts,
                                          xasprintf("in-target useradd -m -s %s -p %s %s", qshell, qpw, u->name));
                else
                        parts = strv_push(parts, xasprintf("in-target useradd -m -s %s %s", qshell, u->name));
                if (u->sudo != KILN_SUDO_NO)
                        parts = strv_push(parts, xasprintf("in-target usermod -aG sudo %s", u->name));
                /* A sudoer without a password could never use sudo: give such users (and 'nopasswd') NOPASSWD. */
                if (u->sudo == KILN_SUDO_NOPASSWD || (u->sudo == KILN_SUDO_YES && !u->password))
                        parts = strv_push(
                                parts,
                                xasprintf("echo '%s ALL=(ALL:ALL) NOPASSWD:ALL' > "
                                          "/target/etc/sudoers.d/kiln-%s && chmod 0440 /target/etc/sudoers.d/kiln-%s",
                                          u->name, u->name, u->name));
                if (u->ssh_keys[0]) {
                        _cleanup_free_ char *home = xasprintf("/home/%s", u->name);
                        push_keys(&parts, home, u->ssh_keys, u->name);
                }
        }
        if (p->root.ssh_keys[0])
                push_keys(&parts, "/root", p->root.ssh_keys, NULL);
        if (p->bootloader == KILN_BOOTLOADER_HOST) {
                _cleanup_free_ char *args = strv_join(p->kernel_args, " ");
                parts = strv_push(parts, xasprintf("mkdir -p /target/etc/default/grub.d && for l in "
                                                   "'GRUB_CMDLINE_LINUX=\"%s\"' 'GRUB_TERMINAL=\"console serial\"' "
                                                   "'GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"'; "
                                                   "do echo \"$l\"; done > /target/etc/default/grub.d/kiln.cfg",
                                                   args));
        }
        for (size_t i = 0; p->late_commands[i]; i++) {
                _cleanup_free_ char *q = shell_quote(p->late_commands[i]);
                parts = strv_push(parts, xasprintf("in-target sh -c %s", q));
        }
        /* The install-time proxy (mirror/http/proxy on the command line) ends up in the target's
         * apt.conf; the finished image must not point at an address that only existed during the build. */
        parts = strv_push(parts, xstrdup("(for f in /target/etc/apt/apt.conf /target/etc/apt/apt.conf.d/*; do "
                                         "[ -f \"$f\" ] && sed -i -e '/Acquire::http::Proxy/d' "
                                         "-e '/Acquire::https::Proxy/d' \"$f\"; done; true)"));
        char *r = strv_join(parts, " && ");
        strv_free(parts);
        return r;
}

static void gen_finish(struct gen *g)
{
        _cleanup_free_ char *early = early_command(g->p), *late = late_command(g->p);
        section(g, "kiln: follow the install on the second serial port; run the profile's commands");
        add(g, NULL, "preseed/early_command", "string", "%s", early);
        add(g, "late_commands", "preseed/late_command", "string", "%s", late);
        section(g, "Finish: power off, which kiln reads as success");
        add(g, NULL, "finish-install/reboot_in_progress", "note", "%s", "");
        add(g, NULL, "cdrom-detect/eject", "boolean", "false");
        add(g, NULL, "debian-installer/exit/poweroff", "boolean", "true");
}

/* tuning.initramfs targeted: base-installer's policy "dep" keeps the drivers of the install guest's
 * root disk; this initramfs-tools hook (in the image, so later kernel updates keep it) adds the disk
 * drivers of every hypervisor kiln builds for. manual_add_modules copies a module and what it
 * depends on without loading it at boot (udev loads it where its hardware is), and skips a name this
 * kernel does not have (--quiet), such as ata_piix on arm64. */
static const char initramfs_hook[] =
        "#!/bin/sh\n"
        "# Written by kiln (tuning.initramfs: targeted). The initramfs is built with MODULES=dep\n"
        "# (/etc/initramfs-tools/conf.d/driver-policy); this adds the disk drivers of the hypervisors\n"
        "# kiln builds for, so the image boots on each: QEMU/KVM, Xen HVM, VMware, Hyper-V.\n"
        "# Remove both files for a stock initramfs with every driver (MODULES=most).\n"
        "PREREQ=\"\"\n"
        "prereqs() { echo \"$PREREQ\"; }\n"
        "case \"$1\" in prereqs) prereqs; exit 0 ;; esac\n"
        ". /usr/share/initramfs-tools/hook-functions\n"
        "manual_add_modules " KILN_INITRAMFS_DRIVERS "\n";

/* tuning.defer_initramfs: initramfs-tools' own switch (update_initramfs=no in update-initramfs.conf)
 * from pkgsel on, so a package whose hook triggers a rebuild (grub-pc, the CPU's microcode) does not
 * rebuild it; kiln's finish hook sets it back and builds once. The kernel's first build, in
 * base-installer, happens before; so does pkgsel's upgrade of the base system (pkgsel runs its
 * pre-pkgsel.d after it). Only a stock "yes" is switched, after a marker saying so is written. */
static const char defer_initramfs_hook[] =
        "#!/bin/sh\n"
        "# kiln: tuning.defer_initramfs (kiln's finish-install hook builds the initramfs once).\n"
        "c=/target/etc/initramfs-tools/update-initramfs.conf\n"
        "if grep -qx update_initramfs=yes \"$c\" 2>/dev/null && mkdir -p /var/lib/kiln &&\n"
        "\ttouch /var/lib/kiln/initramfs-deferred; then\n"
        "\tsed -i 's/^update_initramfs=yes$/update_initramfs=no/' \"$c\" &&\n"
        "\t\tlogger -t kiln-tuning 'initramfs updates deferred'\n"
        "fi\n"
        "exit 0\n";

/* What kiln's tuning changed, undone where the image would differ, as finish-install's 15th script:
 * after its own last package installs (08hw-detect adds qemu-guest-agent and the CPU's microcode,
 * still under eatmydata and without man-db's trigger) and after 10update-initramfs (deferred too),
 * before the target is unmounted. A step that fails logs "kiln-tuning: error: ..." (finish-install
 * itself only warns and goes on), which kiln's install-log reader turns into a failed build. */
static char *tuning_finish_hook(const struct kiln_profile *p)
{
        bool eat = p->tuning.eatmydata, man_db = tune_man_db(p), defer = p->tuning.defer_initramfs,
             targeted = STREQ(p->tuning.initramfs, "targeted");
        if (!eat && !man_db && !defer && !targeted)
                return NULL;
        struct kiln_buf b = {0};
        buf_puts(&b, "#!/bin/sh\n"
                     "# kiln: install speed (tuning) undone, so the image is what a stock install makes.\n"
                     "fail() { logger -t kiln-tuning \"error: $1\"; exit 1; }\n");
        /* base-installer only warns when its hook fails: the image would have MODULES=dep alone */
        if (targeted)
                buf_puts(&b, "[ -x /target/etc/initramfs-tools/hooks/kiln-hypervisor-drivers ] || "
                             "fail 'the initramfs hook kiln-hypervisor-drivers is not in the image'\n");
        if (defer)
                buf_puts(&b, "if [ -e /var/lib/kiln/initramfs-deferred ]; then\n"
                             "\tsed -i 's/^update_initramfs=no$/update_initramfs=yes/' "
                             "/target/etc/initramfs-tools/update-initramfs.conf || fail 'update_initramfs=yes'\n"
                             "\tin-target update-initramfs -u -k all || fail 'update-initramfs -u'\n"
                             "\trm -f /var/lib/kiln/initramfs-deferred\n"
                             "fi\n");
        /* apt back to the plain dpkg, then eatmydata purged with dpkg itself, unless the profile names
         * it or an installed package depends on or recommends it (cloud-init does): a stock install
         * would have it then. */
        if (eat) {
                buf_puts(&b, "rm -f /target/etc/apt/apt.conf.d/95install-dpkg-eatmydata "
                             "/target/var/tmp/dpkg-eatmydata-wrapper\n");
                if (!wants_package(p, "eatmydata") && !wants_package(p, "libeatmydata1"))
                        buf_puts(&b,
                                 "if in-target dpkg-query -W -f '${Package} ${Pre-Depends} ${Depends} "
                                 "${Recommends}\\n' | grep -v '^eatmydata \\|^libeatmydata1 ' |\n"
                                 "\tgrep -Eq '[ ,|](eatmydata|libeatmydata1)([ ,(:|]|$)'; then\n"
                                 "\tlogger -t kiln-tuning 'eatmydata kept: an installed package depends on or "
                                 "recommends it'\n"
                                 "else\n"
                                 "\tin-target dpkg --purge eatmydata libeatmydata1 || fail 'dpkg --purge eatmydata'\n"
                                 "fi\n");
        }
        if (man_db) /* the question true and its flag file, as a stock install has them; the index once */
                buf_puts(&b, "if [ -e /target/var/lib/dpkg/info/man-db.list ]; then\n"
                             "\techo 'man-db man-db/auto-update boolean true' > /target/tmp/kiln-man-db &&\n"
                             "\t\tin-target debconf-set-selections /tmp/kiln-man-db || fail 'man-db/auto-update'\n"
                             "\trm -f /target/tmp/kiln-man-db\n"
                             "\ttouch /target/var/lib/man-db/auto-update || fail 'man-db auto-update flag'\n"
                             "\tin-target mandb -q || fail mandb\n"
                             "fi\n");
        buf_puts(&b, "sync\nexit 0\n");
        return buf_steal(&b);
}

/* tuning.eatmydata, for the base system: eatmydata-udeb's hooks, and base-installer's own
 * /etc/dpkg/dpkg.cfg.d/force-unsafe-io (dpkg: no fsync before each rename while unpacking), both
 * come after debootstrap. partman's finish.d runs this once /target is mounted (20mount_partitions),
 * before bootstrap-base, so debootstrap's dpkg runs read the installer's own file from the start;
 * base-installer writes it again after debootstrap and finish-install's 90base-installer removes
 * it. Never fails the partitioning step. */
static const char unsafe_io_partman_hook[] =
        "#!/bin/sh\n"
        "# kiln: tuning.eatmydata, base-installer's own force-unsafe-io, before debootstrap already.\n"
        "mkdir -p /target/etc/dpkg/dpkg.cfg.d && echo force-unsafe-io > /target" KILN_UNSAFE_IO_CONF " &&\n"
        "\tlogger -t kiln-tuning 'dpkg force-unsafe-io for debootstrap'\n"
        "exit 0\n";

/* Run by base-installer after debootstrap, before it installs initramfs-tools and the kernel, so
 * the kernel's first initramfs has the drivers too. */
static const char initramfs_installer_hook[] =
        "#!/bin/sh\n"
        "# kiln: tuning.initramfs targeted, the image's initramfs-tools hook.\n"
        "set -e\n"
        "mkdir -p /target/etc/initramfs-tools/hooks\n"
        "cp /kiln/initramfs-hook /target/etc/initramfs-tools/hooks/kiln-hypervisor-drivers\n"
        "chmod 0755 /target/etc/initramfs-tools/hooks/kiln-hypervisor-drivers\n";

/* Questions kiln owns: what its guarantees rest on (power-off as the only success, the mirror and
 * the signed sources, the guest network, the accounts, what runs in the installer, the disk). A
 * raw 'preseed' entry or an installer.extra_args word may not set them, under any owner: the
 * rule is on the question, in any case. NULL when free, else what to say (the key to use). */
const char *kiln_preseed_owned(const char *question)
{
        static const char *const families[] = {
                "preseed/",               /* early/late/include commands, url, file, run */
                "auto-install/",          /* auto mode itself */
                "debian-installer/exit/", /* power-off is how kiln knows the install finished */
                "finish-install/",
                "mirror/",    /* the mirror and the proxy (mirror/http/proxy) */
                "apt-setup/", /* the image's sources, keys and security mirror */
                "passwd/",    /* accounts */
                "debconf/",   /* priority, frontend */
                "rescue/",
        };
        static const char *const exact[] = {
                "partman-auto/disk", /* kiln gives the one disk on the command line */
                /* the Xen guest's static address on the host-only bridge, from kiln's command line */
                "netcfg/disable_autoconfig",
                "netcfg/get_ipaddress",
                "netcfg/get_netmask",
                "netcfg/get_gateway",
                "netcfg/confirm_static",
                "debian-installer/allow_unauthenticated",
        };
        _cleanup_free_ char *q = xstrdup(question);
        for (char *c = q; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
        if (STREQ(q, "preseed/early_command") || STREQ(q, "installer.early_commands"))
                return "installer.early_commands";
        if (STREQ(q, "preseed/late_command"))
                return "late_commands";
        /* kiln's initramfs hooks go with the policy it sets (a raw "most" beside them, or a raw "dep"
         * without them, would be neither stock nor targeted) */
        if (STREQ(q, "base-installer/initramfs-tools/driver-policy"))
                return "tuning.initramfs";
        for (size_t i = 0; i < ELEMENTSOF(families); i++)
                if (str_has_prefix(q, families[i]))
                        return "";
        for (size_t i = 0; i < ELEMENTSOF(exact); i++)
                if (STREQ(q, exact[i]))
                        return "";
        /* Anything that runs a command in the installer, and unsigned packages anywhere. */
        const char *last = strrchr(q, '/') ? strrchr(q, '/') + 1 : q;
        if (str_has_suffix(last, "command") || str_has_suffix(last, "commands") || strstr(q, "allow_unauthenticated") ||
            strstr(q, "allow-unauthenticated"))
                return "";
        return NULL;
}

/* debian-installer's short names on the kernel command line (the d-i manual's "boot parameters":
 * each stands for a question), and the words kiln's own command line sets. */
static const char *const cmdline_owned[] = {
        "auto",
        "url",
        "priority",
        "file",
        "locale",
        "language",
        "country",
        "keymap",
        "hostname",
        "domain",
        "interface",
        "protocol",
        "suite",
        "modules",
        "recommends",
        "desktop",
        "tasks",
        "theme",
        "preseed",
        "auto-install",
        "debconf_debug",
        "debconf_frontend",
        "debian_frontend",
        "boot_debug",
        "fb",
        "console",
        "lowmem",
        "rescue",
        "ks",
};

/* An installer.extra_args word that sets something kiln owns: the reason, or NULL. */
static char *cmdline_word_owned(const char *word)
{
        size_t kl = strcspn(word, "=");
        _cleanup_free_ char *key = xstrndup(word, kl);
        /* "owner:question=value" sets question with that owner; the owner does not matter. */
        const char *colon = strchr(key, ':');
        const char *q = colon && strchr(colon, '/') ? colon + 1 : key;
        if (strchr(q, '/')) {
                const char *use = kiln_preseed_owned(q);
                if (!use)
                        return NULL;
                return *use ? xasprintf("sets '%s', which kiln owns: use '%s'", q, use)
                            : xasprintf("sets '%s', which kiln owns", q);
        }
        for (size_t i = 0; i < ELEMENTSOF(cmdline_owned); i++)
                if (strcasecmp(q, cmdline_owned[i]) == 0)
                        return xasprintf("sets '%s', a boot parameter kiln owns (debian-installer reads it as a "
                                         "preseed question, or kiln sets it itself)",
                                         q);
        return NULL;
}

static int apply_raw(struct gen *g, struct kiln_error **reterr)
{
        const struct kiln_profile *p = g->p;
        int r = 0;
        bool first = true;
        for (size_t i = 0; i < p->n_preseed; i++) {
                const struct kiln_preseed_entry *e = &p->preseed[i];
                const struct kiln_node *loc = e->node;
                const char *use = kiln_preseed_owned(e->question);
                if (use) {
                        if (*use)
                                r = kiln_error_at(reterr, EINVAL, loc->file, loc->line, loc->column,
                                                  "'%s %s' is kiln's own: use '%s'", e->owner, e->question, use);
                        else
                                r = kiln_error_at(reterr, EINVAL, loc->file, loc->line, loc->column,
                                                  "'%s %s' is kiln's own and cannot be preseeded", e->owner,
                                                  e->question);
                        continue;
                }
                struct entry *hit = NULL;
                for (size_t k = 0; k < g->n; k++)
                        if (STREQ(g->v[k].owner, e->owner) && STREQ(g->v[k].question, e->question))
                                hit = &g->v[k];
                if (hit) {
                        const struct kiln_node *set = hit->from ? kiln_profile_key(p, hit->from) : NULL;
                        if (set && (!STREQ(hit->type, e->type) || !STREQ(hit->value, e->value))) {
                                r = kiln_error_at(reterr, EINVAL, loc->file, loc->line, loc->column,
                                                  "'%s %s' contradicts '%s' (%s:%u:%u): change one of them", e->owner,
                                                  e->question, hit->from, set->file, set->line, set->column);
                                continue;
                        }
                        free(hit->type), hit->type = xstrdup(e->type);
                        free(hit->value), hit->value = xstrdup(e->value);
                        continue;
                }
                if (first)
                        section(g, "The profile's own 'preseed' entries");
                first = false;
                add(g, NULL, "x", e->type, "%s", e->value);
                free(g->v[g->n - 1].owner), g->v[g->n - 1].owner = xstrdup(e->owner);
                free(g->v[g->n - 1].question), g->v[g->n - 1].question = xstrdup(e->question);
        }
        return r;
}

/* installer.extra_args land on the installer's kernel command line, where debian-installer reads
 * "question=value" and its short aliases as preseeding: none may set what kiln owns. */
static int check_extra_args(const struct kiln_profile *p, struct kiln_error **reterr)
{
        const struct kiln_node *list = kiln_profile_key(p, "installer.extra_args");
        int r = 0;
        for (size_t i = 0; list && list->type == KILN_NODE_SEQ && i < list->n; i++) {
                const struct kiln_node *n = list->values[i];
                if (n->type != KILN_NODE_SCALAR)
                        continue;
                _cleanup_free_ char *why = cmdline_word_owned(n->scalar);
                if (why)
                        r = kiln_error_at(reterr, EINVAL, n->file, n->line, n->column,
                                          "'installer.extra_args': '%s' %s", n->scalar, why);
        }
        return r;
}

/* A file name in a comment line: printable ASCII only, the rest as \xNN, so no name adds a line. */
static void put_name(struct kiln_buf *b, const char *s)
{
        for (const unsigned char *c = (const unsigned char *)s; *c; c++)
                if (*c < 0x20 || *c >= 0x7f || *c == '\\')
                        buf_printf(b, "\\x%02x", *c);
                else
                        buf_append(b, (const char *)c, 1);
}

int kiln_preseed_generate(const struct kiln_profile *p, const char *kiln_version, char **ret_text,
                          struct kiln_error **reterr)
{
        if (check_extra_args(p, reterr) < 0)
                return -EINVAL;
        struct gen g = {.p = p};
        gen_locale(&g);
        gen_mirror(&g);
        gen_accounts(&g);
        gen_partman(&g);
        gen_apt(&g);
        gen_packages(&g);
        gen_tuning(&g);
        gen_bootloader(&g);
        /* Raw entries go before kiln's own tail so that power-off stays the last word. */
        int r = apply_raw(&g, reterr);
        gen_finish(&g);

        struct kiln_buf b = {0};
        if (r == 0) {
                buf_printf(&b, "# debian-installer preseed for profile '%s', made by kiln %s\n", p->name, kiln_version);
                buf_puts(&b, "# from: ");
                for (size_t i = 0; p->files[i]; i++) {
                        if (i)
                                buf_puts(&b, ", ");
                        put_name(&b, p->files[i]);
                }
                buf_puts(&b, "\n");
                buf_printf(&b, "# release: %s (%u), arch: %s\n", p->release, p->release_number, p->arch);
                for (size_t i = 0; i < g.n; i++) {
                        const struct entry *e = &g.v[i];
                        if (e->section)
                                buf_printf(&b, "\n# %s\n", e->section);
                        buf_printf(&b, "%s %s %s%s%s\n", e->owner, e->question, e->type, *e->value ? " " : "",
                                   e->value);
                }
        }
        for (size_t i = 0; i < g.n; i++) {
                free(g.v[i].owner);
                free(g.v[i].question);
                free(g.v[i].type);
                free(g.v[i].value);
        }
        free(g.v);
        if (r < 0)
                return r;
        *ret_text = buf_steal(&b);
        return 0;
}

char *kiln_repo_key_path(const struct kiln_repo *r)
{
        /* apt-setup picks the keyring format from the name: armored .asc, binary .gpg. */
        bool armored =
                r->key != NULL || (r->key_file_data && r->key_file_data[strspn(r->key_file_data, " \t\r\n")] == '-');
        return xasprintf("kiln/keys/%s.%s", r->name, armored ? "asc" : "gpg");
}

void kiln_preseed_files(const struct kiln_profile *p, struct kiln_initrd_file **ret, size_t *ret_n)
{
        size_t n = 0, cap = p->n_repos + strv_length(p->installer.udebs) + 6;
        struct kiln_initrd_file *f = xcalloc(cap, sizeof(*f));
        for (size_t i = 0; i < p->n_repos; i++) {
                const struct kiln_repo *r = &p->repos[i];
                f[n] = (struct kiln_initrd_file){.path = kiln_repo_key_path(r), .mode = 0644};
                if (r->key) {
                        f[n].data = xstrdup(r->key);
                        f[n].len = strlen(r->key);
                } else { /* the bytes checked at load, never the path read again */
                        f[n].data = xmalloc(r->key_file_len + 1);
                        memcpy(f[n].data, r->key_file_data, r->key_file_len + 1);
                        f[n].len = r->key_file_len;
                }
                n++;
        }
        for (size_t i = 0; p->installer.udebs[i]; i++) {
                const char *base = strrchr(p->installer.udebs[i], '/');
                base = base ? base + 1 : p->installer.udebs[i];
                f[n++] = (struct kiln_initrd_file){.path = xasprintf("kiln/udebs/%s", base),
                                                   .source = xstrdup(p->installer.udebs[i]),
                                                   .mode = 0644};
        }
        char *undo = tuning_finish_hook(p);
        if (undo) {
                f[n++] = (struct kiln_initrd_file){.path = xstrdup("usr/lib/finish-install.d/15kiln-tuning"),
                                                   .data = undo,
                                                   .len = strlen(undo),
                                                   .mode = 0755};
        }
        if (p->tuning.defer_initramfs)
                f[n++] = (struct kiln_initrd_file){.path = xstrdup("usr/lib/pre-pkgsel.d/05kiln-defer-initramfs"),
                                                   .data = xstrdup(defer_initramfs_hook),
                                                   .len = strlen(defer_initramfs_hook),
                                                   .mode = 0755};
        if (p->tuning.eatmydata)
                f[n++] = (struct kiln_initrd_file){.path = xstrdup("lib/partman/finish.d/90kiln-dpkg-unsafe-io"),
                                                   .data = xstrdup(unsafe_io_partman_hook),
                                                   .len = strlen(unsafe_io_partman_hook),
                                                   .mode = 0755};
        if (STREQ(p->tuning.initramfs, "targeted")) {
                f[n++] = (struct kiln_initrd_file){.path = xstrdup("kiln/initramfs-hook"),
                                                   .data = xstrdup(initramfs_hook),
                                                   .len = strlen(initramfs_hook),
                                                   .mode = 0755};
                f[n++] = (struct kiln_initrd_file){.path = xstrdup("usr/lib/base-installer.d/06kiln-initramfs"),
                                                   .data = xstrdup(initramfs_installer_hook),
                                                   .len = strlen(initramfs_installer_hook),
                                                   .mode = 0755};
        }
        *ret = f;
        *ret_n = n;
}

void kiln_initrd_files_free(struct kiln_initrd_file *f, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(f[i].path);
                free(f[i].source);
                free(f[i].data);
        }
        free(f);
}
