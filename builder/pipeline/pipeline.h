/* The pipeline: a build as one object. Its stages come from one table (pipeline.c), run in order
 * under the build's own cancel flag; the outputs appear together, atomically, only when every stage
 * passed. kiln build, kiln install and kiln finish are thin callers; so can a job service be. One
 * build per process stays the unit of concurrency: libguestfs forks its own QEMU, and the interrupt
 * watch signals the process's children. */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "hash.h"
#include "install-log.h"
#include "manifest.h"
#include "profile.h"

enum kiln_build_kind {
        KILN_BUILD_FULL,    /* kiln build: fetch, install, then the finish stages */
        KILN_BUILD_INSTALL, /* kiln install: fetch, install; the installed disk is the output */
        KILN_BUILD_FINISH,  /* kiln finish: a disk installed earlier, copied, then the finish stages */
};

/* How a build tells its caller what happens; every hook may be NULL. */
struct kiln_build_hooks {
        /* A stage starts: n of total (the stages this build runs), its name and what it does. */
        void (*stage)(void *userdata, unsigned n, unsigned total, const char *stage, const char *what);
        kiln_install_event_fn step; /* the installer's own steps */
        void (*notice)(void *userdata, const char *msg);
        void (*progress)(void *userdata, const char *label, uint64_t now, uint64_t total, bool done);
        void *userdata;
};

struct kiln_media;
struct kiln_cache;
struct kiln_install_result;

/* Result reuse (builder/key), through the caller's hooks; every hook may be NULL. After the fetch
 * stage the build asks for its key and whether the result store holds it; on a hit the 'reuse'
 * stage publishes the stored result and nothing else runs. A finished build's manifest records
 * the key, and the published outputs are handed over to be stored. */
struct kiln_build_reuse {
        int (*key)(void *userdata, const struct kiln_media *media, struct kiln_cache *cache, bool *ret_hit,
                   struct kiln_error **reterr);
        int (*publish)(void *userdata, const char *output, const char *format, bool libvirt_xml, char **ret_manifest,
                       char **ret_xml, char image_sha[KILN_SHA256_HEX], char manifest_sha[KILN_SHA256_HEX],
                       char xml_sha[KILN_SHA256_HEX], struct kiln_error **reterr);
        char *(*key_json)(void *userdata); /* for the manifest; NULL or a NULL return: no key */
        void (*store)(void *userdata, const char *output, const char *manifest_json);
        void (*served)(void *userdata, const struct kiln_install_result *install, struct kiln_cache *cache);
        bool finish_fetch; /* FINISH: fetch the media too (the key needs the installer's hashes) */
        void *userdata;
};

struct kiln_build_opts {
        enum kiln_build_kind kind;
        const struct kiln_profile *profile; /* borrowed for the build's life */
        const char *preseed;                /* the profile's preseed text (FULL, INSTALL) */
        const char *output;                 /* the image (its extension names the format) */
        const char *build_dir;              /* logs and the work disk; NULL: OUTPUT.d */
        const char *cache_dir;              /* NULL: the default cache */
        bool offline, no_preflight;
        const char *accel;      /* auto, kvm or tcg; NULL: the profile's */
        const char *hypervisor; /* a backend's name; NULL: the profile's */
        const char *bridge;     /* the host-only bridge, for a backend that uses one */
        unsigned timeout_sec, watchdog_sec;
        const char *self; /* kiln's own path; NULL: /proc/self/exe */
        /* The finish stages (FULL, FINISH). */
        const char *finalize; /* guestfs (default) or dm */
        bool boot_test, libvirt_xml, keep_work;
        unsigned boot_timeout_sec;
        const char *disk, *disk_format; /* FINISH: the installed disk, never changed */
        struct kiln_build_hooks hooks;
        struct kiln_build_reuse reuse;
};

#define KILN_BUILD_STAGES_MAX 10

struct kiln_build_output {
        const char *kind; /* "image", "manifest", "libvirt-xml" */
        const char *path;
        char sha256[KILN_SHA256_HEX];
};

/* What the install's proxy did for the guest, from its records (kiln install and build). */
struct kiln_build_proxy {
        bool ran;
        unsigned requests; /* every request recorded, refused ones too */
        unsigned files;    /* GETs answered 200 with the body's sha256 known (the manifest's 'served') */
        unsigned cached;   /* of those, served from the cache */
        unsigned refused;  /* answered 403 */
        unsigned upstream; /* requests the proxy took to the mirror (the rest: the cache, or kiln itself) */
        uint64_t bytes;    /* sent to the guest */
};

/* What a build leaves for its caller; valid until kiln_build_free. */
struct kiln_build_result {
        struct kiln_build_output outputs[3];
        size_t n_outputs;
        struct kiln_stage_time times[KILN_BUILD_STAGES_MAX];
        size_t n_times;
        const char *build_dir;  /* where the logs are */
        const char *format;     /* the output's */
        const char *bootloader; /* guest, host (libguestfs), host (device-mapper) */
        const char *accel;      /* what the install ran under */
        double install_seconds;
        struct kiln_build_proxy proxy;
        /* Where a failed build stopped: a stage's name, or "build-dir" (the build folder could not
         * be made or used: usually bad input), "preflight", "lock" or "cache". */
        const char *failed_in;
        const char *kept_work; /* the work disk kept on failure (keep_work), or NULL */
};

struct kiln_build;

/* The build reads o (and what it points to) until kiln_build_free. */
struct kiln_build *kiln_build_new(const struct kiln_build_opts *o);
/* The build's cancel flag: set it (to the signal's number, or any non-zero value) and the build
 * stops its children and fails at the next check, cleaning up. A signal handler may set it. */
volatile sig_atomic_t *kiln_build_cancel_flag(struct kiln_build *b);
/* Every stage in order; 0 when the outputs are published. On failure nothing is left at the output
 * paths, and reterr's chain says why ("interrupted by SIGINT in the convert stage" on a cancel). */
int kiln_build_run(struct kiln_build *b, struct kiln_error **reterr);
const struct kiln_build_result *kiln_build_result(const struct kiln_build *b);
/* Releases the build folder's lock and frees the build. NULL is fine. */
void kiln_build_free(struct kiln_build *b);
