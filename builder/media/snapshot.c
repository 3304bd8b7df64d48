/* The archive as kiln verified it when the build started (snapshot.h). Mirrors are often mid-sync
 * or stale in parts: the plain name of an index may hold a newer or older file than the signed
 * Release lists, while its by-hash copy, which never changes, still matches. apt copes by fetching
 * by hash; so does kiln, and the proxy hands the guest only bytes the pinned Release vouches for. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>

void kiln_pin_free(struct kiln_pin *pin)
{
        if (!pin)
                return;
        free(pin->base);
        free(pin->suite);
        free(pin->dists_url);
        kiln_release_free(pin->release);
        free(pin);
}

struct kiln_pin *kiln_pin_dup(const struct kiln_pin *pin)
{
        struct kiln_pin *d = xcalloc(1, sizeof(*d));
        *d = *pin;
        d->base = xstrdup(pin->base);
        d->suite = xstrdup(pin->suite);
        d->dists_url = xstrdup(pin->dists_url);
        d->release = NULL;
        if (pin->release && kiln_release_parse(pin->release->text, &d->release, NULL) == 0 && pin->release->signer)
                d->release->signer = xstrdup(pin->release->signer);
        return d;
}

static char *record_key(const char *base, const char *suite, const char *keyring)
{
        _cleanup_free_ char *src = xasprintf("%s\n%s\n%s", base, suite, keyring);
        char hex[KILN_SHA256_HEX];
        kiln_sha256_buf(src, strlen(src), hex);
        return xasprintf("pin-%s", hex);
}

/* One signed file into a temporary file of the cache: it enters the store only once verified.
 * -ENOENT for a 404 (or, for an optional suite, no answer). */
static int fetch_signed_file(struct kiln_cache *c, const char *url, const struct kiln_pin_opts *o, char **ret_tmp,
                             struct kiln_error **reterr)
{
        _cleanup_free_ char *tmp = NULL;
        int fd;
        int r = kiln_cache_tmp(c, &tmp, &fd, reterr);
        if (r < 0)
                return r;
        long status = 0;
        const char *slash = strrchr(url, '/');
        struct kiln_fetch_opts fo = {.label = slash ? slash + 1 : url,
                                     .ret_status = &status,
                                     .max_bytes = 64 << 20,
                                     .no_retry = o->optional,
                                     .progress = o->progress,
                                     .userdata = o->userdata};
        struct kiln_error *e = NULL;
        r = kiln_fetch_to_fd(url, fd, &fo, &e);
        close(fd);
        if (r < 0) {
                unlink(tmp);
                bool absent = status == 404 || status == 410 || (o->optional && status == 0);
                kiln_error_set(reterr, absent ? ENOENT : e->errnum, "%s", e->msg);
                kiln_error_free(e);
                return absent ? -ENOENT : r;
        }
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
}

static int verify(const char *signed_path, const char *detached_path, const struct kiln_pin_opts *o,
                  struct kiln_release **ret, struct kiln_error **reterr)
{
        struct kiln_error *first = NULL;
        int r = kiln_release_verify(signed_path, detached_path, o->keyring, ret, &first);
        if (r < 0 && o->fallback_keyring && !STREQ(o->fallback_keyring, o->keyring) &&
            kiln_release_verify(signed_path, detached_path, o->fallback_keyring, ret, NULL) == 0)
                r = 0;
        if (r < 0)
                kiln_error_set(reterr, first->errnum, "%s", first->msg);
        kiln_error_free(first);
        return r;
}

static int verify_cached(struct kiln_cache *c, const char *signed_sha, const char *detached_sha,
                         const struct kiln_pin_opts *o, struct kiln_release **ret, struct kiln_error **reterr)
{
        _cleanup_free_ char *sp = kiln_cache_path(c, signed_sha);
        _cleanup_free_ char *dp = detached_sha ? kiln_cache_path(c, detached_sha) : NULL;
        return verify(sp, dp, o, ret, reterr);
}

static void unlink_free(char **p)
{
        if (*p) {
                unlink(*p);
                free(*p);
                *p = NULL;
        }
}

/* Trailing newlines aside, is the detached Release the text the InRelease signed? */
static bool same_text(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        while (la && a[la - 1] == '\n')
                la--;
        while (lb && b[lb - 1] == '\n')
                lb--;
        return la == lb && memcmp(a, b, la) == 0;
}

static int pin_offline(struct kiln_pin *pin, const struct kiln_pin_opts *o, const char *key, struct kiln_error **reterr)
{
        _cleanup_free_ char *rec = kiln_cache_record_read(o->cache, key);
        char in[KILN_SHA256_HEX] = "", rel[KILN_SHA256_HEX] = "", gpg[KILN_SHA256_HEX] = "";
        if (rec)
                sscanf(rec, "InRelease %64s Release %64s Release.gpg %64s", in, rel, gpg);
        if (rec && STREQ(in, "-") && STREQ(rel, "-"))
                return -ENOENT; /* absent last time too */
        _cleanup_free_ char *hit = NULL;
        bool have_in = strlen(in) == 64 && (hit = kiln_cache_lookup(o->cache, in));
        if (!have_in && !(strlen(rel) == 64 && strlen(gpg) == 64))
                return kiln_error_set(reterr, ENOENT,
                                      "offline, and the cache has no verified Release for '%s' %s: run 'kiln "
                                      "fetch' online once",
                                      pin->base, pin->suite);
        int r = have_in ? verify_cached(o->cache, in, NULL, o, &pin->release, reterr)
                        : verify_cached(o->cache, rel, gpg, o, &pin->release, reterr);
        if (r < 0)
                return r;
        if (have_in)
                memcpy(pin->inrelease, in, KILN_SHA256_HEX);
        if (strlen(rel) == 64 && strlen(gpg) == 64)
                memcpy(pin->release_file, rel, KILN_SHA256_HEX), memcpy(pin->release_gpg, gpg, KILN_SHA256_HEX);
        return 0;
}

/* The InRelease just fetched is the one the last pin of this suite recorded, and that pin's
 * detached pair is still in the cache and says the same: reuse it, so that a warm build asks
 * upstream for the InRelease alone (issue 16). The pair is verified again, from the cache. */
static bool reuse_pair(struct kiln_pin *pin, const struct kiln_pin_opts *o, const char *key, const char *in_tmp)
{
        char in[KILN_SHA256_HEX], rec_in[KILN_SHA256_HEX] = "", rel[KILN_SHA256_HEX] = "", gpg[KILN_SHA256_HEX] = "";
        _cleanup_free_ char *rec = kiln_cache_record_read(o->cache, key);
        if (!rec || sscanf(rec, "InRelease %64s Release %64s Release.gpg %64s", rec_in, rel, gpg) != 3 ||
            strlen(rel) != 64 || strlen(gpg) != 64 || kiln_sha256_file(in_tmp, in, NULL, NULL) < 0 ||
            !STREQ(in, rec_in))
                return false;
        _cleanup_free_ char *hr = kiln_cache_lookup(o->cache, rel), *hg = kiln_cache_lookup(o->cache, gpg);
        struct kiln_release *detached = NULL;
        if (!hr || !hg || verify_cached(o->cache, rel, gpg, o, &detached, NULL) < 0)
                return false;
        bool same = same_text(pin->release->text, detached->text);
        kiln_release_free(detached);
        if (same)
                memcpy(pin->release_file, rel, KILN_SHA256_HEX), memcpy(pin->release_gpg, gpg, KILN_SHA256_HEX);
        return same;
}

static int pin_online(struct kiln_pin *pin, const struct kiln_pin_opts *o, const char *key, struct kiln_error **reterr)
{
        _cleanup_free_ char *in_url = xasprintf("%sInRelease", pin->dists_url);
        _cleanup_free_ char *rel_url = xasprintf("%sRelease", pin->dists_url);
        _cleanup_free_ char *gpg_url = xasprintf("%sRelease.gpg", pin->dists_url);
        _cleanup_(unlink_free) char *in_tmp = NULL, *rel_tmp = NULL, *gpg_tmp = NULL;
        struct kiln_error *in_err = NULL;
        int r = fetch_signed_file(o->cache, in_url, o, &in_tmp, &in_err);
        if (r == 0) {
                kiln_error_free(in_err);
                r = verify(in_tmp, NULL, o, &pin->release, reterr);
                if (r < 0)
                        return kiln_error_wrap(reterr, "'%s'", in_url);
        } else if (r != -ENOENT) {
                kiln_error_set(reterr, in_err->errnum, "%s", in_err->msg);
                kiln_error_free(in_err);
                return r;
        } else {
                kiln_error_free(in_err);
        }
        if (in_tmp && reuse_pair(pin, o, key, in_tmp))
                return kiln_cache_commit(o->cache, in_tmp, pin->inrelease, NULL, reterr);
        /* Release and Release.gpg as well: older clients (the installer's net-retriever) read those.
         * Pinned only when they say what the InRelease says. */
        struct kiln_error *e = NULL;
        struct kiln_release *detached = NULL;
        int rr = fetch_signed_file(o->cache, rel_url, o, &rel_tmp, &e);
        if (rr == 0)
                rr = fetch_signed_file(o->cache, gpg_url, o, &gpg_tmp, &e);
        if (rr == 0)
                rr = verify(rel_tmp, gpg_tmp, o, &detached, &e);
        bool pair = rr == 0 && (!pin->release || same_text(pin->release->text, detached->text));
        if (rr == 0 && !pin->release)
                pin->release = TAKE_PTR(detached);
        kiln_release_free(detached);
        if (!pin->release) {
                /* No InRelease: the detached pair's verdict is the suite's. */
                bool absent = rr == -ENOENT;
                if (absent)
                        r = kiln_error_set(reterr, ENOENT, "'%s' has no InRelease or Release", pin->dists_url);
                else
                        r = kiln_error_set(reterr, e ? e->errnum : EBADMSG, "'%s': %s", rel_url,
                                           e ? e->msg : "cannot be verified");
                kiln_error_free(e);
                return r;
        }
        kiln_error_free(e);
        /* Verified: now, and only now, the signed files enter the shared store. */
        if (in_tmp && (r = kiln_cache_commit(o->cache, in_tmp, pin->inrelease, NULL, reterr)) < 0)
                return r;
        free(in_tmp), in_tmp = NULL;
        if (pair) {
                r = kiln_cache_commit(o->cache, rel_tmp, pin->release_file, NULL, reterr);
                free(rel_tmp), rel_tmp = NULL;
                if (r == 0)
                        r = kiln_cache_commit(o->cache, gpg_tmp, pin->release_gpg, NULL, reterr);
                free(gpg_tmp), gpg_tmp = NULL;
                if (r < 0)
                        return r;
        }
        return 0;
}

int kiln_pin_fetch(const char *base, const char *suite, const struct kiln_pin_opts *o, struct kiln_pin **ret,
                   struct kiln_error **reterr)
{
        struct kiln_pin *pin = xcalloc(1, sizeof(*pin));
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
                bl--;
        pin->base = xstrndup(base, bl);
        pin->suite = xstrdup(suite);
        pin->dists_url = xasprintf("%s/dists/%s/", pin->base, suite);
        _cleanup_free_ char *key = record_key(pin->base, suite, o->keyring);
        struct kiln_error *e = NULL;
        int r = o->cache->offline ? pin_offline(pin, o, key, &e) : pin_online(pin, o, key, &e);
        if (r < 0 && !(r == -ENOENT && o->optional)) {
                for (struct kiln_error *i = e; i; i = i->next)
                        kiln_error_set(reterr, i->errnum, "%s", i->msg);
                kiln_error_free(e);
                kiln_pin_free(pin);
                return r;
        }
        kiln_error_free(e);
        if (!o->cache->offline) {
                _cleanup_free_ char *rec = xasprintf(
                        "InRelease %s Release %s Release.gpg %s\n", *pin->inrelease ? pin->inrelease : "-",
                        *pin->release_file ? pin->release_file : "-", *pin->release_gpg ? pin->release_gpg : "-");
                kiln_cache_record_write(o->cache, key, rec, NULL);
        }
        if (r < 0) { /* absent, and that is allowed: the guest sees no such suite */
                kiln_release_free(pin->release);
                pin->release = NULL;
                pin->inrelease[0] = pin->release_file[0] = pin->release_gpg[0] = '\0';
        }
        *ret = pin;
        return 0;
}

int kiln_pin_file(struct kiln_cache *cache, const struct kiln_pin *pin, const char *relpath, const char *sha256,
                  uint64_t size, const struct kiln_fetch_opts *fo, char **ret_path, struct kiln_buf *tried,
                  struct kiln_error **reterr)
{
        char *hit = kiln_cache_lookup(cache, sha256);
        if (hit) {
                *ret_path = hit;
                return 0;
        }
        char *urls[2] = {NULL, NULL};
        size_t n = 0;
        if (pin->release && pin->release->by_hash) {
                const char *slash = strrchr(relpath, '/');
                urls[n++] = slash ? xasprintf("%s%.*s/by-hash/SHA256/%s", pin->dists_url, (int)(slash - relpath),
                                              relpath, sha256)
                                  : xasprintf("%sby-hash/SHA256/%s", pin->dists_url, sha256);
        }
        urls[n++] = xasprintf("%s%s", pin->dists_url, relpath);
        bool all_absent = true;
        int r = -ENOENT;
        for (size_t i = 0; i < n; i++) {
                struct kiln_error *e = NULL;
                long status = 0;
                struct kiln_fetch_opts o = fo ? *fo : (struct kiln_fetch_opts){0};
                o.ret_status = &status;
                r = kiln_cache_fetch_tried(cache, urls[i], sha256, size, &o, ret_path, tried, &e);
                kiln_error_free(e);
                if (r == 0)
                        break;
                if (status != 404 && status != 410)
                        all_absent = false;
        }
        if (r < 0)
                r = all_absent ? kiln_error_set(reterr, ENOENT, "the mirror has no '%s%s'", pin->dists_url, relpath)
                               : kiln_error_set(reterr, EBADMSG,
                                                "the mirror has no copy of '%s%s' that matches its signed Release",
                                                pin->dists_url, relpath);
        free(urls[0]);
        free(urls[1]);
        return r;
}

int kiln_pin_index(struct kiln_cache *cache, const struct kiln_pin *pin, const char *path_noext,
                   const struct kiln_fetch_opts *fo, char **ret_text, struct kiln_error **reterr)
{
        /* apt's order: the best compression first; the uncompressed file last. */
        static const char *const exts[] = {".xz", ".gz", ".bz2", ""};
        struct kiln_buf listed = {0}, tried = {0};
        _cleanup_free_ char *listed_text = NULL, *tried_text = NULL;
        if (!pin->release)
                return kiln_error_set(reterr, ENOENT, "'%s' had no signed Release when the build started",
                                      pin->dists_url);
        for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
                _cleanup_free_ char *rel_path = xasprintf("%s%s", path_noext, exts[i]);
                char sha[KILN_SHA256_HEX];
                uint64_t size;
                if (kiln_release_sha256(pin->release, rel_path, sha, &size) < 0)
                        continue;
                buf_printf(&listed, "\n    %s: %" PRIu64 " bytes, sha256 %s", rel_path, size, sha);
                _cleanup_free_ char *path = NULL, *data = NULL;
                struct kiln_fetch_opts o = fo ? *fo : (struct kiln_fetch_opts){0};
                o.label = rel_path;
                struct kiln_error *e = NULL;
                int r = kiln_pin_file(cache, pin, rel_path, sha, size, &o, &path, &tried, &e);
                kiln_error_free(e);
                if (r < 0)
                        continue;
                free(listed.data);
                free(tried.data);
                if (!ret_text)
                        return 0;
                size_t len, out_len;
                r = read_file_max(path, 1ULL << 30, &data, &len);
                if (r < 0)
                        r = kiln_error_set(reterr, -r, "cannot read '%s': %s", path, strerror(-r));
                else if ((r = kiln_decompress(data, len, ret_text, &out_len, reterr)) < 0)
                        kiln_error_wrap(reterr, "'%s%s'", pin->dists_url, rel_path);
                return r;
        }
        if (!listed.len)
                return kiln_error_set(reterr, ENOENT,
                                      "the signed Release of '%s' %s lists no '%s' (.xz, .gz, .bz2 or uncompressed)",
                                      pin->base, pin->suite, path_noext);
        listed_text = buf_steal(&listed);
        tried_text = buf_steal(&tried);
        return kiln_error_set(reterr, EBADMSG,
                              "the mirror's index '%s' (%s, suite %s) matches none of its signed copies\n"
                              "  the signed Release (Date: %s) lists:%s\n"
                              "  kiln tried:%s\n"
                              "  the mirror is out of sync with its signed Release (mid-sync, or stale in parts): "
                              "try again later, or use another mirror",
                              path_noext, pin->base, pin->suite, pin->release->date ? pin->release->date : "none",
                              listed_text, tried_text);
}

/* ---- the snapshot of every suite a profile's guest uses ---- */

static bool have_pin(const struct kiln_snapshot *s, const char *base, const char *suite)
{
        _cleanup_free_ char *want = xasprintf("%s/dists/%s/", base, suite);
        for (size_t i = 0; i < s->n; i++)
                if (STREQ(s->pins[i]->dists_url, want))
                        return true;
        return false;
}

static int add_pin(struct kiln_snapshot *s, const char *base, const char *suite, const struct kiln_pin_opts *o,
                   kiln_notice_fn notice, void *userdata, struct kiln_error **reterr)
{
        if (!str_has_prefix(base, "http://"))
                return 0; /* https: tunnelled end to end (CONNECT); the guest's apt verifies it alone */
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
                bl--;
        _cleanup_free_ char *b = xstrndup(base, bl);
        if (have_pin(s, b, suite))
                return 0;
        struct kiln_pin *pin = NULL;
        int r = kiln_pin_fetch(b, suite, o, &pin, reterr);
        if (r < 0)
                return kiln_error_wrap(reterr, "the suite '%s' of '%s'", suite, b);
        if (!pin->release)
                kiln_notify(notice, userdata, "'%s' has no Release: the guest sees no suite '%s' there", b, suite);
        s->pins = xrealloc(s->pins, (s->n + 1) * sizeof(*s->pins));
        s->pins[s->n++] = pin;
        return 0;
}

int kiln_snapshot_for(const struct kiln_profile *p, const struct kiln_pin *main, struct kiln_cache *cache,
                      kiln_notice_fn notice, void *userdata, struct kiln_snapshot *ret, struct kiln_error **reterr)
{
        struct kiln_snapshot s = {0};
        if (main) {
                s.pins = xcalloc(1, sizeof(*s.pins));
                s.pins[s.n++] = kiln_pin_dup(main);
        }
        const char *debian = access(KILN_DEBIAN_KEYRING, R_OK) == 0 ? KILN_DEBIAN_KEYRING : NULL;
        /* What the guest trusts: the installer's archive keyring is Debian's plus the mirror's. */
        struct kiln_pin_opts mo = {.cache = cache,
                                   .keyring = p->mirror_keyring,
                                   .fallback_keyring = p->mirror_keyring_set ? debian : NULL,
                                   .optional = true};
        _cleanup_free_ char *updates = xasprintf("%s-updates", p->release);
        int r = add_pin(&s, p->mirror, p->release, &mo, notice, userdata, reterr);
        if (r == 0)
                r = add_pin(&s, p->mirror, updates, &mo, notice, userdata, reterr);
        if (r == 0 && p->security) {
                _cleanup_free_ char *sec = xasprintf("%s-security", p->release);
                struct kiln_pin_opts so = {.cache = cache,
                                           .keyring = debian ? debian : p->mirror_keyring,
                                           .fallback_keyring = p->mirror_keyring,
                                           .optional = true};
                r = add_pin(&s, p->security, sec, &so, notice, userdata, reterr);
        }
        for (size_t i = 0; r == 0 && i < p->n_repos; i++) {
                const struct kiln_repo *repo = &p->repos[i];
                _cleanup_free_ char *tmp = NULL;
                const char *keyring = repo->key_file;
                if (!keyring && repo->key) {
                        int fd;
                        r = kiln_cache_tmp(cache, &tmp, &fd, reterr);
                        if (r < 0)
                                break;
                        bool ok = write(fd, repo->key, strlen(repo->key)) == (ssize_t)strlen(repo->key);
                        close(fd);
                        if (!ok) {
                                r = kiln_error_set(reterr, EIO, "cannot write '%s'", tmp);
                                unlink(tmp);
                                break;
                        }
                        keyring = tmp;
                }
                if (keyring) {
                        struct kiln_pin_opts ro = {.cache = cache, .keyring = keyring, .optional = true};
                        r = add_pin(&s, repo->url, repo->suite, &ro, notice, userdata, reterr);
                }
                if (tmp)
                        unlink(tmp);
        }
        if (r < 0) {
                kiln_snapshot_clear(&s);
                return r;
        }
        *ret = s;
        return 0;
}

void kiln_snapshot_clear(struct kiln_snapshot *s)
{
        for (size_t i = 0; i < s->n; i++)
                kiln_pin_free(s->pins[i]);
        free(s->pins);
        *s = (struct kiln_snapshot){0};
}

const struct kiln_pin *kiln_snapshot_match(const struct kiln_snapshot *s, const char *url, const char **ret_rest)
{
        for (size_t i = 0; s && i < s->n; i++)
                if (str_has_prefix(url, s->pins[i]->dists_url)) {
                        *ret_rest = url + strlen(s->pins[i]->dists_url);
                        return s->pins[i];
                }
        return NULL;
}

bool kiln_snapshot_unpinned_suite(const struct kiln_snapshot *s, const char *url)
{
        const char *rest;
        if (kiln_snapshot_match(s, url, &rest))
                return false;
        for (size_t i = 0; s && i < s->n; i++) {
                size_t n = strlen(s->pins[i]->base);
                if (strncmp(url, s->pins[i]->base, n) == 0 && str_has_prefix(url + n, "/dists/"))
                        return true;
        }
        return false;
}
