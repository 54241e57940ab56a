/* SPDX-License-Identifier: Apache-2.0 */
/* DNS wire format (see dns_wire.h; RFC 1035, EDNS from RFC 6891). */
#include "dns_wire.h"

#include <ctype.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Skips a name that may end in a pointer (the additional section's). */
static int skip_name(const uint8_t *q, size_t len, size_t *at)
{
    for (int hops = 0; *at < len && hops < 128; hops++) {
        uint8_t l = q[*at];
        if ((l & 0xC0) == 0xC0) {
            *at += 2;
            return *at <= len ? 0 : -1;
        }
        if (l & 0xC0)
            return -1;
        *at += 1u + l;
        if (!l)
            return 0;
    }
    return -1;
}

/* The question name: plain labels only (a query has nothing to point at). */
static int read_qname(const uint8_t *q, size_t len, dns_query *out, size_t *at)
{
    size_t n = 0;
    out->nlabels = 0;
    for (;;) {
        if (*at >= len)
            return -1;
        uint8_t l = q[*at];
        if (!l) {
            *at += 1;
            break;
        }
        if ((l & 0xC0) || *at + 1 + l > len || out->nlabels == DNS_MAX_LABELS || n + l + 1 >= sizeof out->name)
            return -1;
        out->label_off[out->nlabels++] = (uint16_t)*at;
        if (n)
            out->name[n++] = '.';
        for (size_t i = 0; i < l; i++) {
            char c = (char)tolower(q[*at + 1 + i]);
            /* A dot inside a label would split it: '/' matches no name. */
            out->name[n++] = c == '.' || c == '\0' ? '/' : c;
        }
        *at += 1u + l;
    }
    out->name[n] = '\0';
    return *at - 12 <= 255 ? 0 : -1;
}

int dns_parse(const uint8_t *q, size_t len, dns_query *out)
{
    if (len < 12 || (q[2] & 0x80))
        return DNS_DROP;
    out->id = get16(q);
    out->opcode = (uint8_t)((q[2] >> 3) & 0x0F);
    out->rd = q[2] & 1;
    out->edns = 0;
    out->edns_size = 0;
    if (get16(q + 4) != 1)
        return DNS_BAD;
    size_t at = 12;
    if (read_qname(q, len, out, &at) || at + 4 > len)
        return DNS_BAD;
    out->qtype = get16(q + at);
    out->qclass = get16(q + at + 2);
    at += 4;
    out->qend = at;
    unsigned rest = (unsigned)get16(q + 6) + get16(q + 8) + get16(q + 10);
    for (unsigned r = 0; r < rest; r++) {
        if (skip_name(q, len, &at) || at + 10 > len)
            return DNS_BAD;
        uint16_t type = get16(q + at), rdlen = get16(q + at + 8);
        if (type == DNS_T_OPT) {
            out->edns = 1;
            out->edns_size = get16(q + at + 2);
        }
        at += 10u + rdlen;
        if (at > len)
            return DNS_BAD;
    }
    return 0;
}

size_t dns_formerr(const uint8_t *q, size_t len, uint8_t *out)
{
    if (len < 12 || (q[2] & 0x80))
        return 0; /* too short to be a query, or a response: never answer those */
    memset(out, 0, 12);
    out[0] = q[0];
    out[1] = q[1];
    out[2] = (uint8_t)(0x80 | (q[2] & 0x78)); /* QR, the opcode */
    out[3] = 1;                               /* FORMERR */
    return 12;
}

void dns_put(dns_msg *m, const void *p, size_t n)
{
    if (m->len + n <= m->cap)
        memcpy(m->b + m->len, p, n);
    m->len += n; /* past cap: dns_rr_end takes the record back */
}

void dns_put16(dns_msg *m, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    dns_put(m, b, 2);
}

void dns_put32(dns_msg *m, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    dns_put(m, b, 4);
}

void dns_msg_start(dns_msg *m, uint8_t *buf, size_t cap, size_t limit, const uint8_t *q,
                   const dns_query *qq)
{
    memset(m, 0, sizeof *m);
    m->b = buf;
    m->cap = cap;
    m->limit = limit < cap ? limit : cap;
    memcpy(buf, q, qq->qend); /* the id, the question as asked (its case kept) */
    memset(buf + 4, 0, 8);
    m->len = qq->qend;
    m->count[0] = 1;
}

int dns_put_name(dns_msg *m, const char *text, size_t len, uint16_t ptr)
{
    size_t start = m->len;
    for (size_t i = 0; i < len;) {
        const char *dot = memchr(text + i, '.', len - i);
        size_t l = (dot ? (size_t)(dot - text) : len) - i;
        if (l == 0 || l > 63) {
            m->len = start;
            return -1;
        }
        uint8_t lb = (uint8_t)l;
        dns_put(m, &lb, 1);
        dns_put(m, text + i, l);
        i += l + 1;
        if (dot && i == len) { /* a final dot: an empty label */
            m->len = start;
            return -1;
        }
    }
    if (ptr)
        dns_put16(m, (uint16_t)(0xC000 | ptr));
    else
        dns_put(m, "", 1);
    if (m->len - start > 255) {
        m->len = start;
        return -1;
    }
    return (int)start;
}

/* After the owner: type, class, TTL and a placeholder rdlength. */
static void rr_fixed(dns_msg *m, uint16_t type, uint32_t ttl)
{
    dns_put16(m, type);
    dns_put16(m, type == DNS_T_OPT ? (uint16_t)ttl : 1); /* OPT: the class is the UDP size */
    dns_put32(m, type == DNS_T_OPT ? 0 : ttl);
    m->rdlen_at = m->len;
    dns_put16(m, 0); /* rdlength, set by dns_rr_end */
}

size_t dns_rr_begin(dns_msg *m, uint16_t owner, uint16_t type, uint32_t ttl)
{
    size_t mark = m->len;
    if (owner)
        dns_put16(m, (uint16_t)(0xC000 | owner));
    else
        dns_put(m, "", 1);
    rr_fixed(m, type, ttl);
    return mark;
}

size_t dns_rr_begin_name(dns_msg *m, const char *text, size_t len, uint16_t ptr, uint16_t type,
                         uint32_t ttl)
{
    size_t mark = m->len;
    if (dns_put_name(m, text, len, ptr) < 0)
        dns_put(m, "", 1); /* cannot happen for a name written before; keeps the record well-formed */
    rr_fixed(m, type, ttl);
    return mark;
}

int dns_rr_end(dns_msg *m, size_t mark, int section)
{
    if (m->len > m->limit) {
        m->len = mark;
        m->full = 1;
        return -1;
    }
    size_t rdlen = m->len - m->rdlen_at - 2;
    m->b[m->rdlen_at] = (uint8_t)(rdlen >> 8);
    m->b[m->rdlen_at + 1] = (uint8_t)rdlen;
    m->count[section]++;
    return 0;
}

void dns_msg_finish(dns_msg *m, int aa, int tc, int rcode)
{
    uint8_t op = m->b[2] & 0x78, rd = m->b[2] & 1;
    m->b[2] = (uint8_t)(0x80 | op | (aa ? 4 : 0) | (tc ? 2 : 0) | rd);
    m->b[3] = (uint8_t)(rcode & 0x0F);
    for (int s = 0; s < 4; s++) {
        m->b[4 + 2 * s] = (uint8_t)(m->count[s] >> 8);
        m->b[5 + 2 * s] = (uint8_t)m->count[s];
    }
}
