/* The installer's files. Everything here reads archives through libarchive: a .deb is an ar
 * archive whose data.tar.* member is streamed straight into a second reader. */
#include "installer-files.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "preseed.h"
#include "archive-index.h"
#include "profile-files.h"

static const char *strip_dot(const char *p)
{
        while (p[0] == '.' && p[1] == '/')
                p += 2;
        while (*p == '/')
                p++;
        return p;
}

/* Copy the current entry's data into a cache file. */
static int entry_to_cache(const struct kiln_cache *c, struct archive *a, const char *name,
                          char ret_sha256[KILN_SHA256_HEX], struct kiln_error **reterr)
{
        _cleanup_free_ char *tmp = NULL;
        int fd;
        int r = kiln_cache_tmp(c, &tmp, &fd, reterr);
        if (r < 0)
                return r;
        char chunk[1 << 16];
        for (;;) {
                la_ssize_t n = archive_read_data(a, chunk, sizeof(chunk));
                if (n < 0) {
                        close(fd);
                        unlink(tmp);
                        return kiln_error_set(reterr, EBADMSG, "cannot read '%s': %s", name, archive_error_string(a));
                }
                if (n == 0)
                        break;
                if (write(fd, chunk, (size_t)n) != n) {
                        int e = errno;
                        close(fd);
                        unlink(tmp);
                        return kiln_error_set(reterr, e, "cannot write '%s': %s", tmp, strerror(e));
                }
        }
        close(fd);
        return kiln_cache_commit(c, tmp, ret_sha256, NULL, reterr);
}

static la_ssize_t inner_read(struct archive *inner, void *userdata, const void **buf)
{
        static char chunk[1 << 16];
        struct archive *outer = userdata;
        la_ssize_t n = archive_read_data(outer, chunk, sizeof(chunk));
        if (n < 0)
                archive_set_error(inner, EIO, "%s", archive_error_string(outer));
        *buf = chunk;
        return n;
}

int kiln_deb_extract(const struct kiln_cache *c, const char *deb_path, const char *const *paths, size_t n,
                     char (*ret_sha256)[KILN_SHA256_HEX], struct kiln_error **reterr)
{
        struct archive *outer = archive_read_new();
        archive_read_support_format_ar(outer);
        struct archive_entry *e;
        int r = 0;
        bool *found = xcalloc(n ? n : 1, sizeof(bool));
        if (archive_read_open_filename(outer, deb_path, 1 << 16) != ARCHIVE_OK) {
                r = kiln_error_set(reterr, EBADMSG, "'%s' is not a .deb: %s", deb_path, archive_error_string(outer));
                goto out;
        }
        bool data_seen = false;
        while (!data_seen && (r = archive_read_next_header(outer, &e)) == ARCHIVE_OK) {
                if (!str_has_prefix(archive_entry_pathname(e), "data.tar"))
                        continue;
                data_seen = true;
                struct archive *inner = archive_read_new();
                archive_read_support_filter_all(inner);
                archive_read_support_format_tar(inner);
                if (archive_read_open(inner, outer, NULL, inner_read, NULL) != ARCHIVE_OK) {
                        r = kiln_error_set(reterr, EBADMSG, "'%s': cannot read %s: %s", deb_path,
                                           archive_entry_pathname(e), archive_error_string(inner));
                        archive_read_free(inner);
                        goto out;
                }
                struct archive_entry *ie;
                int k;
                while ((k = archive_read_next_header(inner, &ie)) == ARCHIVE_OK) {
                        const char *name = strip_dot(archive_entry_pathname(ie));
                        for (size_t i = 0; i < n; i++)
                                if (!found[i] && STREQ(name, paths[i]) && archive_entry_filetype(ie) == AE_IFREG) {
                                        r = entry_to_cache(c, inner, name, ret_sha256[i], reterr);
                                        if (r < 0) {
                                                archive_read_free(inner);
                                                goto out;
                                        }
                                        found[i] = true;
                                }
                }
                if (k != ARCHIVE_EOF) {
                        r = kiln_error_set(reterr, EBADMSG, "'%s': damaged data archive: %s", deb_path,
                                           archive_error_string(inner));
                        archive_read_free(inner);
                        goto out;
                }
                archive_read_free(inner);
        }
        r = 0;
        if (!data_seen) {
                r = kiln_error_set(reterr, EBADMSG, "'%s' has no data.tar member", deb_path);
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                if (!found[i])
                        r = kiln_error_set(reterr, ENOENT, "'%s' does not contain '%s'", deb_path, paths[i]);
out:
        free(found);
        archive_read_free(outer);
        return r;
}

int kiln_iso_extract(const struct kiln_cache *c, const char *iso_path, char ret_kernel[KILN_SHA256_HEX],
                     char ret_initrd[KILN_SHA256_HEX], struct kiln_error **reterr)
{
        struct archive *a = archive_read_new();
        archive_read_support_format_iso9660(a);
        struct archive_entry *e;
        int r;
        bool kernel = false, initrd = false;
        if (archive_read_open_filename(a, iso_path, 1 << 16) != ARCHIVE_OK) {
                r = kiln_error_set(reterr, EBADMSG, "'%s' is not an ISO image: %s", iso_path, archive_error_string(a));
                goto out;
        }
        /* The text installer: install.amd/vmlinuz and install.amd/initrd.gz (not the gtk/ flavour). */
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                const char *name = strip_dot(archive_entry_pathname(e));
                if (!str_has_prefix(name, "install.") || strchr(strchr(name, '/') ? strchr(name, '/') + 1 : name, '/'))
                        continue;
                const char *base = strrchr(name, '/');
                if (!base)
                        continue;
                if (!kernel && STREQ(base, "/vmlinuz")) {
                        r = entry_to_cache(c, a, name, ret_kernel, reterr);
                        kernel = r == 0;
                } else if (!initrd && STREQ(base, "/initrd.gz")) {
                        r = entry_to_cache(c, a, name, ret_initrd, reterr);
                        initrd = r == 0;
                }
                if (r < 0)
                        goto out;
        }
        r = kernel && initrd ? 0
                             : kiln_error_set(reterr, ENOENT,
                                              "'%s' has no install.*/vmlinuz and initrd.gz: not a Debian installer ISO",
                                              iso_path);
out:
        archive_read_free(a);
        return r;
}

int kiln_kernel_version(const char *kernel_path, char **ret, struct kiln_error **reterr)
{
        _cleanup_close_ int fd = open(kernel_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", kernel_path, strerror(errno));
        unsigned char hdr[0x210];
        if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
                return kiln_error_set(reterr, EBADMSG, "'%s' is not an x86 kernel (too short)", kernel_path);
        /* An uncompressed vmlinux (ELF, x86-64), which QEMU boots through its PVH entry: no
         * decompression in the guest, seconds less per boot under TCG. It has no version string. */
        if (memcmp(hdr, "\177ELF", 4) == 0 && hdr[4] == 2 /* ELFCLASS64 */ && hdr[5] == 1 /* little-endian */ &&
            (hdr[18] | hdr[19] << 8) == 62 /* EM_X86_64 */) {
                *ret = NULL;
                return 0;
        }
        if (memcmp(hdr + 0x202, "HdrS", 4) != 0)
                return kiln_error_set(reterr, EBADMSG,
                                      "'%s' is neither an x86 bzImage (no 'HdrS' header) nor an x86-64 ELF vmlinux",
                                      kernel_path);
        /* Boot protocol: kernel_version at 0x20e is an offset from 0x200 to a NUL-terminated string. */
        unsigned off = (unsigned)hdr[0x20e] | ((unsigned)hdr[0x20f] << 8);
        char v[256] = {0};
        if (off == 0 || pread(fd, v, sizeof(v) - 1, (off_t)off + 0x200) <= 0)
                return kiln_error_set(reterr, EBADMSG, "'%s' has no kernel version string", kernel_path);
        size_t n = strcspn(v, " ");
        if (n == 0 || n >= sizeof(v) - 1)
                return kiln_error_set(reterr, EBADMSG, "'%s' has a malformed kernel version string", kernel_path);
        *ret = xstrndup(v, n);
        return 0;
}

int kiln_initrd_packages(const char *initrd_path, char ***ret, struct kiln_error **reterr)
{
        struct archive *a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_cpio(a);
        struct archive_entry *e;
        int r;
        char **names = xcalloc(1, sizeof(char *));
        if (archive_read_open_filename(a, initrd_path, 1 << 16) != ARCHIVE_OK) {
                r = kiln_error_set(reterr, EBADMSG, "cannot read initrd '%s': %s", initrd_path,
                                   archive_error_string(a));
                goto out;
        }
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                if (!STREQ(strip_dot(archive_entry_pathname(e)), "var/lib/dpkg/status"))
                        continue;
                struct kiln_buf b = {0};
                char chunk[1 << 16];
                la_ssize_t n;
                while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
                        buf_append(&b, chunk, (size_t)n);
                _cleanup_free_ char *text = buf_steal(&b);
                const char *pos = text, *st;
                size_t len;
                while ((st = kiln_stanza_next(&pos, &len))) {
                        _cleanup_free_ char *pkg = kiln_stanza_field(st, len, "Package");
                        _cleanup_free_ char *ver = kiln_stanza_field(st, len, "Version");
                        if (pkg)
                                names = strv_push(names, xasprintf("%s=%s", pkg, ver ? ver : ""));
                }
                r = 0;
                goto out;
        }
        r = kiln_error_set(reterr, ENOENT, "initrd '%s' has no var/lib/dpkg/status: not a debian-installer initrd",
                           initrd_path);
out:
        archive_read_free(a);
        if (r < 0) {
                strv_free(names);
                return r;
        }
        *ret = names;
        return 0;
}

static int copy_fd(int in, int out)
{
        char chunk[1 << 16];
        for (;;) {
                ssize_t n = read(in, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, chunk + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        off += w;
                }
        }
}

static int add_entry(struct archive *a, const char *path, mode_t type_mode, const char *data, size_t len)
{
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, type_mode);
        archive_entry_set_size(e, S_ISREG(type_mode) ? (la_int64_t)len : 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_mtime(e, 0, 0); /* reproducible */
        archive_entry_set_nlink(e, S_ISDIR(type_mode) ? 2 : 1);
        int r = archive_write_header(a, e);
        if (r == ARCHIVE_OK && S_ISREG(type_mode) && len)
                r = archive_write_data(a, data, len) == (la_ssize_t)len ? ARCHIVE_OK : ARCHIVE_FATAL;
        archive_entry_free(e);
        return r;
}

static int initrd_inject_resolved(const char *initrd_path, const char *out_path, const struct kiln_initrd_file *files,
                                  const char *const *paths, size_t n, char *const *have_dirs, size_t n_have_dirs,
                                  struct kiln_error **reterr);

/* The original initrd's folders and symlinks. trixie's installer has merged /usr (lib -> usr/lib,
 * bin -> usr/bin, ...): a folder entry "lib" in the appended member made the kernel's unpacker replace
 * the symlink with an empty folder (it removes an entry of another type first), and the installer's
 * /init then found nothing under /lib and the kernel panicked. So an injected path is taken through
 * the original's symlinked folders, as a path lookup in the running installer would be, and only the
 * folders the original lacks get an entry. */
struct initrd_tree {
        char **dirs;           /* folders the original has */
        char **links, **dests; /* its symlinks and their targets, pairwise */
        size_t n_dirs, n_links, cap_dirs, cap_links, cap_dests;
};

/* Appends s (taken) to the n entries of *v, doubling its capacity *cap as needed (strv_push walks
 * the whole list each time: thousands of entries here). */
static void tree_push(char ***v, size_t *n, size_t *cap, char *s)
{
        if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *v = xrealloc(*v, *cap * sizeof(char *));
        }
        (*v)[(*n)++] = s;
}

static void initrd_tree_clear(struct initrd_tree *t)
{
        for (size_t i = 0; i < t->n_dirs; i++)
                free(t->dirs[i]);
        for (size_t i = 0; i < t->n_links; i++)
                free(t->links[i]), free(t->dests[i]);
        free(t->dirs);
        free(t->links);
        free(t->dests);
}

static bool tree_has(char *const *v, size_t n, const char *s, size_t *ret_i)
{
        for (size_t i = 0; i < n; i++)
                if (STREQ(v[i], s)) {
                        if (ret_i)
                                *ret_i = i;
                        return true;
                }
        return false;
}

/* What libarchive reads of the original: its first cpio archive (a debian-installer initrd is one).
 * One it cannot read at all leaves the tree empty, and the member is appended as before: the kernel
 * may still take it, and kiln has no say in what it holds. trixie's has about 5,000 entries; a
 * profile's own initrd is read up to a bound, names and targets up to PATH_MAX. */
static void initrd_tree_read(const char *initrd_path, struct initrd_tree *t)
{
        struct archive *a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_cpio(a);
        struct archive_entry *e;
        bool ok = archive_read_open_filename(a, initrd_path, 1 << 16) == ARCHIVE_OK;
        /* and what it keeps of names and targets up to 16 MiB (trixie's: about 100 KiB) */
        size_t kept = 0;
        for (unsigned n = 0; ok && n < 100000 && kept < 16u << 20; n++) {
                int r = archive_read_next_header(a, &e);
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        break;
                const char *raw = archive_entry_pathname(e);
                if (!raw || strlen(raw) >= PATH_MAX)
                        continue;
                const char *name = strip_dot(raw), *dest = archive_entry_symlink(e);
                mode_t type = archive_entry_filetype(e);
                if (type == AE_IFDIR && *name) {
                        tree_push(&t->dirs, &t->n_dirs, &t->cap_dirs, xstrdup(name));
                        kept += strlen(name);
                } else if (type == AE_IFLNK && *name && dest && strlen(dest) < PATH_MAX) {
                        size_t n_dests = t->n_links;
                        tree_push(&t->dests, &n_dests, &t->cap_dests, xstrdup(dest));
                        tree_push(&t->links, &t->n_links, &t->cap_links, xstrdup(name));
                        kept += strlen(name) + strlen(dest);
                }
        }
        archive_read_free(a);
}

/* "DIR/DEST" (DIR may be empty; DEST absolute starts from the root) with "", "." and ".."
 * components resolved as a lookup does (".." at the root stays there); NULL when nothing is left. */
static char *join_normalised(const char *dir, size_t dir_len, const char *dest)
{
        _cleanup_free_ char *joined =
                dest[0] == '/' || dir_len == 0 ? xstrdup(dest) : xasprintf("%.*s/%s", (int)dir_len, dir, dest);
        struct kiln_buf b = {0};
        char *save = NULL;
        for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (STREQ(c, "."))
                        continue;
                if (STREQ(c, "..")) {
                        char *last = b.len ? strrchr(b.data, '/') : NULL;
                        b.len = last ? (size_t)(last - b.data) : 0;
                        if (b.data)
                                b.data[b.len] = '\0';
                        continue;
                }
                if (b.len)
                        buf_append(&b, "/", 1);
                buf_puts(&b, c);
        }
        if (!b.len) {
                free(b.data);
                return NULL;
        }
        return buf_steal(&b);
}

/* PATH ("a/b/c") with its first component that is a symlink in the original (the file itself
 * aside) replaced by what it points to, again until none is, at most 16 times; NULL when the links
 * loop or lead nowhere. */
static char *initrd_tree_resolve(const struct initrd_tree *t, const char *path)
{
        _cleanup_free_ char *cur = xstrdup(path);
        for (int depth = 0; depth < 16; depth++) {
                char *next = NULL;
                for (char *s = strchr(cur, '/'); s && !next; s = strchr(s + 1, '/')) {
                        *s = '\0';
                        size_t i;
                        if (tree_has(t->links, t->n_links, cur, &i)) {
                                const char *slash = strrchr(cur, '/');
                                _cleanup_free_ char *head =
                                        join_normalised(cur, slash ? (size_t)(slash - cur) : 0, t->dests[i]);
                                if (!head)
                                        return NULL;
                                next = xasprintf("%s/%s", head, s + 1);
                        }
                        *s = '/';
                }
                if (!next)
                        return TAKE_PTR(cur);
                free(cur);
                cur = next;
        }
        return NULL;
}

int kiln_initrd_inject(const char *initrd_path, const char *out_path, const struct kiln_initrd_file *files, size_t n,
                       struct kiln_error **reterr)
{
        struct initrd_tree tree = {0};
        initrd_tree_read(initrd_path, &tree);
        char **paths = NULL;
        for (size_t i = 0; i < n; i++) {
                char *p = initrd_tree_resolve(&tree, files[i].path);
                if (!p) {
                        initrd_tree_clear(&tree);
                        strv_free(paths);
                        return kiln_error_set(reterr, ELOOP,
                                              "initrd '%s': the symlinks above '%s' loop or lead out of it",
                                              initrd_path, files[i].path);
                }
                paths = strv_push(paths, p);
        }
        int r = initrd_inject_resolved(initrd_path, out_path, files, (const char *const *)paths, n, tree.dirs,
                                       tree.n_dirs, reterr);
        initrd_tree_clear(&tree);
        strv_free(paths);
        return r;
}

static int initrd_inject_resolved(const char *initrd_path, const char *out_path, const struct kiln_initrd_file *files,
                                  const char *const *paths, size_t n, char *const *have_dirs, size_t n_have_dirs,
                                  struct kiln_error **reterr)
{
        _cleanup_free_ char *tmp = xasprintf("%s.kiln-tmp-XXXXXX", out_path);
        _cleanup_close_ int in = open(initrd_path, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", initrd_path, strerror(errno));
        int out = mkostemp(tmp, O_CLOEXEC);
        if (out < 0)
                return kiln_error_set(reterr, errno, "cannot create '%s': %s", tmp, strerror(errno));
        int r = copy_fd(in, out);
        if (r < 0) {
                r = kiln_error_set(reterr, -r, "cannot copy '%s': %s", initrd_path, strerror(-r));
                goto fail;
        }
        /* The kernel unpacks concatenated cpio members in order, each optionally compressed; it needs
         * every parent folder as an entry of its own. */
        struct archive *a = archive_write_new();
        archive_write_set_format_cpio_newc(a);
        archive_write_add_filter_gzip(a);
        archive_write_set_bytes_in_last_block(a, 1);
        if (archive_write_open_fd(a, out) != ARCHIVE_OK) {
                r = kiln_error_set(reterr, EIO, "cannot write '%s': %s", tmp, archive_error_string(a));
                archive_write_free(a);
                goto fail;
        }
        char **dirs = NULL;
        for (size_t i = 0; i < n && r == 0; i++) {
                _cleanup_free_ char *p = xstrdup(paths[i]);
                for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
                        *s = '\0';
                        if (!strv_contains(dirs, p) && !tree_has(have_dirs, n_have_dirs, p, NULL)) {
                                dirs = strv_push(dirs, xstrdup(p));
                                if (add_entry(a, p, AE_IFDIR | 0755, NULL, 0) != ARCHIVE_OK)
                                        r = -EIO;
                        }
                        *s = '/';
                }
                _cleanup_free_ char *data = NULL;
                size_t len = files[i].len;
                if (files[i].source) {
                        /* Sources are udebs a profile named, opened at its real path without following
                         * a symlink planted since the check, and checked again. */
                        _cleanup_free_ char *why = NULL;
                        int k = kiln_checked_file_read(files[i].source, KILN_FILE_UDEB, &data, &len, &why);
                        if (k < 0) {
                                r = kiln_error_set(reterr, -k, "cannot use '%s': %s", files[i].source, why);
                                break;
                        }
                }
                if (r == 0 && add_entry(a, paths[i], AE_IFREG | (files[i].mode & 07777),
                                        files[i].source ? data : files[i].data, len) != ARCHIVE_OK)
                        r = -EIO;
        }
        strv_free(dirs);
        if (r == -EIO)
                r = kiln_error_set(reterr, EIO, "cannot write '%s': %s", tmp, archive_error_string(a));
        if (archive_write_close(a) != ARCHIVE_OK && r == 0)
                r = kiln_error_set(reterr, EIO, "cannot write '%s': %s", tmp, archive_error_string(a));
        archive_write_free(a);
        if (r < 0)
                goto fail;
        if (fchmod(out, 0644) < 0 || fsync(out) < 0 || close(out) < 0) {
                out = -1;
                r = kiln_error_set(reterr, errno, "cannot write '%s': %s", tmp, strerror(errno));
                goto fail;
        }
        out = -1;
        if (rename(tmp, out_path) < 0) {
                r = kiln_error_set(reterr, errno, "cannot write '%s': %s", out_path, strerror(errno));
                goto fail;
        }
        return 0;
fail:
        if (out >= 0)
                close(out);
        unlink(tmp);
        return r;
}
