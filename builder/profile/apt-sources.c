/* The host's own apt sources (one-line sources.list and deb822 .sources) read for their Debian mirrors. */
#include "apt-sources.h"

#include <dirent.h>
#include <errno.h>

struct source {
        char *uri;
        char **suites;
};

struct sources {
        struct source *v;
        size_t n;
};

static void sources_add(struct sources *s, const char *uri, char **suites)
{
        s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
        size_t len = strlen(uri);
        while (len > 0 && uri[len - 1] == '/')
                len--;
        s->v[s->n++] = (struct source){.uri = xstrndup(uri, len), .suites = suites};
}

static void sources_free(struct sources *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].uri);
                strv_free(s->v[i].suites);
        }
        free(s->v);
}

static char **split_words(const char *s)
{
        char **v = NULL;
        while (*s) {
                s += strspn(s, " \t");
                size_t n = strcspn(s, " \t");
                if (n)
                        v = strv_push(v, xstrndup(s, n));
                s += n;
        }
        return v;
}

/* deb [options] uri suite [component...] */
static void parse_one_line(struct sources *out, const char *text)
{
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                _cleanup_strv_free_ char **w = split_words(line);
                size_t n = strv_length(w), i = 1;
                if (!w || n < 3 || !STREQ(w[0], "deb"))
                        continue;
                if (w[1][0] == '[') { /* options may contain spaces: skip to the closing bracket */
                        while (i < n && !strchr(w[i], ']'))
                                i++;
                        i++;
                }
                if (i + 1 >= n)
                        continue;
                char **suites = strv_push(NULL, xstrdup(w[i + 1]));
                sources_add(out, w[i], suites);
        }
}

static char *field_value(char **names, char **values, size_t n, const char *want)
{
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(names[i], want) == 0)
                        return values[i];
        return NULL;
}

/* deb822: stanzas of Field: value, continuation lines start with white space. */
static void parse_deb822(struct sources *out, const char *text)
{
        const char *p = text;
        while (*p) {
                char *names[32], *values[32];
                size_t n = 0;
                /* one stanza */
                while (*p) {
                        const char *eol = strchrnul(p, '\n');
                        size_t len = (size_t)(eol - p);
                        bool blank = strspn(p, " \t\r") >= len;
                        if (blank) {
                                p = *eol ? eol + 1 : eol;
                                if (n)
                                        break;
                                continue;
                        }
                        if (*p == '#') {
                                /* a comment */
                        } else if ((*p == ' ' || *p == '\t') && n) {
                                char *v = xasprintf("%s %.*s", values[n - 1], (int)len, p);
                                free(values[n - 1]);
                                values[n - 1] = v;
                        } else {
                                const char *colon = memchr(p, ':', len);
                                if (colon && n < ELEMENTSOF(names)) {
                                        names[n] = xstrndup(p, (size_t)(colon - p));
                                        values[n] = xstrndup(colon + 1, len - (size_t)(colon - p) - 1);
                                        n++;
                                }
                        }
                        p = *eol ? eol + 1 : eol;
                }
                const char *types = field_value(names, values, n, "Types");
                const char *uris = field_value(names, values, n, "URIs");
                const char *suites = field_value(names, values, n, "Suites");
                const char *enabled = field_value(names, values, n, "Enabled");
                _cleanup_strv_free_ char **tv = types ? split_words(types) : NULL;
                bool on = !enabled || strcasecmp(enabled + strspn(enabled, " \t"), "no") != 0;
                if (on && uris && suites && strv_contains(tv, "deb")) {
                        _cleanup_strv_free_ char **uv = split_words(uris);
                        for (size_t i = 0; uv && uv[i]; i++)
                                sources_add(out, uv[i], split_words(suites));
                }
                for (size_t i = 0; i < n; i++) {
                        free(names[i]);
                        free(values[i]);
                }
        }
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_sources(const char *apt_dir, struct sources *out)
{
        _cleanup_free_ char *main_list = xasprintf("%s/sources.list", apt_dir);
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (read_file_max(main_list, 1 << 20, &data, &len) >= 0)
                parse_one_line(out, data);

        _cleanup_free_ char *dir = xasprintf("%s/sources.list.d", apt_dir);
        DIR *d = opendir(dir);
        if (!d)
                return;
        char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (str_has_suffix(de->d_name, ".list") || str_has_suffix(de->d_name, ".sources"))
                        names = strv_push(names, xstrdup(de->d_name));
        closedir(d);
        if (!names) /* qsort's argument is nonnull: calling it with NULL lets the compiler drop later checks */
                return;
        qsort(names, strv_length(names), sizeof(char *), cmp_str);
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
                _cleanup_free_ char *text = NULL;
                if (read_file_max(path, 1 << 20, &text, &len) < 0)
                        continue;
                if (str_has_suffix(names[i], ".sources"))
                        parse_deb822(out, text);
                else
                        parse_one_line(out, text);
        }
        strv_free(names);
}

static const char *const debian_suites[] = {
        "buster", "bullseye",     "bookworm",  "trixie", "forky",   "duke",
        "sid",    "oldoldstable", "oldstable", "stable", "testing", "unstable",
};

/* 0: not Debian, 1: a main suite (bookworm, bookworm-updates...), 2: a security suite. */
static int suite_kind(const char *suite)
{
        for (size_t i = 0; i < ELEMENTSOF(debian_suites); i++) {
                size_t n = strlen(debian_suites[i]);
                if (strncmp(suite, debian_suites[i], n) != 0)
                        continue;
                const char *rest = suite + n;
                if (STREQ(rest, "-security") || STREQ(rest, "/updates"))
                        return 2;
                if (!*rest || STREQ(rest, "-updates") || STREQ(rest, "-backports") || STREQ(rest, "-proposed-updates"))
                        return 1;
        }
        return 0;
}

const char *kiln_default_apt_dir(void)
{
        const char *e = getenv("KILN_APT_DIR");
        return e && *e ? e : "/etc/apt";
}

int kiln_host_mirrors(const char *apt_dir, char **ret_mirror, char **ret_security, struct kiln_error **reterr)
{
        struct sources s = {0};
        read_sources(apt_dir, &s);

        const char *mirror = NULL, *security = NULL;
        for (size_t i = 0; i < s.n; i++) {
                if (!str_has_prefix(s.v[i].uri, "http://") && !str_has_prefix(s.v[i].uri, "https://"))
                        continue;
                for (size_t k = 0; s.v[i].suites && s.v[i].suites[k]; k++) {
                        int kind = suite_kind(s.v[i].suites[k]);
                        if (kind == 1 && !mirror)
                                mirror = s.v[i].uri;
                        if (kind == 2 && !security)
                                security = s.v[i].uri;
                }
        }
        int r = 0;
        if (!mirror) {
                r = kiln_error_set(reterr, ENOENT,
                                   "no Debian mirror in the host's apt sources ('%s/sources.list' and "
                                   "'%s/sources.list.d/'): set 'mirror' in the profile",
                                   apt_dir, apt_dir);
        } else {
                *ret_mirror = xstrdup(mirror);
                *ret_security = security ? xstrdup(security) : NULL;
        }
        sources_free(&s);
        return r;
}
