/* The installer media stage. The chain of trust: the mirror's InRelease, checked by gpgv against
 * the keyring; the Packages index, by the hash the Release gives it; the netboot .deb, by the hash
 * the index gives it (or, for a version the index no longer lists, the hash the profile gives). */
#include "media.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <time.h>

#include "../../preseed-gen/preseed.h"
#include "archive-index.h"
#include "installer-files.h"

#define DEFAULT_KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"

void kiln_media_free(struct kiln_media *m)
{
        if (!m)
                return;
        free(m->kernel);
        free(m->initrd);
        free(m->kernel_version);
        free(m->package);
        free(m->version);
        free(m->trust);
        free(m->release_date);
        free(m->release_signer);
        free(m);
}

static int local_files(const struct kiln_profile *p, const struct kiln_media_opts *o, struct kiln_media *m,
                       struct kiln_error **reterr)
{
        if (p->installer.iso) {
                int r = kiln_iso_extract(o->cache, p->installer.iso, m->kernel_sha256, m->initrd_sha256, reterr);
                if (r < 0)
                        return r;
                m->kernel = kiln_cache_path(o->cache, m->kernel_sha256);
                m->initrd = kiln_cache_path(o->cache, m->initrd_sha256);
                m->trust = xasprintf("local ISO '%s' (not verified against a signed index)", p->installer.iso);
                return 0;
        }
        int r = kiln_sha256_file(p->installer.kernel, m->kernel_sha256, NULL, reterr);
        if (r == 0)
                r = kiln_sha256_file(p->installer.initrd, m->initrd_sha256, NULL, reterr);
        if (r < 0)
                return r;
        m->kernel = xstrdup(p->installer.kernel);
        m->initrd = xstrdup(p->installer.initrd);
        m->trust = xstrdup("local files named by the profile (not verified against a signed index)");
        return 0;
}

/* The Release, verified; for --offline, the copy kiln verified last time. */
static int get_release(const struct kiln_profile *p, const struct kiln_media_opts *o, struct kiln_release **ret,
                       struct kiln_error **reterr)
{
        _cleanup_free_ char *dists = xasprintf("%s/dists/%s", p->mirror, p->release);
        char key_hex[KILN_SHA256_HEX];
        _cleanup_free_ char *keysrc = xasprintf("%s\n%s\n%s", p->mirror, p->release, p->mirror_keyring);
        kiln_sha256_buf(keysrc, strlen(keysrc), key_hex);
        _cleanup_free_ char *record = xasprintf("release-%s", key_hex);

        if (o->cache->offline) {
                _cleanup_free_ char *text = kiln_cache_record_read(o->cache, record);
                if (!text)
                        return kiln_error_set(reterr, ENOENT,
                                              "offline, and the cache has no verified Release for '%s' %s: run "
                                              "'kiln fetch' online once",
                                              p->mirror, p->release);
                return kiln_release_parse(text, ret, reterr);
        }

        _cleanup_free_ char *tmp = NULL, *sig_tmp = NULL;
        int fd, r = kiln_cache_tmp(o->cache, &tmp, &fd, reterr);
        if (r < 0)
                return r;
        _cleanup_free_ char *url = xasprintf("%s/InRelease", dists);
        struct kiln_fetch_opts fo = {.label = "InRelease"};
        struct kiln_error *e404 = NULL;
        r = kiln_fetch_to_fd(url, fd, &fo, &e404);
        close(fd);
        const char *detached = NULL;
        if (r == -ENOENT) { /* older mirrors: Release + Release.gpg */
                kiln_error_free(e404), e404 = NULL;
                free(url), url = xasprintf("%s/Release", dists);
                fd = open(tmp, O_WRONLY | O_TRUNC | O_CLOEXEC);
                r = fd < 0 ? -errno : kiln_fetch_to_fd(url, fd, &fo, reterr);
                if (fd >= 0)
                        close(fd);
                if (r == 0 && (r = kiln_cache_tmp(o->cache, &sig_tmp, &fd, reterr)) == 0) {
                        _cleanup_free_ char *sig_url = xasprintf("%s/Release.gpg", dists);
                        r = kiln_fetch_to_fd(sig_url, fd, &fo, reterr);
                        close(fd);
                        detached = sig_tmp;
                }
        } else if (r < 0) {
                kiln_error_set(reterr, e404->errnum, "%s", e404->msg);
                kiln_error_free(e404);
        }
        if (r == 0) {
                r = kiln_release_verify(tmp, detached, p->mirror_keyring, ret, reterr);
                if (r < 0)
                        kiln_error_wrap(reterr, "'%s'", url);
        }
        unlink(tmp);
        if (sig_tmp)
                unlink(sig_tmp);
        if (r < 0)
                return r;
        return kiln_cache_record_write(o->cache, record, (*ret)->text, reterr);
}

static int check_release(const struct kiln_profile *p, const struct kiln_release *rel, struct kiln_error **reterr)
{
        if (!(rel->codename && STREQ(rel->codename, p->release)) && !(rel->suite && STREQ(rel->suite, p->release)))
                return kiln_error_set(reterr, EBADMSG,
                                      "the mirror's Release for '%s' says it is '%s' (suite '%s'): refusing a "
                                      "substituted release",
                                      p->release, rel->codename ? rel->codename : "?", rel->suite ? rel->suite : "?");
        if (rel->valid_until) {
                struct tm tm = {0};
                const char *end = strptime(rel->valid_until, "%a, %d %b %Y %H:%M:%S", &tm);
                if (end && timegm(&tm) < time(NULL))
                        return kiln_error_set(reterr, EBADMSG,
                                              "the mirror's Release expired on %s (Valid-Until): the mirror is stale "
                                              "or replaying an old Release",
                                              rel->valid_until);
        }
        return 0;
}

int kiln_media_index(const struct kiln_profile *p, const struct kiln_release *release, const char *path_noext,
                     const struct kiln_media_opts *o, char **ret_text, struct kiln_error **reterr)
{
        static const char *const exts[] = {".xz", ".gz"};
        for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
                _cleanup_free_ char *rel_path = xasprintf("%s%s", path_noext, exts[i]);
                char sha[KILN_SHA256_HEX];
                uint64_t size;
                if (kiln_release_sha256(release, rel_path, sha, &size) < 0)
                        continue;
                _cleanup_free_ char *url = xasprintf("%s/dists/%s/%s", p->mirror, p->release, rel_path);
                _cleanup_free_ char *path = NULL, *data = NULL;
                struct kiln_fetch_opts fo = {.label = rel_path, .progress = o->progress, .userdata = o->userdata};
                int r = kiln_cache_fetch(o->cache, url, sha, size, &fo, &path, reterr);
                if (r < 0)
                        return r;
                size_t len, out_len;
                r = read_file_max(path, 1ULL << 30, &data, &len);
                if (r < 0)
                        return kiln_error_set(reterr, -r, "cannot read '%s': %s", path, strerror(-r));
                r = kiln_decompress(data, len, ret_text, &out_len, reterr);
                if (r < 0)
                        kiln_error_wrap(reterr, "'%s'", url);
                return r;
        }
        return kiln_error_set(reterr, ENOENT, "the signed Release of '%s' %s lists no '%s.xz' or '.gz'", p->mirror,
                              p->release, path_noext);
}

static int netboot(const struct kiln_profile *p, const struct kiln_media_opts *o, struct kiln_media *m,
                   struct kiln_release **ret_release, struct kiln_error **reterr)
{
        struct kiln_release *rel = NULL;
        int r = get_release(p, o, &rel, reterr);
        if (r < 0)
                return r;
        *ret_release = rel;
        r = check_release(p, rel, reterr);
        if (r < 0)
                return r;
        m->release_date = rel->date ? xstrdup(rel->date) : NULL;
        m->release_signer = rel->signer ? xstrdup(rel->signer) : NULL;

        _cleanup_free_ char *index = NULL;
        r = kiln_media_index(p, rel, "main/binary-all/Packages", o, &index, reterr);
        if (r < 0)
                return r;
        m->package = xasprintf("debian-installer-%u-netboot-%s", p->release_number, p->arch);
        size_t len;
        const char *st = kiln_stanza_find(index, "Package", m->package, &len);
        if (!st)
                return kiln_error_set(reterr, ENOENT, "the signed index of '%s' %s does not list '%s'", p->mirror,
                                      p->release, m->package);
        _cleanup_free_ char *version = kiln_stanza_field(st, len, "Version");
        _cleanup_free_ char *filename = kiln_stanza_field(st, len, "Filename");
        _cleanup_free_ char *sha = kiln_stanza_field(st, len, "SHA256");
        _cleanup_free_ char *size_s = kiln_stanza_field(st, len, "Size");
        if (!version || !filename || !sha || strlen(sha) != 64 || !size_s || strstr(filename, ".."))
                return kiln_error_set(reterr, EBADMSG, "the signed index's entry for '%s' is incomplete", m->package);
        uint64_t size = strtoull(size_s, NULL, 10);

        const char *want = p->installer.version;
        _cleanup_free_ char *url = NULL;
        if (want && !STREQ(want, version)) {
                if (!p->installer.sha256)
                        return kiln_error_set(reterr, ENOENT,
                                              "installer version '%s' is not in the signed index (it lists '%s'): "
                                              "give 'installer.sha256' to trust that version by its hash",
                                              want, version);
                _cleanup_free_ char *copy = xstrdup(filename);
                url = xasprintf("%s/%s/%s_%s_all.deb", p->mirror, dirname(copy), m->package, want);
                memcpy(m->deb_sha256, p->installer.sha256, KILN_SHA256_HEX);
                size = 0;
                m->version = xstrdup(want);
                m->trust = xasprintf("the profile's installer.sha256 (the signed index lists only %s)", version);
                kiln_notify(o->notice, o->userdata, "installer %s %s is trusted by the profile's sha256, not by the signed index (which lists %s)",
                       m->package, want, version);
        } else {
                if (p->installer.sha256 && !STREQ(p->installer.sha256, sha))
                        return kiln_error_set(reterr, EBADMSG,
                                              "installer.sha256 %s does not match the signed index's %s for %s %s",
                                              p->installer.sha256, sha, m->package, version);
                url = xasprintf("%s/%s", p->mirror, filename);
                memcpy(m->deb_sha256, sha, KILN_SHA256_HEX);
                m->version = xstrdup(version);
                m->trust = xasprintf("the mirror's signed Release (key %s)", rel->signer ? rel->signer : "?");
        }

        _cleanup_free_ char *deb = NULL;
        struct kiln_fetch_opts fo = {.label = m->package, .progress = o->progress, .userdata = o->userdata};
        r = kiln_cache_fetch(o->cache, url, m->deb_sha256, size, &fo, &deb, reterr);
        if (r < 0)
                return r;

        /* The .deb's kernel and initrd, extracted once per .deb. */
        _cleanup_free_ char *record_key = xasprintf("deb-%s", m->deb_sha256);
        _cleanup_free_ char *record = kiln_cache_record_read(o->cache, record_key);
        char k[KILN_SHA256_HEX], i[KILN_SHA256_HEX];
        if (record && sscanf(record, "%64s %64s", k, i) == 2) {
                _cleanup_free_ char *kp = kiln_cache_lookup(o->cache, k), *ip = kiln_cache_lookup(o->cache, i);
                if (kp && ip) {
                        memcpy(m->kernel_sha256, k, KILN_SHA256_HEX);
                        memcpy(m->initrd_sha256, i, KILN_SHA256_HEX);
                        m->kernel = TAKE_PTR(kp);
                        m->initrd = TAKE_PTR(ip);
                        return 0;
                }
        }
        _cleanup_free_ char *dir = xasprintf("usr/lib/debian-installer/images/%u/%s/text/debian-installer/%s",
                                             p->release_number, p->arch, p->arch);
        _cleanup_free_ char *kpath = xasprintf("%s/linux", dir), *ipath = xasprintf("%s/initrd.gz", dir);
        const char *paths[] = {kpath, ipath};
        char shas[2][KILN_SHA256_HEX];
        r = kiln_deb_extract(o->cache, deb, paths, 2, shas, reterr);
        if (r < 0)
                return r;
        memcpy(m->kernel_sha256, shas[0], KILN_SHA256_HEX);
        memcpy(m->initrd_sha256, shas[1], KILN_SHA256_HEX);
        m->kernel = kiln_cache_path(o->cache, shas[0]);
        m->initrd = kiln_cache_path(o->cache, shas[1]);
        _cleanup_free_ char *text = xasprintf("%s %s\n", shas[0], shas[1]);
        return kiln_cache_record_write(o->cache, record_key, text, reterr);
}

int kiln_media_fetch(const struct kiln_profile *p, const struct kiln_media_opts *o, struct kiln_media **ret,
                     struct kiln_error **reterr)
{
        struct kiln_media *m = xcalloc(1, sizeof(*m));
        struct kiln_release *rel = NULL;
        int r;
        if (p->installer.kernel || p->installer.iso)
                r = local_files(p, o, m, reterr);
        else
                r = netboot(p, o, m, &rel, reterr);
        if (r == 0 && STREQ(p->arch, "amd64"))
                r = kiln_kernel_version(m->kernel, &m->kernel_version, reterr);
        if (r == 0 && rel && !o->skip_preflight && !o->cache->offline) {
                _cleanup_free_ char *summary = NULL;
                r = kiln_preflight(p, m, rel, o, &summary, reterr);
                if (r == 0)
                        kiln_notify(o->notice, o->userdata, "%s", summary);
        }
        kiln_release_free(rel);
        if (r < 0) {
                kiln_media_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static int read_keyring_bin(const char *path, char **ret, size_t *ret_len, struct kiln_error **reterr)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_file_max(path, 64 << 20, &data, &len);
        if (r < 0)
                return kiln_error_set(reterr, -r, "cannot read keyring '%s': %s", path, strerror(-r));
        return kiln_keyring_dearmor(data, len, ret, ret_len, reterr);
}

int kiln_media_inject(const struct kiln_profile *p, const struct kiln_media *m, const char *preseed,
                      const char *out_path, struct kiln_error **reterr)
{
        struct kiln_initrd_file *pf = NULL;
        size_t npf = 0;
        kiln_preseed_files(p, &pf, &npf);
        struct kiln_initrd_file *files = xcalloc(npf + 2, sizeof(*files));
        size_t n = 0;
        files[n++] = (struct kiln_initrd_file){.path = "preseed.cfg", .data = (char *) preseed,
                                               .len = strlen(preseed), .mode = 0644};
        for (size_t i = 0; i < npf; i++)
                files[n++] = pf[i];
        _cleanup_free_ char *keyring = NULL;
        int r = 0;
        if (p->mirror_keyring_set) {
                /* The installer verifies the mirror with usr/share/keyrings/archive.gpg. Debian's keys stay
                 * in it (apt in the target keeps trusting Debian); the mirror's keyring is added. */
                struct kiln_buf kb = {0};
                _cleanup_free_ char *a = NULL, *b = NULL;
                size_t al = 0, bl = 0;
                if (access(DEFAULT_KEYRING, R_OK) == 0)
                        r = read_keyring_bin(DEFAULT_KEYRING, &a, &al, reterr);
                if (r == 0 && p->mirror_keyring_data) /* the bytes checked when the profile loaded */
                        r = kiln_keyring_dearmor(p->mirror_keyring_data, p->mirror_keyring_len, &b, &bl, reterr);
                else if (r == 0)
                        r = read_keyring_bin(p->mirror_keyring, &b, &bl, reterr);
                if (r == 0) {
                        if (a)
                                buf_append(&kb, a, al);
                        buf_append(&kb, b, bl);
                        files[n++] = (struct kiln_initrd_file){.path = "usr/share/keyrings/archive.gpg",
                                                               .data = kb.data, .len = kb.len, .mode = 0644};
                        keyring = kb.data;
                }
        }
        if (r == 0)
                r = kiln_initrd_inject(m->initrd, out_path, files, n, reterr);
        free(files);
        kiln_initrd_files_free(pf, npf);
        return r;
}
