/* The result store: finished images by build key. Every entry appears by one rename of a complete
 * folder, so a reader (on this host or another over NFS) sees a whole result or none; the
 * per-profile key records are replaced by rename under a lock. */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

static int mkdir_one(const char *path)
{
        return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int kiln_result_store_open(const char *dir, const char *cache_dir, struct kiln_result_store **ret,
                           struct kiln_error **reterr)
{
        _cleanup_free_ char *d = dir ? xstrdup(dir) : xasprintf("%s/results", cache_dir);
        static const char *const subdirs[] = {"", "/keys", "/tmp", "/profiles"};
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *sub = xasprintf("%s%s", d, subdirs[i]);
                int r = mkdir_one(sub);
                if (r < 0)
                        return kiln_error_set(reterr, -r, "cannot create the result store's folder '%s': %s", sub,
                                              strerror(-r));
        }
        struct kiln_result_store *s = xcalloc(1, sizeof(*s));
        s->dir = TAKE_PTR(d);
        *ret = s;
        return 0;
}

void kiln_result_store_free(struct kiln_result_store *s)
{
        if (!s)
                return;
        free(s->dir);
        free(s);
}

static bool key_ok(const char *key)
{
        if (strlen(key) != KILN_SHA256_HEX - 1)
                return false;
        for (const char *c = key; *c; c++)
                if (!strchr("0123456789abcdef", *c))
                        return false;
        return true;
}

bool kiln_result_lookup(const struct kiln_result_store *s, const char *key, char **ret_image, char **ret_manifest)
{
        if (!key_ok(key))
                return false;
        _cleanup_free_ char *dir = xasprintf("%s/keys/%s", s->dir, key);
        _cleanup_free_ char *img = xasprintf("%s/image", dir), *man = xasprintf("%s/manifest.json", dir);
        struct stat st;
        if (lstat(img, &st) < 0 || !S_ISREG(st.st_mode) || lstat(man, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        /* The recorded use, for prune's least-recently-used order: atime is not to be trusted
         * (noatime, relatime, NFS), the folder's mtime is set on purpose. */
        utimensat(AT_FDCWD, dir, NULL, 0);
        *ret_image = TAKE_PTR(img);
        *ret_manifest = TAKE_PTR(man);
        return true;
}

/* Bytes written but not yet asked to go to disk, and bytes being written back, at most. Starting
 * writeback as the copy goes (sync_file_range) overlaps the disk with the copy, so the fsync that
 * must come before the rename finds almost nothing left to do; and the copy never piles up hundreds
 * of MiB of dirty pages that throttle every other writer on the machine. */
#define COPY_CHUNK  (8u << 20)
#define COPY_WINDOW (64u << 20)

/* One data extent [off, end) of in to the same offsets of out: copy_file_range (in the kernel, no
 * user-space buffer; server-side on NFS 4.2, shared extents where the filesystem can), else
 * pread/pwrite. */
static int copy_range(int in, int out, off_t off, off_t end, off_t *written_back)
{
        static char buf[1 << 16];
        bool plain = false;
        while (off < end) {
                size_t want = (size_t)(end - off > COPY_CHUNK ? COPY_CHUNK : end - off);
                ssize_t n = -1;
                if (!plain) {
                        loff_t a = off, b = off;
                        n = copy_file_range(in, &a, out, &b, want, 0);
                        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
                                plain = true;
                }
                if (plain) {
                        n = pread(in, buf, want > sizeof(buf) ? sizeof(buf) : want, off);
                        if (n > 0 && pwrite(out, buf, (size_t)n, off) != n)
                                return errno ? -errno : -EIO;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO; /* the file shrank under us: a store entry is never written in place */
                sync_file_range(out, off, n, SYNC_FILE_RANGE_WRITE);
                off += n;
                if (off - *written_back > (off_t)COPY_WINDOW) {
                        off_t upto = off - COPY_WINDOW;
                        sync_file_range(out, *written_back, upto - *written_back,
                                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                                SYNC_FILE_RANGE_WAIT_AFTER);
                        *written_back = upto;
                }
        }
        return 0;
}

/* A reflink where the filesystem shares extents (btrfs, xfs), else a sparse-aware copy: only the
 * data extents (SEEK_DATA/SEEK_HOLE), the holes left as holes by the final size. */
static int copy_fd(int in, int out)
{
        if (ioctl(out, FICLONE, in) == 0)
                return 0;
        struct stat st;
        if (fstat(in, &st) < 0)
                return -errno;
        off_t off = 0, written_back = 0;
        while (off < st.st_size) {
                off_t data = lseek(in, off, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        break; /* a hole to the end */
                if (data < 0)  /* no SEEK_DATA here: all of it is data */
                        data = off;
                off_t hole = lseek(in, data, SEEK_HOLE);
                if (hole < 0 || hole > st.st_size)
                        hole = st.st_size;
                int r = copy_range(in, out, data, hole, &written_back);
                if (r < 0)
                        return r;
                off = hole;
        }
        return ftruncate(out, st.st_size) < 0 ? -errno : 0;
}

int kiln_copy_atomic(const char *src, const char *dst, bool replace, struct kiln_error **reterr)
{
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", src, strerror(errno));
        /* Named as kiln's other partial outputs are, so a sweep after a SIGKILL removes it. */
        _cleanup_free_ char *tmp = xasprintf("%s.kiln-partial-XXXXXX", dst);
        _cleanup_close_ int out = mkostemp(tmp, O_CLOEXEC);
        if (out < 0)
                return kiln_error_set(reterr, errno, "cannot create a file beside '%s': %s", dst, strerror(errno));
        flock(out, LOCK_EX); /* as the build's partials: a live owner's are not swept */
        int r = copy_fd(in, out);
        /* fsync before the rename: after a power loss a published name never holds a hole where
         * its data should be (the write-behind in copy_range leaves it little to do). */
        if (r == 0 && (fchmod(out, 0644) < 0 || fsync(out) < 0))
                r = -errno;
        if (r == 0 && !replace && access(dst, F_OK) == 0)
                r = -EEXIST;
        if (r == 0 && rename(tmp, dst) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return kiln_error_set(reterr, -r, "cannot copy '%s' to '%s': %s", src, dst, strerror(-r));
        }
        return 0;
}

int kiln_result_put(const struct kiln_result_store *s, const char *key, const char *image, const char *manifest_text,
                    struct kiln_error **reterr)
{
        if (!key_ok(key))
                return kiln_error_set(reterr, EINVAL, "not a build key: '%s'", key);
        _cleanup_free_ char *final = xasprintf("%s/keys/%s", s->dir, key);
        if (access(final, F_OK) == 0)
                return 0;
        _cleanup_free_ char *tmp = xasprintf("%s/tmp/put-XXXXXX", s->dir);
        if (!mkdtemp(tmp))
                return kiln_error_set(reterr, errno, "cannot create a folder in '%s/tmp': %s", s->dir, strerror(errno));
        _cleanup_free_ char *img = xasprintf("%s/image", tmp), *man = xasprintf("%s/manifest.json", tmp);
        int r = kiln_copy_atomic(image, img, false, reterr);
        if (r == 0) {
                _cleanup_close_ int fd = open(man, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                size_t len = strlen(manifest_text);
                if (fd < 0 || write(fd, manifest_text, len) != (ssize_t)len || fsync(fd) < 0)
                        r = kiln_error_set(reterr, errno ? errno : EIO, "cannot write '%s': %s", man,
                                           strerror(errno ? errno : EIO));
        }
        /* One rename publishes the whole result. Another build that stored the same key first
         * wins (ENOTEMPTY/EEXIST): its bytes came from the same inputs. */
        if (r == 0 && chmod(tmp, 0755) == 0 && rename(tmp, final) == 0)
                return 0;
        int e = errno;
        unlink(img);
        unlink(man);
        rmdir(tmp);
        if (r < 0)
                return r;
        if (e == ENOTEMPTY || e == EEXIST)
                return 0;
        return kiln_error_set(reterr, e, "cannot store the result under '%s': %s", final, strerror(e));
}

int kiln_lock_file(const char *dir, const char *name, bool exclusive, int *ret_fd, struct kiln_error **reterr)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "cannot open the lock '%s': %s", path, strerror(errno));
        /* flock: on NFS, Linux turns it into an fcntl lock the server (NLM, NFSv4) holds for all hosts. */
        while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
                if (errno == EINTR)
                        continue;
                int e = errno;
                close(fd);
                return kiln_error_set(reterr, e, "cannot lock '%s': %s", path, strerror(e));
        }
        *ret_fd = fd;
        return 0;
}

static char *record_path(const struct kiln_result_store *s, const char *profile_name, const char *release)
{
        /* One record per profile name and release: a catalogue builds the same profile for several
         * releases (kiln batch's release column), and each is compared with its own last build.
         * The name is the profile's, so hostile: the file is named by a hash. */
        char hex[KILN_SHA256_HEX];
        _cleanup_free_ char *id = xasprintf("%s\n%s", profile_name, release);
        kiln_sha256_buf(id, strlen(id), hex);
        return xasprintf("%s/profiles/%s.key", s->dir, hex);
}

int kiln_result_last_key(const struct kiln_result_store *s, const char *profile_name, const char *release,
                         struct kiln_build_key *ret)
{
        _cleanup_free_ char *path = record_path(s, profile_name, release), *data = NULL;
        size_t len;
        if (read_file_max(path, 1 << 20, &data, &len) < 0)
                return -ENOENT;
        return kiln_build_key_parse(data, ret);
}

int kiln_result_record_key(const struct kiln_result_store *s, const char *profile_name, const char *release,
                           const struct kiln_build_key *k, struct kiln_error **reterr)
{
        _cleanup_free_ char *path = record_path(s, profile_name, release), *json = kiln_build_key_json(k);
        _cleanup_free_ char *tmp = xasprintf("%s/tmp/key-XXXXXX", s->dir), *pdir = xasprintf("%s/profiles", s->dir);
        int lock = -1;
        int r = kiln_lock_file(pdir, ".lock", true, &lock, reterr);
        if (r < 0)
                return r;
        int fd = mkostemp(tmp, O_CLOEXEC);
        size_t len = strlen(json);
        r = fd >= 0 && write(fd, json, len) == (ssize_t)len && fchmod(fd, 0644) == 0 && fsync(fd) == 0 &&
                            rename(tmp, path) == 0
                    ? 0
                    : -(errno ? errno : EIO);
        if (fd >= 0)
                close(fd);
        if (r < 0) {
                unlink(tmp);
                kiln_error_set(reterr, -r, "cannot record the key in '%s': %s", path, strerror(-r));
        }
        close(lock);
        return r;
}

int kiln_result_manifest_reused(const char *manifest_path, const char *image_name, const char *key, char **ret_text,
                                char **ret_image_sha256, struct kiln_error **reterr)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_file_max(manifest_path, 64 << 20, &data, &len);
        if (r < 0)
                return kiln_error_set(reterr, -r, "cannot read '%s': %s", manifest_path, strerror(-r));
        struct json_object *m = json_tokener_parse(data), *img, *sha;
        if (!m || !json_object_object_get_ex(m, "image", &img) || !json_object_is_type(img, json_type_object) ||
            !json_object_object_get_ex(img, "sha256", &sha) || !json_object_is_type(sha, json_type_string) ||
            strlen(json_object_get_string(sha)) != KILN_SHA256_HEX - 1) {
                json_object_put(m);
                return kiln_error_set(reterr, EBADMSG, "'%s' is not a kiln manifest", manifest_path);
        }
        *ret_image_sha256 = xstrdup(json_object_get_string(sha));
        json_object_object_add(img, "file", json_object_new_string(image_name));
        struct json_object *ru = json_object_new_object();
        json_object_object_add(ru, "key", json_object_new_string(key));
        struct stat st;
        if (stat(manifest_path, &st) == 0) {
                char t[32];
                struct tm tm;
                gmtime_r(&st.st_mtime, &tm);
                strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
                json_object_object_add(ru, "built", json_object_new_string(t));
        }
        json_object_object_add(m, "reused", ru);
        *ret_text =
                xasprintf("%s\n", json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(m);
        return 0;
}
