/* kiln's host-side proxy: the only thing an install guest can reach. GET and HEAD for the URL
 * prefixes the profile allows, CONNECT to the host:port pairs it allows, 403 for the rest. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "cache.h"
#include "profile.h"

struct kiln_proxy_policy {
        char **allow;   /* URL prefixes, "http://host[:port]/path/" */
        char **connect; /* "host:port" for CONNECT (HTTPS repositories) */
};

/* What a profile allows: its mirror, its security mirror, its repositories. */
void kiln_proxy_policy_for(const struct kiln_profile *p, struct kiln_proxy_policy *ret);
void kiln_proxy_policy_clear(struct kiln_proxy_policy *pol);

/* 0 when allowed, else -EACCES with *ret_why saying why (for the log). url is absolute-form.
 * *ret_url (may be NULL) gets the URL as curl's URL API normalised it: the one to fetch. */
int kiln_proxy_check_url(const struct kiln_proxy_policy *pol, const char *url, char **ret_url, const char **ret_why);
int kiln_proxy_check_connect(const struct kiln_proxy_policy *pol, const char *authority);
/* A pool file (.deb, .udeb, .dsc, ...), which never changes under one name and may be cached. */
bool kiln_proxy_cacheable(const char *url);

struct kiln_proxy_served {
        char *method, *url, *sha256; /* sha256 NULL when not known (HEAD, denied, tunnel) */
        int status;
        uint64_t bytes;
        bool cached;   /* answered from kiln's cache */
        bool upstream; /* the proxy asked the mirror (or tunnelled to it) for this one */
};

/* The proxy's unix socket address: a path, or '@NAME' in the abstract namespace. -ENAMETOOLONG
 * when it does not fit. */
struct sockaddr_un;
int kiln_proxy_unix_addr(const char *name, struct sockaddr_un *ret, socklen_t *ret_len);

struct kiln_proxy;
struct kiln_snapshot;
/* Listen on addr (an IPv4 address; NULL: 127.0.0.1) and port (0: any free one), or, when addr
 * is an absolute path or '@NAME' (the abstract namespace), on a unix socket, or, for 'fd:N', on
 * a socket already listening (the proxy serves a copy; the caller's stays the caller's). log_path (may be
 * NULL) gets one line per request. Under each suite the snapshot pins (it may be NULL; it must
 * outlive the proxy), the guest gets only the verified Release and the bytes it lists. */
int kiln_proxy_start(const struct kiln_proxy_policy *pol, struct kiln_cache *cache,
                     const struct kiln_snapshot *snapshot, const char *log_path, const char *addr, uint16_t port,
                     struct kiln_proxy **ret, struct kiln_error **reterr);
uint16_t kiln_proxy_port(const struct kiln_proxy *p);
/* On a unix socket: take connections from this uid's processes (and root's) only (SO_PEERCRED). */
void kiln_proxy_admit_uid(struct kiln_proxy *p, uid_t uid);
/* Stop serving and wait for every connection's thread. */
void kiln_proxy_stop(struct kiln_proxy *p);
/* What was served so far (a copy; free with kiln_proxy_served_free). */
size_t kiln_proxy_served(struct kiln_proxy *p, struct kiln_proxy_served **ret);
void kiln_proxy_served_free(struct kiln_proxy_served *s, size_t n);

/* The install's proxy in a process of its own: forked, it drops to the sandbox user (no
 * capabilities, NoNewPrivs, kiln's seccomp filter), keeps only its own descriptors, reads the cache
 * through a descriptor and stages what it fetches in stage (created for it); then it serves as
 * kiln_proxy_start would. addr as kiln_proxy_start's (a socket 'fd:N' stays kiln's too). */
struct kiln_proxy_process;
struct kiln_sandbox;
int kiln_proxy_process_start(const struct kiln_proxy_policy *pol, struct kiln_cache *cache,
                             const struct kiln_snapshot *snapshot, const char *log_path, const char *addr,
                             const struct kiln_sandbox *sb, const char *stage, struct kiln_proxy_process **ret,
                             struct kiln_error **reterr);
uint16_t kiln_proxy_process_port(const struct kiln_proxy_process *pp);
/* Stop it and wait for it; *ret (may be NULL) gets what it served, and what it staged is copied
 * into cache (may be NULL: dropped), each file checked against the sha256 it is named by. */
void kiln_proxy_process_stop(struct kiln_proxy_process *pp, struct kiln_cache *cache, struct kiln_proxy_served **ret,
                             size_t *ret_n);
