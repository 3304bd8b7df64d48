/* kiln batch, the local executor: one kiln build child per job, its events on a pipe, N at a time. */
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KILN_BATCH_STOP_GRACE 10.0

const char *kiln_batch_state_name(enum kiln_batch_state s)
{
        static const char *const names[] = {"pending", "running", "succeeded", "failed", "interrupted"};
        return names[s];
}

static char *job_id(const struct kiln_batch *b, const char *profile, const char *release)
{
        const char *base = strrchr(profile, '/');
        base = base ? base + 1 : profile;
        char id[33];
        size_t n = 0;
        for (const char *c = base; *c && n < 24; c++) {
                if (str_has_suffix(c, ".yaml") && strlen(c) == 5)
                        break;
                char ch = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
                id[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '-';
        }
        if (n == 0)
                id[n++] = 'b';
        /* web.yaml for bookworm is web-bookworm (a release kiln knows: 8 characters at most). */
        if (release) {
                id[n++] = '-';
                for (const char *c = release; *c && n < 29; c++) /* room for "-N" */
                        id[n++] = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ? *c : '-';
        }
        id[n] = '\0';
        for (unsigned k = 1;; k++) {
                _cleanup_free_ char *cand = k == 1 ? xstrdup(id) : xasprintf("%s-%u", id, k);
                bool used = false;
                for (size_t i = 0; i < b->n; i++)
                        used |= STREQ(b->jobs[i].id, cand);
                if (!used)
                        return TAKE_PTR(cand);
        }
}

void kiln_batch_add(struct kiln_batch *b, const char *profile, const char *release, const char *format,
                    char *const *prefix)
{
        b->jobs = xrealloc(b->jobs, (b->n + 1) * sizeof(*b->jobs));
        struct kiln_batch_job *j = &b->jobs[b->n];
        *j = (struct kiln_batch_job){.ev_fd = -1, .exit_code = -1};
        j->id = job_id(b, profile, release);
        j->profile = xstrdup(profile);
        j->release = release ? xstrdup(release) : NULL;
        j->output = xasprintf("%s/%s.%s", b->out_dir, j->id, format);
        char **argv = NULL;
        for (size_t i = 0; prefix[i]; i++)
                argv = strv_push(argv, xstrdup(prefix[i]));
        if (release)
                argv = strv_push(argv, xasprintf("--release=%s", release));
        argv = strv_push(argv, xstrdup("--events-fd"));
        argv = strv_push(argv, xstrdup("3"));
        argv = strv_push(argv, xstrdup("--build-id"));
        argv = strv_push(argv, xstrdup(j->id));
        argv = strv_push(argv, xstrdup("-o"));
        argv = strv_push(argv, xstrdup(j->output));
        argv = strv_push(argv, xstrdup("--"));
        argv = strv_push(argv, xstrdup(profile));
        j->argv = argv;
        b->n++;
}

void kiln_batch_free(struct kiln_batch *b)
{
        for (size_t i = 0; i < b->n; i++) {
                struct kiln_batch_job *j = &b->jobs[i];
                free(j->id);
                free(j->profile);
                free(j->release);
                free(j->output);
                strv_free(j->argv);
                free(j->key);
                free(j->why);
                free(j->error);
                free(j->stage);
                free(j->slurm_state);
                free(j->partial.data);
                if (j->ev_fd >= 0)
                        close(j->ev_fd);
        }
        free(b->jobs);
        b->jobs = NULL;
        b->n = 0;
}

static const char *jstr(struct json_object *o, const char *k)
{
        struct json_object *v;
        return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

static void set(char **dst, const char *s)
{
        free(*dst);
        *dst = s ? xstrdup(s) : NULL;
}

/* One line from a build: it is kiln's own output, but read as data (a line that is not a JSON
 * object is dropped; the build id is forced to the job's). */
static void handle_line(struct kiln_batch *b, struct kiln_batch_job *j, const char *line)
{
        struct json_object *o = json_tokener_parse(line);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return;
        }
        json_object_object_add(o, "build", json_object_new_string(j->id));
        const char *type = jstr(o, "type");
        if (type && STREQ(type, "stage")) {
                set(&j->stage, jstr(o, "stage"));
                j->percent = 0;
        } else if (type && STREQ(type, "step")) {
                struct json_object *p;
                if (json_object_object_get_ex(o, "percent", &p))
                        j->percent = json_object_get_int(p);
                set(&j->stage, jstr(o, "step"));
        } else if (type && STREQ(type, "notice") && jstr(o, "notice") && STREQ(jstr(o, "notice"), "key")) {
                struct json_object *r;
                set(&j->key, jstr(o, "key"));
                set(&j->why, jstr(o, "why"));
                j->reused = json_object_object_get_ex(o, "reused", &r) && json_object_get_boolean(r);
        } else if (type && STREQ(type, "error")) {
                set(&j->error, jstr(o, "error"));
                j->got_error = true;
        } else if (type && STREQ(type, "result")) {
                j->got_result = true;
        }
        if (b->on_event)
                b->on_event(b->userdata, j, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
}

void kiln_batch_read_events(struct kiln_batch *b, struct kiln_batch_job *j, bool eof)
{
        char buf[65536];
        ssize_t n;
        while (j->ev_fd >= 0 && (n = read(j->ev_fd, buf, sizeof(buf))) > 0) {
                buf_append(&j->partial, buf, (size_t)n);
                if (j->partial.len > (4 << 20)) /* no event is that long: drop it */
                        j->partial.len = 0;
        }
        size_t start = 0;
        for (size_t i = 0; i < j->partial.len; i++) {
                if (j->partial.data[i] != '\n')
                        continue;
                j->partial.data[i] = '\0';
                handle_line(b, j, j->partial.data + start);
                start = i + 1;
        }
        if (start > 0) {
                memmove(j->partial.data, j->partial.data + start, j->partial.len - start);
                j->partial.len -= start;
        }
        if (eof && j->partial.len) {
                buf_append(&j->partial, "", 1);
                handle_line(b, j, j->partial.data);
                j->partial.len = 0;
        }
}

static int spawn(struct kiln_batch *b, struct kiln_batch_job *j, struct kiln_error **reterr)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return kiln_error_set(reterr, errno, "pipe: %s", strerror(errno));
        _cleanup_free_ char *log = xasprintf("%s/logs/%s.log", b->out_dir, j->id);
        int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (lfd < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return kiln_error_set(reterr, e, "cannot create '%s': %s", log, strerror(e));
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                close(lfd);
                return kiln_error_set(reterr, e, "fork: %s", strerror(e));
        }
        if (pid == 0) {
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGPIPE, SIG_DFL);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                /* Its own process group: a terminal's Ctrl-C reaches the batch, which stops each
                 * build once (SIGTERM), not twice. */
                setpgid(0, 0);
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0 || dup2(p[1], 3) < 0)
                        _exit(126);
                close_range(4, ~0U, 0);
                execv("/proc/self/exe", j->argv);
                _exit(errno == ENOENT ? 127 : 126);
        }
        close(p[1]);
        close(lfd);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        j->pid = pid;
        j->ev_fd = p[0];
        j->state = KILN_JOB_RUNNING;
        j->start = kiln_now();
        return 0;
}

static void reaped(struct kiln_batch *b, struct kiln_batch_job *j, int status)
{
        kiln_batch_read_events(b, j, true);
        close(j->ev_fd);
        j->ev_fd = -1;
        j->pid = 0;
        j->end = kiln_now();
        j->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (j->exit_code == 0 && j->got_result)
                j->state = KILN_JOB_SUCCEEDED;
        else if (b->interrupted && *b->interrupted)
                j->state = KILN_JOB_INTERRUPTED;
        else
                j->state = KILN_JOB_FAILED;
        if (j->state != KILN_JOB_SUCCEEDED && !j->error)
                j->error = xasprintf("kiln build exited with status %d and no error event (see logs/%s.log)",
                                     j->exit_code, j->id);
}

int kiln_batch_run_local(struct kiln_batch *b, struct kiln_error **reterr)
{
        _cleanup_free_ char *logs = xasprintf("%s/logs", b->out_dir);
        if (mkdir(logs, 0755) < 0 && errno != EEXIST)
                return kiln_error_set(reterr, errno, "cannot create '%s': %s", logs, strerror(errno));
        size_t next = 0, running = 0;
        bool stopping = false, killed = false;
        double stop_at = 0;
        for (;;) {
                /* A build stops within seconds of SIGTERM in its guest and finish stages; a fetch
                 * waits on curl. After a grace, SIGKILL to its group: what it leaves (a locked
                 * partial, a build folder) the next run's sweep removes, as after any SIGKILL. */
                if (stopping && !killed && kiln_now() - stop_at > KILN_BATCH_STOP_GRACE) {
                        killed = true;
                        for (size_t i = 0; i < b->n; i++)
                                if (b->jobs[i].state == KILN_JOB_RUNNING && b->jobs[i].pid > 0)
                                        kill(-b->jobs[i].pid, SIGKILL);
                }
                if (b->interrupted && *b->interrupted && !stopping) {
                        stopping = true;
                        stop_at = kiln_now();
                        for (size_t i = 0; i < b->n; i++) {
                                if (b->jobs[i].state == KILN_JOB_RUNNING)
                                        kill(b->jobs[i].pid, SIGTERM); /* kiln build cleans up on it */
                                else if (b->jobs[i].state == KILN_JOB_PENDING) {
                                        b->jobs[i].state = KILN_JOB_INTERRUPTED;
                                        b->jobs[i].error = xstrdup("not started: the batch was interrupted");
                                }
                        }
                }
                while (!stopping && next < b->n && running < (b->max_jobs ? b->max_jobs : 1)) {
                        struct kiln_batch_job *j = &b->jobs[next++];
                        if (spawn(b, j, reterr) < 0) {
                                j->state = KILN_JOB_FAILED;
                                j->error = xstrdup((*reterr)->msg);
                                continue;
                        }
                        running++;
                        if (b->on_change)
                                b->on_change(b->userdata, b);
                }
                if (running == 0 && (stopping || next >= b->n))
                        break;
                struct pollfd *fds = xcalloc(b->n, sizeof(*fds));
                size_t nf = 0;
                for (size_t i = 0; i < b->n; i++)
                        if (b->jobs[i].ev_fd >= 0)
                                fds[nf++] = (struct pollfd){.fd = b->jobs[i].ev_fd, .events = POLLIN};
                poll(fds, nf, 200);
                free(fds);
                for (size_t i = 0; i < b->n; i++)
                        if (b->jobs[i].ev_fd >= 0)
                                kiln_batch_read_events(b, &b->jobs[i], false);
                int status;
                pid_t pid;
                while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                        for (size_t i = 0; i < b->n; i++)
                                if (b->jobs[i].pid == pid) {
                                        reaped(b, &b->jobs[i], status);
                                        running--;
                                }
                }
                if (b->on_change)
                        b->on_change(b->userdata, b);
        }
        return 0;
}

char *kiln_batch_json(const struct kiln_batch *b)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        size_t ok = 0, failed = 0, reused = 0;
        json_object_object_add(o, "v", json_object_new_int(1));
        for (size_t i = 0; i < b->n; i++) {
                const struct kiln_batch_job *j = &b->jobs[i];
                struct json_object *e = json_object_new_object();
                json_object_object_add(e, "id", json_object_new_string(j->id));
                json_object_object_add(e, "profile", json_object_new_string(j->profile));
                if (j->release)
                        json_object_object_add(e, "release", json_object_new_string(j->release));
                json_object_object_add(e, "output", json_object_new_string(j->output));
                json_object_object_add(e, "key", j->key ? json_object_new_string(j->key) : NULL);
                json_object_object_add(e, "state", json_object_new_string(kiln_batch_state_name(j->state)));
                json_object_object_add(e, "reused",
                                       json_object_new_boolean(j->state == KILN_JOB_SUCCEEDED && j->reused));
                json_object_object_add(e, "why", j->why ? json_object_new_string(j->why) : NULL);
                char num[32];
                double d = j->end > j->start && j->start > 0 ? j->end - j->start : 0;
                snprintf(num, sizeof(num), "%.1f", d);
                json_object_object_add(e, "duration", json_object_new_double_s(d, num));
                json_object_object_add(e, "exit", json_object_new_int(j->exit_code));
                if (j->error)
                        json_object_object_add(e, "error", json_object_new_string(j->error));
                if (j->slurm_state)
                        json_object_object_add(e, "slurm_state", json_object_new_string(j->slurm_state));
                json_object_array_add(a, e);
                ok += j->state == KILN_JOB_SUCCEEDED;
                reused += j->state == KILN_JOB_SUCCEEDED && j->reused;
                failed += j->state != KILN_JOB_SUCCEEDED;
        }
        json_object_object_add(o, "builds", a);
        json_object_object_add(o, "succeeded", json_object_new_int((int)ok));
        json_object_object_add(o, "reused", json_object_new_int((int)reused));
        json_object_object_add(o, "failed", json_object_new_int((int)failed));
        char *s =
                xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

unsigned kiln_batch_default_jobs(void)
{
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned by_cores = cores > 1 ? (unsigned)(cores / 2) : 1;
        _cleanup_free_ char *mi = NULL;
        size_t len;
        unsigned long long kb = 0;
        if (read_file_max("/proc/meminfo", 1 << 16, &mi, &len) == 0) {
                const char *a = strstr(mi, "MemAvailable:");
                if (a)
                        sscanf(a, "MemAvailable: %llu", &kb);
        }
        unsigned by_mem = kb ? (unsigned)(kb / (3ULL << 20)) : 1;
        unsigned n = by_cores < by_mem ? by_cores : by_mem;
        return n ? n : 1;
}
