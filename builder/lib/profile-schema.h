/* The profile schema: which keys exist, their types, and the checks on each value. */
#pragma once

#include "node.h"

/* Check a merged profile tree against the schema; every problem found is appended to reterr.
 * Returns the number of errors found. */
size_t kiln_schema_check(const struct kiln_node *root, struct kiln_error **reterr);

/* Scalar parsers shared with extraction. */
int kiln_parse_bool(const char *s, bool *ret);
bool kiln_is_crypt_hash(const char *s);

/* A path value as written in a profile, resolved against the folder of the file it is written in. */
char *kiln_node_path(const struct kiln_node *n);
