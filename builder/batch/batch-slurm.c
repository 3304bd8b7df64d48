/* kiln batch, the Slurm executor: one job array, one task per build. The batch script is kiln's
 * own two lines (kiln's path, the task folder, $SLURM_ARRAY_TASK_ID); each task's kiln build
 * command line is an argv file (NUL-separated) in the task folder, never a shell string. Every
 * Slurm command runs by argv. */
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.h"

static int write_file(const char *path, const char *data, size_t len, mode_t mode, struct kiln_error **reterr)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) < 0 || rename(tmp, path) < 0)
                return kiln_error_set(reterr, errno ? errno : EIO, "cannot write '%s': %s", path,
                                      strerror(errno ? errno : EIO));
        return 0;
}

int kiln_batch_task_exec(const char *task_dir, unsigned index, struct kiln_error **reterr)
{
        _cleanup_free_ char *path = xasprintf("%s/%u.argv", task_dir, index), *data = NULL;
        size_t len;
        int r = read_file_max(path, 1 << 20, &data, &len);
        if (r < 0)
                return kiln_error_set(reterr, -r, "cannot read the task '%s': %s", path, strerror(-r));
        char **argv = NULL;
        for (size_t i = 0; i < len; i += strlen(data + i) + 1)
                argv = strv_push(argv, xstrdup(data + i));
        if (!argv || strv_length(argv) < 2)
                return kiln_error_set(reterr, EINVAL, "'%s' is not a task", path);
        _cleanup_free_ char *ev = xasprintf("%s/%u.events", task_dir, index),
                            *log = xasprintf("%s/%u.log", task_dir, index);
        int efd = open(ev, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
        int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (efd < 0 || lfd < 0 || dup2(efd, 3) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", ev, strerror(errno));
        if (efd != 3)
                close(efd);
        execv("/proc/self/exe", argv);
        return kiln_error_set(reterr, errno, "cannot run kiln: %s", strerror(errno));
}

static char *run(char *const *argv, struct kiln_error **reterr)
{
        char *out = NULL, *err = NULL;
        struct kiln_command_opts o = {.stdin_fd = -1, .stdout_fd = -2, .stderr_fd = -2, .timeout_sec = 60};
        int r = kiln_command_run(argv, &o, &out, &err, reterr);
        if (r != 0) {
                kiln_error_set(reterr, EIO, "%s: %s", argv[0], err ? err : "failed");
                free(out);
                free(err);
                return NULL;
        }
        free(err);
        return out;
}

/* A task's line from `scontrol show job -o` or sacct: its state, once it has one. */
static void task_state(struct kiln_batch_job *j, const char *state)
{
        free(j->slurm_state);
        j->slurm_state = xstrdup(state);
        if (STREQ(state, "RUNNING") && j->state == KILN_JOB_PENDING) {
                j->state = KILN_JOB_RUNNING;
                j->start = kiln_now();
        }
}

static bool terminal(const char *s)
{
        static const char *const t[] = {"COMPLETED", "FAILED",        "CANCELLED", "TIMEOUT",  "NODE_FAIL",
                                        "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", NULL};
        for (size_t i = 0; t[i]; i++)
                if (str_has_prefix(s, t[i]))
                        return true;
        return false;
}

/* scontrol show job -o JOBID: one line per array task, "... ArrayTaskId=N ... JobState=S ... ExitCode=A:B". */
static void follow_scontrol(struct kiln_batch *b, const char *jobid)
{
        char *argv[] = {"scontrol", "show", "job", "-o", (char *)jobid, NULL};
        _cleanup_free_ char *out = run(argv, NULL);
        for (char *line = out, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                const char *t = strstr(line, "ArrayTaskId="), *s = strstr(line, "JobState="),
                           *e = strstr(line, "ExitCode=");
                if (!t || !s)
                        continue;
                unsigned idx;
                char state[64];
                if (sscanf(t, "ArrayTaskId=%u", &idx) != 1 || sscanf(s, "JobState=%63s", state) != 1 || idx >= b->n)
                        continue;
                task_state(&b->jobs[idx], state);
                int code;
                if (e && terminal(state) && sscanf(e, "ExitCode=%d", &code) == 1)
                        b->jobs[idx].exit_code = code;
        }
}

int kiln_batch_run_slurm(struct kiln_batch *b, const char *self, const char *partition, char *const *sbatch_args,
                         struct kiln_error **reterr)
{
        _cleanup_free_ char *tdir = xasprintf("%s/.batch", b->out_dir), *logs = xasprintf("%s/logs", b->out_dir);
        if ((mkdir(tdir, 0755) < 0 && errno != EEXIST) || (mkdir(logs, 0755) < 0 && errno != EEXIST))
                return kiln_error_set(reterr, errno, "cannot create '%s': %s", tdir, strerror(errno));
        for (size_t i = 0; i < b->n; i++) {
                struct kiln_buf a = {0};
                for (size_t k = 0; b->jobs[i].argv[k]; k++)
                        buf_append(&a, b->jobs[i].argv[k], strlen(b->jobs[i].argv[k]) + 1);
                _cleanup_free_ char *path = xasprintf("%s/%zu.argv", tdir, i);
                size_t alen = a.len;
                _cleanup_free_ char *data = buf_steal(&a);
                if (write_file(path, data, alen, 0644, reterr) < 0)
                        return -EIO;
                _cleanup_free_ char *ev = xasprintf("%s/%zu.events", tdir, i);
                unlink(ev);
        }
        _cleanup_free_ char *qself = shell_quote(self), *qdir = shell_quote(tdir);
        _cleanup_free_ char *script =
                xasprintf("#!/bin/sh\nexec %s batch-task %s \"$SLURM_ARRAY_TASK_ID\"\n", qself, qdir);
        _cleanup_free_ char *spath = xasprintf("%s/task.sh", tdir);
        if (write_file(spath, script, strlen(script), 0755, reterr) < 0)
                return -EIO;

        char **argv = NULL;
        argv = strv_push(argv, xstrdup("sbatch"));
        argv = strv_push(argv, xstrdup("--parsable"));
        argv = strv_push(argv, xstrdup("--job-name=kiln-batch"));
        argv = strv_push(argv, xasprintf("--array=0-%zu%%%u", b->n - 1, b->max_jobs ? b->max_jobs : (unsigned)b->n));
        argv = strv_push(argv, xasprintf("--output=%s/slurm-%%A_%%a.out", logs));
        argv = strv_push(argv, xasprintf("--chdir=%s", b->out_dir));
        if (partition)
                argv = strv_push(argv, xasprintf("--partition=%s", partition));
        for (size_t i = 0; sbatch_args && sbatch_args[i]; i++)
                argv = strv_push(argv, xstrdup(sbatch_args[i]));
        argv = strv_push(argv, xstrdup(spath));
        _cleanup_free_ char *out = run(argv, reterr);
        strv_free(argv);
        if (!out)
                return kiln_error_wrap(reterr, "cannot submit the job array");
        char *jobid = out;
        jobid[strcspn(jobid, ";\n")] = '\0';
        if (!*jobid || strspn(jobid, "0123456789") != strlen(jobid))
                return kiln_error_set(reterr, EBADMSG, "sbatch printed no job id ('%s')", out);
        _cleanup_free_ char *idpath = xasprintf("%s/jobid", tdir), *idline = xasprintf("%s\n", jobid);
        write_file(idpath, idline, strlen(idline), 0644, NULL);
        for (size_t i = 0; i < b->n; i++)
                b->jobs[i].start = kiln_now();
        if (b->on_change)
                b->on_change(b->userdata, b);

        bool cancelled = false;
        for (unsigned tick = 0;; tick++) {
                if (b->interrupted && *b->interrupted && !cancelled) {
                        char *sc[] = {"scancel", jobid, NULL};
                        free(run(sc, NULL)); /* its output says nothing kiln needs */
                        cancelled = true;
                }
                for (size_t i = 0; i < b->n; i++) {
                        struct kiln_batch_job *j = &b->jobs[i];
                        if (j->ev_fd < 0) {
                                _cleanup_free_ char *ev = xasprintf("%s/%zu.events", tdir, i);
                                j->ev_fd = open(ev, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        }
                        kiln_batch_read_events(b, j, false);
                }
                if (tick % 4 == 0)
                        follow_scontrol(b, jobid);
                bool done = true;
                for (size_t i = 0; i < b->n; i++)
                        done &= b->jobs[i].slurm_state && terminal(b->jobs[i].slurm_state);
                if (b->on_change)
                        b->on_change(b->userdata, b);
                if (done)
                        break;
                usleep(250 * 1000);
        }
        for (size_t i = 0; i < b->n; i++) {
                struct kiln_batch_job *j = &b->jobs[i];
                kiln_batch_read_events(b, j, true);
                j->end = kiln_now();
                if (STREQ(j->slurm_state, "COMPLETED") && j->exit_code == 0 && j->got_result)
                        j->state = KILN_JOB_SUCCEEDED;
                else if (cancelled)
                        j->state = KILN_JOB_INTERRUPTED;
                else
                        j->state = KILN_JOB_FAILED;
                if (j->state != KILN_JOB_SUCCEEDED && !j->error)
                        j->error = xasprintf("slurm task %zu: %s, exit %d (see .batch/%zu.log)", i, j->slurm_state,
                                             j->exit_code, i);
                /* The task's log, where the local executor puts it. */
                _cleanup_free_ char *from = xasprintf("%s/%zu.log", tdir, i), *to = xasprintf("%s/%s.log", logs, j->id);
                rename(from, to);
        }
        return 0;
}
