/* The profile schema: the table of keys, their types and value checks, and the walk that reports
 * every problem with its file, line and column. */
#include "profile-schema.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <curl/curl.h>
#include <regex.h>

#include "addr-policy.h"

#include "profile.h"

enum ftype { T_STR, T_BOOL, T_INT, T_SIZE, T_MAP, T_LIST, T_RAWMAP };

struct walk;
struct field {
        const char *key;
        enum ftype type;
        const struct field *sub; /* T_MAP, or T_LIST of T_MAP items */
        enum ftype item;         /* T_LIST */
        const char *const *choices;
        bool (*check)(struct walk *w, const struct kiln_node *n, const char *path);
        long min, max; /* T_INT */
        bool multiline;
        /* The reference (profiles/README.md's key tables, checked in make check against
         * `kiln validate --dump-keys`): the type as it says it (NULL: from type and item), the
         * default, and the meaning. def is the literal default extract() uses (a scalar, or a flow
         * list "[a, b]"); def_doc says it in words when it is not a literal ("the host's own"), or
         * differently. doc is the meaning column as Markdown (a '|' in it is written '\|' there). */
        const char *type_doc;
        const char *def;
        const char *def_doc;
        const char *doc;
};

struct walk {
        struct kiln_error **err;
        size_t n;
        struct kiln_schema_ctx *ctx;
};

_printf_(3, 4) static void fail(struct walk *w, const struct kiln_node *n, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        kiln_error_at(w->err, EINVAL, n->file, n->line, n->column, "%s", msg);
        w->n++;
}

static bool match(const char *re, const char *s)
{
        regex_t rx;
        if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
                abort();
        bool ok = regexec(&rx, s, 0, NULL, 0) == 0;
        regfree(&rx);
        return ok;
}

int kiln_parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return *ret = true, 0;
                if (strcasecmp(s, no[i]) == 0)
                        return *ret = false, 0;
        }
        return -EINVAL;
}

int kiln_parse_size(const char *s, uint64_t *ret)
{
        static const char units[] = "KMGT";
        if (!match("^[0-9]{1,15} ?[KMGT](iB)?$", s))
                return -EINVAL;
        char *end;
        uint64_t v = strtoull(s, &end, 10);
        while (*end == ' ')
                end++;
        unsigned shift = 10 * (unsigned)(strchr(units, *end) - units + 1);
        if (v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

char *kiln_format_size(uint64_t v)
{
        static const char units[] = "TGMK";
        for (size_t i = 0; i < 4; i++) {
                unsigned shift = 10 * (unsigned)(4 - i);
                if (v && (v & ((UINT64_C(1) << shift) - 1)) == 0)
                        return xasprintf("%" PRIu64 "%c", v >> shift, units[i]);
        }
        return xasprintf("%" PRIu64, v);
}

bool kiln_is_crypt_hash(const char *s)
{
        return match("^\\$(1|2[abxy]|5|6|7|y|gy|sha1|md5)\\$[./A-Za-z0-9$=,]+$", s) ||
               match("^\\$(5|6)\\$rounds=[0-9]+\\$[./A-Za-z0-9$]+$", s);
}

char *kiln_node_path(const struct kiln_node *n)
{
        if (n->scalar[0] == '/')
                return xstrdup(n->scalar);
        _cleanup_free_ char *copy = xstrdup(n->file);
        const char *dir = dirname(copy);
        if (STREQ(dir, "."))
                return xstrdup(n->scalar);
        return xasprintf("%s/%s", dir, n->scalar);
}

/* ---- value checks: each reports its own error and returns false ---- */

static bool check_label(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (strlen(n->scalar) <= 63 && match("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", n->scalar))
                return true;
        fail(w, n,
             "'%s' must be a hostname label: lowercase letters, digits and '-', at most 63, "
             "no leading or trailing '-' (got '%s')",
             path, n->scalar);
        return false;
}

static bool check_domain(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (strlen(n->scalar) <= 253 &&
            match("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
                  n->scalar))
                return true;
        fail(w, n, "'%s' must be a DNS domain like 'example.org' (got '%s')", path, n->scalar);
        return false;
}

static bool check_release(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (kiln_profile_release_ok(n->scalar))
                return true;
        fail(w, n, "unsupported %s '%s': use 'bookworm' (12) or 'trixie' (13)", path, n->scalar);
        return false;
}

/* A mirror or repository URL: parsed by curl's own URL API (what kiln later fetches with), then
 * the address policy on its host (addr-policy.c); names are checked again once resolved. */
static bool check_url(struct walk *w, const struct kiln_node *n, const char *path)
{
        const char *u = n->scalar;
        if (!str_has_prefix(u, "http://") && !str_has_prefix(u, "https://")) {
                fail(w, n, "'%s' must be an http:// or https:// URL without spaces (got '%s')", path, u);
                return false;
        }
        CURLU *h = curl_url();
        if (!h)
                abort();
        char *host = NULL, *port = NULL, *user = NULL, *pass = NULL, *query = NULL, *frag = NULL;
        _cleanup_free_ char *written = NULL;
        bool ok = false;
        CURLUcode c = curl_url_set(h, CURLUPART_URL, u, 0);
        if (c == CURLUE_BAD_PORT_NUMBER) {
                fail(w, n, "'%s': the port must be a number from 1 to 65535 (got '%s')", path, u);
                goto out;
        }
        if (c != CURLUE_OK) {
                fail(w, n, "'%s' must be an http:// or https:// URL without spaces (got '%s')", path, u);
                goto out;
        }
        if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
            curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
                fail(w, n,
                     "'%s': a URL must not carry a user name or password (the guest's proxy and the image's "
                     "apt sources would hold it)",
                     path);
                goto out;
        }
        if (curl_url_get(h, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
            curl_url_get(h, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
                fail(w, n, "'%s': an apt source URL has no '?' query or '#' fragment (got '%s')", path, u);
                goto out;
        }
        if (curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
                char *end;
                unsigned long v = strtoul(port, &end, 10);
                if (*end || v < 1 || v > 65535) {
                        fail(w, n, "'%s': the port must be a number from 1 to 65535 (got '%s')", path, u);
                        goto out;
                }
        }
        if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                fail(w, n, "'%s' must name a host (got '%s')", path, u);
                goto out;
        }
        /* The host as written, too: curl may already have normalized a numeric spelling. */
        const char *at = u + strcspn(u, ":") + 3;
        written = xstrndup(at, strcspn(at, "/?#"));
        if (written[0] != '[' && strchr(written, ':'))
                written[strcspn(written, ":")] = '\0';
        else if (written[0] == '[' && strchr(written, ']'))
                strchr(written, ']')[1] = '\0';
        enum kiln_addr_class hc = kiln_addr_classify_host(host), wc = kiln_addr_classify_host(written);
        enum kiln_addr_class cls = kiln_addr_forbidden(wc) ? wc : hc;
        if (cls == KILN_ADDR_INVALID) {
                fail(w, n, "'%s' must name a host name or an IP address (got '%s')", path, u);
                goto out;
        }
        if (kiln_addr_forbidden(cls) && !w->ctx->allow_private) {
                fail(w, n, "'%s' names %s ('%s'); kiln refuses those unless run with --allow-private-mirrors", path,
                     kiln_addr_class_name(cls), written);
                goto out;
        }
        /* What apt and debconf are given: plain characters only. */
        if (!match("^https?://([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?"
                   "(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$",
                   u)) {
                fail(w, n, "'%s' must be an http:// or https:// URL without spaces (got '%s')", path, u);
                goto out;
        }
        ok = true;
out:
        curl_free(host);
        curl_free(port);
        curl_free(user);
        curl_free(pass);
        curl_free(query);
        curl_free(frag);
        curl_url_cleanup(h);
        return ok;
}

static bool check_security(struct walk *w, const struct kiln_node *n, const char *path)
{
        bool b;
        if (!n->quoted && kiln_parse_bool(n->scalar, &b) == 0)
                return true;
        if (str_has_prefix(n->scalar, "http://") || str_has_prefix(n->scalar, "https://"))
                return check_url(w, n, path);
        fail(w, n, "'%s' must be true, false or an http:// URL (got '%s')", path, n->scalar);
        return false;
}

void kiln_schema_ctx_clear(struct kiln_schema_ctx *ctx)
{
        for (size_t i = 0; i < ctx->n_files; i++) {
                free(ctx->files[i].real);
                free(ctx->files[i].data);
        }
        free(ctx->files);
        ctx->files = NULL;
        ctx->n_files = 0;
}

const struct kiln_file_value *kiln_schema_file(const struct kiln_schema_ctx *ctx, const struct kiln_node *n)
{
        for (size_t i = 0; ctx && i < ctx->n_files; i++)
                if (ctx->files[i].node == n)
                        return &ctx->files[i];
        return NULL;
}

/* A path in the profile, opened under the trust model (profile-files.c); keys are read and
 * checked now, larger files only opened (and read, checked again, when used). */
static bool check_path(struct walk *w, const struct kiln_node *n, const char *path, enum kiln_file_kind kind)
{
        struct kiln_schema_ctx *ctx = w->ctx;
        if (kiln_schema_file(ctx, n))
                return true;
        /* The first file of the chain shown by that name: two files can share one (a profile
         * extending 'profile.yaml' beside another folder's profile.yaml), and the named profile,
         * always first, must win then: under --untrusted-profile it names no file, and a later
         * match would let its paths pass for the library's. */
        const char *in_real = NULL;
        for (size_t i = 0; i < ctx->n_chain && !in_real; i++)
                if (STREQ(ctx->shown[i], n->file))
                        in_real = ctx->real[i];
        if (!in_real) {
                fail(w, n, "'%s': cannot tell which file this path is written in", path);
                return false;
        }
        _cleanup_free_ char *why = NULL, *real = NULL, *data = NULL;
        size_t len = 0;
        int r;
        if (kind == KILN_FILE_KEY) {
                r = kiln_profile_file_read(ctx->pol, in_real, n->scalar, kind, &data, &len, &real, &why);
        } else {
                _cleanup_close_ int fd = -1;
                r = kiln_profile_file_open(ctx->pol, in_real, n->scalar, kind, &fd, &real, &why);
                char magic[8];
                if (r == 0 && kind == KILN_FILE_UDEB &&
                    (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
                     memcmp(magic, "!<arch>\n", 8) != 0)) {
                        why = xstrdup("it is not a .udeb (no ar archive header)");
                        r = -EBADMSG;
                }
        }
        if (r < 0) {
                fail(w, n, "'%s': cannot use '%s': %s", path, n->scalar, why);
                return false;
        }
        ctx->files = xrealloc(ctx->files, (ctx->n_files + 1) * sizeof(*ctx->files));
        ctx->files[ctx->n_files++] =
                (struct kiln_file_value){.node = n, .real = TAKE_PTR(real), .data = TAKE_PTR(data), .len = len};
        return true;
}

static bool check_key_file(struct walk *w, const struct kiln_node *n, const char *path)
{
        return check_path(w, n, path, KILN_FILE_KEY);
}

static bool check_kernel(struct walk *w, const struct kiln_node *n, const char *path)
{
        return check_path(w, n, path, KILN_FILE_KERNEL);
}

static bool check_initrd(struct walk *w, const struct kiln_node *n, const char *path)
{
        return check_path(w, n, path, KILN_FILE_INITRD);
}

static bool check_iso(struct walk *w, const struct kiln_node *n, const char *path)
{
        return check_path(w, n, path, KILN_FILE_ISO);
}

static bool check_udeb(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (!str_has_suffix(n->scalar, ".udeb")) {
                fail(w, n, "'%s' entries must be .udeb files (got '%s')", path, n->scalar);
                return false;
        }
        return check_path(w, n, path, KILN_FILE_UDEB);
}

static bool check_locale(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^([a-z]{2,3}(_[A-Z]{2})?|C)(\\.[A-Za-z0-9-]+)?(@[A-Za-z]+)?$", n->scalar))
                return true;
        fail(w, n, "'%s' must be a locale like 'en_US.UTF-8' (got '%s')", path, n->scalar);
        return false;
}

static bool check_keymap(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^[a-z][a-z0-9_-]*(\\([a-z0-9_-]+\\))?$", n->scalar))
                return true;
        fail(w, n, "'%s' must be an XKB keymap like 'us' or 'de' (got '%s')", path, n->scalar);
        return false;
}

static bool check_timezone(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", n->scalar))
                return true;
        fail(w, n, "'%s' must be a time zone like 'Etc/UTC' or 'Europe/Berlin' (got '%s')", path, n->scalar);
        return false;
}

static bool check_package(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^[a-z0-9][a-z0-9+.-]+([=/][A-Za-z0-9.+~:-]+)?$", n->scalar))
                return true;
        fail(w, n, "'%s': '%s' is not a Debian package name", path, n->scalar);
        return false;
}

static bool check_task(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^[a-z0-9][a-z0-9-]*$", n->scalar))
                return true;
        fail(w, n, "'%s': '%s' is not a tasksel task name (e.g. 'standard', 'ssh-server')", path, n->scalar);
        return false;
}

static bool check_password(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (kiln_is_crypt_hash(n->scalar))
                return true;
        fail(w, n,
             "'%s' looks like plain text: give a crypt(3) hash, e.g. from 'mkpasswd -m yescrypt' "
             "(package whois) or 'openssl passwd -6'",
             path);
        return false;
}

static bool check_ssh_key(struct walk *w, const struct kiln_node *n, const char *path)
{
        /* Keys travel inside the late_command, a debconf value: "\n" there becomes a line break, a
         * second authorized_keys line. */
        if (strchr(n->scalar, '\\')) {
                fail(w, n,
                     "'%s': an SSH key must not contain a backslash (debconf would turn '\\n' into a "
                     "second authorized_keys line)",
                     path);
                return false;
        }
        if (strstr(n->scalar, "PRIVATE KEY")) {
                fail(w, n, "'%s' holds a private key: give the public key (the .pub file's line)", path);
                return false;
        }
        if (match("^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com|"
                  "sk-ecdsa-sha2-nistp256@openssh\\.com) [A-Za-z0-9+/]+={0,2}( [^ ].*)?$",
                  n->scalar))
                return true;
        fail(w, n,
             "'%s': not an SSH public key (expected 'TYPE BASE64 [COMMENT]', e.g. 'ssh-ed25519 AAAA... you@host')",
             path);
        return false;
}

static bool check_username(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (STREQ(n->scalar, "root")) {
                fail(w, n, "'%s': 'root' is configured with the 'root' key, not in 'users'", path);
                return false;
        }
        if (strlen(n->scalar) <= 32 && match("^[a-z_][a-z0-9_-]*$", n->scalar))
                return true;
        fail(w, n, "'%s' must be a user name: lowercase letters, digits, '_' and '-', at most 32 (got '%s')", path,
             n->scalar);
        return false;
}

static bool check_sudo(struct walk *w, const struct kiln_node *n, const char *path)
{
        bool b;
        if (kiln_parse_bool(n->scalar, &b) == 0 || STREQ(n->scalar, "nopasswd"))
                return true;
        fail(w, n, "'%s' must be true, false or 'nopasswd' (got '%s')", path, n->scalar);
        return false;
}

static bool check_shell(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^/[A-Za-z0-9._/+-]+$", n->scalar))
                return true;
        fail(w, n, "'%s' must be an absolute path like '/bin/bash' (got '%s')", path, n->scalar);
        return false;
}

static bool check_repo_name(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (strlen(n->scalar) <= 64 && match("^[a-z0-9][a-z0-9._-]*$", n->scalar))
                return true;
        fail(w, n, "'%s' must be lowercase letters, digits, '.', '_' and '-' (got '%s')", path, n->scalar);
        return false;
}

static bool check_word(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^[A-Za-z0-9._/-]+$", n->scalar))
                return true;
        fail(w, n, "'%s' must be one word of letters, digits, '.', '_', '/' and '-' (got '%s')", path, n->scalar);
        return false;
}

static bool check_armored_key(struct walk *w, const struct kiln_node *n, const char *path)
{
        _cleanup_free_ char *why = NULL;
        if (!str_has_prefix(n->scalar + strspn(n->scalar, " \t\r\n"), "-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
                fail(w, n, "'%s' must be an ASCII-armored public key ('-----BEGIN PGP PUBLIC KEY BLOCK-----' ...)",
                     path);
                return false;
        }
        why = kiln_openpgp_pubkeys_check(n->scalar, strlen(n->scalar));
        if (!why)
                return true;
        fail(w, n, "'%s' is not an OpenPGP public key: %s", path, why);
        return false;
}

static bool check_version(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^[0-9][A-Za-z0-9.+~:-]*$", n->scalar))
                return true;
        fail(w, n, "'%s' must be a Debian package version like '20250803+deb13u6' (got '%s')", path, n->scalar);
        return false;
}

static bool check_sha256(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (match("^[0-9a-fA-F]{64}$", n->scalar))
                return true;
        fail(w, n, "'%s' must be 64 hexadecimal digits (got '%s')", path, n->scalar);
        return false;
}

static bool check_arg(struct walk *w, const struct kiln_node *n, const char *path)
{
        /* No quotes or shell characters: these land in GRUB's shell-sourced config and on a command line. */
        if (match("^[A-Za-z0-9_.,:=/+@%~-]+$", n->scalar))
                return true;
        fail(w, n, "'%s' entries are single kernel arguments: letters, digits and _.,:=/+@%%~- only (got '%s')", path,
             n->scalar);
        return false;
}

static bool check_command(struct walk *w, const struct kiln_node *n, const char *path)
{
        if (*n->scalar)
                return true;
        fail(w, n, "'%s' entries must not be empty", path);
        return false;
}

static bool check_swap(struct walk *w, const struct kiln_node *n, const char *path)
{
        uint64_t v;
        if (STREQ(n->scalar, "none") || STREQ(n->scalar, "0") || STREQ(n->scalar, "false") ||
            kiln_parse_size(n->scalar, &v) == 0)
                return true;
        fail(w, n, "'%s' must be a size like '1G' or 'none' (got '%s')", path, n->scalar);
        return false;
}

/* ---- the schema ---- */

static const char *const distros[] = {"debian", NULL};
static const char *const arches[] = {"amd64", "arm64", NULL};
static const char *const layouts[] = {"atomic", "home", "multi", "lvm", NULL};
static const char *const filesystems[] = {"ext4", "btrfs", "xfs", NULL};
static const char *const bootloaders[] = {"guest", "host", NULL};
static const char *const hypervisors[] = {"qemu", "xen", NULL};
static const char *const accels[] = {"auto", "kvm", "tcg", NULL};
static const char *const initramfs_policies[] = {"targeted", "most", "dep", NULL};

static const struct field disk_fields[] = {
        {"size", T_SIZE, .def = "10G", .doc = "The image's virtual size, 2G to 64T."},
        {"layout", T_STR, .choices = layouts, .def = "atomic",
         .doc = "`atomic` (one root), `home` (separate `/home`), `multi` (separate `/home`, `/var`, `/tmp`), `lvm` "
                "(LVM, one root, `/boot` outside)."},
        {"filesystem", T_STR, .choices = filesystems, .def = "ext4",
         .doc = "`ext4`, `btrfs` or `xfs`, for every data partition."},
        {"swap", T_STR, .check = check_swap, .type_doc = "size or `none`", .def_doc = "the installer's choice",
         .doc = "A fixed swap size (1M to half the disk), or `none` (also `0` or `false`). Setting it makes kiln write "
                "a partman expert recipe for the layout; unset, the installer's stock recipe sizes swap from memory."},
        {0},
};

static const struct field user_fields[] = {
        {"name", T_STR, .check = check_username, .type_doc = "string, required",
         .doc = "`[a-z_][a-z0-9_-]*`, at most 32; not `root`; unique."},
        {"password", T_STR, .check = check_password, .def_doc = "locked", .doc = "A crypt(3) hash, as for root."},
        {"ssh_keys", T_LIST, .item = T_STR, .check = check_ssh_key, .def_doc = "none", .doc = "As for root."},
        {"sudo", T_STR, .check = check_sudo, .type_doc = "bool or `nopasswd`", .def = "false",
         .doc = "`true` adds the user to group `sudo` (and installs sudo); a user with `sudo: true` and no password "
                "gets passwordless sudo, since they could not use sudo otherwise; `nopasswd` always does."},
        {"shell", T_STR, .check = check_shell, .def = "/bin/bash", .doc = "Absolute path of the login shell."},
        {0},
};

static const struct field root_fields[] = {
        {"password", T_STR, .check = check_password, .def_doc = "locked",
         .doc = "A crypt(3) hash (`$y$`, `$6$`, `$5$`, `$2b$`, ...). Plain text is refused: make a hash with `mkpasswd "
                "-m yescrypt` (package whois) or `openssl passwd -6`."},
        {"ssh_keys", T_LIST, .item = T_STR, .check = check_ssh_key, .def_doc = "none",
         .doc = "Public keys for `/root/.ssh/authorized_keys`, each one `TYPE BASE64 [COMMENT]` line. A private key is "
                "refused."},
        {0},
};

static const struct field repo_fields[] = {
        {"name", T_STR, .check = check_repo_name, .type_doc = "string, required",
         .doc = "`[a-z0-9][a-z0-9._-]*`, unique; names the key file."},
        {"url", T_STR, .check = check_url, .type_doc = "URL, required",
         .doc = "`http://` or `https://` (PPAs and other HTTPS repositories too: give their full URL)."},
        {"suite", T_STR, .check = check_word, .def_doc = "`release`", .doc = "e.g. `trixie`, `stable`, `./`."},
        {"components", T_LIST, .item = T_STR, .check = check_word, .def = "[main]"},
        {"key", T_STR, .check = check_armored_key, .multiline = true,
         .doc = "The repository's ASCII-armored public key (`-----BEGIN PGP PUBLIC KEY BLOCK-----`), as a YAML block "
                "scalar (`key: |`)."},
        {"key_file", T_STR, .check = check_key_file, .type_doc = "path",
         .doc = "The key as a file (`.asc` armored, otherwise binary). Exactly one of `key` and `key_file` is "
                "required: apt refuses unsigned repositories. The key travels as a file in the installer's initrd "
                "(`/kiln/keys/NAME.asc`), never as preseed lines."},
        {0},
};

/* installer.kernel and installer.initrd share a row of the reference. */
#define LOCAL_KERNEL_DOC                                                                                               \
        "A local installer kernel and initrd (both), for offline use. The kernel is an x86 bzImage (its version is "   \
        "read from its header) or an uncompressed x86-64 ELF `vmlinux` with a PVH entry, which QEMU boots without "    \
        "the guest decompressing it first (seconds less per boot under TCG; no version is read)."

static const struct field installer_fields[] = {
        {"version", T_STR, .check = check_version, .def_doc = "the current one",
         .doc = "Another version of the `debian-installer-NN-netboot-ARCH` package in the pool, e.g. "
                "`20250803+deb13u6`. The signed index lists only the current version, so another one needs `sha256`."},
        {"sha256", T_STR, .check = check_sha256,
         .doc = "The SHA256 of that netboot `.deb`. The trust then comes from the profile, and kiln says so. A "
                "mismatch is an error."},
        {"extra_args", T_LIST, .item = T_STR, .check = check_arg, .def_doc = "none",
         .doc = "Extra arguments on the installer's kernel command line (one argument each)."},
        {"early_commands", T_LIST, .item = T_STR, .check = check_command, .def_doc = "none",
         .doc = "Shell commands run in the installer environment before anything else (each entry one line; after "
                "kiln's own early command)."},
        {"udebs", T_LIST, .item = T_STR, .check = check_udeb, .type_doc = "list of paths", .def_doc = "none",
         .doc = "`.udeb` files preinstalled in the installer (placed under `/kiln/udebs/` in the initrd, installed "
                "with `udpkg` by the early command)."},
        {"kernel", T_STR, .check = check_kernel, .type_doc = "paths", .doc = LOCAL_KERNEL_DOC},
        {"initrd", T_STR, .check = check_initrd, .type_doc = "paths", .doc = LOCAL_KERNEL_DOC},
        {"iso", T_STR, .check = check_iso, .type_doc = "path",
         .doc = "A local installer ISO (its kernel and initrd are used). Excludes `kernel`/`initrd`."},
        {0},
};

static const struct field vm_fields[] = {
        {"memory", T_SIZE, .def = "2G", .doc = "512M to 1T."},
        {"cpus", T_INT, .min = 1, .max = 64, .def = "2", .doc = "1 to 64."},
        {"hypervisor", T_STR, .choices = hypervisors, .def = "qemu", .doc = "`qemu` or `xen` (HVM)."},
        {"accel", T_STR, .choices = accels, .def = "auto",
         .doc = "`auto` (probe KVM for real, fall back to TCG with a notice), `kvm` or `tcg`. Command-line flags "
                "override."},
        {0},
};

/* Install speed (issue 16): each a stock debian-installer or Debian mechanism, undone at the end
 * where the image would otherwise differ; profiles/README.md says what each changes. */
static const struct field tuning_fields[] = {
        {"eatmydata", T_BOOL, .def = "true",
         .doc = "Every dpkg run in the target during the install skips fsync: the installer loads its own "
                "`eatmydata-udeb` from the mirror (`anna/choose_modules`), whose hooks install `eatmydata` in the "
                "target after the base system and point apt's `Dir::Bin::dpkg` at an eatmydata wrapper; the base "
                "system (debootstrap, before those hooks) gets base-installer's own `force-unsafe-io` file in "
                "`/etc/dpkg/dpkg.cfg.d/`, which kiln writes when partman has mounted the target instead of after "
                "debootstrap (the installer removes it at the end, as it always does). At the end (kiln's "
                "finish-install hook, after the installer's last package installs and the profile's "
                "`late_commands`), the wrapper is removed and `eatmydata` and `libeatmydata1` are purged with "
                "dpkg, then the disk is synced: the image has neither the packages nor the wrapper, and its dpkg "
                "syncs as usual. When `packages` names `eatmydata` or `libeatmydata1`, they are kept."},
        {"defer_man_db", T_BOOL, .def = "true",
         .doc = "man-db's index is not rebuilt after every dpkg run during the install (`man-db man-db/auto-update "
                "false`). At the end (kiln's finish-install hook, after the installer's last package installs) it "
                "is turned back on (the debconf answer `true` and `/var/lib/man-db/auto-update`, as a stock install "
                "has them) and `mandb` runs once. Left alone when a raw `preseed` entry answers "
                "`man-db/auto-update`."},
        {"defer_initramfs", T_BOOL, .def = "true",
         .doc = "The initramfs is not rebuilt by each package that asks for it during the install (grub-pc, the "
                "CPU's microcode, ...): from pkgsel's package installs on (its upgrade of the base system comes "
                "first), initramfs-tools' own switch `update_initramfs=no` in "
                "`/etc/initramfs-tools/update-initramfs.conf`; at the end, after the installer's last package "
                "installs, kiln's finish-install hook sets it back to the stock `yes` and runs `update-initramfs "
                "-u -k all` once, with every hook in place. The kernel's first build, during bootstrap-base, is "
                "not deferred."},
        {"initramfs", T_STR, .choices = initramfs_policies, .def = "targeted",
         .doc = "Which drivers the image's initramfs holds, through base-installer's driver policy "
                "(`base-installer/initramfs-tools/driver-policy`, the installer's own question). `targeted`: the "
                "policy `dep` (the drivers the install guest's root disk and filesystem use) plus the disk "
                "drivers of every hypervisor kiln builds for, added by an initramfs-tools hook kiln writes as "
                "`/etc/initramfs-tools/hooks/kiln-hypervisor-drivers` (virtio blk/scsi over PCI or MMIO for QEMU "
                "and KVM, xen-blkfront and ata_piix for Xen HVM, ahci, nvme and sd_mod, vmw_pvscsi, mptspi and "
                "mptsas for VMware, hv_storvsc for Hyper-V; loaded only where their hardware is). 37 modules "
                "instead of 831 in a trixie image built under QEMU: each initramfs build during the install, and each "
                "later kernel update, is "
                "several times faster, and the image still boots on those hypervisors. The image differs from a "
                "stock install in `/etc/initramfs-tools/conf.d/driver-policy` (`MODULES=dep`) and that hook. "
                "`most`: stock, every driver, boots on any hardware. `dep`: the policy alone, the smallest; an "
                "image built under QEMU (virtio disk) may then not boot on Xen HVM, VMware or Hyper-V. A raw "
                "`preseed` entry may not answer the driver policy: this key does."},
        {0},
};

static const struct field top_fields[] = {
        {"name", T_STR, .check = check_label, .type_doc = "string, **required**",
         .doc = "The appliance's name: an RFC 1123 hostname label, `[a-z0-9-]`, 1–63 characters, no leading or "
                "trailing `-`."},
        {"extends", T_STR, .doc = "Another profile to build on (above)."},
        {"distro", T_STR, .choices = distros, .def = "debian", .doc = "Only `debian` for now."},
        {"release", T_STR, .check = check_release, .type_doc = "string, **required**",
         .doc = "`bookworm` or `trixie`; `12` and `13` mean the same."},
        {"arch", T_STR, .choices = arches, .def = "amd64",
         .doc = "`amd64` or `arm64` (the install guest runs amd64 today)."},
        {"mirror", T_STR, .check = check_url, .type_doc = "URL", .def_doc = "the host's own",
         .doc = "The Debian mirror the installer and the image use, `http://` or `https://`, e.g. "
                "`http://mirror.example.org/debian`. By default kiln reads the host's apt sources "
                "(`/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list`, `*.sources`; one-line and deb822 "
                "formats) and takes the first Debian suite's URI. No host name is written into kiln. `--apt-dir DIR` "
                "or `$KILN_APT_DIR` reads another folder."},
        {"mirror_keyring", T_STR, .check = check_key_file, .type_doc = "path",
         .def = "/usr/share/keyrings/debian-archive-keyring.gpg",
         .doc = "The keyring that signs `mirror`, for an organisation's own mirror signed by someone else. kiln "
                "verifies the mirror's `Release` with it and gives it to the installer as its archive keyring, so the "
                "installer never needs `allow_unauthenticated`; apt in the installed system trusts it too "
                "(`/etc/apt/trusted.gpg.d/kiln-mirror.gpg`, copied in right after debootstrap), since the image keeps "
                "using that mirror and kiln's proxy serves the guest the Release kiln verified."},
        {"security", T_STR, .check = check_security, .type_doc = "bool or URL", .def = "true",
         .doc = "`true`: the security mirror the host's apt uses, if it has one (kiln warns when it has none); "
                "`false`: no security source; a URL: that security mirror."},
        {"hostname", T_STR, .check = check_label, .def_doc = "`name`",
         .doc = "The installed system's host name (a hostname label)."},
        {"domain", T_STR, .check = check_domain, .def = "", .def_doc = "empty",
         .doc = "DNS domain, e.g. `example.org` (letters, digits, `-`, dots)."},
        {"locale", T_STR, .check = check_locale, .def = "en_US.UTF-8", .doc = "e.g. `de_DE.UTF-8`, `C.UTF-8`."},
        {"keymap", T_STR, .check = check_keymap, .def = "us", .doc = "An XKB layout: `us`, `de`, `gb`, `fr(latin9)`."},
        {"timezone", T_STR, .check = check_timezone, .def = "Etc/UTC", .doc = "e.g. `Europe/Berlin`."},
        {"kernel_args", T_LIST, .item = T_STR, .check = check_arg, .def = "[console=ttyS0,115200n8]",
         .doc = "The installed system's kernel command line. Each entry is one argument of `A-Za-z0-9_.,:=/+@%~-`. The "
                "default gives a login prompt on the serial console, which `kiln boot-test` reads; an empty list `[]` "
                "removes it."},
        {"disk", T_MAP, .sub = disk_fields},
        {"users", T_LIST, .item = T_MAP, .sub = user_fields, .def_doc = "none",
         .doc = "Users created in the installed system."},
        {"root", T_MAP, .sub = root_fields},
        {"packages", T_LIST, .item = T_STR, .check = check_package, .def_doc = "none",
         .doc = "Extra Debian packages (`name`, `name=version` or `name/suite`)."},
        {"tasks", T_LIST, .item = T_STR, .check = check_task, .def = "[standard, ssh-server]",
         .doc = "tasksel tasks; `[]` for none."},
        {"repos", T_LIST, .item = T_MAP, .sub = repo_fields, .def_doc = "none",
         .doc = "Extra apt repositories, installed in the image and used during the install."},
        {"late_commands", T_LIST, .item = T_STR, .check = check_command, .def_doc = "none",
         .doc = "Shell commands run **inside the installed system** (`in-target sh -c '...'`) at the end of the "
                "install, in order; the first failure fails the build. They are emitted as one chained "
                "`preseed/late_command`, since debconf keeps only the last value of a key. Each entry is one line. "
                "They run with the install-speed `tuning` still in place (dpkg under eatmydata, man-db's index and "
                "the initramfs deferred: an `update-initramfs -u` of theirs is done by kiln's final build)."},
        {"bootloader", T_STR, .choices = bootloaders, .def = "guest",
         .doc = "`guest`: the installer's own grub-installer on the first disk. `host`: the installer skips the boot "
                "loader, kiln installs `grub-pc` in the image and installs GRUB afterwards from the host side (by "
                "default through libguestfs, running the image's own `grub-install` inside the libguestfs appliance, "
                "never on the host; `kiln build --finalize=dm` is the device-mapper alternative, a command-line choice "
                "only, never a profile key)."},
        {"installer", T_MAP, .sub = installer_fields},
        {"vm", T_MAP, .sub = vm_fields},
        {"tuning", T_MAP, .sub = tuning_fields},
        {"preseed", T_RAWMAP},
        {0},
};

/* ---- the table as data: defaults for extract(), rows for the reference ---- */

/* "disk.size", "users[].shell" (or "users.shell"): the row, or NULL. */
static const struct field *field_at(const char *path)
{
        const struct field *fields = top_fields;
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        const struct field *f = NULL;
        for (char *part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
                size_t len = strlen(part);
                if (len > 2 && STREQ(part + len - 2, "[]"))
                        part[len - 2] = '\0';
                if (!fields)
                        return NULL;
                for (f = fields; f->key && !STREQ(f->key, part); f++)
                        ;
                if (!f->key)
                        return NULL;
                fields = f->sub;
        }
        return f;
}

const char *kiln_schema_default(const char *path)
{
        const struct field *f = field_at(path);
        if (!f || !f->def)
                abort(); /* extract() asks only for keys whose row has a literal default */
        return f->def;
}

char **kiln_schema_default_list(const char *path)
{
        const char *d = kiln_schema_default(path);
        char **v = NULL;
        if (*d != '[')
                abort();
        /* Items are separated by ", ": an item may hold a comma of its own (console=ttyS0,115200n8). */
        _cleanup_free_ char *copy = xstrndup(d + 1, strcspn(d + 1, "]"));
        for (char *item = copy, *next; *item; item = next) {
                char *sep = strstr(item, ", ");
                next = sep ? sep + 2 : item + strlen(item);
                if (sep)
                        *sep = '\0';
                v = strv_push(v, xstrdup(item));
        }
        return v ? v : xcalloc(1, sizeof(char *));
}

static const char *type_text(const struct field *f)
{
        if (f->type_doc)
                return f->type_doc;
        switch (f->type) {
        case T_BOOL:
                return "bool";
        case T_INT:
                return "integer";
        case T_SIZE:
                return "size";
        case T_LIST:
                return f->item == T_MAP ? "list of maps" : "list of strings";
        default:
                return "string";
        }
}

static void reference_rows(struct kiln_buf *b, const struct field *fields, const char *prefix)
{
        for (const struct field *f = fields; f->key; f++) {
                _cleanup_free_ char *key = xasprintf("%s%s", prefix, f->key);
                if (f->type != T_MAP && f->type != T_RAWMAP) {
                        _cleanup_free_ char *def = f->def_doc ? xstrdup(f->def_doc)
                                                   : f->def   ? xasprintf("`%s`", f->def)
                                                              : xstrdup("");
                        buf_printf(b, "%s|%s|%s|", key, type_text(f), def);
                        /* '|' escaped as in a Markdown table cell, so the row reads as the README's. */
                        for (const char *c = f->doc ? f->doc : ""; *c; c++) {
                                if (*c == '|')
                                        buf_append(b, "\\", 1);
                                buf_append(b, c, 1);
                        }
                        buf_append(b, "\n", 1);
                }
                if (f->sub) {
                        _cleanup_free_ char *sub = xasprintf("%s%s.", key, f->type == T_LIST ? "[]" : "");
                        reference_rows(b, f->sub, sub);
                }
        }
}

char *kiln_schema_reference(void)
{
        struct kiln_buf b = {0};
        reference_rows(&b, top_fields, "");
        return buf_steal(&b);
}

/* ---- did you mean ---- */

static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        size_t d[65][65];
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] != b[j - 1];
                        size_t v = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < v)
                                v = d[i][j - 1] + 1;
                        if (d[i - 1][j - 1] + cost < v)
                                v = d[i - 1][j - 1] + cost;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                                v = d[i - 2][j - 2] + 1; /* transposition */
                        d[i][j] = v;
                }
        return d[la][lb];
}

/* A close sibling, or the key as a prefix ("disk_size" -> "disk"), or the same key one level down
 * ("memory" at the top -> "vm.memory"). */
static char *suggest(const struct field *fields, const char *key)
{
        const char *best = NULL;
        size_t best_d = SIZE_MAX, len = strlen(key);
        size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
        for (const struct field *f = fields; f->key; f++) {
                size_t d = edit_distance(key, f->key);
                if (d <= limit && d < best_d)
                        best = f->key, best_d = d;
        }
        if (best)
                return xstrdup(best);
        for (const struct field *f = fields; f->key; f++) {
                size_t n = strlen(f->key);
                if (strncasecmp(key, f->key, n) != 0 || !key[n] || !strchr("_-. ", key[n]))
                        continue;
                /* "disk_size" -> "disk.size", but "disk_sise" -> "disk" */
                for (const struct field *s = f->type == T_MAP ? f->sub : NULL; s && s->key; s++)
                        if (STREQ(s->key, key + n + 1))
                                return xasprintf("%s.%s", f->key, s->key);
                return xstrdup(f->key);
        }
        for (const struct field *f = fields; f->key; f++)
                if (f->type == T_MAP)
                        for (const struct field *s = f->sub; s->key; s++)
                                if (STREQ(s->key, key))
                                        return xasprintf("%s.%s", f->key, s->key);
        return NULL;
}

/* ---- the walk ---- */

static void check_map(struct walk *w, const struct kiln_node *n, const struct field *fields, const char *path);

/* Anything that ends a line for someone: ASCII controls, DEL, the C1 controls U+0080..U+009F
 * (U+0085 is NEL), U+2028 and U+2029 (line and paragraph separators). The text is valid UTF-8. */
static bool has_control(const char *s, bool multiline)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if ((*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t' || *p == '\r'))) || *p == 0x7f)
                        return true;
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        return true;
                if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
                        return true;
        }
        return false;
}

/* A preseed line ending in a backslash continues into the next one (kiln's own). */
static bool ends_in_backslash(const char *s)
{
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        return n > 0 && s[n - 1] == '\\';
}

static void check_scalar(struct walk *w, const struct kiln_node *n, const struct field *f, const char *path)
{
        if (n->type != KILN_NODE_SCALAR) {
                fail(w, n, "'%s' must be a single value, not %s", path, kiln_node_type_name(n));
                return;
        }
        if (has_control(n->scalar, f->multiline)) {
                fail(w, n,
                     "'%s' contains a newline, a line separator or a control character; preseed values "
                     "are one line",
                     path);
                return;
        }
        if (!f->multiline && ends_in_backslash(n->scalar)) {
                fail(w, n, "'%s' ends in a backslash, which would join the next preseed line to it", path);
                return;
        }
        switch (f->type) {
        case T_BOOL: {
                bool b;
                if (kiln_parse_bool(n->scalar, &b) < 0)
                        fail(w, n, "'%s' must be true or false (got '%s')", path, n->scalar);
                return;
        }
        case T_INT: {
                char *end;
                errno = 0;
                long v = strtol(n->scalar, &end, 10);
                if (errno || *end || end == n->scalar || v < f->min || v > f->max)
                        fail(w, n, "'%s' must be a whole number from %ld to %ld (got '%s')", path, f->min, f->max,
                             n->scalar);
                return;
        }
        case T_SIZE: {
                uint64_t v;
                if (kiln_parse_size(n->scalar, &v) < 0)
                        fail(w, n, "'%s': bad size '%s': use an integer with K, M, G or T (powers of 1024), e.g. '20G'",
                             path, n->scalar);
                return;
        }
        default:
                break;
        }
        if (f->choices) {
                for (const char *const *c = f->choices; *c; c++)
                        if (STREQ(*c, n->scalar))
                                return;
                _cleanup_free_ char *list = strv_join((char *const *)f->choices, "', '");
                fail(w, n, "'%s' must be one of '%s' (got '%s')", path, list, n->scalar);
                return;
        }
        if (f->check)
                f->check(w, n, path);
}

static const char *const debconf_types[] = {"string", "boolean",  "select", "multiselect", "note",
                                            "text",   "password", "error",  "title",       NULL};

static void check_rawmap(struct walk *w, const struct kiln_node *n, const char *path)
{
        for (size_t i = 0; i < n->n; i++) {
                const struct kiln_node *k = n->keys[i], *v = n->values[i];
                if (!match("^[a-z0-9][a-z0-9.+_-]* [A-Za-z0-9][A-Za-z0-9._+/-]*$", k->scalar)) {
                        fail(w, k, "'%s' keys are 'OWNER QUESTION', e.g. 'd-i clock-setup/ntp' (got '%s')", path,
                             k->scalar);
                        continue;
                }
                if (v->type != KILN_NODE_SCALAR) {
                        fail(w, v->type == KILN_NODE_NULL ? k : v,
                             "'%s': '%s' needs a value 'TYPE VALUE', e.g. 'boolean true'", path, k->scalar);
                        continue;
                }
                if (has_control(v->scalar, false)) {
                        fail(w, v,
                             "'%s': '%s' contains a newline, a line separator or a control character; "
                             "preseed values are one line",
                             path, k->scalar);
                        continue;
                }
                if (ends_in_backslash(v->scalar)) {
                        fail(w, v, "'%s': '%s' ends in a backslash, which would join the next preseed line to it", path,
                             k->scalar);
                        continue;
                }
                size_t tl = strcspn(v->scalar, " ");
                bool known = false;
                for (const char *const *t = debconf_types; *t; t++)
                        if (strlen(*t) == tl && strncmp(*t, v->scalar, tl) == 0)
                                known = true;
                if (!known) {
                        _cleanup_free_ char *list = strv_join((char *const *)debconf_types, ", ");
                        fail(w, v, "'%s': '%s' must start with a debconf type (%s), e.g. 'boolean true' (got '%s')",
                             path, k->scalar, list, v->scalar);
                        continue;
                }
                const char *val = v->scalar[tl] ? v->scalar + tl + 1 : "";
                if (tl == 7 && strncmp(v->scalar, "boolean", 7) == 0 && !STREQ(val, "true") && !STREQ(val, "false"))
                        fail(w, v, "'%s': '%s' is a boolean: 'boolean true' or 'boolean false' (got '%s')", path,
                             k->scalar, v->scalar);
        }
}

static void check_value(struct walk *w, const struct kiln_node *n, const struct field *f, const char *path)
{
        if (n->type == KILN_NODE_NULL)
                return; /* unset: the default applies (and in a child profile, resets the parent's value) */
        switch (f->type) {
        case T_MAP:
                if (n->type != KILN_NODE_MAP) {
                        fail(w, n, "'%s' must be a map, not %s", path, kiln_node_type_name(n));
                        return;
                }
                check_map(w, n, f->sub, path);
                return;
        case T_RAWMAP:
                if (n->type != KILN_NODE_MAP) {
                        fail(w, n, "'%s' must be a map, not %s", path, kiln_node_type_name(n));
                        return;
                }
                check_rawmap(w, n, path);
                return;
        case T_LIST:
                if (n->type != KILN_NODE_SEQ) {
                        fail(w, n, "'%s' must be a list, not %s", path, kiln_node_type_name(n));
                        return;
                }
                for (size_t i = 0; i < n->n; i++) {
                        const struct kiln_node *it = n->values[i];
                        if (f->item == T_MAP) {
                                if (it->type != KILN_NODE_MAP)
                                        fail(w, it, "'%s' entries must be maps, not %s", path, kiln_node_type_name(it));
                                else
                                        check_map(w, it, f->sub, path);
                        } else if (it->type == KILN_NODE_NULL) {
                                fail(w, it, "'%s' has an empty entry", path);
                        } else {
                                struct field item = *f;
                                item.type = f->item;
                                check_scalar(w, it, &item, path);
                        }
                }
                return;
        default:
                check_scalar(w, n, f, path);
        }
}

static void check_map(struct walk *w, const struct kiln_node *n, const struct field *fields, const char *path)
{
        for (size_t i = 0; i < n->n; i++) {
                const struct kiln_node *k = n->keys[i];
                if (k->type == KILN_NODE_NULL) {
                        fail(w, k, "empty key");
                        continue;
                }
                /* "x-..." at the top: a place for YAML anchors (x-base: &base ...), as compose files do. */
                if (!path && str_has_prefix(k->scalar, "x-"))
                        continue;
                const struct field *f = fields;
                while (f->key && !STREQ(f->key, k->scalar))
                        f++;
                if (!f->key) {
                        _cleanup_free_ char *s = suggest(fields, k->scalar);
                        if (s)
                                fail(w, k, "unknown key '%s' (did you mean '%s'?)", k->scalar, s);
                        else if (path)
                                fail(w, k, "unknown key '%s' in '%s'", k->scalar, path);
                        else
                                fail(w, k, "unknown key '%s'", k->scalar);
                        continue;
                }
                _cleanup_free_ char *sub = path ? xasprintf("%s.%s", path, f->key) : xstrdup(f->key);
                check_value(w, n->values[i], f, sub);
        }
}

size_t kiln_schema_check(const struct kiln_node *root, struct kiln_schema_ctx *ctx, struct kiln_error **reterr)
{
        struct walk w = {.err = reterr, .ctx = ctx};
        check_map(&w, root, top_fields, NULL);
        return w.n;
}
