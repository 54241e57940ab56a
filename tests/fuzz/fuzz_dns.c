/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the agent's DNS wire format (tools/zkdisc-agent/
 * dns_wire.c, compiled in). Any bytes either parse as a query or not,
 * never read past their end; a parsed query is answered with records named
 * after its question (compressed and written out) until the limit, and the
 * answer stays inside the limit with its counts and rdlengths consistent. */
#include "../../tools/zkdisc-agent/dns_wire.c"

#include <stdlib.h>

static size_t skip(const uint8_t *b, size_t at, size_t len)
{
    while (at < len && b[at] && (b[at] & 0xC0) != 0xC0)
        at += 1u + b[at];
    return at < len && b[at] ? at + 2 : at + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dns_query q;
    uint8_t out[1232];
    int rc = dns_parse(data, size, &q);
    if (rc == DNS_BAD && dns_formerr(data, size, out) != 12)
        abort();
    if (rc)
        return 0;
    if (q.qend > size || q.nlabels > DNS_MAX_LABELS || strlen(q.name) > 255)
        abort();
    size_t limit = size % 2 ? 512 : 1232;
    dns_msg m;
    dns_msg_start(&m, out, sizeof out, limit, data, &q);
    size_t nl = strlen(q.name);
    for (int i = 0; i < 200 && !m.full; i++) {
        size_t mark = dns_rr_begin(&m, 12, DNS_T_SRV, 5);
        dns_put16(&m, 1);
        dns_put16(&m, 2);
        dns_put16(&m, 3);
        if (dns_put_name(&m, q.name, nl, i % 2 ? 12 : 0) < 0)
            m.len = mark;
        else
            dns_rr_end(&m, mark, i % 3 ? DNS_ANSWER : DNS_ADDITIONAL);
    }
    dns_msg_finish(&m, 1, m.full, 0);
    if (m.len > limit)
        abort();
    /* Walk the records back: each ends where the counts say. */
    size_t at = q.qend, n = (size_t)m.count[1] + m.count[2] + m.count[3];
    for (size_t r = 0; r < n; r++) {
        at = skip(out, at, m.len) + 10;
        if (at > m.len)
            abort();
        at += (size_t)out[at - 2] << 8 | out[at - 1];
    }
    if (at != m.len)
        abort();
    return 0;
}
