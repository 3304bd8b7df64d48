/* The installer media stage. The chain of trust: the mirror's InRelease, checked by gpgv against
 * the keyring; the Packages index, by the hash the Release gives it; the netboot .deb, by the hash
 * the index gives it (or, for a version the index no longer lists, the hash the profile gives). */
#include "media.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <time.h>

#include "preseed.h"
#include "archive-index.h"
#include "installer-files.h"

#define DEFAULT_KEYRING KILN_DEBIAN_KEYRING

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
        kiln_pin_free(m->pin);
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

int kiln_media_index(const struct kiln_media *m, const char *path_noext, const struct kiln_media_opts *o,
                     char **ret_text, struct kiln_error **reterr)
{
        struct kiln_fetch_opts fo = {.progress = o->progress, .userdata = o->userdata};
        return kiln_pin_index(o->cache, m->pin, path_noext, &fo, ret_text, reterr);
}

static int netboot(const struct kiln_profile *p, const struct kiln_media_opts *o, struct kiln_media *m,
                   struct kiln_error **reterr)
{
        struct kiln_pin_opts po = {
                .cache = o->cache, .keyring = p->mirror_keyring, .progress = o->progress, .userdata = o->userdata};
        int r = kiln_pin_fetch(p->mirror, p->release, &po, &m->pin, reterr);
        if (r < 0)
                return r;
        const struct kiln_release *rel = m->pin->release;
        r = check_release(p, rel, reterr);
        if (r < 0)
                return r;
        m->release_date = rel->date ? xstrdup(rel->date) : NULL;
        m->release_signer = rel->signer ? xstrdup(rel->signer) : NULL;

        /* The netboot package is Architecture: all. Where the Release says so, binary-ARCH lists
         * those too (No-Support-for-Architecture-all: Packages) and apt never reads binary-all. */
        _cleanup_free_ char *index = NULL;
        _cleanup_free_ char *index_path =
                rel->no_arch_all ? xasprintf("main/binary-%s/Packages", p->arch) : xstrdup("main/binary-all/Packages");
        r = kiln_media_index(m, index_path, o, &index, reterr);
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
                kiln_notify(
                        o->notice, o->userdata,
                        "installer %s %s is trusted by the profile's sha256, not by the signed index (which lists %s)",
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
        int r;
        if (p->installer.kernel || p->installer.iso)
                r = local_files(p, o, m, reterr);
        else
                r = netboot(p, o, m, reterr);
        if (r == 0 && STREQ(p->arch, "amd64"))
                r = kiln_kernel_version(m->kernel, &m->kernel_version, reterr);
        if (r == 0 && m->pin && !o->skip_preflight && !o->cache->offline) {
                _cleanup_free_ char *summary = NULL;
                r = kiln_preflight(p, m, o, &summary, reterr);
                if (r == 0)
                        kiln_notify(o->notice, o->userdata, "%s", summary);
        }
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

static const char mirror_keyring_hook[] =
        "#!/bin/sh\n"
        "# kiln: apt in the target trusts the profile's mirror_keyring (the image keeps using that mirror).\n"
        "set -e\n"
        "mkdir -p /target/etc/apt/trusted.gpg.d\n"
        "cp /usr/share/keyrings/kiln-mirror.gpg /target/etc/apt/trusted.gpg.d/kiln-mirror.gpg\n"
        "chmod 0644 /target/etc/apt/trusted.gpg.d/kiln-mirror.gpg\n";

int kiln_media_inject(const struct kiln_profile *p, const struct kiln_media *m, const char *preseed,
                      const char *out_path, struct kiln_error **reterr)
{
        struct kiln_initrd_file *pf = NULL;
        size_t npf = 0;
        kiln_preseed_files(p, &pf, &npf);
        struct kiln_initrd_file *files = xcalloc(npf + 4, sizeof(*files));
        size_t n = 0;
        files[n++] = (struct kiln_initrd_file){
                .path = "preseed.cfg", .data = (char *)preseed, .len = strlen(preseed), .mode = 0644};
        for (size_t i = 0; i < npf; i++)
                files[n++] = pf[i];
        _cleanup_free_ char *keyring = NULL, *mirror_key = NULL;
        int r = 0;
        if (p->mirror_keyring_set) {
                /* The installer verifies the mirror with usr/share/keyrings/archive.gpg. Debian's keys stay
                 * in it (apt in the target keeps trusting Debian); the mirror's keyring is added. */
                struct kiln_buf kb = {0};
                _cleanup_free_ char *a = NULL;
                size_t al = 0, bl = 0;
                if (access(DEFAULT_KEYRING, R_OK) == 0)
                        r = read_keyring_bin(DEFAULT_KEYRING, &a, &al, reterr);
                if (r == 0 && p->mirror_keyring_data) /* the bytes checked when the profile loaded */
                        r = kiln_keyring_dearmor(p->mirror_keyring_data, p->mirror_keyring_len, &mirror_key, &bl,
                                                 reterr);
                else if (r == 0)
                        r = read_keyring_bin(p->mirror_keyring, &mirror_key, &bl, reterr);
                if (r == 0) {
                        if (a)
                                buf_append(&kb, a, al);
                        buf_append(&kb, mirror_key, bl);
                        files[n++] = (struct kiln_initrd_file){
                                .path = "usr/share/keyrings/archive.gpg", .data = kb.data, .len = kb.len, .mode = 0644};
                        keyring = kb.data;
                        /* apt in the target reads the same mirror, during the install (the pinned Release
                         * kiln's proxy serves) and after it: it trusts the mirror's keyring too. The hook
                         * runs after debootstrap, before base-installer's first apt-get update. */
                        files[n++] = (struct kiln_initrd_file){.path = "usr/share/keyrings/kiln-mirror.gpg",
                                                               .data = mirror_key,
                                                               .len = bl,
                                                               .mode = 0644};
                        files[n++] = (struct kiln_initrd_file){.path = "usr/lib/base-installer.d/05kiln-mirror-keyring",
                                                               .data = (char *)mirror_keyring_hook,
                                                               .len = strlen(mirror_keyring_hook),
                                                               .mode = 0755};
                }
        }
        if (r == 0)
                r = kiln_initrd_inject(m->initrd, out_path, files, n, reterr);
        free(files);
        kiln_initrd_files_free(pf, npf);
        return r;
}
