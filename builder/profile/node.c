/* YAML documents as located trees: libyaml events in, nodes with file:line:column out. */
#include "node.h"

#include <errno.h>
#include <stdint.h>
#include <yaml.h>

struct arena_chunk {
        struct arena_chunk *next;
        max_align_t data[];
};

struct kiln_arena {
        struct arena_chunk *chunks;
};

struct kiln_arena *kiln_arena_new(void)
{
        return xcalloc(1, sizeof(struct kiln_arena));
}

void kiln_arena_free(struct kiln_arena *a)
{
        if (!a)
                return;
        while (a->chunks) {
                struct arena_chunk *next = a->chunks->next;
                free(a->chunks);
                a->chunks = next;
        }
        free(a);
}

void *kiln_arena_alloc(struct kiln_arena *a, size_t size)
{
        struct arena_chunk *c = xcalloc(1, sizeof(*c) + size);
        c->next = a->chunks;
        a->chunks = c;
        return c->data;
}

char *kiln_arena_strdup(struct kiln_arena *a, const char *s)
{
        size_t n = strlen(s) + 1;
        char *r = kiln_arena_alloc(a, n);
        memcpy(r, s, n);
        return r;
}

const char *kiln_node_type_name(const struct kiln_node *n)
{
        switch (n->type) {
        case KILN_NODE_NULL:
                return "nothing";
        case KILN_NODE_SCALAR:
                return "a single value";
        case KILN_NODE_MAP:
                return "a map";
        case KILN_NODE_SEQ:
                return "a list";
        }
        return "?";
}

/* Position of the first byte that is not valid UTF-8, or -1. Overlong forms and surrogates count as invalid. */
static ssize_t utf8_invalid_at(const unsigned char *s, size_t len)
{
        size_t i = 0;
        while (i < len) {
                unsigned char c = s[i];
                size_t n;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        n = 1, cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2, cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3, cp = c & 0x07;
                } else {
                        return (ssize_t)i;
                }
                for (size_t k = 1; k <= n; k++) {
                        if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                                return (ssize_t)i;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return (ssize_t)i;
                i += n + 1;
        }
        return -1;
}

static void position_of(const char *data, size_t off, unsigned *ret_line, unsigned *ret_col)
{
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
                if (data[i] == '\n')
                        line++, col = 1;
                else if (((unsigned char)data[i] & 0xc0) != 0x80)
                        col++;
        }
        *ret_line = line;
        *ret_col = col;
}

struct anchor {
        char *name;
        struct kiln_node *node;
};

struct frame {
        struct kiln_node *node;
        struct kiln_node *pending_key; /* MAP: a key waiting for its value */
        size_t cap;
};

struct parse_state {
        struct kiln_arena *arena;
        const char *file;
        struct kiln_error **err;
        struct frame *stack;
        size_t depth, stack_cap;
        struct anchor *anchors;
        size_t n_anchors;
        size_t total;
        struct kiln_node *root;
        char *root_anchor;
        bool failed;
};

#define NODE_MAX_DEPTH 64

static struct kiln_node *node_new(struct parse_state *s, enum kiln_node_type type, const yaml_mark_t *m)
{
        struct kiln_node *n = kiln_arena_alloc(s->arena, sizeof(*n));
        n->type = type;
        n->file = s->file;
        n->line = (unsigned)m->line + 1;
        n->column = (unsigned)m->column + 1;
        n->weight = 1;
        return n;
}

static bool scalar_is_null(const yaml_event_t *ev)
{
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        const char *v = (const char *)ev->data.scalar.value;
        return STREQ(v, "") || STREQ(v, "~") || STREQ(v, "null") || STREQ(v, "Null") || STREQ(v, "NULL");
}

static void anchor_add(struct parse_state *s, const char *name, struct kiln_node *n)
{
        if (!name)
                return;
        s->anchors = xrealloc(s->anchors, (s->n_anchors + 1) * sizeof(*s->anchors));
        s->anchors[s->n_anchors++] = (struct anchor){.name = xstrdup(name), .node = n};
}

/* Attach a finished node to its parent (or make it the root). alias_at: where an alias was
 * written, for errors about it as a key (the anchor may be far away, or in a line that is fine). */
static int attach(struct parse_state *s, struct kiln_node *n, const char *anchor, const yaml_mark_t *alias_at)
{
        if (s->depth == 0) {
                s->root = n;
                anchor_add(s, anchor, n);
                return 0;
        }
        struct frame *f = &s->stack[s->depth - 1];
        struct kiln_node *p = f->node;
        if (p->type == KILN_NODE_MAP && !f->pending_key) {
                if (alias_at) {
                        /* A key is reported where it is written: give the alias its own located copy. */
                        struct kiln_node *k = kiln_arena_alloc(s->arena, sizeof(*k));
                        *k = *n;
                        k->line = (unsigned)alias_at->line + 1;
                        k->column = (unsigned)alias_at->column + 1;
                        n = k;
                }
                if (n->type != KILN_NODE_SCALAR && n->type != KILN_NODE_NULL) {
                        s->failed = true;
                        return kiln_error_at(s->err, EINVAL, s->file, n->line, n->column,
                                             "map keys must be plain values, not %s", kiln_node_type_name(n));
                }
                for (size_t i = 0; i < p->n; i++)
                        if (STREQ(p->keys[i]->scalar, n->scalar)) {
                                s->failed = true;
                                kiln_error_at(s->err, EINVAL, s->file, n->line, n->column,
                                              "duplicate key '%s' (first at line %u)", n->scalar, p->keys[i]->line);
                                /* Keep going: the value still needs a slot, the error is recorded. */
                                break;
                        }
                f->pending_key = n;
                return 0;
        }
        if (p->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 8;
                struct kiln_node **v = kiln_arena_alloc(s->arena, f->cap * sizeof(*v));
                if (p->n)
                        memcpy(v, p->values, p->n * sizeof(*v));
                p->values = v;
                if (p->type == KILN_NODE_MAP) {
                        struct kiln_node **k = kiln_arena_alloc(s->arena, f->cap * sizeof(*k));
                        if (p->n)
                                memcpy(k, p->keys, p->n * sizeof(*k));
                        p->keys = k;
                }
        }
        if (p->type == KILN_NODE_MAP)
                p->keys[p->n] = TAKE_PTR(f->pending_key);
        p->values[p->n++] = n;
        p->weight += n->weight;
        anchor_add(s, anchor, n);
        return 0;
}

/* YAML 1.1 merge keys ("<<: *base" or "<<: [*a, *b]"), which libyaml leaves to the application:
 * the map's own keys win, then earlier sources over later ones. */
static int resolve_merge(struct parse_state *s, struct kiln_node *m)
{
        bool any = false;
        for (size_t i = 0; i < m->n; i++)
                any |= !m->keys[i]->quoted && STREQ(m->keys[i]->scalar, "<<");
        if (!any)
                return 0;
        struct kiln_node **keys = kiln_arena_alloc(s->arena, (m->n + 1) * sizeof(*keys));
        struct kiln_node **vals = kiln_arena_alloc(s->arena, (m->n + 1) * sizeof(*vals));
        size_t n = 0, cap = m->n + 1;
        for (size_t i = 0; i < m->n; i++)
                if (m->keys[i]->quoted || !STREQ(m->keys[i]->scalar, "<<"))
                        keys[n] = m->keys[i], vals[n++] = m->values[i];
        for (size_t i = 0; i < m->n; i++) {
                if (m->keys[i]->quoted || !STREQ(m->keys[i]->scalar, "<<"))
                        continue;
                struct kiln_node *v = m->values[i];
                size_t nsrc = v->type == KILN_NODE_SEQ ? v->n : 1;
                for (size_t k = 0; k < nsrc; k++) {
                        struct kiln_node *src = v->type == KILN_NODE_SEQ ? v->values[k] : v;
                        if (src->type == KILN_NODE_NULL && s->failed)
                                continue; /* an unknown anchor, already reported */
                        if (src->type != KILN_NODE_MAP) {
                                s->failed = true;
                                return kiln_error_at(s->err, EINVAL, s->file, src->line, src->column,
                                                     "a merge key '<<' takes a map or a list of maps, not %s",
                                                     kiln_node_type_name(src));
                        }
                        for (size_t j = 0; j < src->n; j++) {
                                bool seen = false;
                                for (size_t q = 0; q < n && !seen; q++)
                                        seen = STREQ(keys[q]->scalar, src->keys[j]->scalar);
                                if (seen)
                                        continue;
                                if (n == cap) {
                                        cap *= 2;
                                        struct kiln_node **nk = kiln_arena_alloc(s->arena, cap * sizeof(*nk));
                                        struct kiln_node **nv = kiln_arena_alloc(s->arena, cap * sizeof(*nv));
                                        memcpy(nk, keys, n * sizeof(*nk));
                                        memcpy(nv, vals, n * sizeof(*nv));
                                        keys = nk, vals = nv;
                                }
                                keys[n] = src->keys[j], vals[n++] = src->values[j];
                        }
                }
        }
        m->keys = keys;
        m->values = vals;
        m->n = n;
        return 0;
}

/* YAML tags change what a value means (!!binary is base64, !!int a number, !foo whatever an
 * application makes of it); kiln would read the text undecoded. Refuse them all, where written. */
static int refuse_tag(struct parse_state *s, const yaml_char_t *tag, const yaml_mark_t *m)
{
        const char *t = (const char *)tag;
        _cleanup_free_ char *shown = str_has_prefix(t, "tag:yaml.org,2002:") ? xasprintf("!!%s", t + 18) : xstrdup(t);
        for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\'')
                        *c = '?';
        s->failed = true;
        return kiln_error_at(s->err, EINVAL, s->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                             "YAML tags are not supported (found '%s'): write the value plainly, quoted if it "
                             "must stay text",
                             shown);
}

static int handle_event(struct parse_state *s, yaml_event_t *ev)
{
        const yaml_mark_t *m = &ev->start_mark;
        struct kiln_node *n;

        switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (s->root || s->depth) {
                        s->failed = true;
                        return kiln_error_at(s->err, EINVAL, s->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                                             "a profile is one YAML document; remove the second '---'");
                }
                return 0;

        case YAML_SCALAR_EVENT: {
                if (ev->data.scalar.tag) /* reported, and the node kept so the structure stays whole */
                        refuse_tag(s, ev->data.scalar.tag, m);
                bool null = scalar_is_null(ev);
                n = node_new(s, null ? KILN_NODE_NULL : KILN_NODE_SCALAR, m);
                n->scalar = kiln_arena_alloc(s->arena, ev->data.scalar.length + 1);
                memcpy(n->scalar, ev->data.scalar.value, ev->data.scalar.length);
                n->scalar[ev->data.scalar.length] = '\0';
                if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
                        s->failed = true;
                        kiln_error_at(s->err, EINVAL, s->file, n->line, n->column, "value contains a NUL character");
                }
                n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
                if (++s->total > KILN_YAML_MAX_NODES)
                        goto too_big;
                return attach(s, n, (const char *)ev->data.scalar.anchor, NULL);
        }

        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                const yaml_char_t *tag =
                        ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
                if (tag)
                        refuse_tag(s, tag, m);
                n = node_new(s, ev->type == YAML_MAPPING_START_EVENT ? KILN_NODE_MAP : KILN_NODE_SEQ, m);
                if (++s->total > KILN_YAML_MAX_NODES)
                        goto too_big;
                if (s->depth >= NODE_MAX_DEPTH) {
                        /* Stop here: one error, and no END event ever pops a frame this level never
                         * pushed (that underflow crashed on 65 nested flow lists). */
                        s->failed = true;
                        return kiln_error_at(s->err, E2BIG, s->file, n->line, n->column,
                                             "nesting deeper than %d levels", NODE_MAX_DEPTH);
                }
                if (s->depth == s->stack_cap) {
                        s->stack_cap = s->stack_cap ? s->stack_cap * 2 : 8;
                        s->stack = xrealloc(s->stack, s->stack_cap * sizeof(*s->stack));
                }
                /* The anchor is registered when the collection ends: an alias inside it to
                 * itself is an unknown anchor, never a cycle. */
                s->stack[s->depth++] = (struct frame){.node = n};
                n->scalar = ev->type == YAML_MAPPING_START_EVENT
                                    ? (ev->data.mapping_start.anchor
                                               ? kiln_arena_strdup(s->arena, (char *)ev->data.mapping_start.anchor)
                                               : NULL)
                                    : (ev->data.sequence_start.anchor
                                               ? kiln_arena_strdup(s->arena, (char *)ev->data.sequence_start.anchor)
                                               : NULL);
                return 0;
        }

        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
                if (s->depth == 0) /* never for a well-formed stream; never an underflow either */
                        return -EINVAL;
                struct frame f = s->stack[--s->depth];
                const char *anchor = f.node->scalar;
                f.node->scalar = NULL;
                if (f.pending_key) /* cannot happen with a well-formed event stream */
                        return kiln_error_at(s->err, EINVAL, s->file, f.node->line, f.node->column,
                                             "map key without a value");
                if (f.node->type == KILN_NODE_MAP && resolve_merge(s, f.node) < 0)
                        return -EINVAL;
                return attach(s, f.node, anchor, NULL);
        }

        case YAML_ALIAS_EVENT: {
                const char *name = (const char *)ev->data.alias.anchor;
                struct kiln_node *target = NULL;
                for (size_t i = s->n_anchors; i > 0; i--)
                        if (STREQ(s->anchors[i - 1].name, name)) {
                                target = s->anchors[i - 1].node;
                                break;
                        }
                if (!target) {
                        s->failed = true;
                        kiln_error_at(s->err, EINVAL, s->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                                      "unknown YAML anchor '%s'", name);
                        /* keep the structure whole with an empty value, which may also stand as a key */
                        struct kiln_node *ph = node_new(s, KILN_NODE_NULL, m);
                        ph->scalar = kiln_arena_strdup(s->arena, "");
                        return attach(s, ph, NULL, m);
                }
                s->total += target->weight;
                if (s->total > KILN_YAML_MAX_NODES) {
                        s->failed = true;
                        return kiln_error_at(s->err, E2BIG, s->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                                             "YAML aliases expand past %d nodes", KILN_YAML_MAX_NODES);
                }
                return attach(s, target, NULL, m);
        }

        default:
                return 0;
        }

too_big:
        s->failed = true;
        return kiln_error_at(s->err, E2BIG, s->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                             "document has more than %d nodes", KILN_YAML_MAX_NODES);
}

int kiln_yaml_parse(struct kiln_arena *a, const char *display_name, const char *data, size_t len,
                    struct kiln_node **ret_root, struct kiln_error **reterr)
{
        const char *file = kiln_arena_strdup(a, display_name);

        if (len >= 2 && (((unsigned char)data[0] == 0xfe && (unsigned char)data[1] == 0xff) ||
                         ((unsigned char)data[0] == 0xff && (unsigned char)data[1] == 0xfe)))
                return kiln_error_at(reterr, EILSEQ, file, 0, 0, "file is UTF-16; profiles are UTF-8");
        ssize_t bad = utf8_invalid_at((const unsigned char *)data, len);
        if (bad >= 0) {
                unsigned line, col;
                position_of(data, (size_t)bad, &line, &col);
                return kiln_error_at(reterr, EILSEQ, file, line, col, "invalid UTF-8 (byte 0x%02x)",
                                     (unsigned char)data[bad]);
        }

        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                abort();
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

        struct parse_state s = {.arena = a, .file = file, .err = reterr};
        int r = 0;
        for (;;) {
                yaml_event_t ev;
                if (!yaml_parser_parse(&parser, &ev)) {
                        const yaml_mark_t *m = &parser.problem_mark;
                        if (m->index < len && data[m->index] == '\t')
                                r = kiln_error_at(reterr, EINVAL, file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                                                  "invalid YAML: a tab character; YAML indents with spaces");
                        else if (parser.context)
                                r = kiln_error_at(reterr, EINVAL, file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                                                  "invalid YAML: %s %s (started at line %u, column %u)", parser.problem,
                                                  parser.context, (unsigned)parser.context_mark.line + 1,
                                                  (unsigned)parser.context_mark.column + 1);
                        else
                                r = kiln_error_at(reterr, EINVAL, file, (unsigned)m->line + 1, (unsigned)m->column + 1,
                                                  "invalid YAML: %s", parser.problem ? parser.problem : "parse error");
                        break;
                }
                bool end = ev.type == YAML_STREAM_END_EVENT;
                int k = handle_event(&s, &ev);
                yaml_event_delete(&ev);
                if (k < 0 && (k == -E2BIG || s.total > KILN_YAML_MAX_NODES)) {
                        r = k;
                        break;
                }
                if (end)
                        break;
        }
        yaml_parser_delete(&parser);
        for (size_t i = 0; i < s.n_anchors; i++)
                free(s.anchors[i].name);
        free(s.anchors);
        free(s.stack);
        if (r < 0 || s.failed)
                return r < 0 ? r : -EINVAL;
        *ret_root = s.root && s.root->type == KILN_NODE_NULL ? NULL : s.root;
        return 0;
}

int kiln_yaml_load(struct kiln_arena *a, const char *path, const char *display_name, struct kiln_node **ret_root,
                   struct kiln_error **reterr)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_file_max(path, KILN_PROFILE_MAX_BYTES, &data, &len);
        if (r == -EFBIG)
                return kiln_error_at(reterr, EFBIG, display_name, 0, 0, "file is larger than 1 MiB");
        if (r < 0)
                return kiln_error_at(reterr, -r, display_name, 0, 0, "cannot read: %s", strerror(-r));
        return kiln_yaml_parse(a, display_name, data, len, ret_root, reterr);
}

struct kiln_node *kiln_node_get(const struct kiln_node *map, const char *key)
{
        if (!map || map->type != KILN_NODE_MAP)
                return NULL;
        for (size_t i = map->n; i > 0; i--) /* last wins, as after a merge */
                if (STREQ(map->keys[i - 1]->scalar, key))
                        return map->values[i - 1];
        return NULL;
}

struct kiln_node *kiln_node_key(const struct kiln_node *map, const char *key)
{
        if (!map || map->type != KILN_NODE_MAP)
                return NULL;
        for (size_t i = map->n; i > 0; i--)
                if (STREQ(map->keys[i - 1]->scalar, key))
                        return map->keys[i - 1];
        return NULL;
}

struct kiln_node *kiln_node_merge(struct kiln_arena *a, struct kiln_node *base, struct kiln_node *over)
{
        if (!base)
                return over;
        if (!over)
                return base;
        if (base->type != KILN_NODE_MAP || over->type != KILN_NODE_MAP)
                return over;

        struct kiln_node *m = kiln_arena_alloc(a, sizeof(*m));
        *m = *over;
        size_t cap = base->n + over->n;
        m->keys = kiln_arena_alloc(a, (cap ? cap : 1) * sizeof(*m->keys));
        m->values = kiln_arena_alloc(a, (cap ? cap : 1) * sizeof(*m->values));
        m->n = 0;
        for (size_t i = 0; i < base->n; i++) {
                struct kiln_node *ov = kiln_node_get(over, base->keys[i]->scalar);
                bool in_over = kiln_node_key(over, base->keys[i]->scalar) != NULL;
                m->keys[m->n] = in_over ? kiln_node_key(over, base->keys[i]->scalar) : base->keys[i];
                m->values[m->n++] = in_over ? kiln_node_merge(a, base->values[i], ov) : base->values[i];
        }
        for (size_t i = 0; i < over->n; i++)
                if (!kiln_node_key(base, over->keys[i]->scalar)) {
                        m->keys[m->n] = over->keys[i];
                        m->values[m->n++] = over->values[i];
                }
        return m;
}
