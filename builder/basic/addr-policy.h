/* Which addresses a profile's URLs may name, and kiln may connect to: pure functions, no I/O, so
 * the profile check, the downloader and the proxy share one policy. See profiles/README.md. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

enum kiln_addr_class {
        KILN_ADDR_PUBLIC,      /* a global unicast address */
        KILN_ADDR_NAME,        /* a DNS name: checked again once resolved */
        KILN_ADDR_LOOPBACK,    /* 127/8, ::1, the name localhost */
        KILN_ADDR_PRIVATE,     /* RFC 1918, fc00::/7 (ULA), fec0::/10, 64:ff9b:1::/48 */
        KILN_ADDR_LINK_LOCAL,  /* 169.254/16 (cloud metadata), fe80::/10 */
        KILN_ADDR_UNSPECIFIED, /* 0/8, :: */
        KILN_ADDR_MULTICAST,   /* 224/4, ff00::/8, 255.255.255.255 */
        KILN_ADDR_SHARED,      /* 100.64/10, carrier-grade NAT */
        KILN_ADDR_RESERVED,    /* documentation, benchmarking, 240/4, IETF protocol ranges, ... */
        KILN_ADDR_INVALID,     /* not a host at all */
};

/* A URL's host as written (IPv6 in brackets or not, a zone id allowed). IPv4 is read the way
 * inet_aton and curl read it: 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 are 127.0.0.1.
 * IPv4-mapped, -compatible, NAT64 and 6to4 IPv6 forms are judged by the IPv4 address inside. */
enum kiln_addr_class kiln_addr_classify_host(const char *host);

/* An address about to be connected to. Families other than IPv4 and IPv6 are RESERVED. */
enum kiln_addr_class kiln_addr_classify_sockaddr(const struct sockaddr *sa, socklen_t len);

/* True for classes kiln refuses unless the operator allows private mirrors. */
bool kiln_addr_forbidden(enum kiln_addr_class c);

/* "a loopback address", "a private address", ... for messages. */
const char *kiln_addr_class_name(enum kiln_addr_class c);
