/* Profiles: the extends chain, checks that span keys, and the expanded profile with every default. */
#include "profile.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>

#include "apt-sources.h"
#include "profile-schema.h"

#define EXTENDS_MAX_DEPTH 16

struct chain {
        char *real[EXTENDS_MAX_DEPTH + 1];
        char *shown[EXTENDS_MAX_DEPTH + 1];
        size_t n;
};

struct loader {
        struct kiln_arena *arena;
        struct chain c;
        struct kiln_path_policy pol;
        struct kiln_schema_ctx ctx;
        const struct kiln_profile_options *opts;
};

/* Collapse "." and "dir/.." lexically, as a person would write the path (leading ".." stay). */
static char *path_tidy(const char *path)
{
        bool abs = path[0] == '/';
        _cleanup_free_ char *copy = xstrdup(path);
        char **parts = NULL;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                size_t n = strv_length(parts);
                if (STREQ(c, "."))
                        continue;
                if (STREQ(c, "..") && n > 0 && !STREQ(parts[n - 1], "..")) {
                        free(parts[n - 1]);
                        parts[n - 1] = NULL;
                        continue;
                }
                if (STREQ(c, "..") && abs)
                        continue;
                parts = strv_push(parts, xstrdup(c));
        }
        _cleanup_free_ char *joined = strv_join(parts, "/");
        strv_free(parts);
        if (abs)
                return xasprintf("/%s", joined);
        return xstrdup(*joined ? joined : ".");
}

/* A display name for a path: control characters and quotes never reach a message raw. */
static char *display_name(const char *path)
{
        _cleanup_free_ char *t = path_tidy(path);
        struct kiln_buf b = {0};
        for (const unsigned char *c = (const unsigned char *)t; *c; c++) {
                if (*c < 0x20 || *c == 0x7f || *c == '\'' || *c == '\\')
                        buf_printf(&b, "\\x%02x", *c);
                else
                        buf_append(&b, (const char *)c, 1);
        }
        return buf_steal(&b);
}

static char *parent_display(const char *child, const char *rel)
{
        if (rel[0] == '/')
                return display_name(rel);
        _cleanup_free_ char *copy = xstrdup(child);
        _cleanup_free_ char *joined = xasprintf("%s/%s", dirname(copy), rel);
        return display_name(joined);
}

/* Load a file (the named profile when from is NULL, else what from's 'extends' names) and what it
 * extends; return the merged tree (NULL for an empty chain), or 1 for the named file alone when
 * something it extends failed (that error is reported). A file reached through 'extends'
 * that fails to load as a profile is reported as one error at the 'extends' line that named it,
 * with nothing of its content: it may be any file kiln can read, and its lines must not come
 * back in messages. */
static int load_chain(struct loader *L, const char *shown, const char *data, size_t len, const struct kiln_node *from,
                      const char *from_real, struct kiln_node **ret, struct kiln_error **reterr)
{
        _cleanup_free_ char *buf = NULL, *real = NULL, *why = NULL;
        int r;
        if (!from) {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)))
                        return kiln_error_at(reterr, errno, shown, 0, 0, "cannot tell the current folder: %s",
                                             strerror(errno));
                if (data) {
                        /* An in-memory profile: its name only places what it extends. */
                        real = shown[0] == '/' ? path_tidy(shown) : xasprintf("%s/%s", cwd, shown);
                        char *t = path_tidy(real);
                        free(real), real = t;
                } else {
                        /* The operator named this file: open it as given, but never block or read a device. */
                        struct kiln_path_policy any = {.root_fd = -1, .trust = true};
                        _cleanup_free_ char *here = xasprintf("%s/.", cwd);
                        r = kiln_profile_file_read(&any, here, shown, KILN_FILE_PROFILE, &buf, &len, &real, &why);
                        if (r == -EFBIG)
                                return kiln_error_at(reterr, EFBIG, shown, 0, 0, "file is larger than 1 MiB");
                        if (r < 0)
                                return kiln_error_at(reterr, -r, shown, 0, 0, "cannot read: %s", why);
                        data = buf;
                }
                if (L->opts && L->opts->untrusted) {
                        r = kiln_path_policy_init_library(&L->pol, L->opts->library, reterr);
                        L->pol.untrusted = xstrdup(real);
                } else
                        r = kiln_path_policy_init(&L->pol, L->opts ? L->opts->profile_root : NULL,
                                                  L->opts && L->opts->trust_paths, real, reterr);
                if (r < 0)
                        return r;
        } else {
                /* An untrusted profile's 'extends' names a profile of the library, from its top. */
                _cleanup_free_ char *lib_base = NULL;
                size_t n = L->pol.root ? strlen(L->pol.root) : 0;
                if (L->pol.no_files && n && !(strncmp(from_real, L->pol.root, n) == 0 && from_real[n] == '/'))
                        from_real = lib_base = xasprintf("%s/.", L->pol.root);
                r = kiln_profile_file_read(&L->pol, from_real, from->scalar, KILN_FILE_PROFILE, &buf, &len, &real,
                                           &why);
                if (r < 0)
                        return kiln_error_at(reterr, -r, from->file, from->line, from->column,
                                             "'extends': cannot use '%s': %s", from->scalar, why);
                data = buf;
        }
        struct chain *c = &L->c;
        for (size_t i = 0; i < c->n; i++)
                if (STREQ(c->real[i], real)) {
                        struct kiln_buf b = {0};
                        for (size_t k = i; k < c->n; k++)
                                buf_printf(&b, "%s -> ", c->shown[k]);
                        buf_puts(&b, shown);
                        _cleanup_free_ char *cycle = buf_steal(&b);
                        if (!from)
                                return kiln_error_set(reterr, ELOOP, "'extends' makes a cycle: %s", cycle);
                        return kiln_error_at(reterr, ELOOP, from->file, from->line, from->column,
                                             "'extends' makes a cycle: %s", cycle);
                }
        /* Only an extended file can be one too many (from is set); gcc -fanalyzer cannot tell. */
        if (c->n == EXTENDS_MAX_DEPTH && from)
                return kiln_error_at(reterr, ELOOP, from->file, from->line, from->column,
                                     "'extends' chain is deeper than %d files", EXTENDS_MAX_DEPTH);
        c->real[c->n] = xstrdup(real);
        c->shown[c->n] = xstrdup(shown);
        c->n++;
        L->ctx.shown = c->shown;
        L->ctx.real = c->real;
        L->ctx.n_chain = c->n;

        struct kiln_node *root = NULL;
        struct kiln_error *own = NULL;
        r = kiln_yaml_parse(L->arena, shown, data, len, &root, from ? &own : reterr);
        if (r == 0 && root && root->type != KILN_NODE_MAP)
                r = kiln_error_at(from ? &own : reterr, EINVAL, root->file, root->line, root->column,
                                  "a profile is a map of keys, not %s", kiln_node_type_name(root));
        if (r == 0 && from && root && kiln_schema_check(root, &L->ctx, &own) > 0)
                r = -EINVAL;
        if (from && r < 0) {
                kiln_error_free(own);
                return kiln_error_at(reterr, EINVAL, from->file, from->line, from->column,
                                     "'extends': '%s' does not load as a profile; kiln shows nothing of a file it "
                                     "extends that fails, so check that file on its own",
                                     from->scalar);
        }
        if (r < 0)
                return r;

        const struct kiln_node *ext = kiln_node_get(root, "extends");
        if (!ext || ext->type == KILN_NODE_NULL) {
                *ret = root;
                return 0;
        }
        if (ext->type != KILN_NODE_SCALAR || !*ext->scalar)
                return kiln_error_at(reterr, EINVAL, ext->file, ext->line, ext->column,
                                     "'extends' must be the path of another profile, not %s", kiln_node_type_name(ext));
        _cleanup_free_ char *parent_shown = parent_display(shown, ext->scalar);
        struct kiln_node *parent = NULL;
        r = load_chain(L, parent_shown, NULL, 0, ext, real, &parent, reterr);
        if (r < 0 && from) /* reported at this 'extends'; stop below a file that is not the named one */
                return r;
        /* The named profile's own problems are still worth reporting: go on without the parent, once. */
        *ret = kiln_node_merge(L->arena, r < 0 ? NULL : parent, root);
        return r < 0 ? 1 : r;
}

static void loader_clear(struct loader *L)
{
        for (size_t i = 0; i < L->c.n; i++) {
                free(L->c.real[i]);
                free(L->c.shown[i]);
        }
        L->c.n = 0;
        kiln_schema_ctx_clear(&L->ctx);
        kiln_path_policy_clear(&L->pol);
}

/* ---- typed access to a checked tree ---- */

static const struct kiln_node *at(const struct kiln_node *root, const char *path)
{
        const struct kiln_node *n = root;
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *part = strtok_r(copy, ".", &save); part && n; part = strtok_r(NULL, ".", &save))
                n = kiln_node_get(n, part);
        return n && n->type != KILN_NODE_NULL ? n : NULL;
}

const struct kiln_node *kiln_profile_key(const struct kiln_profile *p, const char *path)
{
        return at(p->tree, path);
}

static char *str_or(const struct kiln_node *root, const char *path, const char *def)
{
        const struct kiln_node *n = at(root, path);
        if (n && n->type == KILN_NODE_SCALAR)
                return xstrdup(n->scalar);
        return def ? xstrdup(def) : NULL;
}

/* A path the schema check opened: its real path (what kiln uses from now on), or NULL. */
static char *path_or_null(const struct kiln_schema_ctx *ctx, const struct kiln_node *root, const char *path)
{
        const struct kiln_file_value *f = kiln_schema_file(ctx, at(root, path));
        return f ? xstrdup(f->real) : NULL;
}

static char **list_of(const struct kiln_node *n)
{
        char **v = xcalloc(1, sizeof(char *));
        if (!n || n->type != KILN_NODE_SEQ)
                return v;
        for (size_t i = 0; i < n->n; i++)
                if (n->values[i]->type == KILN_NODE_SCALAR)
                        v = strv_push(v, xstrdup(n->values[i]->scalar));
        return v;
}

static char **paths_of(const struct kiln_schema_ctx *ctx, const struct kiln_node *n)
{
        char **v = xcalloc(1, sizeof(char *));
        for (size_t i = 0; n && n->type == KILN_NODE_SEQ && i < n->n; i++) {
                const struct kiln_file_value *f = kiln_schema_file(ctx, n->values[i]);
                if (f)
                        v = strv_push(v, xstrdup(f->real));
        }
        return v;
}

static uint64_t size_or(const struct kiln_node *root, const char *path, uint64_t def)
{
        const struct kiln_node *n = at(root, path);
        uint64_t v;
        if (n && n->type == KILN_NODE_SCALAR && kiln_parse_size(n->scalar, &v) == 0)
                return v;
        return def;
}

/* A key's value, or its default from the schema table (profile-schema.c): one home per default. */
static char *str_def(const struct kiln_node *root, const char *path)
{
        return str_or(root, path, kiln_schema_default(path));
}

static bool bool_def(const struct kiln_node *root, const char *path)
{
        _cleanup_free_ char *v = str_def(root, path);
        bool b = false;
        if (kiln_parse_bool(v, &b) < 0)
                abort(); /* the schema walk has checked it */
        return b;
}

static uint64_t size_def(const struct kiln_node *root, const char *path)
{
        uint64_t def = 0;
        if (kiln_parse_size(kiln_schema_default(path), &def) < 0)
                abort();
        return size_or(root, path, def);
}

static char **list_def(const struct kiln_node *root, const char *path)
{
        const struct kiln_node *n = at(root, path);
        return n ? list_of(n) : kiln_schema_default_list(path);
}

const char *kiln_layout_name(enum kiln_layout l)
{
        static const char *const names[] = {"atomic", "home", "multi", "lvm"};
        return names[l];
}

/* ---- checks that span keys; run on a schema-checked tree ---- */

bool kiln_profile_release_ok(const char *release)
{
        static const char *const ok[] = {"bookworm", "trixie", "12", "13"};
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (STREQ(release, ok[i]))
                        return true;
        return false;
}

static size_t check_required(const struct kiln_node *root, const char *file, bool have_release,
                             struct kiln_error **reterr)
{
        size_t n = 0;
        static const char *const required[] = {"name", "release"};
        for (size_t i = 0; i < ELEMENTSOF(required) - have_release; i++) {
                const struct kiln_node *k = kiln_node_key(root, required[i]);
                const struct kiln_node *v = kiln_node_get(root, required[i]);
                if (!k) {
                        kiln_error_at(reterr, EINVAL, file, 0, 0, "missing required key '%s'", required[i]);
                        n++;
                } else if (v->type == KILN_NODE_NULL) {
                        kiln_error_at(reterr, EINVAL, k->file, k->line, k->column, "'%s' needs a value", required[i]);
                        n++;
                }
        }
        return n;
}

static size_t check_unique(const struct kiln_node *list, const char *what, struct kiln_error **reterr)
{
        size_t n = 0;
        if (!list || list->type != KILN_NODE_SEQ)
                return 0;
        for (size_t i = 0; i < list->n; i++) {
                const struct kiln_node *a = kiln_node_get(list->values[i], "name");
                if (!list->values[i] || list->values[i]->type != KILN_NODE_MAP)
                        continue;
                if (!a || a->type != KILN_NODE_SCALAR) {
                        kiln_error_at(reterr, EINVAL, list->values[i]->file, list->values[i]->line,
                                      list->values[i]->column, "each entry of '%s' needs a 'name'", what);
                        n++;
                        continue;
                }
                for (size_t k = 0; k < i; k++) {
                        const struct kiln_node *b = kiln_node_get(list->values[k], "name");
                        if (b && b->type == KILN_NODE_SCALAR && STREQ(a->scalar, b->scalar)) {
                                kiln_error_at(reterr, EINVAL, a->file, a->line, a->column,
                                              "'%s' has '%s' twice (first at line %u)", what, a->scalar, b->line);
                                n++;
                                break;
                        }
                }
        }
        return n;
}

static size_t check_repos(const struct kiln_node *repos, struct kiln_error **reterr)
{
        size_t n = check_unique(repos, "repos", reterr);
        if (!repos || repos->type != KILN_NODE_SEQ)
                return n;
        for (size_t i = 0; i < repos->n; i++) {
                const struct kiln_node *r = repos->values[i];
                if (r->type != KILN_NODE_MAP)
                        continue;
                const struct kiln_node *name = at(r, "name");
                const char *nm = name && name->type == KILN_NODE_SCALAR ? name->scalar : "?";
                if (!at(r, "url")) {
                        kiln_error_at(reterr, EINVAL, r->file, r->line, r->column, "repo '%s' needs a 'url'", nm);
                        n++;
                }
                const struct kiln_node *key = at(r, "key"), *key_file = at(r, "key_file");
                if (key && key_file) {
                        const struct kiln_node *k = kiln_node_key(r, "key_file");
                        kiln_error_at(reterr, EINVAL, k->file, k->line, k->column,
                                      "repo '%s' has both 'key' and 'key_file': give one", nm);
                        n++;
                } else if (!key && !key_file) {
                        kiln_error_at(
                                reterr, EINVAL, r->file, r->line, r->column,
                                "repo '%s' needs 'key' (armored) or 'key_file': apt refuses unsigned repositories", nm);
                        n++;
                }
        }
        return n;
}

static size_t check_installer(const struct kiln_node *inst, struct kiln_error **reterr)
{
        if (!inst || inst->type != KILN_NODE_MAP)
                return 0;
        size_t n = 0;
        const struct kiln_node *kernel = kiln_node_key(inst, "kernel"), *initrd = kiln_node_key(inst, "initrd");
        const struct kiln_node *iso = kiln_node_key(inst, "iso"), *version = kiln_node_key(inst, "version");
        if (!!at(inst, "kernel") != !!at(inst, "initrd")) {
                const struct kiln_node *k = kernel ? kernel : initrd;
                kiln_error_at(reterr, EINVAL, k->file, k->line, k->column,
                              "'installer.kernel' and 'installer.initrd' go together");
                n++;
        }
        if (iso && at(inst, "iso") && (at(inst, "kernel") || at(inst, "initrd"))) {
                kiln_error_at(reterr, EINVAL, iso->file, iso->line, iso->column,
                              "'installer.iso' and 'installer.kernel'/'initrd' exclude each other");
                n++;
        }
        if (version && at(inst, "version") && (at(inst, "kernel") || at(inst, "iso"))) {
                kiln_error_at(reterr, EINVAL, version->file, version->line, version->column,
                              "'installer.version' picks a netboot package from the mirror; it cannot go with "
                              "local 'kernel'/'initrd' or 'iso' files");
                n++;
        }
        return n;
}

static size_t check_sizes(const struct kiln_node *root, struct kiln_error **reterr)
{
        size_t n = 0;
        const struct kiln_node *s = at(root, "disk.size"), *m = at(root, "vm.memory"), *sw = at(root, "disk.swap");
        uint64_t v, disk = 10ULL << 30;
        if (s && s->type == KILN_NODE_SCALAR && kiln_parse_size(s->scalar, &v) == 0) {
                disk = v;
                if (v < (2ULL << 30) || v > (64ULL << 40)) {
                        kiln_error_at(reterr, EINVAL, s->file, s->line, s->column,
                                      "'disk.size' must be from 2G to 64T (got '%s')", s->scalar);
                        n++;
                }
        }
        if (m && m->type == KILN_NODE_SCALAR && kiln_parse_size(m->scalar, &v) == 0 &&
            (v < (512ULL << 20) || v > (1ULL << 40))) {
                kiln_error_at(reterr, EINVAL, m->file, m->line, m->column,
                              "'vm.memory' must be from 512M to 1T; the installer needs at least 512M (got '%s')",
                              m->scalar);
                n++;
        }
        if (sw && sw->type == KILN_NODE_SCALAR && kiln_parse_size(sw->scalar, &v) == 0 &&
            (v < (1ULL << 20) || v > disk / 2)) {
                kiln_error_at(reterr, EINVAL, sw->file, sw->line, sw->column,
                              "'disk.swap' must be from 1M to half the disk, or 'none' (got '%s')", sw->scalar);
                n++;
        }
        return n;
}

/* ---- extraction ---- */

static void extract_users(struct kiln_profile *p, const struct kiln_node *list)
{
        if (!list || list->type != KILN_NODE_SEQ)
                return;
        p->users = xcalloc(list->n, sizeof(*p->users));
        for (size_t i = 0; i < list->n; i++) {
                const struct kiln_node *u = list->values[i];
                struct kiln_user *d = &p->users[p->n_users++];
                d->name = str_or(u, "name", NULL);
                d->password = str_or(u, "password", NULL);
                d->ssh_keys = list_of(at(u, "ssh_keys"));
                d->shell = str_or(u, "shell", kiln_schema_default("users[].shell"));
                const struct kiln_node *s = at(u, "sudo");
                bool b = false;
                if (s && STREQ(s->scalar, "nopasswd"))
                        d->sudo = KILN_SUDO_NOPASSWD;
                else if (s && kiln_parse_bool(s->scalar, &b) == 0 && b)
                        d->sudo = KILN_SUDO_YES;
        }
}

static void extract_repos(struct kiln_profile *p, const struct kiln_schema_ctx *ctx, const struct kiln_node *list)
{
        if (!list || list->type != KILN_NODE_SEQ)
                return;
        p->repos = xcalloc(list->n, sizeof(*p->repos));
        for (size_t i = 0; i < list->n; i++) {
                const struct kiln_node *r = list->values[i];
                struct kiln_repo *d = &p->repos[p->n_repos++];
                d->name = str_or(r, "name", NULL);
                d->url = str_or(r, "url", NULL);
                size_t len = strlen(d->url);
                while (len > 8 && d->url[len - 1] == '/')
                        d->url[--len] = '\0';
                d->suite = str_or(r, "suite", p->release);
                d->components = list_of(at(r, "components"));
                if (!d->components[0]) {
                        strv_free(d->components);
                        d->components = kiln_schema_default_list("repos[].components");
                }
                d->key = str_or(r, "key", NULL);
                const struct kiln_file_value *kf = kiln_schema_file(ctx, at(r, "key_file"));
                if (kf) { /* the bytes checked as OpenPGP are the bytes the initrd gets */
                        d->key_file = xstrdup(kf->real);
                        d->key_file_data = xmalloc(kf->len + 1);
                        memcpy(d->key_file_data, kf->data, kf->len + 1);
                        d->key_file_len = kf->len;
                }
        }
}

static void extract_preseed(struct kiln_profile *p, const struct kiln_node *map)
{
        if (!map || map->type != KILN_NODE_MAP)
                return;
        p->preseed = xcalloc(map->n, sizeof(*p->preseed));
        for (size_t i = 0; i < map->n; i++) {
                const char *k = map->keys[i]->scalar, *v = map->values[i]->scalar;
                struct kiln_preseed_entry *e = &p->preseed[p->n_preseed++];
                size_t ol = strcspn(k, " "), tl = strcspn(v, " ");
                e->owner = xstrndup(k, ol);
                e->question = xstrdup(k + ol + 1);
                e->type = xstrndup(v, tl);
                e->value = xstrdup(v[tl] ? v + tl + 1 : "");
                e->node = map->values[i];
        }
}

static int extract(struct kiln_profile *p, const struct kiln_profile_options *opts, const struct kiln_schema_ctx *ctx,
                   struct kiln_error **reterr)
{
        const struct kiln_node *t = p->tree;

        p->name = str_or(t, "name", NULL);
        p->distro = str_def(t, "distro");
        /* --release (kiln batch's release column): the same profile for another release. */
        _cleanup_free_ char *rel = opts && opts->release ? xstrdup(opts->release) : str_or(t, "release", NULL);
        if (STREQ(rel, "12") || STREQ(rel, "bookworm"))
                p->release = xstrdup("bookworm"), p->release_number = 12;
        else
                p->release = xstrdup("trixie"), p->release_number = 13;
        p->arch = str_def(t, "arch");

        const char *apt_dir = opts && opts->apt_dir ? opts->apt_dir : kiln_default_apt_dir();
        _cleanup_free_ char *host_mirror = NULL, *host_security = NULL;
        struct kiln_error *apt_err = NULL;
        int r = kiln_host_mirrors(apt_dir, &host_mirror, &host_security, &apt_err);

        const struct kiln_node *mirror = at(t, "mirror");
        if (mirror) {
                p->mirror = xstrdup(mirror->scalar);
        } else if (r < 0) {
                kiln_error_at(reterr, apt_err->errnum, p->files[0], 0, 0, "%s", apt_err->msg);
                kiln_error_free(apt_err);
                return -EINVAL;
        } else {
                p->mirror = xstrdup(host_mirror);
                p->mirror_from_host = true;
        }
        kiln_error_free(apt_err);
        size_t len = strlen(p->mirror);
        while (len > 8 && p->mirror[len - 1] == '/')
                p->mirror[--len] = '\0';

        p->mirror_keyring_set = at(t, "mirror_keyring") != NULL;
        const struct kiln_file_value *kr = kiln_schema_file(ctx, at(t, "mirror_keyring"));
        p->mirror_keyring = kr ? xstrdup(kr->real) : xstrdup(kiln_schema_default("mirror_keyring"));
        if (kr) {
                p->mirror_keyring_data = xmalloc(kr->len + 1);
                memcpy(p->mirror_keyring_data, kr->data, kr->len + 1);
                p->mirror_keyring_len = kr->len;
        }

        const struct kiln_node *sec = at(t, "security");
        bool sec_on = false;
        if (kiln_parse_bool(kiln_schema_default("security"), &sec_on) < 0)
                abort();
        if (sec && kiln_parse_bool(sec->scalar, &sec_on) < 0) {
                p->security = xstrdup(sec->scalar);
        } else if (sec_on && host_security) {
                p->security = xstrdup(host_security);
        } else if (sec_on) {
                kiln_error_at(&p->warnings, 0, p->files[0], 0, 0,
                              "the host's apt sources name no security mirror: the image gets no security "
                              "updates source (set 'security' to a URL, or to false to silence this)");
        }

        p->hostname = str_or(t, "hostname", p->name);
        p->domain = str_def(t, "domain");
        p->locale = str_def(t, "locale");
        p->keymap = str_def(t, "keymap");
        p->timezone = str_def(t, "timezone");
        p->kernel_args = list_def(t, "kernel_args");

        p->disk.size = size_def(t, "disk.size");
        _cleanup_free_ char *layout = str_def(t, "disk.layout");
        p->disk.layout = STREQ(layout, "home")    ? KILN_LAYOUT_HOME
                         : STREQ(layout, "multi") ? KILN_LAYOUT_MULTI
                         : STREQ(layout, "lvm")   ? KILN_LAYOUT_LVM
                                                  : KILN_LAYOUT_ATOMIC;
        p->disk.filesystem = str_def(t, "disk.filesystem");
        const struct kiln_node *swap = at(t, "disk.swap");
        if (swap) {
                p->disk.swap_set = true;
                if (!STREQ(swap->scalar, "none") && !STREQ(swap->scalar, "0") && !STREQ(swap->scalar, "false"))
                        kiln_parse_size(swap->scalar, &p->disk.swap);
        }

        extract_users(p, at(t, "users"));
        p->root.password = str_or(t, "root.password", NULL);
        p->root.ssh_keys = list_of(at(t, "root.ssh_keys"));

        p->packages = list_of(at(t, "packages"));
        p->tasks = list_def(t, "tasks");
        extract_repos(p, ctx, at(t, "repos"));
        p->late_commands = list_of(at(t, "late_commands"));
        _cleanup_free_ char *bl = str_def(t, "bootloader");
        p->bootloader = STREQ(bl, "host") ? KILN_BOOTLOADER_HOST : KILN_BOOTLOADER_GUEST;

        p->installer.version = str_or(t, "installer.version", NULL);
        p->installer.sha256 = str_or(t, "installer.sha256", NULL);
        for (char *c = p->installer.sha256; c && *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
        p->installer.extra_args = list_of(at(t, "installer.extra_args"));
        p->installer.early_commands = list_of(at(t, "installer.early_commands"));
        p->installer.udebs = paths_of(ctx, at(t, "installer.udebs"));
        p->installer.kernel = path_or_null(ctx, t, "installer.kernel");
        p->installer.initrd = path_or_null(ctx, t, "installer.initrd");
        p->installer.iso = path_or_null(ctx, t, "installer.iso");

        p->vm.memory = size_def(t, "vm.memory");
        _cleanup_free_ char *cpus = str_def(t, "vm.cpus");
        p->vm.cpus = (unsigned)strtoul(cpus, NULL, 10);
        p->vm.hypervisor = str_def(t, "vm.hypervisor");
        p->vm.accel = str_def(t, "vm.accel");

        p->tuning.eatmydata = bool_def(t, "tuning.eatmydata");
        p->tuning.defer_man_db = bool_def(t, "tuning.defer_man_db");
        p->tuning.defer_initramfs = bool_def(t, "tuning.defer_initramfs");
        p->tuning.initramfs = str_def(t, "tuning.initramfs");

        extract_preseed(p, at(t, "preseed"));

        /* debian-installer's debconf turns "\n" in a preseed value into a line break, which cuts a
         * command in two (seen in a real install). Other backslashes may not survive either. */
        static const char *const cmd_keys[] = {"late_commands", "installer.early_commands"};
        for (size_t k = 0; k < ELEMENTSOF(cmd_keys); k++) {
                const struct kiln_node *seq = at(t, cmd_keys[k]);
                for (size_t i = 0; seq && seq->type == KILN_NODE_SEQ && i < seq->n; i++) {
                        const struct kiln_node *c = seq->values[i];
                        if (c->type == KILN_NODE_SCALAR && c->scalar && strchr(c->scalar, '\\'))
                                kiln_error_at(&p->warnings, 0, c->file, c->line, c->column,
                                              "this command contains a backslash; debian-installer's debconf "
                                              "turns \"\\n\" into a line break and may change other escapes, so "
                                              "write it without one (e.g. a script in a repository package)");
                }
        }

        bool any_ssh = p->root.ssh_keys[0] != NULL;
        for (size_t i = 0; i < p->n_users; i++)
                any_ssh |= p->users[i].ssh_keys[0] != NULL || p->users[i].password != NULL;
        if (!p->root.password && !any_ssh)
                kiln_error_at(&p->warnings, 0, p->files[0], 0, 0,
                              "no credentials: the image installs with root locked and no way to log in "
                              "(add 'root' or 'users' with a password hash or ssh_keys)");
        return 0;
}

static int profile_load(const char *path, const char *data, size_t len, const struct kiln_profile_options *opts,
                        struct kiln_profile **ret, struct kiln_error **reterr)
{
        _cleanup_profile_ struct kiln_profile *p = xcalloc(1, sizeof(*p));
        p->arena = kiln_arena_new();
        struct kiln_error *err = NULL;
        struct loader L = {.arena = p->arena, .opts = opts, .pol = {.root_fd = -1}};
        L.ctx.pol = &L.pol;
        L.ctx.allow_private = opts && opts->allow_private;

        if (data && len > KILN_PROFILE_MAX_BYTES) {
                kiln_error_at(&err, EFBIG, path, 0, 0, "file is larger than 1 MiB");
                goto fail;
        }
        int r = load_chain(&L, path, data, len, NULL, NULL, &p->tree, &err);
        for (size_t i = 0; i < L.c.n; i++)
                p->files = strv_push(p->files, xstrdup(L.c.shown[i]));
        if (r < 0)
                goto fail;
        if (r > 0) { /* a file it extends failed (reported): check the named file's own keys too */
                if (p->tree)
                        kiln_schema_check(p->tree, &L.ctx, &err);
                goto fail;
        }
        if (!p->tree) {
                kiln_error_at(&err, EINVAL, path, 0, 0, "profile is empty: it needs at least 'name' and 'release'");
                goto fail;
        }

        size_t n = kiln_schema_check(p->tree, &L.ctx, &err);
        n += check_required(p->tree, path, opts && opts->release, &err);
        n += check_unique(at(p->tree, "users"), "users", &err);
        n += check_repos(at(p->tree, "repos"), &err);
        n += check_installer(at(p->tree, "installer"), &err);
        n += check_sizes(p->tree, &err);
        if (n > 0)
                goto fail;
        if (extract(p, opts, &L.ctx, &err) < 0)
                goto fail;
        loader_clear(&L);
        *ret = TAKE_PTR(p);
        return 0;

fail:
        loader_clear(&L);
        kiln_error_sort(&err, p->files);
        if (reterr) {
                struct kiln_error **tail = reterr;
                while (*tail)
                        tail = &(*tail)->next;
                *tail = err;
        } else {
                kiln_error_free(err);
        }
        return -EINVAL;
}

int kiln_profile_load(const char *path, const struct kiln_profile_options *opts, struct kiln_profile **ret,
                      struct kiln_error **reterr)
{
        return profile_load(path, NULL, 0, opts, ret, reterr);
}

int kiln_profile_load_buffer(const char *name, const char *data, size_t len, const struct kiln_profile_options *opts,
                             struct kiln_profile **ret, struct kiln_error **reterr)
{
        return profile_load(name, data ? data : "", len, opts, ret, reterr);
}

void kiln_profile_free(struct kiln_profile *p)
{
        if (!p)
                return;
        strv_free(p->files);
        free(p->name);
        free(p->distro);
        free(p->release);
        free(p->arch);
        free(p->mirror);
        free(p->mirror_keyring);
        free(p->mirror_keyring_data);
        free(p->security);
        free(p->hostname);
        free(p->domain);
        free(p->locale);
        free(p->keymap);
        free(p->timezone);
        strv_free(p->kernel_args);
        free(p->disk.filesystem);
        for (size_t i = 0; i < p->n_users; i++) {
                free(p->users[i].name);
                free(p->users[i].password);
                strv_free(p->users[i].ssh_keys);
                free(p->users[i].shell);
        }
        free(p->users);
        free(p->root.password);
        strv_free(p->root.ssh_keys);
        strv_free(p->packages);
        strv_free(p->tasks);
        for (size_t i = 0; i < p->n_repos; i++) {
                free(p->repos[i].name);
                free(p->repos[i].url);
                free(p->repos[i].suite);
                strv_free(p->repos[i].components);
                free(p->repos[i].key);
                free(p->repos[i].key_file);
                free(p->repos[i].key_file_data);
        }
        free(p->repos);
        strv_free(p->late_commands);
        free(p->installer.version);
        free(p->installer.sha256);
        strv_free(p->installer.extra_args);
        strv_free(p->installer.early_commands);
        strv_free(p->installer.udebs);
        free(p->installer.kernel);
        free(p->installer.initrd);
        free(p->installer.iso);
        free(p->vm.hypervisor);
        free(p->vm.accel);
        free(p->tuning.initramfs);
        for (size_t i = 0; i < p->n_preseed; i++) {
                free(p->preseed[i].owner);
                free(p->preseed[i].question);
                free(p->preseed[i].type);
                free(p->preseed[i].value);
        }
        free(p->preseed);
        kiln_error_free(p->warnings);
        kiln_arena_free(p->arena);
        free(p);
}
