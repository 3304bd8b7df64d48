/* Preflight: before anything boots, prove the mirror has what this installer will fetch. A
 * debian-installer whose kernel has no module udebs on the mirror otherwise fails twenty minutes
 * into a software-emulated boot with a vague prompt. */
#include <errno.h>
#include <regex.h>

#include "archive-index.h"
#include "fetch.h"
#include "installer-files.h"
#include "media.h"

/* A udeb built for some kernel: "...-6.12.94+deb13-amd64-di". */
static bool for_a_kernel(const char *pkg)
{
        regex_t rx;
        if (regcomp(&rx, "-[0-9]+\\.[0-9]+(\\.[0-9]+)?[^ ]*-di$", REG_EXTENDED | REG_NOSUB) != 0)
                abort();
        bool m = regexec(&rx, pkg, 0, NULL, 0) == 0;
        regfree(&rx);
        return m;
}

int kiln_preflight(const struct kiln_profile *p, const struct kiln_media *m, const struct kiln_media_opts *o,
                   char **ret_summary, struct kiln_error **reterr)
{
        if (!m->kernel_version)
                return 0;
        /* What the installer reads from the suite: the udeb index (net-retriever), binary-ARCH
         * (debootstrap, apt), its Release (choose-mirror checks the architecture there), and
         * binary-all where binary-ARCH does not list the all packages. */
        _cleanup_free_ char *idx_path = xasprintf("main/debian-installer/binary-%s/Packages", p->arch);
        _cleanup_free_ char *arch_path = xasprintf("main/binary-%s/Packages", p->arch);
        _cleanup_free_ char *arch_release = xasprintf("main/binary-%s/Release", p->arch);
        const char *indices[] = {idx_path, arch_path, arch_release,
                                 m->pin->release->no_arch_all ? NULL : "main/binary-all/Packages"};
        size_t n_indices = indices[3] ? 4 : 3, n_bad = 0;
        struct kiln_buf bad = {0};
        _cleanup_free_ char *index = NULL;
        for (size_t i = 0; i < n_indices; i++) {
                struct kiln_error *e = NULL;
                if (kiln_media_index(m, indices[i], o, i == 0 ? &index : NULL, &e) < 0) {
                        n_bad++;
                        buf_printf(&bad, "\n  %s", e->msg);
                }
                kiln_error_free(e);
        }
        _cleanup_free_ char *bad_list = bad.len ? buf_steal(&bad) : NULL;
        if (!index)
                return kiln_error_set(reterr, EBADMSG,
                                      "preflight: the installer (kernel %s, %s %s) would fail against '%s'\n"
                                      "index inconsistencies (%zu of the %zu indices it reads):%s\n"
                                      "missing udebs: not checked (the debian-installer index is inconsistent)",
                                      m->kernel_version, m->package ? m->package : "installer",
                                      m->version ? m->version : "", p->mirror, n_bad, n_indices, bad_list);

        _cleanup_free_ char *kpkg = xasprintf("kernel-image-%s-di", m->kernel_version);
        size_t len;
        if (!kiln_stanza_find(index, "Package", kpkg, &len)) {
                /* Name what the mirror has instead. */
                char **others = NULL;
                const char *pos = index, *st;
                while ((st = kiln_stanza_next(&pos, &len))) {
                        _cleanup_free_ char *name = kiln_stanza_field(st, len, "Package");
                        if (name && str_has_prefix(name, "kernel-image-") && !strv_contains(others, name))
                                others = strv_push(others, TAKE_PTR(name));
                }
                _cleanup_free_ char *list = others ? strv_join(others, "', '") : xstrdup("none");
                strv_free(others);
                return kiln_error_set(reterr, ENOENT,
                                      "preflight: the installer's kernel %s has no '%s' in the debian-installer "
                                      "index of '%s' (it has '%s'): the installer could not load its modules. "
                                      "Pin an installer built for the mirror's kernel with 'installer: {version, "
                                      "sha256}', or use another 'mirror'",
                                      m->kernel_version, kpkg, p->mirror, list);
        }

        char **have = NULL;
        int r = kiln_initrd_packages(m->initrd, &have, reterr);
        if (r < 0)
                return r;

        /* What the installer will fetch: its kernel's module udebs and the standard and required
         * udebs, with everything they depend on, less what its initrd already holds. */
        struct udeb {
                char *name, *file, *depends;
        };
        struct udeb *all = NULL;
        size_t nall = 0, cap = 0;
        char **urls = NULL;
        const char *pos = index, *st;
        while ((st = kiln_stanza_next(&pos, &len))) {
                if (nall == cap) {
                        cap = cap ? cap * 2 : 512;
                        all = xrealloc(all, cap * sizeof(*all));
                }
                all[nall] = (struct udeb){kiln_stanza_field(st, len, "Package"), kiln_stanza_field(st, len, "Filename"),
                                          kiln_stanza_field(st, len, "Depends")};
                _cleanup_free_ char *version = kiln_stanza_field(st, len, "Version");
                _cleanup_free_ char *prio = kiln_stanza_field(st, len, "Priority");
                if (!all[nall].name || !all[nall].file || strstr(all[nall].file, "..")) {
                        free(all[nall].name), free(all[nall].file), free(all[nall].depends);
                        continue;
                }
                bool kernel_udeb = for_a_kernel(all[nall].name);
                bool wanted = kernel_udeb ? strstr(all[nall].name, m->kernel_version) != NULL
                                          : prio && (STREQ(prio, "standard") || STREQ(prio, "required"));
                /* anna/choose_modules (tuning.eatmydata) asks for this optional one too. */
                wanted = wanted || (p->tuning.eatmydata && STREQ(all[nall].name, "eatmydata-udeb"));
                /* The installer fetches a udeb unless its initrd holds that very version. */
                _cleanup_free_ char *same = xasprintf("%s=%s", all[nall].name, version ? version : "");
                if (strv_contains(have, same))
                        have = strv_push(have, xstrdup(all[nall].name));
                else if (wanted && !strv_contains(have, all[nall].name))
                        have = strv_push(have, xstrdup(all[nall].name)), /* mark: queued */
                                urls = strv_push(urls, xstrdup(all[nall].name));
                nall++;
        }
        /* urls holds names so far; follow Depends (first alternative the index has) to a fixed point. */
        for (size_t q = 0; urls && urls[q]; q++) {
                const struct udeb *u = NULL;
                for (size_t i = 0; i < nall && !u; i++)
                        if (STREQ(all[i].name, urls[q]))
                                u = &all[i];
                if (!u || !u->depends)
                        continue;
                _cleanup_free_ char *deps = xstrdup(u->depends);
                char *save = NULL;
                for (char *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
                        char *alt_save = NULL;
                        for (char *alt = strtok_r(d, "|", &alt_save); alt; alt = strtok_r(NULL, "|", &alt_save)) {
                                alt += strspn(alt, " ");
                                alt[strcspn(alt, " (")] = '\0';
                                bool known = false;
                                for (size_t i = 0; i < nall && !known; i++)
                                        known = STREQ(all[i].name, alt);
                                if (!known)
                                        continue; /* virtual, or provided by the initrd */
                                if (!strv_contains(have, alt)) {
                                        have = strv_push(have, xstrdup(alt));
                                        urls = strv_push(urls, xstrdup(alt));
                                }
                                break;
                        }
                }
        }
        for (size_t q = 0; urls && urls[q]; q++)
                for (size_t i = 0; i < nall; i++)
                        if (STREQ(all[i].name, urls[q])) {
                                free(urls[q]);
                                urls[q] = xasprintf("%s/%s", p->mirror, all[i].file);
                                break;
                        }
        for (size_t i = 0; i < nall; i++)
                free(all[i].name), free(all[i].file), free(all[i].depends);
        free(all);
        strv_free(have);
        size_t n = strv_length(urls);
        long *status = xcalloc(n ? n : 1, sizeof(long));
        if (n)
                kiln_fetch_heads(urls, n, status, reterr);
        struct kiln_buf missing = {0};
        size_t nmissing = 0;
        for (size_t i = 0; urls && i < n; i++)
                if (status[i] < 200 || status[i] >= 300) {
                        nmissing++;
                        if (status[i])
                                buf_printf(&missing, "\n  %s (HTTP %ld)", urls[i], status[i]);
                        else
                                buf_printf(&missing, "\n  %s (no answer)", urls[i]);
                }
        free(status);
        strv_free(urls);
        if (nmissing || n_bad) {
                _cleanup_free_ char *list = nmissing ? buf_steal(&missing) : NULL;
                _cleanup_free_ char *udebs = nmissing ? xasprintf("%zu of the %zu udebs it fetches are missing from "
                                                                  "'%s':%s",
                                                                  nmissing, n, p->mirror, list)
                                                      : xasprintf("missing udebs: none of the %zu", n);
                if (!n_bad)
                        return kiln_error_set(reterr, ENOENT,
                                              "preflight: the installer (kernel %s, %s %s) would fail: %s\n"
                                              "Pin another installer with 'installer: {version, sha256}', or point "
                                              "'mirror' at a complete mirror",
                                              m->kernel_version, m->package ? m->package : "installer",
                                              m->version ? m->version : "", udebs);
                return kiln_error_set(reterr, EBADMSG,
                                      "preflight: the installer (kernel %s, %s %s) would fail against '%s'\n"
                                      "index inconsistencies (%zu of the %zu indices it reads):%s\n%s%s",
                                      m->kernel_version, m->package ? m->package : "installer",
                                      m->version ? m->version : "", p->mirror, n_bad, n_indices, bad_list,
                                      nmissing ? "missing udebs: " : "", udebs);
        }
        *ret_summary = xasprintf("preflight: the %zu indices the installer reads match the signed Release; kernel %s "
                                 "has '%s' on the mirror; all %zu udebs the installer fetches are there",
                                 n_indices, m->kernel_version, kpkg, n);
        return 0;
}
