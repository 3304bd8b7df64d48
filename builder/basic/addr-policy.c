/* The address policy: IPv4 and IPv6 special-purpose ranges (RFC 6890 and the IANA registries),
 * with IPv4 parsed as inet_aton does, so that no spelling of 127.0.0.1 passes for a name. */
#include "addr-policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

static enum kiln_addr_class classify_v4(uint32_t a)
{
        static const struct {
                uint32_t net;
                unsigned bits;
                enum kiln_addr_class c;
        } ranges[] = {
                {0x00000000, 8, KILN_ADDR_UNSPECIFIED}, /* 0/8 "this network" */
                {0x0a000000, 8, KILN_ADDR_PRIVATE},     /* 10/8 */
                {0x64400000, 10, KILN_ADDR_SHARED},     /* 100.64/10 */
                {0x7f000000, 8, KILN_ADDR_LOOPBACK},    /* 127/8 */
                {0xa9fe0000, 16, KILN_ADDR_LINK_LOCAL}, /* 169.254/16 */
                {0xac100000, 12, KILN_ADDR_PRIVATE},    /* 172.16/12 */
                {0xc0000000, 24, KILN_ADDR_RESERVED},   /* 192.0.0/24 IETF protocol assignments */
                {0xc0000200, 24, KILN_ADDR_RESERVED},   /* 192.0.2/24 TEST-NET-1 */
                {0xc0586300, 24, KILN_ADDR_RESERVED},   /* 192.88.99/24 6to4 relay anycast */
                {0xc0a80000, 16, KILN_ADDR_PRIVATE},    /* 192.168/16 */
                {0xc6120000, 15, KILN_ADDR_RESERVED},   /* 198.18/15 benchmarking */
                {0xc6336400, 24, KILN_ADDR_RESERVED},   /* 198.51.100/24 TEST-NET-2 */
                {0xcb007100, 24, KILN_ADDR_RESERVED},   /* 203.0.113/24 TEST-NET-3 */
                {0xe0000000, 4, KILN_ADDR_MULTICAST},   /* 224/4 */
                {0xffffffff, 32, KILN_ADDR_MULTICAST},  /* limited broadcast (before 240/4) */
                {0xf0000000, 4, KILN_ADDR_RESERVED},    /* 240/4 */
        };
        for (size_t i = 0; i < ELEMENTSOF(ranges); i++) {
                uint32_t mask = ranges[i].bits == 32 ? 0xffffffffu : ~(0xffffffffu >> ranges[i].bits);
                if ((a & mask) == ranges[i].net)
                        return ranges[i].c;
        }
        return KILN_ADDR_PUBLIC;
}

static uint32_t v4_at(const uint8_t *b)
{
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static enum kiln_addr_class classify_v6(const uint8_t b[16])
{
        static const uint8_t zero[16];
        if (memcmp(b, zero, 16) == 0)
                return KILN_ADDR_UNSPECIFIED;
        if (memcmp(b, zero, 15) == 0 && b[15] == 1)
                return KILN_ADDR_LOOPBACK;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0) /* ::ffff:a.b.c.d, ::a.b.c.d */
                return classify_v4(v4_at(b + 12));
        static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
        if (memcmp(b, nat64, 12) == 0) /* 64:ff9b::/96 */
                return classify_v4(v4_at(b + 12));
        if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1)
                return KILN_ADDR_PRIVATE; /* 64:ff9b:1::/48 local-use NAT64 */
        if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16 6to4 */
                return classify_v4(v4_at(b + 2));
        if ((b[0] & 0xfe) == 0xfc)
                return KILN_ADDR_PRIVATE; /* fc00::/7 */
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
                return KILN_ADDR_LINK_LOCAL; /* fe80::/10 */
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
                return KILN_ADDR_PRIVATE; /* fec0::/10, site-local (deprecated) */
        if (b[0] == 0xff)
                return KILN_ADDR_MULTICAST;
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
                return KILN_ADDR_RESERVED; /* 2001:db8::/32 documentation */
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02)
                return KILN_ADDR_RESERVED; /* 2001::/23 IETF protocol assignments (Teredo, ORCHID, ...) */
        if (b[0] == 0x01 && b[1] == 0 && memcmp(b + 2, zero, 6) == 0)
                return KILN_ADDR_RESERVED; /* 100::/64 discard */
        if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0)
                return KILN_ADDR_RESERVED; /* 3fff::/20 documentation */
        if ((b[0] & 0xe0) != 0x20)
                return KILN_ADDR_RESERVED; /* outside 2000::/3, the global unicast space */
        return KILN_ADDR_PUBLIC;
}

enum kiln_addr_class kiln_addr_classify_host(const char *host)
{
        if (!host || !*host)
                return KILN_ADDR_INVALID;
        char buf[256];
        size_t n = strlen(host);
        if (host[0] == '[') {
                if (n < 3 || host[n - 1] != ']')
                        return KILN_ADDR_INVALID;
                host++, n -= 2;
        }
        if (n >= sizeof(buf))
                return KILN_ADDR_INVALID;
        memcpy(buf, host, n);
        buf[n] = '\0';
        if (strchr(buf, ':')) {
                buf[strcspn(buf, "%")] = '\0'; /* a zone id */
                struct in6_addr a6;
                if (inet_pton(AF_INET6, buf, &a6) != 1)
                        return KILN_ADDR_INVALID;
                return classify_v6(a6.s6_addr);
        }
        /* A trailing dot is the root of the DNS, for names and numbers alike ("127.0.0.1."). */
        if (n > 1 && buf[n - 1] == '.')
                buf[--n] = '\0';
        for (char *c = buf; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
        /* Every spelling inet_aton accepts (decimal, octal, hex, 1 to 4 parts) is an address; a
         * host of only those characters that inet_aton refuses is nothing curl would resolve. */
        if (strspn(buf, "0123456789abcdefx.") == n && (buf[0] >= '0' && buf[0] <= '9')) {
                struct in_addr a4;
                if (inet_aton(buf, &a4) == 0)
                        return KILN_ADDR_INVALID;
                return classify_v4(ntohl(a4.s_addr));
        }
        if (STREQ(buf, "localhost") || str_has_suffix(buf, ".localhost") || STREQ(buf, "localhost.localdomain"))
                return KILN_ADDR_LOOPBACK;
        return KILN_ADDR_NAME;
}

enum kiln_addr_class kiln_addr_classify_sockaddr(const struct sockaddr *sa, socklen_t len)
{
        if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
                return classify_v4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
        if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
                return classify_v6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
        return KILN_ADDR_RESERVED;
}

bool kiln_addr_forbidden(enum kiln_addr_class c)
{
        return c != KILN_ADDR_PUBLIC && c != KILN_ADDR_NAME;
}

const char *kiln_addr_class_name(enum kiln_addr_class c)
{
        switch (c) {
        case KILN_ADDR_PUBLIC:
                return "a public address";
        case KILN_ADDR_NAME:
                return "a host name";
        case KILN_ADDR_LOOPBACK:
                return "a loopback address";
        case KILN_ADDR_PRIVATE:
                return "a private address";
        case KILN_ADDR_LINK_LOCAL:
                return "a link-local address";
        case KILN_ADDR_UNSPECIFIED:
                return "the unspecified address";
        case KILN_ADDR_MULTICAST:
                return "a multicast or broadcast address";
        case KILN_ADDR_SHARED:
                return "a carrier-grade NAT address";
        case KILN_ADDR_RESERVED:
                return "a reserved address";
        case KILN_ADDR_INVALID:
                return "no valid host";
        }
        return "?";
}
