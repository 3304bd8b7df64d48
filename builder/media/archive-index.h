/* Debian archive indices: verifying a Release with gpgv, reading its hashes, and Packages stanzas. */
#pragma once

#include <stdint.h>

#include "error.h"

struct kiln_release {
        char *text; /* the verified Release text: nothing outside the signature is ever read */
        char *suite, *codename, *date, *valid_until;
        char *signer;     /* the VALIDSIG fingerprint gpgv reported */
        bool by_hash;     /* Acquire-By-Hash: yes: every index is also at DIR/by-hash/SHA256/HASH */
        bool no_arch_all; /* No-Support-for-Architecture-all: Packages: binary-ARCH lists the all packages */
};

/* Verify a clearsigned InRelease (detached_sig NULL) or a Release with its detached signature,
 * against keyring (binary or ASCII-armored). */
int kiln_release_verify(const char *signed_path, const char *detached_sig, const char *keyring,
                        struct kiln_release **ret, struct kiln_error **reterr);
/* The same for an already-verified Release text (kiln's own cache of it). */
int kiln_release_parse(const char *text, struct kiln_release **ret, struct kiln_error **reterr);
void kiln_release_free(struct kiln_release *r);

/* The SHA256 and size the Release lists for path (e.g. "main/binary-all/Packages.xz"). */
int kiln_release_sha256(const struct kiln_release *r, const char *path, char ret_sha256[65], uint64_t *ret_size);

/* The path (a copy) and size of a file the Release lists with this SHA256, or NULL. */
char *kiln_release_path_of(const struct kiln_release *r, const char *sha256, uint64_t *ret_size);

/* Decompress data (xz, gzip, or none) with libarchive. */
int kiln_decompress(const char *data, size_t len, char **ret, size_t *ret_len, struct kiln_error **reterr);

/* Find the stanza whose field equals value ("Package", "debian-installer-13-netboot-amd64").
 * Returns a pointer into text and its length, or NULL. */
const char *kiln_stanza_find(const char *text, const char *field, const char *value, size_t *ret_len);
/* A field's value in one stanza, newly allocated, or NULL. */
char *kiln_stanza_field(const char *stanza, size_t len, const char *field);
/* Iterate stanzas: *pos starts at text; returns the next stanza and its length, NULL at the end. */
const char *kiln_stanza_next(const char **pos, size_t *ret_len);

/* Turn an ASCII-armored keyring into a binary one (returns a copy when it is already binary). */
int kiln_keyring_dearmor(const char *data, size_t len, char **ret, size_t *ret_len, struct kiln_error **reterr);
