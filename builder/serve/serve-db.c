/* The durable queue: one SQLite file (WAL) under the state folder. A build is a row; its events
 * are rows numbered from 1 (the event stream's ids). Every function here runs with s->lock held:
 * one connection, one writer, no SQLITE_BUSY between kiln's own threads. */
#include <errno.h>
#include <json-c/json.h>

#include "serve-internal.h"

static const char schema[] =
        "CREATE TABLE IF NOT EXISTS builds("
        " id TEXT PRIMARY KEY, tenant TEXT NOT NULL, state TEXT NOT NULL,"
        " created REAL NOT NULL, started REAL, finished REAL,"
        " stage TEXT, step TEXT, percent INTEGER, format TEXT NOT NULL, boot_test INTEGER NOT NULL,"
        " callback_url TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, image_sha256 TEXT,"
        " events INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0,"
        " disk_bytes INTEGER NOT NULL DEFAULT 0, webhook TEXT);"
        "CREATE INDEX IF NOT EXISTS builds_tenant ON builds(tenant, state);"
        "CREATE TABLE IF NOT EXISTS events(build TEXT NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL,"
        " PRIMARY KEY(build, seq)) WITHOUT ROWID;";

int serve_db_exec(struct serve *s, const char *sql)
{
        char *msg = NULL;
        int r = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (r != SQLITE_OK) {
                serve_log(s, "database: %s", msg ? msg : sqlite3_errstr(r));
                sqlite3_free(msg);
                return -EIO;
        }
        return 0;
}

sqlite3_stmt *serve_db_prepare(struct serve *s, const char *sql)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
                serve_log(s, "database: cannot prepare '%s': %s", sql, sqlite3_errmsg(s->db));
                abort();
        }
        return st;
}

int serve_db_open(struct serve *s, struct kiln_error **reterr)
{
        _cleanup_free_ char *path = xasprintf("%s/serve.db", s->cfg->state_dir);
        int r = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (r != SQLITE_OK)
                return kiln_error_set(reterr, EIO, "cannot open '%s': %s", path,
                                      s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r));
        sqlite3_busy_timeout(s->db, 5000);
        /* WAL and synchronous=FULL: a committed row survives SIGKILL of kiln and a crash of the host. */
        if (serve_db_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") < 0 ||
            serve_db_exec(s, schema) < 0)
                return kiln_error_set(reterr, EIO, "cannot set up '%s': %s", path, sqlite3_errmsg(s->db));
        /* Columns added since the first schema: a database of an older kiln gains them. */
        static const char *const added[] = {"install_only INTEGER NOT NULL DEFAULT 0", NULL};
        for (size_t i = 0; added[i]; i++) {
                _cleanup_free_ char *sql = xasprintf("ALTER TABLE builds ADD COLUMN %s", added[i]);
                char *msg = NULL;
                if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK &&
                    !(msg && strstr(msg, "duplicate column"))) {
                        r = kiln_error_set(reterr, EIO, "cannot add a column to '%s': %s", path, msg ? msg : "?");
                        sqlite3_free(msg);
                        return r;
                }
                sqlite3_free(msg);
        }
        return 0;
}

void serve_db_close(struct serve *s)
{
        if (s->db)
                sqlite3_close(s->db);
        s->db = NULL;
}

void serve_db_recover(struct serve *s)
{
        /* A build left 'running' had its child killed with the service (PDEATHSIG): run it again,
         * once, from a clean folder; a second interruption fails it. */
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT id, attempts FROM builds WHERE state='running'");
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                int attempts = sqlite3_column_int(st, 1);
                sqlite3_stmt *u;
                if (attempts < 2) {
                        serve_sweep_build_dir(s, id);
                        u = serve_db_prepare(s, "UPDATE builds SET state='queued', started=NULL, stage=NULL, "
                                                "step=NULL, percent=NULL, error='interrupted: the service "
                                                "stopped while it ran; requeued' WHERE id=?1");
                        serve_log(s, "build %s was interrupted; requeued (attempt %d)", id, attempts + 1);
                } else {
                        u = serve_db_prepare(s, "UPDATE builds SET state='failed', finished=strftime('%s','now'),"
                                                " error='interrupted twice: the service stopped while it ran' "
                                                "WHERE id=?1");
                        serve_log(s, "build %s was interrupted twice; failed", id);
                }
                sqlite3_bind_text(u, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_step(u);
                sqlite3_finalize(u);
        }
        sqlite3_finalize(st);
}

int64_t serve_db_add_event(struct serve *s, const char *id, const char *json, bool must_keep)
{
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT events FROM builds WHERE id=?1");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        if (n < 0)
                return 0;
        if (n >= s->cfg->max_events && !must_keep) {
                st = serve_db_prepare(s, "UPDATE builds SET dropped=dropped+1 WHERE id=?1");
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_finalize(st);
                return 0;
        }
        serve_db_exec(s, "BEGIN");
        st = serve_db_prepare(s, "INSERT INTO events(build, seq, json) VALUES(?1, ?2, ?3)");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, n + 1);
        sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
        st = serve_db_prepare(s, "UPDATE builds SET events=?2 WHERE id=?1");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, n + 1);
        sqlite3_step(st);
        sqlite3_finalize(st);
        serve_db_exec(s, "COMMIT");
        return n + 1;
}

unsigned serve_db_count(struct serve *s, const char *tenant, const char *state)
{
        sqlite3_stmt *st = serve_db_prepare(
                s, "SELECT count(*) FROM builds WHERE (?1 IS NULL OR tenant=?1) AND (?2 IS NULL OR state=?2)");
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        unsigned n = sqlite3_step(st) == SQLITE_ROW ? (unsigned)sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        return n;
}

uint64_t serve_db_disk(struct serve *s, const char *tenant)
{
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT coalesce(sum(disk_bytes), 0) FROM builds WHERE tenant=?1");
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        uint64_t n = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        return n;
}

char *serve_db_text(struct serve *s, const char *id, const char *column)
{
        _cleanup_free_ char *sql = xasprintf("SELECT %s FROM builds WHERE id=?1", column);
        sqlite3_stmt *st = serve_db_prepare(s, sql);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        char *v = NULL;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
                v = xstrdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return v;
}

static void add_time(struct json_object *o, const char *key, sqlite3_stmt *st, int col)
{
        if (sqlite3_column_type(st, col) == SQLITE_NULL) {
                json_object_object_add(o, key, NULL);
                return;
        }
        time_t t = (time_t)sqlite3_column_double(st, col);
        struct tm tm;
        char buf[32];
        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_object_add(o, key, json_object_new_string(buf));
}

static void add_text(struct json_object *o, const char *key, sqlite3_stmt *st, int col)
{
        const unsigned char *v = sqlite3_column_text(st, col);
        json_object_object_add(o, key, v ? json_object_new_string((const char *)v) : NULL);
}

struct json_object *serve_db_build_json(struct serve *s, const char *tenant, const char *id)
{
        sqlite3_stmt *st = serve_db_prepare(
                s, "SELECT id, state, created, started, finished, stage, step, percent, format, boot_test, "
                   "error, attempts, image_sha256, events, callback_url, webhook, dropped, "
                   "coalesce(finished, strftime('%s','now')) - started, install_only FROM builds "
                   "WHERE id=?1 AND (?2 IS NULL OR tenant=?2)");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
                sqlite3_finalize(st);
                return NULL;
        }
        struct json_object *o = json_object_new_object();
        add_text(o, "id", st, 0);
        add_text(o, "state", st, 1);
        add_time(o, "created", st, 2);
        add_time(o, "started", st, 3);
        add_time(o, "finished", st, 4);
        add_text(o, "stage", st, 5);
        add_text(o, "step", st, 6);
        json_object_object_add(
                o, "percent",
                sqlite3_column_type(st, 7) == SQLITE_NULL ? NULL : json_object_new_int(sqlite3_column_int(st, 7)));
        add_text(o, "format", st, 8);
        json_object_object_add(o, "boot_test", json_object_new_boolean(sqlite3_column_int(st, 9)));
        json_object_object_add(o, "install_only", json_object_new_boolean(sqlite3_column_int(st, 18)));
        add_text(o, "error", st, 10);
        json_object_object_add(o, "attempts", json_object_new_int(sqlite3_column_int(st, 11)));
        add_text(o, "image_sha256", st, 12);
        json_object_object_add(o, "events", json_object_new_int64(sqlite3_column_int64(st, 13)));
        json_object_object_add(o, "events_dropped", json_object_new_int64(sqlite3_column_int64(st, 16)));
        add_text(o, "callback_url", st, 14);
        add_text(o, "webhook", st, 15);
        json_object_object_add(o, "seconds",
                               sqlite3_column_type(st, 17) == SQLITE_NULL
                                       ? NULL
                                       : json_object_new_double(sqlite3_column_double(st, 17)));
        struct json_object *links = json_object_new_object();
        const char *bid = (const char *)sqlite3_column_text(st, 0);
        const char *names[] = {"self", "events", "image", "manifest", "logs"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *l =
                        i == 0 ? xasprintf("/v1/builds/%s", bid) : xasprintf("/v1/builds/%s/%s", bid, names[i]);
                json_object_object_add(links, names[i], json_object_new_string(l));
        }
        json_object_object_add(o, "links", links);
        sqlite3_finalize(st);
        return o;
}
