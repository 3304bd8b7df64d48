/* kiln batch: parse, list the profiles, run them (batch.c, batch-slurm.c), show a line per build,
 * the table and DIR/batch.json. kiln batch-task: one Slurm array task. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>

#include "batch.h"
#include "cli.h"

static volatile sig_atomic_t interrupted;

struct view {
        bool json, tty;
        size_t drawn; /* lines of the live table on the terminal */
};

static void on_event(void *userdata, const struct kiln_batch_job *j, const char *line)
{
        struct view *v = userdata;
        if (v->json) {
                fputs(line, stdout);
                fputc('\n', stdout);
                fflush(stdout);
        }
}

static void job_line(const struct kiln_batch_job *j, char *out, size_t n)
{
        _cleanup_free_ char *stage = kiln_text_safe(j->stage ? j->stage : "", strlen(j->stage ? j->stage : ""));
        if (j->state == KILN_JOB_RUNNING)
                snprintf(out, n, "%-20.20s running  %-16.16s %3d%%", j->id, stage, j->percent);
        else if (j->state == KILN_JOB_SUCCEEDED)
                snprintf(out, n, "%-20.20s %-8s %s", j->id, j->reused ? "reused" : "built", j->output);
        else
                snprintf(out, n, "%-20.20s %-8s", j->id, kiln_batch_state_name(j->state));
}

static void on_change(void *userdata, const struct kiln_batch *b)
{
        struct view *v = userdata;
        if (!v->tty)
                return;
        if (v->drawn)
                fprintf(stderr, "\033[%zuA", v->drawn);
        for (size_t i = 0; i < b->n; i++) {
                char line[160];
                job_line(&b->jobs[i], line, sizeof(line));
                fprintf(stderr, "\r\033[K%s\n", line);
        }
        v->drawn = b->n;
}

struct entry {
        char *profile, *release; /* release NULL: the profile's own */
};

struct entries {
        struct entry *v;
        size_t n;
};

static void entries_push(struct entries *e, char *profile, char *release)
{
        e->v = xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
        e->v[e->n++] = (struct entry){profile, release};
}

static void entries_clear(struct entries *e)
{
        for (size_t i = 0; i < e->n; i++)
                free(e->v[i].profile), free(e->v[i].release);
        free(e->v);
        *e = (struct entries){0};
}

/* A batch file: one build a line, "PROFILE [RELEASE]" (whitespace between; '#' starts a comment),
 * the release overriding the profile's 'release:'. A relative PROFILE is beneath the list's own
 * folder, so a checked-in catalogue runs from anywhere. Every bad line is reported, with its
 * place, before anything runs. Returns the number of bad lines, or a negative errno. */
static int read_list(const char *path, struct entries *e)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_file_max(path, 1 << 20, &data, &len);
        if (r < 0)
                return r;
        if (memchr(data, '\0', len))
                len = strlen(data); /* what follows a NUL is not text: the line it cuts reports itself */
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *base = slash ? xstrndup(path, (size_t)(slash - path + 1)) : xstrdup("");
        int bad = 0;
        unsigned lineno = 0;
        for (char *line = data, *next; line && *line; line = next) {
                lineno++;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                char *field[3] = {0};
                size_t col[3] = {0}, nf = 0;
                for (char *c = line; *c && nf < 3;) {
                        c += strspn(c, " \t\r");
                        if (!*c)
                                break;
                        col[nf] = (size_t)(c - line) + 1;
                        field[nf++] = c;
                        c += strcspn(c, " \t\r");
                        if (*c)
                                *c++ = '\0';
                }
                if (nf == 0)
                        continue;
                _cleanup_free_ char *shown = kiln_text_safe(field[nf - 1], strlen(field[nf - 1]));
                if (nf == 3) {
                        fprintf(stderr, "kiln: %s:%u:%zu: more than a profile and a release on one line: '%s'\n", path,
                                lineno, col[2], shown);
                        bad++;
                        continue;
                }
                if (nf == 2 && !kiln_profile_release_ok(field[1])) {
                        fprintf(stderr,
                                "kiln: %s:%u:%zu: unsupported release '%s': use 'bookworm' (12) or 'trixie' (13)\n",
                                path, lineno, col[1], shown);
                        bad++;
                        continue;
                }
                _cleanup_free_ char *p = field[0][0] == '/' ? xstrdup(field[0]) : xasprintf("%s%s", base, field[0]);
                char abs[PATH_MAX];
                if (!realpath(p, abs) || access(abs, R_OK) < 0) {
                        int en = errno;
                        _cleanup_free_ char *ps = kiln_text_safe(p, strlen(p));
                        fprintf(stderr, "kiln: %s:%u:%zu: cannot read profile '%s': %s\n", path, lineno, col[0], ps,
                                strerror(en));
                        bad++;
                        continue;
                }
                entries_push(e, xstrdup(abs), nf == 2 ? xstrdup(field[1]) : NULL);
        }
        return bad;
}

enum {
        OPT_FILE = 0x300,
        OPT_FORMAT,
        OPT_EVENTS,
        OPT_EXECUTOR,
        OPT_PARTITION,
        OPT_SBATCH,
        OPT_BUILD_ARG,
        OPT_CACHE,
        OPT_STORE,
        OPT_NO_BOOT,
        OPT_NO_REUSE
};

int kiln_cmd_batch(int argc, char **argv)
{
        static const struct option opts[] = {{"output-dir", required_argument, NULL, 'O'},
                                             {"jobs", required_argument, NULL, 'j'},
                                             {"file", required_argument, NULL, OPT_FILE},
                                             {"format", required_argument, NULL, OPT_FORMAT},
                                             {"events", required_argument, NULL, OPT_EVENTS},
                                             {"executor", required_argument, NULL, OPT_EXECUTOR},
                                             {"partition", required_argument, NULL, OPT_PARTITION},
                                             {"sbatch-arg", required_argument, NULL, OPT_SBATCH},
                                             {"build-arg", required_argument, NULL, OPT_BUILD_ARG},
                                             {"cache", required_argument, NULL, OPT_CACHE},
                                             {"result-store", required_argument, NULL, OPT_STORE},
                                             {"no-boot-test", no_argument, NULL, OPT_NO_BOOT},
                                             {"no-reuse", no_argument, NULL, OPT_NO_REUSE},
                                             CLI_PROFILE_OPTIONS,
                                             {0}};
        const char *dir = NULL, *format = "qcow2", *executor = "local", *partition = NULL;
        _cleanup_strv_free_ char **sbatch = NULL, **bargs = NULL;
        _cleanup_(entries_clear) struct entries list = {0};
        int bad_lines = 0;
        unsigned jobs = 0;
        struct view v = {0};
        int c;
        while ((c = getopt_long(argc, argv, "O:j:", opts, NULL)) != -1) {
                if (cli_profile_option(c, optarg) == 0)
                        continue;
                switch (c) {
                case 'O':
                        dir = optarg;
                        break;
                case 'j': {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (*end || n == 0 || n > 256)
                                return cli_usage_error("batch", "-j takes 1 to 256 (got '%s')", optarg);
                        jobs = (unsigned)n;
                        break;
                }
                case OPT_FILE: {
                        int r = read_list(optarg, &list);
                        if (r < 0)
                                return cli_usage_error("batch", "cannot read '%s': %s", optarg, strerror(-r));
                        bad_lines += r;
                        break;
                }
                case OPT_FORMAT:
                        if (!STREQ(optarg, "qcow2") && !STREQ(optarg, "raw") && !STREQ(optarg, "vmdk") &&
                            !STREQ(optarg, "vhdx"))
                                return cli_usage_error("batch", "--format takes qcow2, raw, vmdk or vhdx");
                        format = optarg;
                        break;
                case OPT_EVENTS:
                        if (!STREQ(optarg, "json"))
                                return cli_usage_error("batch", "--events takes json");
                        v.json = true;
                        break;
                case OPT_EXECUTOR:
                        if (!STREQ(optarg, "local") && !STREQ(optarg, "slurm"))
                                return cli_usage_error("batch", "--executor takes local or slurm");
                        executor = optarg;
                        break;
                case OPT_PARTITION:
                        partition = optarg;
                        break;
                case OPT_SBATCH:
                        sbatch = strv_push(sbatch, xstrdup(optarg));
                        break;
                case OPT_BUILD_ARG:
                        bargs = strv_push(bargs, xstrdup(optarg));
                        break;
                case OPT_CACHE:
                        bargs = strv_push(bargs, xasprintf("--cache=%s", optarg));
                        break;
                case OPT_STORE:
                        bargs = strv_push(bargs, xasprintf("--result-store=%s", optarg));
                        break;
                case OPT_NO_BOOT:
                        bargs = strv_push(bargs, xstrdup("--no-boot-test"));
                        break;
                case OPT_NO_REUSE:
                        bargs = strv_push(bargs, xstrdup("--no-reuse"));
                        break;
                default:
                        return cli_usage_error("batch", "run 'kiln batch --help' for usage");
                }
        }
        for (int i = optind; i < argc; i++) {
                char abs[PATH_MAX];
                entries_push(&list, xstrdup(realpath(argv[i], abs) ? abs : argv[i]), NULL);
        }
        if (bad_lines)
                return cli_usage_error("batch", "%d bad line%s in the batch file: nothing was run", bad_lines,
                                       bad_lines == 1 ? "" : "s");
        if (!dir)
                return cli_usage_error("batch", "-O DIR is required");
        if (!list.n)
                return cli_usage_error("batch", "no profiles: name them, or give --file LIST");
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return cli_usage_error("batch", "cannot create '%s': %s", dir, strerror(errno));
        char absdir[PATH_MAX], self[PATH_MAX];
        if (!realpath(dir, absdir))
                return cli_usage_error("batch", "cannot resolve '%s': %s", dir, strerror(errno));
        ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[sl > 0 ? sl : 0] = '\0';

        /* kiln, the global options this batch got, "build", the options for every build. */
        char **prefix = NULL;
        prefix = strv_push(prefix, xstrdup(self));
        if (kiln_globals.apt_dir)
                prefix = strv_push(prefix, xasprintf("--apt-dir=%s", kiln_globals.apt_dir));
        if (kiln_globals.profile_root)
                prefix = strv_push(prefix, xasprintf("--profile-root=%s", kiln_globals.profile_root));
        if (kiln_globals.trust_paths)
                prefix = strv_push(prefix, xstrdup("--trust-profile-paths"));
        if (kiln_globals.allow_private)
                prefix = strv_push(prefix, xstrdup("--allow-private-mirrors"));
        prefix = strv_push(prefix, xstrdup("build"));
        prefix = strv_push(prefix, xstrdup("--force"));
        for (size_t i = 0; bargs && bargs[i]; i++)
                prefix = strv_push(prefix, xstrdup(bargs[i]));

        struct kiln_batch b = {.out_dir = absdir,
                               .max_jobs = jobs ? jobs : kiln_batch_default_jobs(),
                               .interrupted = &interrupted,
                               .on_event = on_event,
                               .on_change = on_change,
                               .userdata = &v};
        for (size_t i = 0; i < list.n; i++)
                kiln_batch_add(&b, list.v[i].profile, list.v[i].release, format, prefix);
        strv_free(prefix);
        v.tty = !v.json && isatty(STDERR_FILENO);
        cli_catch_signals(&interrupted);
        _cleanup_error_ struct kiln_error *err = NULL;
        int r = STREQ(executor, "slurm") ? kiln_batch_run_slurm(&b, self, partition, sbatch, &err)
                                         : kiln_batch_run_local(&b, &err);
        if (r < 0) {
                cli_print_errors(err);
                kiln_batch_free(&b);
                return KILN_EXIT_FAILED;
        }
        _cleanup_free_ char *json = kiln_batch_json(&b), *jpath = xasprintf("%s/batch.json", absdir);
        if (write_file_atomic(jpath, json, strlen(json), &err) < 0)
                cli_print_errors(err);
        bool all_ok = true;
        fprintf(stderr, "%-20s %-11s %-8s %8s  %-12s %s\n", "BUILD", "STATE", "RESULT", "SECONDS", "KEY", "WHY");
        for (size_t i = 0; i < b.n; i++) {
                const struct kiln_batch_job *j = &b.jobs[i];
                bool ok = j->state == KILN_JOB_SUCCEEDED;
                all_ok &= ok;
                const char *w = ok ? (j->why ? j->why : "") : (j->error ? j->error : "");
                _cleanup_free_ char *why = kiln_text_safe(w, strlen(w));
                fprintf(stderr, "%-20.20s %-11s %-8s %8.1f  %-12.12s %s\n", j->id, kiln_batch_state_name(j->state),
                        ok ? (j->reused ? "reused" : "built") : "-", j->end > j->start ? j->end - j->start : 0.0,
                        j->key ? j->key : "-", why);
        }
        fprintf(stderr, "kiln: batch.json in '%s'\n", jpath);
        kiln_batch_free(&b);
        if (interrupted)
                return KILN_EXIT_FAILED;
        return all_ok ? KILN_EXIT_OK : KILN_EXIT_FAILED;
}

int kiln_cmd_batch_task(int argc, char **argv)
{
        if (argc != 3)
                return cli_usage_error("batch-task", "usage: kiln batch-task TASKDIR INDEX");
        char *end;
        unsigned long idx = strtoul(argv[2], &end, 10);
        if (*end || !*argv[2])
                return cli_usage_error("batch-task", "'%s' is not a task index", argv[2]);
        _cleanup_error_ struct kiln_error *err = NULL;
        kiln_batch_task_exec(argv[1], (unsigned)idx, &err);
        cli_print_errors(err);
        return KILN_EXIT_FAILED;
}
