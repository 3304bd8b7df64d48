/* The kiln command: global options, the command table, help and version. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>

#include "preseed.h"
#include "fetch.h"
#include "image-format.h"
#include "appliance.h"
#include "cli.h"

struct kiln_globals kiln_globals;

const struct kiln_command kiln_commands[] = {
        {"validate", kiln_cmd_validate, "check profiles and report every problem with its location",
         "Usage: kiln validate [-q] PROFILE...\n"
         "\n"
         "Load each profile (and what it extends), check every key, and build its preseed\n"
         "without writing it. Every problem is reported as FILE:LINE:COLUMN: message.\n"
         "\n"
         "  -q, --quiet   print nothing for good profiles\n"
         "  --profile-root DIR      paths in a profile stay beneath DIR (default: the\n"
         "                          folder of each profile named)\n"
         "  --trust-profile-paths   follow absolute paths and '..'/symlink escapes\n"
         "                          (your own profiles only)\n"
         "  --allow-private-mirrors allow loopback, private and other internal addresses\n"
         "  -h, --help    show this help\n"
         "\n"
         "Exit status: 0 when all profiles are good, 2 otherwise.\n"},
        {"preseed", kiln_cmd_preseed, "print the complete debian-installer preseed for a profile",
         "Usage: kiln preseed [-o FILE] PROFILE\n"
         "\n"
         "Expand PROFILE into the full preseed that kiln injects into the installer's\n"
         "initrd. Run-dependent values (the proxy address, the target disk) are not in\n"
         "it: kiln passes them on the installer's kernel command line.\n"
         "\n"
         "  -o, --output FILE   write to FILE (atomically) instead of standard output\n"
         "  -h, --help          show this help\n"
         "\n"
         "Exit status: 0 on success, 2 for a bad profile (nothing is written).\n"},
        {"fetch", kiln_cmd_fetch, "fetch and verify the installer's kernel and initrd; check the mirror",
         "Usage: kiln fetch [OPTIONS] PROFILE\n"
         "\n"
         "Download the profile's debian-installer through the mirror's signed chain: the\n"
         "InRelease (checked by gpgv against the profile's mirror_keyring, by default\n"
         "Debian's), the Packages index by its signed hash, the netboot .deb by the\n"
         "index's hash (or installer.sha256 for a version the index no longer lists).\n"
         "The kernel and initrd are extracted with libarchive and cached by SHA-256.\n"
         "Then a preflight checks that the mirror has every udeb the installer will\n"
         "fetch, so a broken combination fails in seconds instead of mid-install.\n"
         "\n"
         "  --cache DIR         the cache to use and fill (default $XDG_CACHE_HOME/kiln);\n"
         "                      builds on one host can share one, e.g. /var/cache/kiln\n"
         "  --offline           use only the cache; say exactly what is missing\n"
         "  --no-preflight      skip the mirror check\n"
         "  -o, --output-dir DIR  also write DIR/linux and DIR/initrd.gz with the\n"
         "                      profile's preseed injected\n"
         "  -h, --help          show this help\n"
         "\n"
         "Exit status: 0 on success, 1 when fetching or the preflight fails, 2 for a bad\n"
         "profile.\n"},
        {"build", kiln_cmd_build, "build a finished, boot-tested image from a profile, end to end",
         "Usage: kiln build [OPTIONS] PROFILE -o OUTPUT\n"
         "\n"
         "Every stage with one progress display: fetch and verify the installer, run it\n"
         "in an isolated guest (as 'kiln install'), inspect the installed disk read-only\n"
         "(libguestfs), install GRUB from the host side for 'bootloader: host', convert to\n"
         "OUTPUT's format, boot-test it, and write OUTPUT.manifest.json. OUTPUT and its\n"
         "manifest appear together, only when every stage passed; on failure or Ctrl-C\n"
         "nothing is written but the logs in the build folder.\n"
         "\n"
         "  -o, --output FILE     .qcow2 (compressed), .raw/.img, .vmdk or .vhdx\n"
         "  --build-dir DIR       logs, installer/, packages.txt, the work disk (default\n"
         "                        OUTPUT.d)\n"
         "  --finalize=guestfs|dm how 'bootloader: host' is done:\n"
         "                        guestfs (default) runs the image's own grub-install and\n"
         "                        update-grub inside the libguestfs appliance, a VM; no root,\n"
         "                        the image is never mounted on the host.\n"
         "                        dm maps the image through a loop device and device-mapper\n"
         "                        (named hda), MOUNTS ITS FILESYSTEM ON THE HOST'S KERNEL and\n"
         "                        runs the host's grub-install. Needs root and device-mapper;\n"
         "                        only for images and hosts that accept that.\n"
         "  --libvirt-xml         also write OUTPUT.xml, a libvirt domain for the image\n"
         "  --no-boot-test        skip the boot test\n"
         "  --boot-timeout MIN    the boot test's limit (default 10 minutes TCG, 3 KVM)\n"
         "  --keep-work           keep the work disk in the build folder after a failure\n"
         "  --force               replace an existing OUTPUT (only once the new one is done)\n"
         "  --events json         JSON lines on stdout: typed events (docs/events.md)\n"
         "  --events-fd N         the same events on descriptor N (stderr keeps the display)\n"
         "  --build-id ID         what every event carries (default: random)\n"
         "  --accel, --hypervisor, --timeout, --watchdog, --xen-bridge, --cache,\n"
         "  --offline, --no-preflight   as for 'kiln install'\n"
         "\n"
         "Exit status: 0 built, 1 a stage failed, 2 bad profile or usage.\n"},
        {"finish", kiln_cmd_finish, "finish an installed disk: inspect, GRUB, convert, boot-test, manifest",
         "Usage: kiln finish [OPTIONS] PROFILE DISK -o OUTPUT\n"
         "\n"
         "The stages of 'kiln build' after the install, for DISK installed earlier (by\n"
         "'kiln install', or any Debian disk the profile describes). DISK is not changed:\n"
         "kiln works on a copy in the build folder.\n"
         "\n"
         "Options as for 'kiln build' (-o, --build-dir, --finalize, --libvirt-xml,\n"
         "--no-boot-test, --boot-timeout, --keep-work, --force, --events, --accel,\n"
         "--cache).\n"
         "\n"
         "  --format raw|qcow2    DISK's format; without it the name says: .raw and .img\n"
         "                        raw, .qcow2 qcow2 (never read from the disk's contents).\n"
         "                        A qcow2 with a backing file or external data file is\n"
         "                        refused.\n"
         "\n"
         "Exit status: 0 finished, 1 a stage failed, 2 bad profile or usage.\n"},
        {"install", kiln_cmd_install, "run the real installer in an isolated guest; leave the installed disk",
         "Usage: kiln install [OPTIONS] PROFILE -o DISK\n"
         "\n"
         "Fetch and verify the installer (as 'kiln fetch'), inject the preseed, and boot\n"
         "the installer in a guest whose network reaches only kiln's proxy, which allows\n"
         "only the profile's mirrors. Progress comes from the installer's own syslog;\n"
         "an error dialog stops the build at once, with the step and the failing URL.\n"
         "DISK (.qcow2, or .raw/.img) appears only when the install finished; on failure\n"
         "or Ctrl-C nothing is left but the logs.\n"
         "\n"
         "  -o, --output DISK     the installed disk (must not exist)\n"
         "  --build-dir DIR       logs (console.log, syslog.log, proxy.log); default DISK.d\n"
         "  --accel auto|kvm|tcg  override the profile's vm.accel; auto probes KVM for real\n"
         "  --hypervisor qemu|xen override the profile's vm.hypervisor\n"
         "  --events json         JSON lines on stdout: typed events (docs/events.md)\n"
         "  --events-fd N         the same events on descriptor N (stderr keeps the display)\n"
         "  --build-id ID         what every event carries (default: random)\n"
         "  --timeout MIN         give up after MIN minutes, or 'Ns' seconds (default 180\n"
         "                        minutes under TCG, 60 under KVM)\n"
         "  --watchdog MIN        stop a guest silent for MIN minutes (default 10 TCG, 5 KVM)\n"
         "  --xen-bridge BR       Xen: the host-only bridge (default kilnbr0); the guest\n"
         "                        gets the bridge's address plus one, the proxy listens\n"
         "                        on the bridge's address\n"
         "  --cache DIR, --offline, --no-preflight   as for 'kiln fetch'\n"
         "\n"
         "Exit status: 0 installed, 1 the install failed, 2 bad profile or usage.\n"},
        {"boot-test", kiln_cmd_boot_test, "boot an image (snapshot, no network) and wait for a login prompt",
         "Usage: kiln boot-test [OPTIONS] IMAGE\n"
         "\n"
         "Boot IMAGE under QEMU with snapshot=on (nothing is written to it) and no network\n"
         "device, and pass when its serial console shows a login prompt. On failure the\n"
         "reason and the console's last lines are printed.\n"
         "\n"
         "  --accel kvm|tcg       the accelerator (default tcg)\n"
         "  --timeout MIN         give up after MIN minutes, or 'Ns' seconds (default 10\n"
         "                        minutes under TCG, 3 under KVM)\n"
         "  -l, --console-log F   keep the console in F (default IMAGE.boot-console.log)\n"
         "  --format raw|qcow2    IMAGE's format (default from its name: .raw/.img raw,\n"
         "                        .qcow2 qcow2; never from its contents)\n"
         "\n"
         "Exit status: 0 passed, 1 failed, 2 usage.\n"},
        {"inspect", kiln_cmd_inspect, "inspect an image read-only through libguestfs",
         "Usage: kiln inspect [OPTIONS] IMAGE\n"
         "\n"
         "Open IMAGE read-only in the libguestfs appliance (a small VM; the image is never\n"
         "mounted on the host's kernel and nothing in it runs). Report the OS, the host\n"
         "name, whether the installer finished, the installed packages; copy the\n"
         "installer's logs out. Exits 1 when the image has a problem a finished kiln image\n"
         "must not have (e.g. the build's proxy left in apt's configuration).\n"
         "\n"
         "  -d, --build-dir DIR   where installer/ and packages.txt go (default IMAGE.d)\n"
         "  --accel auto|kvm|tcg  for the libguestfs appliance (auto: probe KVM, cached)\n"
         "  --cache DIR           where the KVM probe's verdict is kept\n"
         "  --format raw|qcow2    IMAGE's format (default from its name: .raw/.img raw,\n"
         "                        .qcow2 qcow2; never from its contents)\n"},
        {"proxy", kiln_cmd_proxy, "run a profile's mirror proxy in the foreground (for debugging)",
         "Usage: kiln proxy [--port N] [--cache DIR] [--log FILE] PROFILE\n"
         "\n"
         "Serve, on 127.0.0.1, the proxy an install guest of PROFILE gets: GET and HEAD\n"
         "for URLs under the profile's mirror, security mirror and repositories, CONNECT\n"
         "to its HTTPS repositories' host:port, 403 for everything else. Pool files are\n"
         "cached by SHA-256 in the shared cache. Prints the port, then serves until\n"
         "SIGINT or SIGTERM.\n"
         "\n"
         "  --port N       listen on port N (default: any free port)\n"
         "  --cache DIR    the shared cache (default $XDG_CACHE_HOME/kiln)\n"
         "  --log FILE     append one line per request to FILE\n"},
        {"serve", kiln_cmd_serve, "run the job service: an HTTP API that queues and runs builds",
         "Usage: kiln serve --state-dir DIR --tokens FILE [OPTIONS]\n"
         "       kiln serve --new-token TENANT\n"
         "\n"
         "Serve the JSON API under /v1 (docs/api.openapi.yaml) that a provisioning portal\n"
         "calls: POST /v1/builds queues a profile, each build runs as its own 'kiln build'\n"
         "process, its typed events stream live (SSE or NDJSON, resumable), and the state\n"
         "lives in DIR/serve.db (SQLite), so a restart keeps every build. Profiles from the\n"
         "API are untrusted: they name no host file (keys inline); 'extends' only names\n"
         "profiles beneath --profile-library.\n"
         "\n"
         "  --listen unix:PATH|HOST:PORT  where to listen (default unix:DIR/serve.sock); a\n"
         "                      TCP address that is not loopback needs --tls-cert/--tls-key\n"
         "  --state-dir DIR     serve.db and builds/ID/ (the profile, logs, the image)\n"
         "  --tokens FILE       one tenant a line: TENANT SHA256-OF-TOKEN [running=N]\n"
         "                      [queued=N] [disk=SIZE] [secret=WEBHOOK-KEY] [operator=yes]\n"
         "                      ('#' comments); operator: reads /v1/status, the page at /\n"
         "  --new-token TENANT  print a new token and its line for the tokens file\n"
         "  --tls-cert FILE, --tls-key FILE   HTTPS (PEM)\n"
         "  --max-running N     builds at once (default: one per core and per 2 GiB)\n"
         "  --build-timeout MIN a build's limit (default 240 minutes; 'Ns' for seconds)\n"
         "  --expire MIN        finished builds are removed after this (default 7 days)\n"
         "  --max-body KIB      request body limit (default 1024)\n"
         "  --max-streams N     event stream clients at once (default 64)\n"
         "  --max-events N      events kept per build (default 10000; the last always)\n"
         "  --cache DIR         the shared cache every build uses; /metrics shows its\n"
         "                      bytes and the proxy's hits and misses\n"
         "  --result-store DIR  the builds' result store (default CACHE/results): a build\n"
         "                      whose key is stored publishes the stored image\n"
         "  --accel auto|kvm|tcg  passed to every build\n"
         "  --profile-library DIR  what API profiles may extend (nothing without it); its\n"
         "                      own profiles may name files beneath it (keys, a kernel)\n"
         "  --allow-private-mirrors  API profiles may name internal mirrors\n"
         "  --allow-private-callbacks  webhooks may go to internal addresses\n"
         "  --allow-root        run as root anyway (it refuses otherwise)\n"
         "\n"
         "Exit status: 0 after SIGTERM or SIGINT, 1 when it cannot serve, 2 usage.\n"},
        {"key", kiln_cmd_key, "print a profile's build key (what decides its image); --explain lists the inputs",
         "Usage: kiln key [OPTIONS] PROFILE\n"
         "\n"
         "Run the media stage (fetch and verify the installer, pin each suite's signed\n"
         "Release; no install) and print the build key: a sha256 over kiln's version, the\n"
         "expanded profile, the preseed and the files it names, the installer's kernel and\n"
         "initrd, the verified InRelease of every suite the guest sees, the output format\n"
         "and the finish options. kiln build reuses a stored image with the same key.\n"
         "\n"
         "  --explain             list the inputs, whether the store holds the key, and which\n"
         "                        inputs changed since the last build of the profile's name\n"
         "  -o OUTPUT, --format F the output format (default qcow2)\n"
         "  --finalize guestfs|dm, --no-boot-test   the finish options, as for kiln build\n"
         "  --cache DIR, --offline, --result-store DIR   as for kiln build\n"
         "\n"
         "Exit status: 0, 1 when the media stage fails, 2 bad profile or usage.\n"},
        {"batch", kiln_cmd_batch, "build many profiles, N at a time, reusing what did not change",
         "Usage: kiln batch [OPTIONS] -O DIR PROFILE...\n"
         "       kiln batch [OPTIONS] -O DIR --file LIST\n"
         "\n"
         "Run one 'kiln build' per profile (DIR/NAME.FORMAT), N at a time, sharing one\n"
         "cache and result store: unchanged profiles are reused, the rest built. One line\n"
         "per build on a terminal; a table at the end and DIR/batch.json. A failed build\n"
         "does not stop the others; Ctrl-C stops them all (nothing half-written is left).\n"
         "\n"
         "  -O, --output-dir DIR  the images, their manifests, DIR/logs/ID.log, batch.json\n"
         "  -j, --jobs N          builds at once (default: from cores and memory)\n"
         "  --file LIST           one build a line: PROFILE [RELEASE] ('#' comments); the\n"
         "                        release overrides the profile's; a relative PROFILE is\n"
         "                        beneath LIST's folder; bad lines stop it before it runs\n"
         "  --format F            qcow2 (default), raw, vmdk, vhdx\n"
         "  --events json         every build's typed events on stdout, with its id\n"
         "  --executor local|slurm  where builds run (default local)\n"
         "  --partition P         slurm: the partition\n"
         "  --sbatch-arg ARG      slurm: one more sbatch argument (repeatable)\n"
         "  --build-arg ARG       one more 'kiln build' option for every build (repeatable)\n"
         "  --cache DIR, --result-store DIR, --no-boot-test, --no-reuse   passed to each build\n"
         "\n"
         "Exit status: 0 all succeeded, 1 any failed, 2 usage.\n"},
        {"batch-task", kiln_cmd_batch_task, "internal: one task of a batch job array",
         "Usage: kiln batch-task TASKFILE INDEX\n", true},
        {"cache", kiln_cmd_cache, "the shared cache: stats, prune",
         "Usage: kiln cache [--cache DIR] stats\n"
         "       kiln cache [--cache DIR] prune --max-size SIZE\n"
         "\n"
         "stats: entries and bytes (files by sha256, stored results), and the hits and\n"
         "misses the proxy recorded. prune: remove the least recently used entries until\n"
         "the cache holds at most SIZE (20G, 500M); it waits for running builds, which\n"
         "hold the cache's shared lock.\n"
         "\n"
         "Exit status: 0, 1 failure, 2 usage.\n"},
        {0},
};

static void main_usage(FILE *f)
{
        fputs("Usage: kiln [--apt-dir DIR] COMMAND [ARGS...]\n"
              "\n"
              "Build finished, bootable VM disk images from short YAML profiles, running the\n"
              "distribution's own installer inside an isolated guest.\n"
              "\n"
              "Commands:\n",
              f);
        for (const struct kiln_command *c = kiln_commands; c->name; c++)
                if (!c->hidden)
                        fprintf(f, "  %-10s %s\n", c->name, c->summary);
        fputs("  help       show help for a command\n"
              "\n"
              "Options:\n"
              "  --apt-dir DIR   read the host's apt sources from DIR instead of /etc/apt\n"
              "                  (also $KILN_APT_DIR); the default mirror comes from there\n"
              "  --profile-root DIR     paths in a profile resolve beneath DIR (default: the\n"
              "                  folder of the profile named)\n"
              "  --trust-profile-paths  follow absolute paths and escapes from that folder\n"
              "                  (for your own profiles only)\n"
              "  --allow-private-mirrors  allow URLs to loopback, private, link-local and\n"
              "                  other internal addresses\n"
              "  --untrusted-profile  the profile may name no files (keys inline); what\n"
              "                  kiln serve runs its builds with\n"
              "  --profile-library DIR  with it, 'extends' names profiles beneath DIR only\n"
              "  --release NAME  build the profile for release NAME (bookworm, trixie), over\n"
              "                  its own 'release:' (kiln batch's release column)\n"
              "                  (these also after any command that reads a profile)\n"
              "  -h, --help      show this help\n"
              "  --version       show kiln's version\n"
              "\n"
              "Run 'kiln COMMAND --help' for a command's options; 'man kiln' for the rest.\n",
              f);
}

static const struct kiln_command *find_command(const char *name)
{
        for (const struct kiln_command *c = kiln_commands; c->name; c++)
                if (STREQ(c->name, name))
                        return c;
        return NULL;
}

int cli_print_help(const char *cmd)
{
        const struct kiln_command *c = find_command(cmd);
        if (!c)
                return cli_usage_error(NULL, "unknown command '%s'; run 'kiln --help'", cmd);
        fputs(c->usage, stdout);
        return KILN_EXIT_OK;
}

bool cli_wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (STREQ(argv[i], "--"))
                        return false;
                if (STREQ(argv[i], "-h") || STREQ(argv[i], "--help"))
                        return true;
        }
        return false;
}

void cli_print_errors(const struct kiln_error *err)
{
        for (; err; err = err->next) {
                _cleanup_free_ char *s = kiln_error_format(err);
                fprintf(stderr, "kiln: %s\n", s);
        }
}

void cli_print_warnings(const struct kiln_error *warn)
{
        for (; warn; warn = warn->next) {
                _cleanup_free_ char *s = kiln_error_format(warn);
                fprintf(stderr, "kiln: warning: %s\n", s);
        }
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        if (cmd)
                fprintf(stderr, "kiln %s: %s\n", cmd, msg);
        else
                fprintf(stderr, "kiln: %s\n", msg);
        return KILN_EXIT_USAGE;
}

int cli_profile_option(int c, const char *arg)
{
        switch (c) {
        case CLI_OPT_PROFILE_ROOT:
                kiln_globals.profile_root = arg;
                return 0;
        case CLI_OPT_TRUST_PATHS:
                kiln_globals.trust_paths = true;
                return 0;
        case CLI_OPT_ALLOW_PRIVATE:
                kiln_globals.allow_private = true;
                return 0;
        case CLI_OPT_UNTRUSTED:
                kiln_globals.untrusted = true;
                return 0;
        case CLI_OPT_LIBRARY:
                kiln_globals.library = arg;
                return 0;
        case CLI_OPT_RELEASE:
                kiln_globals.release = arg; /* checked where the profile loads */
                return 0;
        default:
                return 1;
        }
}

int cli_load_profile(const char *path, struct kiln_profile **ret, char **ret_preseed)
{
        struct kiln_profile_options po = {.apt_dir = kiln_globals.apt_dir,
                                          .profile_root = kiln_globals.profile_root,
                                          .trust_paths = kiln_globals.trust_paths,
                                          .allow_private = kiln_globals.allow_private,
                                          .untrusted = kiln_globals.untrusted || kiln_globals.library,
                                          .library = kiln_globals.library,
                                          .release = kiln_globals.release};
        if (kiln_globals.release && !kiln_profile_release_ok(kiln_globals.release)) {
                fprintf(stderr, "kiln: unsupported --release '%s': use 'bookworm' (12) or 'trixie' (13)\n",
                        kiln_globals.release);
                return KILN_EXIT_USAGE;
        }
        kiln_fetch_allow_private(kiln_globals.allow_private);
        _cleanup_profile_ struct kiln_profile *p = NULL;
        _cleanup_error_ struct kiln_error *err = NULL;
        _cleanup_free_ char *text = NULL;
        if (kiln_profile_load(path, &po, &p, &err) < 0 || kiln_preseed_generate(p, KILN_VERSION, &text, &err) < 0) {
                cli_print_errors(err);
                return KILN_EXIT_USAGE;
        }
        cli_print_warnings(p->warnings);
        if (ret_preseed)
                *ret_preseed = TAKE_PTR(text);
        *ret = TAKE_PTR(p);
        return 0;
}

int cli_install_option(const char *cmd, int c, const char *arg, struct cli_install_opts *o)
{
        switch (c) {
        case 'o':
                o->output = arg;
                return 0;
        case CLI_OPT_CACHE:
                o->cache_dir = arg;
                return 0;
        case CLI_OPT_BUILD_DIR:
                o->build_dir = arg;
                return 0;
        case CLI_OPT_ACCEL:
                if (!STREQ(arg, "auto") && !STREQ(arg, "kvm") && !STREQ(arg, "tcg"))
                        return cli_usage_error(cmd, "--accel takes auto, kvm or tcg (got '%s')", arg);
                o->accel = arg;
                return 0;
        case CLI_OPT_HV:
                if (!STREQ(arg, "qemu") && !STREQ(arg, "xen"))
                        return cli_usage_error(cmd, "--hypervisor takes qemu or xen (got '%s')", arg);
                o->hypervisor = arg;
                return 0;
        case CLI_OPT_TIMEOUT:
                return cli_parse_duration(cmd, "--timeout", arg, &o->timeout_sec);
        case CLI_OPT_WATCHDOG:
                return cli_parse_duration(cmd, "--watchdog", arg, &o->watchdog_sec);
        case CLI_OPT_EVENTS:
                if (!STREQ(arg, "json"))
                        return cli_usage_error(cmd, "--events takes json (got '%s')", arg);
                o->json = true;
                return 0;
        case CLI_OPT_NO_PREFLIGHT:
                o->no_preflight = true;
                return 0;
        case CLI_OPT_OFFLINE:
                o->offline = true;
                return 0;
        case CLI_OPT_XEN_BRIDGE:
                o->xen_bridge = arg;
                return 0;
        case CLI_OPT_EVENTS_FD: {
                char *end = NULL;
                long fd = strtol(arg, &end, 10);
                if (!*arg || *end || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
                        return cli_usage_error(cmd, "--events-fd takes an open descriptor above 2 (got '%s')", arg);
                o->events_fd = (int)fd;
                o->json = true;
                return 0;
        }
        case CLI_OPT_BUILD_ID:
                if (strlen(arg) < 1 || strlen(arg) > 32 ||
                    strspn(arg, "0123456789abcdefghijklmnopqrstuvwxyz-") != strlen(arg))
                        return cli_usage_error(
                                cmd, "--build-id takes 1 to 32 lowercase letters, digits or '-' (got '%s')", arg);
                o->build_id = arg;
                return 0;
        default:
                return cli_profile_option(c, arg);
        }
}

int cli_display_open(const char *cmd, const struct cli_install_opts *o, struct cli_display *d)
{
        *d = (struct cli_display){.json = o->json, .tty = (!o->json || o->events_fd) && isatty(STDERR_FILENO)};
        if (o->build_id)
                snprintf(d->build_id, sizeof(d->build_id), "%s", o->build_id);
        if (o->events_fd && !(d->out = fdopen(o->events_fd, "w")))
                return cli_usage_error(cmd, "--events-fd %d: %s", o->events_fd, strerror(errno));
        return 0;
}

int cli_parse_duration(const char *cmd, const char *opt, const char *arg, unsigned *ret_sec)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(arg, &end, 10);
        if (errno || end == arg || (*end && !STREQ(end, "s")) || v == 0 || v > 7 * 24 * 3600)
                return cli_usage_error(cmd, "%s takes minutes, or seconds as 'Ns' (got '%s')", opt, arg);
        *ret_sec = (unsigned)(*end ? v : v * 60);
        return 0;
}

int cli_disk_format(const char *cmd, const char *path, const char *opt, const char **ret_format)
{
        /* Never from the disk's bytes: a guest wrote them, and a qcow2 header in a '.raw' once made
         * kiln copy a host file (the header's external data file) into the output. */
        if (opt) {
                *ret_format = kiln_input_format_name(opt);
                if (!*ret_format)
                        return cli_usage_error(cmd, "--format takes raw or qcow2 (got '%s')", opt);
                return 0;
        }
        *ret_format = kiln_input_format(path);
        if (!*ret_format)
                return cli_usage_error(cmd,
                                       "'%s': kiln reads a disk's format from its name (.raw, .img or .qcow2) "
                                       "or --format, never from its contents",
                                       path);
        return 0;
}

static volatile sig_atomic_t *signal_flag;
static void on_signal(int sig)
{
        *signal_flag = sig;
}

void cli_catch_signals(volatile sig_atomic_t *flag)
{
        signal_flag = flag;
        kiln_fetch_set_cancel(flag); /* a stalled download stops too, not only the child steps */
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
}

int main(int argc, char **argv)
{
        /* libguestfs starts kiln under this name as its QEMU (appliance-qemu.c). */
        const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;
        if (argv[0] && STREQ(base ? base + 1 : argv[0], KILN_APPLIANCE_QEMU_NAME))
                return kiln_appliance_qemu_main(argc, argv);
        enum { OPT_VERSION = 0x100, OPT_APT_DIR };
        static const struct option opts[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {"apt-dir", required_argument, NULL, OPT_APT_DIR},
                CLI_PROFILE_OPTIONS,
                {0},
        };
        int c;
        /* '+': stop at the command; its options are its own. */
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        main_usage(stdout);
                        return KILN_EXIT_OK;
                case OPT_VERSION:
                        printf("kiln %s\n", KILN_VERSION);
                        return KILN_EXIT_OK;
                case OPT_APT_DIR:
                        kiln_globals.apt_dir = optarg;
                        break;
                case CLI_OPT_PROFILE_ROOT:
                case CLI_OPT_TRUST_PATHS:
                case CLI_OPT_ALLOW_PRIVATE:
                case CLI_OPT_UNTRUSTED:
                case CLI_OPT_LIBRARY:
                        cli_profile_option(c, optarg);
                        break;
                default:
                        fputs("Run 'kiln --help' for usage.\n", stderr);
                        return KILN_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                main_usage(stderr);
                return KILN_EXIT_USAGE;
        }
        const char *name = argv[optind];
        if (STREQ(name, "help")) {
                if (optind + 1 < argc)
                        return cli_print_help(argv[optind + 1]);
                main_usage(stdout);
                return KILN_EXIT_OK;
        }
        const struct kiln_command *cmd = find_command(name);
        if (!cmd)
                return cli_usage_error(NULL, "unknown command '%s'; run 'kiln --help'", name);
        if (cli_wants_help(argc - optind, argv + optind))
                return cli_print_help(name);
        optind++;
        /* Commands parse with getopt from their own argv. */
        char **sub = argv + optind - 1;
        int subc = argc - optind + 1;
        optind = 0; /* 0, not 1: glibc then forgets the "+" (stop at the first non-option) of the global scan */
        return cmd->run(subc, sub);
}
