/* A YAML document as a tree of located nodes, owned by an arena that frees them all at once. */
#pragma once

#include "error.h"

enum kiln_node_type {
        KILN_NODE_NULL,
        KILN_NODE_SCALAR,
        KILN_NODE_MAP,
        KILN_NODE_SEQ,
};

struct kiln_node {
        enum kiln_node_type type;
        const char *file;          /* owned by the arena */
        unsigned line, column;     /* 1-based */
        char *scalar;              /* SCALAR (also the text of a NULL) */
        bool quoted;               /* SCALAR written quoted or tagged !!str: never null or bool */
        size_t n;                  /* MAP: pairs; SEQ: items */
        struct kiln_node **keys;   /* MAP: key scalars */
        struct kiln_node **values; /* MAP: values; SEQ: items */
        size_t weight;             /* nodes below and including this one, aliases expanded */
};

struct kiln_arena;

struct kiln_arena *kiln_arena_new(void);
void kiln_arena_free(struct kiln_arena *a);
static inline void kiln_arena_freep(struct kiln_arena **a)
{
        kiln_arena_free(*a);
}
#define _cleanup_arena_ _cleanup_(kiln_arena_freep)
void *kiln_arena_alloc(struct kiln_arena *a, size_t size);
char *kiln_arena_strdup(struct kiln_arena *a, const char *s);

#define KILN_PROFILE_MAX_BYTES (1024 * 1024)
#define KILN_YAML_MAX_NODES    20000

/* Parse one YAML document. ret_root is NULL for an empty document.
 * display_name is used in locations. All errors found are appended to reterr. */
int kiln_yaml_parse(struct kiln_arena *a, const char *display_name, const char *data, size_t len,
                    struct kiln_node **ret_root, struct kiln_error **reterr);

/* Read and parse a file (size and encoding checked). */
int kiln_yaml_load(struct kiln_arena *a, const char *path, const char *display_name, struct kiln_node **ret_root,
                   struct kiln_error **reterr);

/* Map lookup; NULL when absent. */
struct kiln_node *kiln_node_get(const struct kiln_node *map, const char *key);
struct kiln_node *kiln_node_key(const struct kiln_node *map, const char *key);

/* Recursive merge: maps merge, everything else in over replaces base. New nodes from the arena. */
struct kiln_node *kiln_node_merge(struct kiln_arena *a, struct kiln_node *base, struct kiln_node *over);

const char *kiln_node_type_name(const struct kiln_node *n);
