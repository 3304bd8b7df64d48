/* kiln batch: many builds, each one `kiln build` process whose typed events (docs/events.md) come
 * back on a file descriptor; run here N at a time (batch.c) or as one Slurm job array
 * (batch-slurm.c). The library never prints: the CLI gets every event and every change. */
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "error.h"
#include "util.h"

enum kiln_batch_state { KILN_JOB_PENDING, KILN_JOB_RUNNING, KILN_JOB_SUCCEEDED, KILN_JOB_FAILED, KILN_JOB_INTERRUPTED };

struct kiln_batch_job {
        char *id;      /* the build id its events carry: [0-9a-z-], at most 32 */
        char *profile; /* the path given */
        char *release; /* the batch file's release column (kiln build --release), or NULL */
        char *output;  /* DIR/ID.FORMAT */
        char **argv;   /* the whole kiln build command line (argv[0] is kiln) */
        enum kiln_batch_state state;
        bool reused;
        char *key, *why, *error, *stage;
        int percent;
        double start, end;
        int exit_code;
        char *slurm_state; /* what Slurm said last (slurm executor) */
        /* private */
        pid_t pid;
        int ev_fd;
        struct kiln_buf partial;
        bool got_result, got_error;
};

struct kiln_batch {
        struct kiln_batch_job *jobs;
        size_t n;
        const char *out_dir;
        unsigned max_jobs;
        volatile sig_atomic_t *interrupted;
        /* Every event line of every build, re-serialised with the build's id; and any change. */
        void (*on_event)(void *userdata, const struct kiln_batch_job *j, const char *json_line);
        void (*on_change)(void *userdata, const struct kiln_batch *b);
        void *userdata;
};

/* Add a job: id from the profile's file name and the release when one is given (made unique),
 * output DIR/ID.FORMAT, argv = prefix (kiln and its global options, "build", options) +
 * [--release RELEASE] --events-fd 3 --build-id ID -o OUTPUT PROFILE. release may be NULL. */
void kiln_batch_add(struct kiln_batch *b, const char *profile, const char *release, const char *format,
                    char *const *prefix);
void kiln_batch_free(struct kiln_batch *b);

/* Run every job here, at most max_jobs at once; on *interrupted, SIGTERM to each running build
 * (which cleans up after itself) and wait for them all. 0 when the batch ran (jobs may have
 * failed). */
int kiln_batch_run_local(struct kiln_batch *b, struct kiln_error **reterr);
/* Submit one job array with sbatch (each task: kiln batch-task DIR/.batch INDEX), follow it with
 * squeue and scontrol/sacct, read each task's events from DIR/.batch, scancel on *interrupted. */
int kiln_batch_run_slurm(struct kiln_batch *b, const char *self, const char *partition, char *const *sbatch_args,
                         struct kiln_error **reterr);
/* The task side: exec the build of task INDEX with its events into DIR/.batch/INDEX.events. */
int kiln_batch_task_exec(const char *task_dir, unsigned index, struct kiln_error **reterr);

/* The jobs' events so far, read from fd (a pipe, or a growing file): update the job, pass each on. */
void kiln_batch_read_events(struct kiln_batch *b, struct kiln_batch_job *j, bool eof);
/* DIR/batch.json's text. */
char *kiln_batch_json(const struct kiln_batch *b);
const char *kiln_batch_state_name(enum kiln_batch_state s);
/* The default -j: from cores and memory (one build per 2 cores, and per 3 GiB available). */
unsigned kiln_batch_default_jobs(void);
