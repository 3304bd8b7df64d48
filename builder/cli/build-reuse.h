/* kiln build's result reuse (build-reuse.c): the key, the lookup, publishing a stored image. */
#pragma once

#include "key.h"
#include "cli.h"

struct cli_reuse {
        const char *store_dir; /* --result-store, or NULL: CACHE/results */
        bool no_reuse;         /* --no-reuse: build, and store, whatever the store holds */
        struct kiln_result_store *store;
        struct kiln_build_key key;
        bool have_key, hit;
        char *why; /* reused or built, and why */
        char *hit_image, *hit_manifest;
};

/* Compute the key, look it up, say why (a "key" notice event). 0, r->hit when stored. */
int cli_reuse_key(struct cli_reuse *r, const struct kiln_profile *p, const char *preseed, const struct kiln_media *m,
                  struct kiln_cache *cache, const struct kiln_key_opts *ko, struct cli_display *d,
                  struct kiln_error **err);
/* Publish the stored image as output (atomically), its manifest (marked reused) and the libvirt XML. */
int cli_reuse_publish(struct cli_reuse *r, const struct kiln_profile *p, const char *output, const char *format,
                      bool force, bool libvirt_xml, char **ret_manifest, char **ret_xml,
                      char image_sha[KILN_SHA256_HEX], char manifest_sha[KILN_SHA256_HEX],
                      char xml_sha[KILN_SHA256_HEX], struct kiln_error **err);
/* After a build: keep the image under its key and record the key for the profile's name. */
void cli_reuse_store(struct cli_reuse *r, const struct kiln_profile *p, const char *output, const char *manifest_text,
                     struct cli_display *d);
void cli_reuse_clear(struct cli_reuse *r);
