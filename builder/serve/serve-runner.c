/* Running builds: the scheduler thread starts queued builds as child `kiln build` processes
 * (the real binary, --events-fd 3, --build-id ID) up to the concurrency and per-tenant limits;
 * one reader thread per child stores its typed events and, when the child ends, its outcome.
 * Cancels and timeouts send SIGTERM (kiln build then stops its guest and cleans up), then
 * SIGKILL to the child's whole process group after a grace period. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>

#include "serve-internal.h"

#define LINE_MAX_BYTES (64 * 1024)
/* Longer than kiln build's own way down from an install: the guest's ACPI power button (5 s),
 * QEMU's quit (3 s), then its SIGTERM-to-SIGKILL (5 s), each QMP call up to 2 s more. A build
 * SIGKILLed sooner leaves its run folder for the next run's sweep instead of removing it. */
#define KILL_GRACE_SEC 30

unsigned kiln_serve_default_concurrency(void)
{
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        struct sysinfo si;
        unsigned by_mem = 1;
        if (sysinfo(&si) == 0)
                by_mem = (unsigned)((uint64_t)si.totalram * si.mem_unit / (2ULL << 30));
        unsigned n = cores > 0 ? (unsigned)cores : 1;
        if (by_mem < n)
                n = by_mem;
        return n ? n : 1;
}

static void remove_tree_at(int dfd)
{
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
                if (STREQ(e->d_name, ".") || STREQ(e->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno != EISDIR)
                        continue;
                int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        remove_tree_at(sub);
                unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
        closedir(d);
}

void serve_sweep_build_dir(struct serve *s, const char *id)
{
        int fd = openat(s->builds_dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
                if (STREQ(e->d_name, ".") || STREQ(e->d_name, "..") || STREQ(e->d_name, "profile.yaml"))
                        continue;
                if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno != EISDIR)
                        continue;
                int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        remove_tree_at(sub);
                unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
        closedir(d);
}

void serve_remove_build_dir(struct serve *s, const char *id)
{
        /* By fd beneath builds/, never following a symlink: the folder's contents were written by
         * a build, whose inputs are hostile. */
        int fd = openat(s->builds_dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                remove_tree_at(fd);
        unlinkat(s->builds_dir_fd, id, AT_REMOVEDIR);
}

uint64_t serve_dir_bytes(int parent, const char *name)
{
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return 0;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return 0;
        }
        uint64_t total = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                struct stat st;
                if (STREQ(e->d_name, ".") || STREQ(e->d_name, "..") ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                total += (uint64_t)st.st_blocks * 512;
                if (S_ISDIR(st.st_mode))
                        total += serve_dir_bytes(dirfd(d), e->d_name);
        }
        closedir(d);
        return total;
}

struct reader_arg {
        struct serve *s;
        struct serve_run *run;
};

static void set_column(struct serve *s, const char *id, const char *col, const char *text)
{
        _cleanup_free_ char *sql = xasprintf("UPDATE builds SET %s=?2 WHERE id=?1", col);
        sqlite3_stmt *st = serve_db_prepare(s, sql);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_finalize(st);
}

/* One line from the child: kiln's own typed event (docs/events.md). Stored as re-serialized
 * JSON (one line, whatever the child wrote), and its stage, step, percent and error copied
 * into the build's row. */
static void handle_line(struct serve *s, struct serve_run *run, const char *line)
{
        struct json_object *o = json_tokener_parse(line);
        struct json_object *t = NULL;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "type", &t) ||
            !json_object_is_type(t, json_type_string)) {
                json_object_put(o);
                return;
        }
        const char *type = json_object_get_string(t);
        /* The host's path of the build folder is not the tenant's business: its logs are here. */
        if (json_object_object_get_ex(o, "build_dir", NULL)) {
                _cleanup_free_ char *logs = xasprintf("/v1/builds/%s/logs", run->id);
                json_object_object_add(o, "build_dir", json_object_new_string(logs));
        }
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        struct json_object *v;
        pthread_mutex_lock(&s->lock);
        bool last = STREQ(type, "error") || STREQ(type, "result");
        serve_db_add_event(s, run->id, text, last);
        if (STREQ(type, "stage") && json_object_object_get_ex(o, "stage", &v))
                set_column(s, run->id, "stage", json_object_get_string(v));
        if (STREQ(type, "step")) {
                if (json_object_object_get_ex(o, "step", &v))
                        set_column(s, run->id, "step", json_object_get_string(v));
                if (json_object_object_get_ex(o, "percent", &v)) {
                        _cleanup_free_ char *p = xasprintf("%d", json_object_get_int(v));
                        set_column(s, run->id, "percent", p);
                }
        }
        if (STREQ(type, "error") && json_object_object_get_ex(o, "error", &v))
                set_column(s, run->id, "error", json_object_get_string(v));
        if (STREQ(type, "result") && json_object_object_get_ex(o, "outputs", &v)) {
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        struct json_object *out = json_object_array_get_idx(v, i), *k, *h;
                        if (json_object_object_get_ex(out, "kind", &k) && STREQ(json_object_get_string(k), "image") &&
                            json_object_object_get_ex(out, "sha256", &h))
                                set_column(s, run->id, "image_sha256", json_object_get_string(h));
                }
        }
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        json_object_put(o);
}

static void finish_run(struct serve *s, struct serve_run *run, int status, bool saw_result)
{
        const char *state;
        _cleanup_free_ char *error = NULL;
        if (*s->stop) {
                /* The service is stopping: the build stays 'running', and the next start requeues it. */
                serve_log(s, "build %s stopped with the service", run->id);
                return;
        }
        if (run->cancel) {
                state = "cancelled";
                error = xstrdup("cancelled");
        } else if (run->timed_out) {
                state = "failed";
                error = xasprintf("timed out after %u s", s->cfg->build_timeout_sec);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && saw_result) {
                state = "succeeded";
        } else {
                state = "failed";
                error = serve_db_text(s, run->id, "error");
                if (!error && WIFEXITED(status))
                        error = xasprintf("kiln build exited with status %d", WEXITSTATUS(status));
                else if (!error)
                        error = xasprintf("kiln build was killed by signal %d", WTERMSIG(status));
        }
        if (run->cancel)
                serve_remove_build_dir(s, run->id);
        uint64_t bytes = serve_dir_bytes(s->builds_dir_fd, run->id);
        sqlite3_stmt *st = serve_db_prepare(s, "UPDATE builds SET state=?2, error=coalesce(?3, error), "
                                               "finished=?4, disk_bytes=?5 WHERE id=?1");
        sqlite3_bind_text(st, 1, run->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, STREQ(state, "succeeded") ? NULL : error, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, (double)time(NULL));
        sqlite3_bind_int64(st, 5, (sqlite3_int64)bytes);
        sqlite3_step(st);
        sqlite3_finalize(st);
        if (STREQ(state, "succeeded"))
                set_column(s, run->id, "error", NULL);
        serve_log(s, "build %s %s%s%s", run->id, state, error ? ": " : "", error ? error : "");
        _cleanup_free_ char *cb = serve_db_text(s, run->id, "callback_url"),
                            *tenant = serve_db_text(s, run->id, "tenant");
        if (cb && tenant)
                serve_webhook_queue(s, tenant, run->id);
}

static void *reader_main(void *arg)
{
        struct reader_arg a = *(struct reader_arg *)arg;
        free(arg);
        struct serve *s = a.s;
        struct serve_run *run = a.run;
        FILE *f = fdopen(run->events_fd, "r");
        _cleanup_free_ char *line = xmalloc(LINE_MAX_BYTES);
        bool skipping = false, saw_result = false;
        while (f && fgets(line, LINE_MAX_BYTES, f)) {
                size_t n = strlen(line);
                bool whole = n > 0 && line[n - 1] == '\n';
                /* A line longer than the cap is dropped whole, not cut into pieces. */
                if (!skipping && whole) {
                        if (strstr(line, "\"type\":\"result\""))
                                saw_result = true;
                        handle_line(s, run, line);
                }
                skipping = !whole;
        }
        if (f)
                fclose(f);
        else
                close(run->events_fd);
        int status = 0;
        while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR)
                ;
        kill(-run->pid, SIGKILL); /* anything the build left in its process group */
        pthread_mutex_lock(&s->lock);
        finish_run(s, run, status, saw_result);
        run->done = true;
        s->n_running--;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

/* kiln build, or (install_only) kiln install: the installer's disk, unfinished. */
static char **build_argv(struct serve *s, const char *id, const char *format, bool boot_test, bool install_only)
{
        const struct kiln_serve_config *c = s->cfg;
        char **v = NULL;
        v = strv_push(v, xstrdup(c->kiln_exe));
        if (c->apt_dir) {
                v = strv_push(v, xstrdup("--apt-dir"));
                v = strv_push(v, xstrdup(c->apt_dir));
        }
        /* API profiles are untrusted: no host path at all, extends only into the library. */
        v = strv_push(v, xstrdup("--untrusted-profile"));
        if (c->library) {
                v = strv_push(v, xstrdup("--profile-library"));
                v = strv_push(v, xstrdup(c->library));
        }
        if (c->allow_private_mirrors)
                v = strv_push(v, xstrdup("--allow-private-mirrors"));
        v = strv_push(v, xstrdup(install_only ? "install" : "build"));
        v = strv_push(v, xstrdup("--events-fd"));
        v = strv_push(v, xstrdup("3"));
        v = strv_push(v, xstrdup("--build-id"));
        v = strv_push(v, xstrdup(id));
        v = strv_push(v, xstrdup("-o"));
        v = strv_push(v, xasprintf("%s/%s/image.%s", s->builds_dir, id, format));
        v = strv_push(v, xstrdup("--build-dir"));
        v = strv_push(v, xasprintf("%s/%s/work", s->builds_dir, id));
        if (c->cache_dir) {
                v = strv_push(v, xstrdup("--cache"));
                v = strv_push(v, xstrdup(c->cache_dir));
        }
        if (c->result_store && !install_only) {
                v = strv_push(v, xstrdup("--result-store"));
                v = strv_push(v, xstrdup(c->result_store));
        }
        if (c->accel) {
                v = strv_push(v, xstrdup("--accel"));
                v = strv_push(v, xstrdup(c->accel));
        }
        if (!boot_test && !install_only)
                v = strv_push(v, xstrdup("--no-boot-test"));
        v = strv_push(v, xasprintf("%s/%s/profile.yaml", s->builds_dir, id));
        return v;
}

/* Start one build: the child in a process group of its own (so a cancel reaches what it
 * started), its stdout and stderr into the build folder's kiln.log, the events on fd 3. */
static int start_build(struct serve *s, const char *id, const char *format, bool boot_test, bool install_only)
{
        _cleanup_strv_free_ char **argv = build_argv(s, id, format, boot_test, install_only);
        _cleanup_free_ char *log = xasprintf("%s/%s/kiln.log", s->builds_dir, id);
        int fds[2];
        int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
        int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (logfd < 0 || nullfd < 0 || pipe2(fds, O_CLOEXEC) < 0) {
                int e = errno;
                if (logfd >= 0)
                        close(logfd);
                if (nullfd >= 0)
                        close(nullfd);
                return -e;
        }
        _cleanup_free_ char *dir = xasprintf("%s/%s", s->builds_dir, id);
        sigset_t all;
        sigfillset(&all);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
                /* Only async-signal-safe calls from here to exec: kiln is multithreaded. */
                setpgid(0, 0);
                for (int sig = 1; sig < NSIG; sig++)
                        signal(sig, SIG_DFL);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                /* The service killed (even SIGKILL): the build dies with it, and what it started
                 * with it (kiln's own children have PDEATHSIG too); the next start sweeps its
                 * folder and runs it again. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 || dup2(fds[1], 3) < 0)
                        _exit(126);
                syscall(SYS_close_range, 4U, ~0U, 0);
                if (chdir(dir) < 0)
                        _exit(126);
                execv(argv[0], argv);
                _exit(127);
        }
        int e = errno;
        close(logfd);
        close(nullfd);
        close(fds[1]);
        if (pid < 0) {
                close(fds[0]);
                return -e;
        }
        setpgid(pid, pid); /* also here: no race with a kill before the child ran setpgid */
        struct serve_run *run = xcalloc(1, sizeof(*run));
        snprintf(run->id, sizeof(run->id), "%s", id);
        run->pid = pid;
        run->events_fd = fds[0];
        run->started = kiln_now();
        run->deadline = s->cfg->build_timeout_sec ? run->started + s->cfg->build_timeout_sec : 0;
        struct reader_arg *a = xmalloc(sizeof(*a));
        *a = (struct reader_arg){s, run};
        if (pthread_create(&run->reader, NULL, reader_main, a) != 0) {
                kill(-pid, SIGKILL);
                waitpid(pid, NULL, 0);
                close(fds[0]);
                free(a);
                free(run);
                return -EAGAIN;
        }
        run->next = s->runs;
        s->runs = run;
        s->n_running++;
        sqlite3_stmt *st = serve_db_prepare(s, "UPDATE builds SET state='running', started=?2, "
                                               "attempts=attempts+1 WHERE id=?1");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, (double)time(NULL));
        sqlite3_step(st);
        sqlite3_finalize(st);
        serve_log(s, "build %s started (pid %d)", id, (int)pid);
        return 0;
}

bool serve_runner_cancel(struct serve *s, const char *id)
{
        for (struct serve_run *r = s->runs; r; r = r->next)
                if (!r->done && STREQ(r->id, id)) {
                        if (!r->cancel) {
                                r->cancel = true;
                                r->deadline = kiln_now() + KILL_GRACE_SEC;
                                kill(r->pid, SIGTERM);
                        }
                        return true;
                }
        return false;
}

/* The next queued builds, oldest first, that their tenant's running limit lets start. */
static void start_queued(struct serve *s, unsigned max)
{
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT id, tenant, format, boot_test, install_only FROM builds "
                                               "WHERE state='queued' ORDER BY created, rowid");
        char **ids = NULL, **formats = NULL;
        bool *boots = NULL, *installs = NULL;
        size_t n = 0;
        while (sqlite3_step(st) == SQLITE_ROW && s->n_running + n < max) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                const char *tenant = (const char *)sqlite3_column_text(st, 1);
                const struct serve_tenant *t = serve_tokens_by_name(&s->tokens, tenant);
                unsigned running = serve_db_count(s, tenant, "running");
                if (t && running >= t->max_running)
                        continue;
                ids = strv_push(ids, xstrdup(id));
                formats = strv_push(formats, xstrdup((const char *)sqlite3_column_text(st, 2)));
                boots = xrealloc(boots, (n + 1) * sizeof(*boots));
                installs = xrealloc(installs, (n + 1) * sizeof(*installs));
                installs[n] = sqlite3_column_int(st, 4) != 0;
                boots[n++] = sqlite3_column_int(st, 3) != 0;
                break; /* one at a time: the tenant counts change with each start */
        }
        sqlite3_finalize(st);
        for (size_t i = 0; i < n; i++) {
                int r = start_build(s, ids[i], formats[i], boots[i], installs[i]);
                if (r < 0) {
                        _cleanup_free_ char *msg = xasprintf("cannot start kiln build: %s", strerror(-r));
                        set_column(s, ids[i], "state", "failed");
                        set_column(s, ids[i], "error", msg);
                        serve_log(s, "build %s: %s", ids[i], msg);
                }
        }
        strv_free(ids);
        strv_free(formats);
        free(boots);
        free(installs);
}

static void reap_done(struct serve *s)
{
        for (struct serve_run **p = &s->runs; *p;) {
                struct serve_run *r = *p;
                if (!r->done) {
                        p = &r->next;
                        continue;
                }
                *p = r->next;
                pthread_mutex_unlock(&s->lock);
                pthread_join(r->reader, NULL);
                pthread_mutex_lock(&s->lock);
                free(r);
        }
}

static void expire(struct serve *s)
{
        if (!s->cfg->expire_sec)
                return;
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT id FROM builds WHERE state IN ('succeeded','failed',"
                                               "'cancelled') AND finished < ?1");
        sqlite3_bind_double(st, 1, (double)time(NULL) - s->cfg->expire_sec);
        char **ids = NULL;
        while (sqlite3_step(st) == SQLITE_ROW)
                ids = strv_push(ids, xstrdup((const char *)sqlite3_column_text(st, 0)));
        sqlite3_finalize(st);
        for (size_t i = 0; ids && ids[i]; i++) {
                serve_remove_build_dir(s, ids[i]);
                sqlite3_stmt *d = serve_db_prepare(s, "DELETE FROM events WHERE build=?1");
                sqlite3_bind_text(d, 1, ids[i], -1, SQLITE_STATIC);
                sqlite3_step(d);
                sqlite3_finalize(d);
                d = serve_db_prepare(s, "DELETE FROM builds WHERE id=?1");
                sqlite3_bind_text(d, 1, ids[i], -1, SQLITE_STATIC);
                sqlite3_step(d);
                sqlite3_finalize(d);
                serve_log(s, "build %s expired", ids[i]);
        }
        strv_free(ids);
}

static void *scheduler_main(void *arg)
{
        struct serve *s = arg;
        unsigned max = s->cfg->max_running ? s->cfg->max_running : kiln_serve_default_concurrency();
        double last_expire = 0;
        pthread_mutex_lock(&s->lock);
        while (!*s->stop) {
                reap_done(s);
                double now = kiln_now();
                for (struct serve_run *r = s->runs; r; r = r->next) {
                        if (r->done || !r->deadline || now < r->deadline)
                                continue;
                        if (!r->cancel && !r->timed_out) {
                                r->timed_out = true;
                                r->deadline = now + KILL_GRACE_SEC;
                                kill(r->pid, SIGTERM);
                        } else {
                                kill(-r->pid, SIGKILL);
                                r->deadline = now + 5;
                        }
                }
                start_queued(s, max);
                if (now - last_expire > 30) {
                        expire(s);
                        last_expire = now;
                }
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 500 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&s->changed, &s->lock, &ts);
        }
        /* Stopping: each build gets SIGTERM and stays 'running' in the database (requeued at the
         * next start). */
        for (struct serve_run *r = s->runs; r; r = r->next)
                if (!r->done)
                        kill(r->pid, SIGTERM);
        double until = kiln_now() + KILL_GRACE_SEC;
        while (s->runs && kiln_now() < until) {
                reap_done(s);
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec++;
                pthread_cond_timedwait(&s->changed, &s->lock, &ts);
        }
        for (struct serve_run *r = s->runs; r; r = r->next)
                kill(-r->pid, SIGKILL);
        while (s->runs) {
                reap_done(s);
                if (s->runs) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec++;
                        pthread_cond_timedwait(&s->changed, &s->lock, &ts);
                }
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int serve_runner_start(struct serve *s, pthread_t *ret, struct kiln_error **reterr)
{
        if (pthread_create(ret, NULL, scheduler_main, s) != 0)
                return kiln_error_set(reterr, EAGAIN, "cannot start the scheduler thread");
        return 0;
}
