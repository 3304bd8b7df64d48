/* kiln build's result reuse: the build key after the fetch stage, the stored image published when
 * the store has that key, the result stored after a build. */
#include <errno.h>
#include <limits.h>

#include "hash.h"
#include "finish.h"
#include "key.h"
#include "cli.h"
#include "build-reuse.h"

int cli_reuse_key(struct cli_reuse *r, const struct kiln_profile *p, const char *preseed, const struct kiln_media *m,
                  struct kiln_cache *cache, const struct kiln_key_opts *ko, struct cli_display *d,
                  struct kiln_error **err)
{
        if (kiln_result_store_open(r->store_dir, cache->dir, &r->store, err) < 0)
                return -EIO;
        if (kiln_build_key_for(p, preseed, m, cache, ko, cli_display_notice, d, &r->key, err) < 0)
                return -EIO;
        r->have_key = true;
        struct kiln_build_key prev = {0};
        _cleanup_free_ char *img = NULL, *man = NULL;
        r->hit = !r->no_reuse && kiln_result_lookup(r->store, r->key.hex, &img, &man);
        if (kiln_result_last_key(r->store, p->name, p->release, &prev) < 0)
                r->why = xasprintf("no earlier build of profile '%s' in this store", p->name);
        else {
                _cleanup_free_ char *diff = kiln_build_key_diff(&prev, &r->key);
                if (*diff) {
                        diff[strlen(diff) - 1] = '\0';
                        for (char *c = diff; *c; c++)
                                if (*c == '\n')
                                        *c = ';';
                        r->why = xasprintf("since the last build of '%s': %s", p->name, diff);
                } else {
                        r->why = xasprintf("the same inputs as the last build of '%s'", p->name);
                }
                kiln_build_key_clear(&prev);
        }
        if (r->hit) {
                free(r->why);
                r->why = xasprintf("key %.12s is in the result store", r->key.hex);
                r->hit_image = TAKE_PTR(img);
                r->hit_manifest = TAKE_PTR(man);
        } else if (r->no_reuse) {
                char *w = xasprintf("--no-reuse; %s", r->why);
                free(r->why);
                r->why = w;
        }
        cli_display_key(d, r->key.hex, r->hit, r->why);
        return 0;
}

int cli_reuse_publish(struct cli_reuse *r, const struct kiln_profile *p, const char *output, const char *format,
                      bool force, bool libvirt_xml, char **ret_manifest, char **ret_xml,
                      char image_sha[KILN_SHA256_HEX], char manifest_sha[KILN_SHA256_HEX],
                      char xml_sha[KILN_SHA256_HEX], struct kiln_error **err)
{
        const char *slash = strrchr(output, '/');
        const char *base = slash ? slash + 1 : output;
        _cleanup_free_ char *mtext = NULL, *isha = NULL;
        if (kiln_result_manifest_reused(r->hit_manifest, base, r->key.hex, &mtext, &isha, err) < 0)
                return -EIO;
        _cleanup_free_ char *mpath = xasprintf("%s.manifest.json", output), *xpath = NULL;
        if (libvirt_xml) {
                _cleanup_free_ char *dir = slash ? xstrndup(output, (size_t)(slash - output)) : xstrdup(".");
                char abs[PATH_MAX];
                if (!realpath(*dir ? dir : "/", abs))
                        return kiln_error_set(err, errno, "cannot resolve '%s': %s", dir, strerror(errno));
                _cleanup_free_ char *imgabs = xasprintf("%s/%s", abs, base);
                _cleanup_free_ char *xml = kiln_libvirt_xml(p, imgabs, format);
                xpath = xasprintf("%s.xml", output);
                kiln_sha256_buf(xml, strlen(xml), xml_sha);
                if (write_file_atomic(xpath, xml, strlen(xml), err) < 0)
                        return -EIO;
        }
        kiln_sha256_buf(mtext, strlen(mtext), manifest_sha);
        /* The manifest first, then the image by one rename: the image never appears without it. */
        if (write_file_atomic(mpath, mtext, strlen(mtext), err) < 0 ||
            kiln_copy_atomic(r->hit_image, output, force, err) < 0) {
                unlink(mpath);
                if (xpath)
                        unlink(xpath);
                return -EIO;
        }
        memcpy(image_sha, isha, KILN_SHA256_HEX);
        if (kiln_result_record_key(r->store, p->name, p->release, &r->key, err) < 0)
                return -EIO;
        *ret_manifest = TAKE_PTR(mpath);
        *ret_xml = TAKE_PTR(xpath);
        return 0;
}

void cli_reuse_store(struct cli_reuse *r, const struct kiln_profile *p, const char *output, const char *manifest_text,
                     struct cli_display *d)
{
        if (!r->have_key || !r->store)
                return;
        _cleanup_error_ struct kiln_error *err = NULL;
        if (kiln_result_put(r->store, r->key.hex, output, manifest_text, &err) < 0 ||
            kiln_result_record_key(r->store, p->name, p->release, &r->key, &err) < 0) {
                /* The image is built and published; a store that cannot keep it is worth a notice. */
                _cleanup_free_ char *msg =
                        xasprintf("the result store did not keep this build: %s", err ? err->msg : "failed");
                cli_display_notice(d, msg);
        }
}

void cli_reuse_clear(struct cli_reuse *r)
{
        kiln_build_key_clear(&r->key);
        kiln_result_store_free(r->store);
        free(r->why);
        free(r->hit_image);
        free(r->hit_manifest);
}
