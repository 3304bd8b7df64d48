/* The build key: what goes into it (key.h lists the inputs), its JSON form and its diff. */
#include "key.h"

#include <errno.h>
#include <json-c/json.h>

#include "preseed.h"
#include "manifest.h"

#ifndef KILN_VERSION
#define KILN_VERSION "dev"
#endif

static void add_input(struct kiln_build_key *k, const char *name, const void *data, size_t len, const char *value)
{
        k->inputs = xrealloc(k->inputs, (k->n + 1) * sizeof(*k->inputs));
        struct kiln_key_input *in = &k->inputs[k->n++];
        char hex[KILN_SHA256_HEX];
        kiln_sha256_buf(data, len, hex);
        *in = (struct kiln_key_input){
                .name = xstrdup(name), .sha256 = xstrdup(hex), .value = value ? xstrdup(value) : NULL};
}

static void add_text(struct kiln_build_key *k, const char *name, const char *text, bool show)
{
        add_input(k, name, text, strlen(text), show ? text : NULL);
}

static void finish_key(struct kiln_build_key *k)
{
        struct kiln_sha256 *h = kiln_sha256_new();
        static const char head[] = "kiln-build-key 1\n";
        kiln_sha256_update(h, head, sizeof(head) - 1);
        for (size_t i = 0; i < k->n; i++) {
                _cleanup_free_ char *line = xasprintf("%s %s\n", k->inputs[i].name, k->inputs[i].sha256);
                kiln_sha256_update(h, line, strlen(line));
        }
        kiln_sha256_finish(h, k->hex);
}

void kiln_build_key_compute(const struct kiln_profile *p, const char *preseed, const struct kiln_media *m,
                            const struct kiln_snapshot *snap, const struct kiln_key_opts *o, struct kiln_build_key *ret)
{
        struct kiln_build_key k = {0};
        add_text(&k, "kiln", KILN_VERSION, true);
        _cleanup_free_ char *pj = kiln_profile_json(p);
        add_text(&k, "profile", pj, false);
        /* Comment lines are not read by debconf, and one names the profile's path as it was
         * spelt ("# from: p.yaml"): the same profile by another path is the same image. */
        struct kiln_buf pb = {0};
        for (const char *l = preseed; *l;) {
                size_t n = strcspn(l, "\n");
                if (*l != '#')
                        buf_append(&pb, l, n), buf_append(&pb, "\n", 1);
                l += n + (l[n] == '\n');
        }
        _cleanup_free_ char *canon = buf_steal(&pb);
        add_text(&k, "preseed", canon ? canon : "", false);

        /* The files the preseed refers to, by content: a key file edited in place changes the key. */
        struct kiln_initrd_file *files = NULL;
        size_t nf = 0;
        kiln_preseed_files(p, &files, &nf);
        struct kiln_buf fb = {0};
        for (size_t i = 0; i < nf; i++) {
                char hex[KILN_SHA256_HEX] = "unreadable";
                if (files[i].source) {
                        if (kiln_sha256_file(files[i].source, hex, NULL, NULL) < 0)
                                snprintf(hex, sizeof(hex), "unreadable");
                } else {
                        kiln_sha256_buf(files[i].data, files[i].len, hex);
                }
                buf_printf(&fb, "%s %o %s\n", files[i].path, files[i].mode, hex);
        }
        kiln_initrd_files_free(files, nf);
        _cleanup_free_ char *ft = buf_steal(&fb);
        add_text(&k, "files", ft ? ft : "", false);

        add_input(&k, "kernel", m->kernel_sha256, strlen(m->kernel_sha256), m->kernel_sha256);
        add_input(&k, "initrd", m->initrd_sha256, strlen(m->initrd_sha256), m->initrd_sha256);

        for (size_t i = 0; snap && i < snap->n; i++) {
                const struct kiln_pin *pin = snap->pins[i];
                _cleanup_free_ char *name = xasprintf("release %s %s", pin->base, pin->suite);
                _cleanup_free_ char *v = NULL;
                if (!pin->release)
                        v = xstrdup("absent");
                else if (pin->inrelease[0])
                        v = xasprintf("InRelease %s", pin->inrelease);
                else
                        v = xasprintf("Release %s Release.gpg %s", pin->release_file, pin->release_gpg);
                add_text(&k, name, v, true);
        }
        add_text(&k, "format", o->format ? o->format : "qcow2", true);
        add_text(&k, "finish", o->finish ? o->finish : "", true);
        finish_key(&k);
        *ret = k;
}

int kiln_build_key_for(const struct kiln_profile *p, const char *preseed, const struct kiln_media *m,
                       struct kiln_cache *cache, const struct kiln_key_opts *o, kiln_notice_fn notice, void *userdata,
                       struct kiln_build_key *ret, struct kiln_error **reterr)
{
        struct kiln_snapshot snap = {0};
        int r = kiln_snapshot_for(p, m->pin, cache, notice, userdata, &snap, reterr);
        if (r < 0)
                return kiln_error_wrap(reterr, "the build key");
        kiln_build_key_compute(p, preseed, m, &snap, o, ret);
        kiln_snapshot_clear(&snap);
        return 0;
}

void kiln_build_key_clear(struct kiln_build_key *k)
{
        for (size_t i = 0; i < k->n; i++) {
                free(k->inputs[i].name);
                free(k->inputs[i].sha256);
                free(k->inputs[i].value);
        }
        free(k->inputs);
        *k = (struct kiln_build_key){0};
}

char *kiln_build_key_json(const struct kiln_build_key *k)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        json_object_object_add(o, "sha256", json_object_new_string(k->hex));
        for (size_t i = 0; i < k->n; i++) {
                struct json_object *in = json_object_new_object();
                json_object_object_add(in, "name", json_object_new_string(k->inputs[i].name));
                json_object_object_add(in, "sha256", json_object_new_string(k->inputs[i].sha256));
                if (k->inputs[i].value)
                        json_object_object_add(in, "value", json_object_new_string(k->inputs[i].value));
                json_object_array_add(a, in);
        }
        json_object_object_add(o, "inputs", a);
        char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

static const char *jget(struct json_object *o, const char *key)
{
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int kiln_build_key_parse(const char *json, struct kiln_build_key *ret)
{
        struct json_object *o = json_tokener_parse(json), *a;
        struct kiln_build_key k = {0};
        const char *hex = o ? jget(o, "sha256") : NULL;
        if (!hex || strlen(hex) != KILN_SHA256_HEX - 1 || !json_object_object_get_ex(o, "inputs", &a) ||
            !json_object_is_type(a, json_type_array)) {
                json_object_put(o);
                return -EBADMSG;
        }
        memcpy(k.hex, hex, KILN_SHA256_HEX);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *in = json_object_array_get_idx(a, i);
                const char *name = jget(in, "name"), *sha = jget(in, "sha256"), *value = jget(in, "value");
                if (!name || !sha)
                        continue;
                k.inputs = xrealloc(k.inputs, (k.n + 1) * sizeof(*k.inputs));
                k.inputs[k.n++] = (struct kiln_key_input){
                        .name = xstrdup(name), .sha256 = xstrdup(sha), .value = value ? xstrdup(value) : NULL};
        }
        json_object_put(o);
        *ret = k;
        return 0;
}

static const struct kiln_key_input *find(const struct kiln_build_key *k, const char *name)
{
        for (size_t i = 0; i < k->n; i++)
                if (STREQ(k->inputs[i].name, name))
                        return &k->inputs[i];
        return NULL;
}

char *kiln_build_key_diff(const struct kiln_build_key *prev, const struct kiln_build_key *cur)
{
        struct kiln_buf b = {0};
        for (size_t i = 0; i < cur->n; i++) {
                const struct kiln_key_input *was = find(prev, cur->inputs[i].name);
                if (!was)
                        buf_printf(&b, "new: %s\n", cur->inputs[i].name);
                else if (!STREQ(was->sha256, cur->inputs[i].sha256)) {
                        if (was->value && cur->inputs[i].value)
                                buf_printf(&b, "changed: %s (%s -> %s)\n", cur->inputs[i].name, was->value,
                                           cur->inputs[i].value);
                        else
                                buf_printf(&b, "changed: %s\n", cur->inputs[i].name);
                }
        }
        for (size_t i = 0; i < prev->n; i++)
                if (!find(cur, prev->inputs[i].name))
                        buf_printf(&b, "gone: %s\n", prev->inputs[i].name);
        char *s = buf_steal(&b);
        return s ? s : xstrdup("");
}
