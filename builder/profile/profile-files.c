/* Files a profile names: opened beneath the profile's root with openat2 (so a '..' or a symlink
 * cannot lead out, not merely "is checked not to"), as O_PATH first so that no device or FIFO is
 * ever opened for real, then reopened for reading once fstat says it is a regular file of a size
 * kiln accepts; and their content checked for what they must be. */
#include "profile-files.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

static const struct {
        uint64_t max;
        const char *max_text;
} kinds[] = {
        [KILN_FILE_PROFILE] = {1ULL << 20, "1 MiB"},  [KILN_FILE_KEY] = {1ULL << 20, "1 MiB"},
        [KILN_FILE_UDEB] = {512ULL << 20, "512 MiB"}, [KILN_FILE_KERNEL] = {256ULL << 20, "256 MiB"},
        [KILN_FILE_INITRD] = {1ULL << 30, "1 GiB"},   [KILN_FILE_ISO] = {16ULL << 30, "16 GiB"},
};

int kiln_path_policy_init(struct kiln_path_policy *pol, const char *root, bool trust, const char *top_real,
                          struct kiln_error **reterr)
{
        *pol = (struct kiln_path_policy){.root_fd = -1, .trust = trust};
        char buf[PATH_MAX];
        if (root) {
                if (!realpath(root, buf))
                        return kiln_error_set(reterr, errno, "--profile-root '%s': %s", root, strerror(errno));
        } else {
                _cleanup_free_ char *copy = xstrdup(top_real);
                snprintf(buf, sizeof(buf), "%s", dirname(copy));
        }
        pol->root_fd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pol->root_fd < 0)
                return kiln_error_set(reterr, errno, "profile root '%s': %s", buf, strerror(errno));
        pol->root = xstrdup(buf);
        size_t n = strlen(pol->root);
        bool beneath = STREQ(pol->root, "/") || (strncmp(top_real, pol->root, n) == 0 && top_real[n] == '/');
        if (!trust && !beneath)
                return kiln_error_set(reterr, EXDEV, "'%s' is not beneath --profile-root '%s'", top_real, pol->root);
        return 0;
}

int kiln_path_policy_init_library(struct kiln_path_policy *pol, const char *library, struct kiln_error **reterr)
{
        *pol = (struct kiln_path_policy){.root_fd = -1, .no_files = true};
        if (!library)
                return 0;
        char buf[PATH_MAX];
        if (!realpath(library, buf))
                return kiln_error_set(reterr, errno, "--profile-library '%s': %s", library, strerror(errno));
        pol->root_fd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pol->root_fd < 0)
                return kiln_error_set(reterr, errno, "--profile-library '%s': %s", buf, strerror(errno));
        pol->root = xstrdup(buf);
        return 0;
}

void kiln_path_policy_clear(struct kiln_path_policy *pol)
{
        if (pol->root_fd >= 0)
                close(pol->root_fd);
        free(pol->root);
        free(pol->untrusted);
        *pol = (struct kiln_path_policy){.root_fd = -1};
}

static char *fd_path(int fd)
{
        char link[64], buf[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, buf, sizeof(buf) - 1);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return xstrdup(buf);
}

/* The O_PATH fd of path (from dirfd, with resolve flags), checked, reopened for reading. */
static int open_checked(int dirfd, const char *path, uint64_t resolve, enum kiln_file_kind kind, int *ret_fd,
                        char **ret_real, char **ret_why)
{
        struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = resolve};
        _cleanup_close_ int pfd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (pfd < 0) {
                int e = errno;
                if (e == EXDEV)
                        *ret_why = xstrdup("it leads outside the profile's folder (through '..' or a symlink)");
                else if (e == ELOOP)
                        *ret_why = xstrdup(resolve & RESOLVE_NO_SYMLINKS
                                                   ? "a symlink was put in its place since kiln checked it"
                                                   : "it goes through a symlink loop or a /proc magic link");
                else if (e == ENOSYS)
                        *ret_why = xstrdup("this kernel lacks openat2 (Linux 5.6 or later is needed)");
                else
                        *ret_why = xstrdup(strerror(e));
                return -e;
        }
        struct stat st;
        struct statfs sf;
        if (fstat(pfd, &st) < 0 || fstatfs(pfd, &sf) < 0) {
                int e = errno;
                *ret_why = xstrdup(strerror(e));
                return -e;
        }
        if (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC) {
                *ret_why = xstrdup("it is a file of the kernel's /proc or /sys, not a file on disk");
                return -EPERM;
        }
        if (S_ISDIR(st.st_mode)) {
                *ret_why = xstrdup("it is a folder, not a file");
                return -EISDIR;
        }
        if (!S_ISREG(st.st_mode)) {
                *ret_why = xstrdup("it is not a regular file (a device, FIFO or socket)");
                return -EPERM;
        }
        if ((uint64_t)st.st_size > kinds[kind].max) {
                *ret_why = xasprintf("it is larger than %s", kinds[kind].max_text);
                return -EFBIG;
        }
        /* Reopen the very inode for reading; O_NONBLOCK all the same, in case it ever is not regular. */
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", pfd);
        _cleanup_close_ int fd = open(link, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat st2;
        if (fd < 0 || fstat(fd, &st2) < 0) {
                int e = errno;
                *ret_why = xstrdup(strerror(e));
                return -e;
        }
        if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino || !S_ISREG(st2.st_mode)) {
                *ret_why = xstrdup("it changed while kiln opened it");
                return -EAGAIN;
        }
        if (ret_real && !(*ret_real = fd_path(pfd))) {
                *ret_why = xstrdup("cannot tell its real path");
                return -EIO;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int kiln_profile_file_open(const struct kiln_path_policy *pol, const char *in_real, const char *written,
                           enum kiln_file_kind kind, int *ret_fd, char **ret_real, char **ret_why)
{
        if (!*written) {
                *ret_why = xstrdup("the path is empty");
                return -EINVAL;
        }
        /* A file named by one of the library's profiles (never by the untrusted one): read beneath
         * the library below, as any path of a trusted profile is beneath its root. */
        size_t lib_n = pol->root ? strlen(pol->root) : 0;
        bool library_file = pol->no_files && kind != KILN_FILE_PROFILE && lib_n &&
                            strncmp(in_real, pol->root, lib_n) == 0 && in_real[lib_n] == '/' &&
                            !(pol->untrusted && STREQ(in_real, pol->untrusted));
        if (pol->no_files && !library_file && (kind != KILN_FILE_PROFILE || !pol->root)) {
                *ret_why = xstrdup(kind == KILN_FILE_PROFILE
                                           ? "this profile came through kiln serve, and the server has no "
                                             "profile library to extend"
                                           : "this profile came through kiln serve and may name no files; "
                                             "give key material inline ('key:')");
                return -EPERM;
        }
        _cleanup_free_ char *copy = xstrdup(in_real);
        const char *dir = dirname(copy);
        if (pol->trust) {
                _cleanup_free_ char *path = written[0] == '/' ? xstrdup(written) : xasprintf("%s/%s", dir, written);
                return open_checked(AT_FDCWD, path, RESOLVE_NO_MAGICLINKS, kind, ret_fd, ret_real, ret_why);
        }
        if (written[0] == '/') {
                *ret_why = xstrdup("an absolute path is outside the profile's folder (kiln reads files beneath "
                                   "it only, unless run with --trust-profile-paths)");
                return -EPERM;
        }
        /* The folder of the file it is written in, relative to the root. */
        size_t n = strlen(pol->root);
        const char *rel_dir;
        if (STREQ(dir, pol->root))
                rel_dir = "";
        else if (STREQ(pol->root, "/"))
                rel_dir = dir + 1;
        else if (strncmp(dir, pol->root, n) == 0 && dir[n] == '/')
                rel_dir = dir + n + 1;
        else {
                *ret_why = xstrdup("the file it is written in is outside the profile's folder");
                return -EXDEV;
        }
        _cleanup_free_ char *rel = *rel_dir ? xasprintf("%s/%s", rel_dir, written) : xstrdup(written);
        int r = open_checked(pol->root_fd, rel, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, kind, ret_fd, ret_real,
                             ret_why);
        if (r == -EXDEV) {
                free(*ret_why);
                *ret_why = xstrdup("it leads outside the profile's folder (through '..' or a symlink); kiln reads "
                                   "files beneath it only, unless run with --trust-profile-paths");
        }
        return r;
}

static int read_fd(int fd, enum kiln_file_kind kind, char **ret_data, size_t *ret_len, char **ret_why)
{
        uint64_t max = kinds[kind].max;
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *data = xmalloc(cap + 1);
        for (;;) {
                if (len == cap) {
                        if (len > max) {
                                *ret_why = xasprintf("it is larger than %s", kinds[kind].max_text);
                                return -EFBIG;
                        }
                        cap *= 2;
                        data = xrealloc(data, cap + 1);
                }
                ssize_t k = read(fd, data + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        *ret_why = xstrdup(strerror(e));
                        return -e;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        if (len > max) {
                *ret_why = xasprintf("it is larger than %s", kinds[kind].max_text);
                return -EFBIG;
        }
        data[len] = '\0';
        char *bad = NULL;
        if (kind == KILN_FILE_KEY)
                bad = kiln_openpgp_pubkeys_check(data, len);
        else if (kind == KILN_FILE_UDEB && (len < 8 || memcmp(data, "!<arch>\n", 8) != 0))
                bad = xstrdup("it is not a .udeb (no ar archive header)");
        if (bad) {
                *ret_why = bad;
                return -EBADMSG;
        }
        *ret_data = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

int kiln_profile_file_read(const struct kiln_path_policy *pol, const char *in_real, const char *written,
                           enum kiln_file_kind kind, char **ret_data, size_t *ret_len, char **ret_real, char **ret_why)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *real = NULL;
        int r = kiln_profile_file_open(pol, in_real, written, kind, &fd, &real, ret_why);
        if (r < 0)
                return r;
        r = read_fd(fd, kind, ret_data, ret_len, ret_why);
        if (r < 0)
                return r;
        if (ret_real)
                *ret_real = TAKE_PTR(real);
        return 0;
}

int kiln_checked_file_read(const char *real, enum kiln_file_kind kind, char **ret_data, size_t *ret_len, char **ret_why)
{
        _cleanup_close_ int fd = -1;
        int r = open_checked(AT_FDCWD, real, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, kind, &fd, NULL, ret_why);
        if (r < 0)
                return r;
        return read_fd(fd, kind, ret_data, ret_len, ret_why);
}

/* ---- OpenPGP (RFC 4880 section 4, RFC 9580) ---- */

static char *packets_check(const unsigned char *d, size_t len)
{
        if (len == 0)
                return xstrdup("it holds no OpenPGP packets");
        size_t i = 0;
        bool first = true;
        while (i < len) {
                unsigned char h = d[i++];
                unsigned tag;
                size_t plen;
                if (!(h & 0x80))
                        return xstrdup("it is not OpenPGP data (a packet header was expected)");
                if (h & 0x40) { /* new format */
                        tag = h & 0x3f;
                        if (i >= len)
                                goto truncated;
                        unsigned char l = d[i++];
                        if (l < 192) {
                                plen = l;
                        } else if (l < 224) {
                                if (i >= len)
                                        goto truncated;
                                plen = ((size_t)(l - 192) << 8) + d[i++] + 192;
                        } else if (l == 255) {
                                if (len - i < 4)
                                        goto truncated;
                                plen = (size_t)d[i] << 24 | (size_t)d[i + 1] << 16 | (size_t)d[i + 2] << 8 | d[i + 3];
                                i += 4;
                        } else {
                                return xstrdup("it uses partial packet lengths, which keys never do");
                        }
                } else { /* old format */
                        tag = (h >> 2) & 0x0f;
                        unsigned lt = h & 3, nb = lt == 0 ? 1 : lt == 1 ? 2 : lt == 2 ? 4 : 0;
                        if (nb == 0)
                                return xstrdup("it uses an indeterminate packet length, which keys never do");
                        if (len - i < nb)
                                goto truncated;
                        plen = 0;
                        for (unsigned k = 0; k < nb; k++)
                                plen = plen << 8 | d[i++];
                }
                if (plen > len - i)
                        goto truncated;
                if (tag == 5 || tag == 7)
                        return xstrdup("it holds a secret key: give the public key");
                if (first && tag != 6)
                        return xasprintf("it does not start with a public-key packet (tag 6, found tag %u)", tag);
                /* What a transferable public key holds: keys, subkeys, user IDs and attributes, signatures, trust. */
                if (tag != 6 && tag != 14 && tag != 13 && tag != 17 && tag != 2 && tag != 12)
                        return xasprintf("it holds a packet that is not part of a public key (tag %u)", tag);
                i += plen;
                first = false;
        }
        return NULL;
truncated:
        return xstrdup("an OpenPGP packet runs past the end of the data");
}

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

#define ARMOR_BEGIN "-----BEGIN PGP PUBLIC KEY BLOCK-----"
#define ARMOR_END   "-----END PGP PUBLIC KEY BLOCK-----"

/* One line of s from *pos (without its end), advancing *pos; false at the end. */
static bool next_line(const char *s, size_t len, size_t *pos, const char **ret, size_t *ret_len)
{
        if (*pos >= len)
                return false;
        const char *start = s + *pos;
        const char *nl = memchr(start, '\n', len - *pos);
        size_t n = nl ? (size_t)(nl - start) : len - *pos;
        *pos += n + (nl ? 1 : 0);
        while (n > 0 && (start[n - 1] == '\r' || start[n - 1] == ' ' || start[n - 1] == '\t'))
                n--;
        *ret = start;
        *ret_len = n;
        return true;
}

static char *armor_check(const char *s, size_t len)
{
        size_t pos = 0;
        const char *l;
        size_t ll;
        unsigned blocks = 0;
        while (next_line(s, len, &pos, &l, &ll)) {
                if (ll == 0)
                        continue;
                if (ll != strlen(ARMOR_BEGIN) || memcmp(l, ARMOR_BEGIN, ll) != 0)
                        return xstrdup(blocks ? "it has text after the armored key"
                                              : "it is not an OpenPGP public key "
                                                "(binary, or armored '" ARMOR_BEGIN "')");
                /* Armor headers up to a blank line, then base64 up to the checksum or the end line. */
                while (next_line(s, len, &pos, &l, &ll) && ll > 0)
                        if (!memchr(l, ':', ll))
                                return xstrdup("its armor has a header line without ':' (or no blank line before "
                                               "the key)");
                struct kiln_buf bin = {0};
                unsigned acc = 0, nbits = 0;
                bool ended = false, pad = false;
                while (next_line(s, len, &pos, &l, &ll)) {
                        if (ll == strlen(ARMOR_END) && memcmp(l, ARMOR_END, ll) == 0) {
                                ended = true;
                                break;
                        }
                        if (ll > 0 && l[0] == '=' && ll == 5) /* the CRC-24 line */
                                continue;
                        for (size_t k = 0; k < ll; k++) {
                                if (l[k] == '=') {
                                        pad = true;
                                        continue;
                                }
                                int v = b64_value((unsigned char)l[k]);
                                if (v < 0 || pad) {
                                        free(bin.data);
                                        return xstrdup("its armor holds a character that is not base64");
                                }
                                acc = (acc << 6) | (unsigned)v;
                                nbits += 6;
                                if (nbits >= 8) {
                                        nbits -= 8;
                                        char c = (char)((acc >> nbits) & 0xff);
                                        buf_append(&bin, &c, 1);
                                }
                        }
                }
                if (!ended) {
                        free(bin.data);
                        return xstrdup("its armor has no '" ARMOR_END "' line");
                }
                char *bad = packets_check((const unsigned char *)bin.data, bin.len);
                free(bin.data);
                if (bad)
                        return bad;
                blocks++;
        }
        return blocks ? NULL : xstrdup("it is empty");
}

char *kiln_openpgp_pubkeys_check(const char *data, size_t len)
{
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
                i++;
        if (i < len && ((unsigned char)data[i] & 0x80) && i == 0)
                return packets_check((const unsigned char *)data, len);
        if (i < len && data[i] == '-')
                return armor_check(data, len);
        return xstrdup("it is not an OpenPGP public key (binary, or armored '" ARMOR_BEGIN "')");
}
