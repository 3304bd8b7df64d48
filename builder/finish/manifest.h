/* The manifest beside a finished image: what went in (the expanded profile, the installer, every
 * file the proxy served), what came out (packages, the image's hash), and how long each stage
 * took. Two builds of the same inputs differ only in "timings" and "image.sha256". */
#pragma once

#include <stddef.h>

#include "inspect.h"
#include "media.h"
#include "profile.h"
#include "proxy.h"

struct kiln_stage_time {
        const char *stage;
        double seconds;
};

struct kiln_manifest_in {
        const struct kiln_profile *profile;
        const struct kiln_media *media;         /* NULL: the install was not part of this run */
        const struct kiln_proxy_served *served; /* what the install's proxy served */
        size_t n_served;
        const struct kiln_inspection *inspection;
        const char *image; /* the output's file name (no folder) */
        const char *format;
        const char *image_sha256;
        const char *bootloader; /* "guest", "host (libguestfs)", "host (dm)" */
        const struct kiln_stage_time *timings;
        size_t n_timings;
        const char *build_key_json; /* kiln_build_key_json(), or NULL: recorded as "build_key" */
};

/* The expanded profile as JSON text (every key resolved, defaults filled, password hashes left
 * out), deterministic. */
char *kiln_profile_json(const struct kiln_profile *p);

/* The manifest as pretty JSON text. */
char *kiln_manifest_json(const struct kiln_manifest_in *in);
