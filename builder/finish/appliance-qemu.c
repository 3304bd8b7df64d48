/* kiln-appliance-qemu: what libguestfs starts as its "qemu" (guestfs_set_hv), a link to kiln
 * itself. It runs as root, in the appliance's place: it turns the drives kiln handed over as
 * descriptors (/dev/fd/N) into QEMU fd sets, connects to libguestfs's daemon socket itself (its
 * folder is root's), then becomes the sandbox user kiln named, with NoNewPrivs and kiln's seccomp
 * filter, and executes the real QEMU. So the QEMU that reads an untrusted image opens no path of
 * kiln's or the user's and holds no privilege. */
#include "appliance.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

static _Noreturn void die(const char *fmt, ...) _printf_(1, 2);
static _Noreturn void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "kiln-appliance-qemu: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(126);
}

static unsigned long number(const char *s, const char *what)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end)
                die("bad %s from kiln", what);
        return v;
}

/* "-chardev socket,path=P,..." -> "socket,fd=N,..." with N connected by this (root) process. */
static char *socket_by_fd(const char *opt)
{
        const char *p = strstr(opt, "path=");
        if (!p)
                return xstrdup(opt);
        const char *v = p + 5, *end = strchr(v, ',');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (len >= sizeof(sa.sun_path))
                die("socket path too long in '%s'", opt);
        memcpy(sa.sun_path, v, len);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0); /* inherited by QEMU */
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                die("cannot connect to '%s'", sa.sun_path);
        return xasprintf("%.*sfd=%d%s", (int)(p - opt), opt, fd, end ? end : "");
}

/* A descriptor set for one file: read-write and read-only descriptors, since QEMU opens a disk
 * both ways and dups the one whose access mode matches. */
static void add_set(char ***a, int rw, int ro, const char *opaque)
{
        if (rw >= 0) {
                *a = strv_push(*a, xstrdup("-add-fd"));
                *a = strv_push(*a, xasprintf("fd=%d,set=%d,opaque=%s", rw, ro, opaque));
        }
        *a = strv_push(*a, xstrdup("-add-fd"));
        *a = strv_push(*a, xasprintf("fd=%d,set=%d,opaque=%s", ro, ro, opaque));
}

/* A regular file only (O_NONBLOCK: a FIFO in its place must not hang the wrapper). */
static int reopen(const char *path, int flags)
{
        int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK); /* inherited by QEMU */
        struct stat st;
        if (fd < 0)
                die("cannot open '%s'", path);
        if (!(flags & O_DIRECTORY) && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
                die("'%s' is not a regular file", path);
        return fd;
}

/* Where key=VALUE starts in a comma-separated option string (at the start or after a comma). */
static const char *opt_find(const char *opt, const char *key)
{
        size_t kl = strlen(key);
        for (const char *p = opt; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, key, kl) == 0 && p[kl] == '=')
                        return p;
        return NULL;
}

/* kiln's image, as kiln checked it: "DEV:INO:PATH". Opened here, as root, and used only when it is
 * still that file (a path swapped since kiln's check is refused). */
struct image {
        dev_t dev;
        ino_t ino;
        const char *path;
        int ro, rw; /* -1 until opened */
};

static int open_image(struct image *im, int flags)
{
        int *slot = (flags & O_ACCMODE) == O_RDWR ? &im->rw : &im->ro;
        if (*slot >= 0)
                return *slot;
        int fd = reopen(im->path, flags);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != im->dev || st.st_ino != im->ino)
                die("'%s' is not the image kiln checked", im->path);
        return *slot = fd;
}

/* "-drive file=P,..." (or libguestfs's "file.file.filename=P,file.driver=qcow2,..." for an
 * overlay): P is kiln's image (a disk kiln works on, read-write), or the overlay libguestfs made
 * over it (a read-only image) in its own folder (root's). Either way QEMU gets it as a descriptor
 * set; an overlay's backing file is given as the image's read-only set. The appliance's own disk
 * (id=appliance: world-readable, snapshot=on) stays as it is. */
static char *drive_by_fdset(char ***a, const char *opt, struct image *im, bool *ret_backing)
{
        const char *id = opt_find(opt, "id");
        if (id && str_has_prefix(id + 3, "appliance") && (id[12] == ',' || id[12] == '\0'))
                return xstrdup(opt);
        const char *key = "file.file.filename", *backing = "file.backing.file.filename";
        const char *p = opt_find(opt, key);
        if (!p) {
                key = "file";
                backing = "backing.file.filename";
                p = opt_find(opt, key);
        }
        if (!p)
                return xstrdup(opt);
        const char *v = p + strlen(key) + 1, *end = strchr(v, ',');
        _cleanup_free_ char *path = xstrndup(v, end ? (size_t)(end - v) : strlen(v));
        _cleanup_free_ char *before = xstrndup(opt, (size_t)(v - opt));
        const char *rest = end ? end : "";
        if (STREQ(path, im->path)) {
                bool ro = strstr(opt, "readonly=on") || strstr(opt, "read-only=on");
                int rfd = open_image(im, O_RDONLY);
                add_set(a, ro ? -1 : open_image(im, O_RDWR), rfd, "image");
                return xasprintf("%s/dev/fdset/%d%s", before, rfd, rest);
        }
        int orw = reopen(path, O_RDWR), oro = reopen(path, O_RDONLY);
        add_set(a, orw, oro, "overlay");
        *ret_backing = true;
        /* libguestfs names the overlay's driver (file.driver=qcow2) but none above it, so QEMU
         * would probe the guest's own bytes for a format: a qcow2 header there would name files
         * for QEMU to open. What the guest sees of the overlay is raw. */
        bool top = opt_find(opt, "format") || opt_find(opt, "driver");
        return xasprintf("%s/dev/fdset/%d%s,%s=/dev/fdset/%d%s", before, oro, rest, backing, open_image(im, O_RDONLY),
                         top ? "" : ",driver=raw");
}

int kiln_appliance_qemu_main(int argc, char **argv)
{
        const char *ids = getenv("KILN_APPLIANCE_SANDBOX"), *img = getenv("KILN_APPLIANCE_IMAGE"),
                   *tmp = getenv("KILN_APPLIANCE_TMPDIR");
        if (!ids || !img || !tmp)
                die("%s", "started without kiln's settings (libguestfs starts it for kiln)");
        /* "UID:GID[:GROUP]" */
        _cleanup_free_ char *copy = xstrdup(ids);
        char *save = NULL, *u = strtok_r(copy, ":", &save), *g = strtok_r(NULL, ":", &save),
             *x = strtok_r(NULL, ":", &save);
        if (!u || !g)
                die("bad sandbox ids '%s' from kiln", ids);
        gid_t groups[1];
        size_t n_groups = 0;
        if (x)
                groups[n_groups++] = (gid_t)number(x, "group");
        struct kiln_sandbox sb;
        struct kiln_error *err = NULL;
        if (kiln_sandbox_from(&sb, (uid_t)number(u, "uid"), (gid_t)number(g, "gid"), groups, n_groups, &err) < 0)
                die("%s", err->msg);

        const char *qemu = getenv("KILN_QEMU");
        char **a = strv_push(NULL, xstrdup(qemu && *qemu ? qemu : "qemu-system-x86_64"));
        /* kiln's image, read-only: an overlay's backing file. */
        _cleanup_free_ char *icopy = xstrdup(img);
        char *isave = NULL, *dev = strtok_r(icopy, ":", &isave), *ino = strtok_r(NULL, ":", &isave);
        if (!dev || !ino || !isave || !*isave)
                die("bad image '%s' from kiln", img);
        struct image im = {.dev = (dev_t)number(dev, "device"),
                           .ino = (ino_t)number(ino, "inode"),
                           .path = isave,
                           .ro = -1,
                           .rw = -1};
        bool image_set = false;
        char **sets = NULL; /* the -add-fd options, before everything else */
        char **rest = NULL;
        for (int i = 1; i < argc; i++) {
                const char *prev = argv[i - 1];
                /* QEMU reads ",," as a comma inside a value: this parser does not, so a path with
                 * a comma in it (kiln refuses those) is not split where QEMU would not. */
                if (i > 1 && (STREQ(prev, "-drive") || STREQ(prev, "-chardev")) && strstr(argv[i], ",,"))
                        die("an option with an escaped comma from libguestfs: '%s'", argv[i]);
                if (i > 1 && STREQ(prev, "-drive")) {
                        bool backing = false;
                        char *d = drive_by_fdset(&sets, argv[i], &im, &backing);
                        /* No drive is opened with its format left for QEMU to guess. */
                        if (!opt_find(d, "format") && !opt_find(d, "driver"))
                                die("a drive with no format from libguestfs: '%s'", argv[i]);
                        if (backing && !image_set) {
                                add_set(&sets, -1, open_image(&im, O_RDONLY), "image");
                                image_set = true;
                        }
                        rest = strv_push(rest, d);
                } else if (i > 1 && STREQ(prev, "-chardev") && str_has_prefix(argv[i], "socket,"))
                        rest = strv_push(rest, socket_by_fd(argv[i]));
                else
                        rest = strv_push(rest, xstrdup(argv[i]));
        }
        for (size_t i = 0; sets && sets[i]; i++)
                a = strv_push(a, sets[i]);
        for (size_t i = 0; rest && rest[i]; i++)
                a = strv_push(a, rest[i]);
        free(sets);
        free(rest);
        /* QEMU's snapshot=on overlay of the appliance's root goes here: a folder of the sandbox
         * user's, reached through a descriptor (the folders above it are root's). */
        int tfd = reopen(tmp, O_RDONLY | O_DIRECTORY);
        struct stat tst;
        if (fstat(tfd, &tst) < 0 || tst.st_uid != sb.uid)
                die("'%s' is not the sandbox user's", tmp);
        _cleanup_free_ char *tmp_path = xasprintf("/dev/fd/%d", tfd);
        if (setenv("TMPDIR", tmp_path, 1) < 0)
                die("%s", "cannot set TMPDIR");
        int r = kiln_sandbox_enter(&sb);
        if (r < 0)
                die("cannot become the sandbox user: %s", strerror(-r));
        execvp(a[0], a);
        die("cannot run '%s'", a[0]);
}
