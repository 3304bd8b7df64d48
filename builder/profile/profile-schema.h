/* The profile schema: which keys exist, their types, and the checks on each value. */
#pragma once

#include "node.h"
#include "profile-files.h"

/* A file a profile names, opened (and for keys, read and checked) while the schema was checked. */
struct kiln_file_value {
        const struct kiln_node *node;
        char *real; /* where it was opened: its real path */
        char *data; /* keys and keyrings: the checked bytes; NULL for files read later */
        size_t len;
};

/* What the checks need besides the tree: where paths may lead, the address policy, and what was
 * opened (so that what kiln later uses is what it checked). */
struct kiln_schema_ctx {
        const struct kiln_path_policy *pol;
        char *const *shown, *const *real; /* the extends chain: display name -> real path */
        size_t n_chain;
        bool allow_private; /* --allow-private-mirrors */
        struct kiln_file_value *files;
        size_t n_files;
};
void kiln_schema_ctx_clear(struct kiln_schema_ctx *ctx);
const struct kiln_file_value *kiln_schema_file(const struct kiln_schema_ctx *ctx, const struct kiln_node *n);

/* Check a profile tree against the schema; every problem found is appended to reterr.
 * Returns the number of errors found. */
size_t kiln_schema_check(const struct kiln_node *root, struct kiln_schema_ctx *ctx, struct kiln_error **reterr);

/* Scalar parsers shared with extraction. */
int kiln_parse_bool(const char *s, bool *ret);
bool kiln_is_crypt_hash(const char *s);

/* A path value as written in a profile, resolved against the folder of the file it is written in. */
char *kiln_node_path(const struct kiln_node *n);

/* The schema table as data. The default of a key whose row holds a literal one ("disk.size",
 * "users[].shell"), as a scalar or as a list; asking for another key is a bug (abort). */
const char *kiln_schema_default(const char *path);
char **kiln_schema_default_list(const char *path);
/* Every key as one "KEY|TYPE|DEFAULT|MEANING" line, in table order (MEANING as Markdown, a '|'
 * escaped): what the key tables of profiles/README.md must say (tests/profiles/t-keys.sh). */
char *kiln_schema_reference(void);
