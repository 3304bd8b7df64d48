/* The manifest, written with json-c. Lists are sorted where their order would otherwise depend on
 * timing (the proxy serves in whatever order the installer asked), so equal inputs give equal text. */
#include "manifest.h"

#include <json-c/json.h>

#include "hash.h"

#ifndef KILN_VERSION
#define KILN_VERSION "dev"
#endif

static struct json_object *jstr(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *jstrv(char *const *v)
{
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
        json_object_object_add(o, k, v);
}

static struct json_object *profile_object(const struct kiln_profile *p)
{
        struct json_object *o = json_object_new_object();
        add(o, "name", jstr(p->name));
        add(o, "distro", jstr(p->distro));
        add(o, "release", jstr(p->release));
        add(o, "arch", jstr(p->arch));
        add(o, "mirror", jstr(p->mirror));
        add(o, "mirror_from_host", json_object_new_boolean(p->mirror_from_host));
        add(o, "mirror_keyring", jstr(p->mirror_keyring));
        add(o, "security", jstr(p->security));
        add(o, "hostname", jstr(p->hostname));
        add(o, "domain", jstr(p->domain));
        add(o, "locale", jstr(p->locale));
        add(o, "keymap", jstr(p->keymap));
        add(o, "timezone", jstr(p->timezone));
        add(o, "kernel_args", jstrv(p->kernel_args));
        struct json_object *disk = json_object_new_object();
        add(disk, "size", json_object_new_uint64(p->disk.size));
        add(disk, "layout", jstr(kiln_layout_name(p->disk.layout)));
        add(disk, "filesystem", jstr(p->disk.filesystem));
        add(disk, "swap", p->disk.swap_set ? json_object_new_uint64(p->disk.swap) : jstr("recipe"));
        add(o, "disk", disk);
        struct json_object *users = json_object_new_array();
        for (size_t i = 0; i < p->n_users; i++) {
                const struct kiln_user *u = &p->users[i];
                struct json_object *j = json_object_new_object();
                add(j, "name", jstr(u->name));
                /* The hash itself stays out: a manifest travels further than the image. */
                add(j, "password", jstr(u->password ? "set" : "locked"));
                add(j, "ssh_keys", jstrv(u->ssh_keys));
                add(j, "sudo",
                    jstr(u->sudo == KILN_SUDO_NOPASSWD ? "nopasswd"
                         : u->sudo == KILN_SUDO_YES    ? "yes"
                                                       : "no"));
                add(j, "shell", jstr(u->shell));
                json_object_array_add(users, j);
        }
        add(o, "users", users);
        struct json_object *root = json_object_new_object();
        add(root, "password", jstr(p->root.password ? "set" : "locked"));
        add(root, "ssh_keys", jstrv(p->root.ssh_keys));
        add(o, "root", root);
        add(o, "packages", jstrv(p->packages));
        add(o, "tasks", jstrv(p->tasks));
        struct json_object *repos = json_object_new_array();
        for (size_t i = 0; i < p->n_repos; i++) {
                const struct kiln_repo *r = &p->repos[i];
                struct json_object *j = json_object_new_object();
                add(j, "name", jstr(r->name));
                add(j, "url", jstr(r->url));
                add(j, "suite", jstr(r->suite));
                add(j, "components", jstrv(r->components));
                if (r->key) {
                        char hex[KILN_SHA256_HEX];
                        kiln_sha256_buf(r->key, strlen(r->key), hex);
                        add(j, "key_sha256", jstr(hex));
                }
                add(j, "key_file", jstr(r->key_file));
                json_object_array_add(repos, j);
        }
        add(o, "repos", repos);
        add(o, "late_commands", jstrv(p->late_commands));
        add(o, "bootloader", jstr(p->bootloader == KILN_BOOTLOADER_HOST ? "host" : "guest"));
        struct json_object *inst = json_object_new_object();
        add(inst, "version", jstr(p->installer.version));
        add(inst, "sha256", jstr(p->installer.sha256));
        add(inst, "extra_args", jstrv(p->installer.extra_args));
        add(inst, "early_commands", jstrv(p->installer.early_commands));
        add(inst, "udebs", jstrv(p->installer.udebs));
        add(inst, "kernel", jstr(p->installer.kernel));
        add(inst, "initrd", jstr(p->installer.initrd));
        add(inst, "iso", jstr(p->installer.iso));
        add(o, "installer", inst);
        struct json_object *vm = json_object_new_object();
        add(vm, "memory", json_object_new_uint64(p->vm.memory));
        add(vm, "cpus", json_object_new_int((int)p->vm.cpus));
        add(vm, "hypervisor", jstr(p->vm.hypervisor));
        add(vm, "accel", jstr(p->vm.accel));
        add(o, "vm", vm);
        struct json_object *pre = json_object_new_array();
        for (size_t i = 0; i < p->n_preseed; i++) {
                const struct kiln_preseed_entry *e = &p->preseed[i];
                _cleanup_free_ char *line = xasprintf("%s %s %s %s", e->owner, e->question, e->type, e->value);
                json_object_array_add(pre, json_object_new_string(line));
        }
        add(o, "preseed", pre);
        return o;
}

char *kiln_profile_json(const struct kiln_profile *p)
{
        struct json_object *o = profile_object(p);
        char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

static int cmp_served(const void *a, const void *b)
{
        const struct kiln_proxy_served *x = *(const struct kiln_proxy_served *const *)a,
                                       *y = *(const struct kiln_proxy_served *const *)b;
        int c = strcmp(x->url, y->url);
        return c ? c : strcmp(x->method, y->method);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

char *kiln_manifest_json(const struct kiln_manifest_in *in)
{
        struct json_object *m = json_object_new_object();
        add(m, "kiln_version", jstr(KILN_VERSION));

        struct json_object *prof = profile_object(in->profile);
        const char *ptext =
                json_object_to_json_string_ext(prof, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char phex[KILN_SHA256_HEX];
        kiln_sha256_buf(ptext, strlen(ptext), phex);
        struct json_object *pw = json_object_new_object();
        add(pw, "sha256", jstr(phex));
        struct json_object *files = json_object_new_array();
        for (size_t i = 0; in->profile->files && in->profile->files[i]; i++) {
                struct json_object *f = json_object_new_object();
                char hex[KILN_SHA256_HEX];
                add(f, "path", jstr(in->profile->files[i]));
                if (kiln_sha256_file(in->profile->files[i], hex, NULL, NULL) == 0)
                        add(f, "sha256", jstr(hex));
                json_object_array_add(files, f);
        }
        add(pw, "files", files);
        add(pw, "expanded", prof);
        add(m, "profile", pw);

        if (in->media) {
                const struct kiln_media *md = in->media;
                struct json_object *i = json_object_new_object();
                add(i, "package", jstr(md->package));
                add(i, "version", jstr(md->version));
                add(i, "deb_sha256", md->package ? jstr(md->deb_sha256) : NULL);
                add(i, "trust", jstr(md->trust));
                add(i, "kernel_version", jstr(md->kernel_version));
                add(i, "kernel_sha256", jstr(md->kernel_sha256));
                add(i, "initrd_sha256", jstr(md->initrd_sha256));
                add(m, "installer", i);
                struct json_object *mi = json_object_new_object();
                add(mi, "url", jstr(in->profile->mirror));
                add(mi, "suite", jstr(in->profile->release));
                add(mi, "release_date", jstr(md->release_date));
                add(mi, "release_signer", jstr(md->release_signer));
                add(m, "mirror", mi);
        }

        /* Every file served, once, sorted; what failed or was refused is not an input. */
        const struct kiln_proxy_served **sv = xcalloc(in->n_served + 1, sizeof(*sv));
        size_t ns = 0;
        for (size_t i = 0; i < in->n_served; i++)
                if (in->served[i].status == 200 && in->served[i].sha256 && STREQ(in->served[i].method, "GET"))
                        sv[ns++] = &in->served[i];
        qsort(sv, ns, sizeof(*sv), cmp_served);
        struct json_object *served = json_object_new_array();
        for (size_t i = 0; i < ns; i++) {
                if (i > 0 && STREQ(sv[i]->url, sv[i - 1]->url))
                        continue;
                struct json_object *f = json_object_new_object();
                add(f, "url", jstr(sv[i]->url));
                add(f, "sha256", jstr(sv[i]->sha256));
                add(f, "bytes", json_object_new_uint64(sv[i]->bytes));
                json_object_array_add(served, f);
        }
        free(sv);
        add(m, "served", served);

        if (in->inspection) {
                const struct kiln_inspection *s = in->inspection;
                struct json_object *os = json_object_new_object();
                add(os, "product", jstr(s->product));
                add(os, "distro", jstr(s->distro));
                _cleanup_free_ char *ver = xasprintf("%d.%d", s->major, s->minor);
                add(os, "version", jstr(ver));
                add(os, "hostname", jstr(s->hostname));
                add(os, "installer_finished", json_object_new_boolean(s->installer_finished));
                add(m, "os", os);
                size_t n = strv_length(s->packages);
                char **sorted = xcalloc(n + 1, sizeof(char *));
                memcpy(sorted, s->packages, n * sizeof(char *));
                qsort(sorted, n, sizeof(char *), cmp_str);
                struct json_object *pk = json_object_new_object();
                for (size_t i = 0; i < n; i++) {
                        const char *eq = strchr(sorted[i], '=');
                        if (!eq)
                                continue;
                        _cleanup_free_ char *name = xstrndup(sorted[i], (size_t)(eq - sorted[i]));
                        add(pk, name, jstr(eq + 1));
                }
                free(sorted);
                add(m, "packages", pk);
        }

        struct json_object *img = json_object_new_object();
        add(img, "file", jstr(in->image));
        add(img, "format", jstr(in->format));
        add(img, "bootloader", jstr(in->bootloader));
        add(img, "sha256", jstr(in->image_sha256));
        add(m, "image", img);
        if (in->build_key_json)
                add(m, "build_key", json_tokener_parse(in->build_key_json));

        struct json_object *t = json_object_new_object();
        double total = 0;
        for (size_t i = 0; i < in->n_timings; i++) {
                char num[32];
                snprintf(num, sizeof(num), "%.1f", in->timings[i].seconds);
                add(t, in->timings[i].stage, json_object_new_double_s(in->timings[i].seconds, num));
                total += in->timings[i].seconds;
        }
        char num[32];
        snprintf(num, sizeof(num), "%.1f", total);
        add(t, "total", json_object_new_double_s(total, num));
        add(m, "timings", t);

        char *s =
                xasprintf("%s\n", json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(m);
        return s;
}
