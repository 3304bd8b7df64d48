/* The operator's status page: the page at / (plain HTML and a little JS, nothing external) and
 * what it reads, GET /v1/status (every tenant's builds with their state, stage and progress; a
 * token marked operator=yes only), long-polled: with ?since=TAG the answer waits until the builds
 * change or ?wait seconds pass. */
#include <json-c/json.h>
#include <time.h>

#include "hash.h"
#include "serve-internal.h"

/* How far a build is, 0 to 100, from its stage and its installer's percent: a rough guide for a
 * person watching, not a promise (the install dominates a real build; a reuse ends it). */
static int progress_of(const char *state, const char *stage, int percent)
{
        static const struct {
                const char *stage;
                int at;
        } marks[] = {
                {"fetch", 5},    {"reuse", 50},     {"copy", 10},     {"inspect", 72}, {"bootloader", 78},
                {"convert", 84}, {"boot-test", 90}, {"manifest", 96}, {"publish", 98},
        };
        if (STREQ(state, "succeeded"))
                return 100;
        if (!stage)
                return 0;
        if (STREQ(stage, "install"))
                return 10 + (percent > 0 ? (percent > 100 ? 100 : percent) : 0) * 60 / 100;
        for (size_t i = 0; i < ELEMENTSOF(marks); i++)
                if (STREQ(stage, marks[i].stage))
                        return marks[i].at;
        return 0;
}

static char *status_now(struct serve *s, char tag[KILN_SHA256_HEX])
{
        struct json_object *list = json_object_new_array();
        sqlite3_stmt *st = serve_db_prepare(s, "SELECT id, tenant, state, stage, step, coalesce(percent, 0) "
                                               "FROM builds ORDER BY created DESC, rowid DESC LIMIT 200");
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *state = (const char *)sqlite3_column_text(st, 2);
                const char *stage = (const char *)sqlite3_column_text(st, 3);
                const char *step = (const char *)sqlite3_column_text(st, 4);
                int percent = sqlite3_column_int(st, 5);
                struct json_object *b = json_object_new_object();
                json_object_object_add(b, "id", json_object_new_string((const char *)sqlite3_column_text(st, 0)));
                json_object_object_add(b, "tenant", json_object_new_string((const char *)sqlite3_column_text(st, 1)));
                json_object_object_add(b, "state", json_object_new_string(state));
                json_object_object_add(b, "stage", stage ? json_object_new_string(stage) : NULL);
                json_object_object_add(b, "step", step ? json_object_new_string(step) : NULL);
                json_object_object_add(b, "percent", json_object_new_int(percent));
                json_object_object_add(b, "progress", json_object_new_int(progress_of(state, stage, percent)));
                json_object_array_add(list, b);
        }
        sqlite3_finalize(st);
        _cleanup_free_ char *text = xstrdup(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN));
        kiln_sha256_buf(text, strlen(text), tag);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "tag", json_object_new_string(tag));
        json_object_object_add(o, "running", json_object_new_int((int)s->n_running));
        json_object_object_add(o, "builds", list);
        char *out = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return out;
}

char *serve_status_json(struct serve *s, const char *since, unsigned wait_sec)
{
        char tag[KILN_SHA256_HEX];
        double until = kiln_now() + (wait_sec > 25 ? 25 : wait_sec);
        pthread_mutex_lock(&s->lock);
        char *out = status_now(s, tag);
        if (since && *since) {
                s->n_status_waiting++;
                while (STREQ(since, tag) && kiln_now() < until && !*s->stop) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec++;
                        pthread_cond_timedwait(&s->changed, &s->lock, &ts);
                        free(out);
                        out = status_now(s, tag);
                }
                s->n_status_waiting--;
        }
        pthread_mutex_unlock(&s->lock);
        return out;
}

/* Names and states go in with textContent, never as HTML: a tenant names its builds. */
const char serve_status_page[] =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kiln serve</title>\n"
        "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:.3em .8em;text-align:left;border-bottom:1px solid #ddd}"
        ".bar{width:12em;height:.9em;background:#eee;border-radius:3px}"
        ".fill{height:100%;background:#4a8;border-radius:3px}"
        ".failed .fill,.cancelled .fill{background:#c55}#msg{color:#a00}</style></head>\n"
        "<body><h1>kiln serve</h1><p id=\"msg\"></p><p id=\"sum\"></p>\n"
        "<table><thead><tr><th>build</th><th>tenant</th><th>state</th><th>stage</th><th>step</th>"
        "<th>progress</th></tr></thead><tbody id=\"builds\"></tbody></table>\n"
        "<script>\n"
        "'use strict';\n"
        "/* The operator's token comes in the address's fragment (#token=...), which no request carries. */\n"
        "const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';\n"
        "const rows = {};\n"
        "function cell(tr, i, text) { tr.children[i].textContent = text == null ? '' : String(text); }\n"
        "function render(d) {\n"
        "  const tb = document.getElementById('builds');\n"
        "  document.getElementById('sum').textContent = d.builds.length + ' builds, ' + d.running + ' running';\n"
        "  for (const b of d.builds) {\n"
        "    let tr = rows[b.id];\n"
        "    if (!tr) {\n"
        "      tr = document.createElement('tr');\n"
        "      for (let i = 0; i < 6; i++) tr.appendChild(document.createElement('td'));\n"
        "      const bar = document.createElement('div'); bar.className = 'bar';\n"
        "      const fill = document.createElement('div'); fill.className = 'fill'; fill.style.width = '0%';\n"
        "      bar.appendChild(fill); tr.children[5].appendChild(bar);\n"
        "      tr.id = 'b-' + b.id; rows[b.id] = tr; tb.appendChild(tr);\n"
        "    }\n"
        "    tr.className = b.state;\n"
        "    cell(tr, 0, b.id.slice(0, 12)); cell(tr, 1, b.tenant); cell(tr, 2, b.state);\n"
        "    cell(tr, 3, b.stage); cell(tr, 4, b.step);\n"
        "    const fill = tr.children[5].firstChild.firstChild;\n"
        "    fill.style.width = b.progress + '%';\n"
        "    /* every value the bar has shown, in order */\n"
        "    const seen = fill.dataset.seen ? fill.dataset.seen.split(',') : [];\n"
        "    if (seen[seen.length - 1] !== String(b.progress)) { seen.push(b.progress); fill.dataset.seen = "
        "seen.join(','); }\n"
        "  }\n"
        "}\n"
        "async function follow() {\n"
        "  let tag = '';\n"
        "  for (;;) {\n"
        "    try {\n"
        "      const r = await fetch('/v1/status?wait=20&since=' + tag, {headers: {Authorization: 'Bearer ' + "
        "token}});\n"
        "      if (!r.ok) throw new Error((await r.json()).error || r.status);\n"
        "      const d = await r.json();\n"
        "      document.getElementById('msg').textContent = '';\n"
        "      tag = d.tag; render(d);\n"
        "    } catch (e) {\n"
        "      document.getElementById('msg').textContent = 'cannot read the status: ' + e.message;\n"
        "      await new Promise(ok => setTimeout(ok, 2000));\n"
        "    }\n"
        "    await new Promise(ok => setTimeout(ok, 300));\n"
        "  }\n"
        "}\n"
        "follow();\n"
        "</script></body></html>\n";
