/* What the subcommands share: the command table entry, option parsing helpers, error printing. */
#pragma once

#include "error.h"
#include <signal.h>
#include <stdint.h>

#include "cache.h"
#include "profile.h"

#ifndef KILN_VERSION
#define KILN_VERSION "0.0.0-dev"
#endif

/* Exit codes. */
#define KILN_EXIT_OK     0
#define KILN_EXIT_FAILED 1
#define KILN_EXIT_USAGE  2

struct kiln_command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
        const char *usage; /* full --help text */
        bool hidden;       /* internal: not listed in --help */
};

extern const struct kiln_command kiln_commands[];

/* Global options, parsed before the command. */
struct kiln_globals {
        const char *apt_dir;
        const char *profile_root; /* --profile-root DIR */
        bool trust_paths;         /* --trust-profile-paths */
        bool allow_private;       /* --allow-private-mirrors */
        bool untrusted;           /* --untrusted-profile (kiln serve's builds) */
        const char *library;      /* --profile-library DIR */
        const char *release;      /* --release NAME: overrides the profile's release */
};

/* The trust options every command that reads a profile takes (also before the command). */
enum {
        CLI_OPT_PROFILE_ROOT = 0x80,
        CLI_OPT_TRUST_PATHS,
        CLI_OPT_ALLOW_PRIVATE,
        CLI_OPT_UNTRUSTED,
        CLI_OPT_LIBRARY,
        CLI_OPT_RELEASE
};
#define CLI_PROFILE_OPTIONS                                                                                            \
        {"profile-root", required_argument, NULL, CLI_OPT_PROFILE_ROOT},                                               \
                {"trust-profile-paths", no_argument, NULL, CLI_OPT_TRUST_PATHS},                                       \
                {"untrusted-profile", no_argument, NULL, CLI_OPT_UNTRUSTED},                                           \
                {"profile-library", required_argument, NULL, CLI_OPT_LIBRARY},                                         \
                {"release", required_argument, NULL, CLI_OPT_RELEASE},                                                 \
        {                                                                                                              \
                "allow-private-mirrors", no_argument, NULL, CLI_OPT_ALLOW_PRIVATE                                      \
        }
/* Take getopt_long's c if it is one of CLI_PROFILE_OPTIONS: 0 when taken, 1 when not. */
int cli_profile_option(int c, const char *arg);
extern struct kiln_globals kiln_globals;

/* Print each error once, "kiln: FILE:LINE:COL: message". */
void cli_print_errors(const struct kiln_error *err);
void cli_print_warnings(const struct kiln_error *warn);
/* "kiln CMD: message" for usage errors; returns KILN_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* True when argv[i] is -h/--help. */
bool cli_wants_help(int argc, char **argv);
int cli_print_help(const char *cmd);

/* Load a profile with the global options, build its preseed (ret_preseed may be NULL to only
 * check it), print its errors or warnings. Returns 0, or KILN_EXIT_USAGE after printing. */
int cli_load_profile(const char *path, struct kiln_profile **ret, char **ret_preseed);

/* "MIN" minutes or "Ns" seconds, more than zero; a usage error naming cmd and opt otherwise. */
int cli_parse_duration(const char *cmd, const char *opt, const char *arg, unsigned *ret_sec);

/* The format of an input disk: --format (opt, may be NULL) or the name's extension. 0, or the
 * usage exit status (the message printed). */
int cli_disk_format(const char *cmd, const char *path, const char *opt, const char **ret_format);

/* The install options `kiln install`, `kiln build` and `kiln finish` share: one table, one parser. */
enum {
        CLI_OPT_CACHE = 0x100,
        CLI_OPT_BUILD_DIR,
        CLI_OPT_ACCEL,
        CLI_OPT_HV,
        CLI_OPT_TIMEOUT,
        CLI_OPT_WATCHDOG,
        CLI_OPT_EVENTS,
        CLI_OPT_NO_PREFLIGHT,
        CLI_OPT_OFFLINE,
        CLI_OPT_XEN_BRIDGE,
        CLI_OPT_EVENTS_FD,
        CLI_OPT_BUILD_ID,
        CLI_OPT_INSTALL_END, /* a command's own options start here */
};
#define CLI_INSTALL_OPTIONS                                                                                            \
        {"output", required_argument, NULL, 'o'}, {"cache", required_argument, NULL, CLI_OPT_CACHE},                   \
                {"build-dir", required_argument, NULL, CLI_OPT_BUILD_DIR},                                             \
                {"accel", required_argument, NULL, CLI_OPT_ACCEL},                                                     \
                {"hypervisor", required_argument, NULL, CLI_OPT_HV},                                                   \
                {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},                                                 \
                {"watchdog", required_argument, NULL, CLI_OPT_WATCHDOG},                                               \
                {"events", required_argument, NULL, CLI_OPT_EVENTS},                                                   \
                {"no-preflight", no_argument, NULL, CLI_OPT_NO_PREFLIGHT},                                             \
                {"offline", no_argument, NULL, CLI_OPT_OFFLINE},                                                       \
                {"xen-bridge", required_argument, NULL, CLI_OPT_XEN_BRIDGE},                                           \
                {"events-fd", required_argument, NULL, CLI_OPT_EVENTS_FD},                                             \
                {"build-id", required_argument, NULL, CLI_OPT_BUILD_ID}, CLI_PROFILE_OPTIONS
struct cli_install_opts {
        const char *output, *cache_dir, *build_dir, *accel, *hypervisor, *xen_bridge;
        unsigned timeout_sec, watchdog_sec;
        bool json, no_preflight, offline;
        int events_fd;        /* --events-fd N: the JSON event stream goes there (0: stdout) */
        const char *build_id; /* --build-id: what every event carries (else random) */
};
/* The display for these options: JSON events on stdout or the --events-fd descriptor. */
struct cli_display;
int cli_display_open(const char *cmd, const struct cli_install_opts *o, struct cli_display *d);
/* Take getopt_long's c (and optarg) if it is one of CLI_INSTALL_OPTIONS: 0 when taken, 1 when c is
 * not one of them, KILN_EXIT_USAGE (after saying why) for a bad value. */
int cli_install_option(const char *cmd, int c, const char *arg, struct cli_install_opts *o);

/* SIGINT, SIGTERM and SIGHUP set *flag (to the signal) instead of killing kiln, so that what
 * kiln started is stopped and cleaned up. */
void cli_catch_signals(volatile sig_atomic_t *flag);

/* Download progress (a bar on a terminal, nothing in a pipe) and one-line notices. */
void cli_progress(void *userdata, const char *label, uint64_t now, uint64_t total, bool done);
void cli_notice(void *userdata, const char *msg);

/* The build's display: the installer's steps (a bar on a terminal, lines in a pipe, or JSON lines
 * on stdout with --events json), the pipeline's stages, notices and the final error. */
#define KILN_EVENTS_VERSION 1
struct cli_display {
        bool json, tty;
        int last_percent;
        char *last_step;
        FILE *out;         /* the event stream: stdout, or --events-fd's */
        char build_id[33]; /* carried by every event; random unless --build-id gave one */
};
struct cli_output {
        const char *kind, *path, *sha256; /* "image", "manifest", "libvirt-xml" */
};
void cli_display_event(void *userdata, const char *step, int percent, const char *message);
void cli_display_notice(void *userdata, const char *msg);
void cli_display_stage(struct cli_display *d, unsigned n, unsigned total, const char *stage, const char *what);
/* A "key" notice: the build key, whether the stored image is reused, and why (result reuse). */
void cli_display_key(struct cli_display *d, const char *key, bool reused, const char *why);
void cli_display_error(struct cli_display *d, const struct kiln_error *err, const char *build_dir);
/* The last event of a build that succeeded: its outputs with their sha256, the stage timings, and
 * what the install's proxy did (NULL, or not ran: no install in this build). */
struct kiln_stage_time;
struct kiln_build_proxy;
void cli_display_result(struct cli_display *d, const struct cli_output *outputs, size_t n_outputs,
                        const struct kiln_stage_time *times, size_t n_times, const struct kiln_build_proxy *proxy);

int kiln_cmd_validate(int argc, char **argv);
int kiln_cmd_fetch(int argc, char **argv);
int kiln_cmd_proxy(int argc, char **argv);
int kiln_cmd_install(int argc, char **argv);
int kiln_cmd_boot_test(int argc, char **argv);
int kiln_cmd_inspect(int argc, char **argv);
int kiln_cmd_build(int argc, char **argv);
int kiln_cmd_finish(int argc, char **argv);
int kiln_cmd_preseed(int argc, char **argv);
int kiln_cmd_serve(int argc, char **argv);
int kiln_cmd_key(int argc, char **argv);
int kiln_cmd_batch(int argc, char **argv);
int kiln_cmd_batch_task(int argc, char **argv);
int kiln_cmd_cache(int argc, char **argv);
