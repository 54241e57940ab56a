/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's DNS answer cache (tools/zkdisc-agent/dns_answers.c and
 * dns_wire.c, compiled in): records prepared once per view are copied into
 * answers that read back as the instances' records, shuffled, whole under
 * a size limit with the truncation flag raised, SRV targets compressed and
 * their addresses in the additional section; a new view (generation) gives
 * new records, drained instances and other zones none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/zkdisc-agent/dns_answers.c"
#include "../tools/zkdisc-agent/dns_wire.c"
#include "testutil.h"

static zkd_instance *inst(const char *id, const char *addr, int port, const char *zone, int enabled)
{
    char json[512], payload[128] = "null", portnum[16] = "null";
    if (port >= 0)
        snprintf(portnum, sizeof portnum, "%d", port);
    if (zone)
        snprintf(payload, sizeof payload, "{\"zone\":\"%s\"}", zone);
    snprintf(json, sizeof json,
             "{\"name\":\"web\",\"id\":\"%s\",\"address\":\"%s\",\"port\":%s,\"sslPort\":null,"
             "\"payload\":%s,\"registrationTimeUTC\":0,\"serviceType\":\"DYNAMIC\",\"uriSpec\":null,"
             "\"enabled\":%s}",
             id, addr, portnum, payload, enabled ? "true" : "false");
    zkd_instance *i = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("web", id, json, strlen(json), &i, &err), 0);
    return i;
}

/* A view of n instances i0..i(n-1) at 10.0.0.(k+1), port 8000+k. */
typedef struct fixture {
    zkd_instance *items[64];
    watch_view v;
} fixture;

static void fixture_make(fixture *f, int n, uint64_t gen)
{
    memset(f, 0, sizeof *f);
    for (int k = 0; k < n; k++) {
        char id[16], addr[32];
        snprintf(id, sizeof id, "i%d", k);
        snprintf(addr, sizeof addr, "10.0.0.%d", k + 1);
        f->items[k] = inst(id, addr, 8000 + k, k % 2 ? "us-1" : "eu-1", 1);
    }
    f->v.inst = (const zkd_instance *const *)f->items;
    f->v.n = (size_t)n;
    f->v.generation = gen;
}

static void fixture_free(fixture *f)
{
    for (size_t k = 0; k < f->v.n; k++)
        zkd_instance_unref(f->items[k]);
}

/* A query for `name` (dotted) of `type`, its question ending at *qlen. */
static size_t query(uint8_t *q, const char *name, uint16_t type, uint16_t id)
{
    uint8_t hdr[12] = {(uint8_t)(id >> 8), (uint8_t)id, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(q, hdr, 12);
    size_t at = 12;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        q[at++] = (uint8_t)l;
        memcpy(q + at, p, l);
        at += l;
        p += l + (dot ? 1 : 0);
    }
    q[at++] = 0;
    q[at++] = (uint8_t)(type >> 8);
    q[at++] = (uint8_t)type;
    q[at++] = 0;
    q[at++] = 1;
    return at;
}

/* Reads the name at *at (following pointers, only backwards) as dotted text. */
static int read_name(const uint8_t *b, size_t len, size_t *at, char *out)
{
    size_t p = *at, o = 0;
    int jumped = 0;
    for (int hops = 0; hops < 64; hops++) {
        if (p >= len)
            return -1;
        uint8_t l = b[p];
        if ((l & 0xC0) == 0xC0) {
            size_t to = (size_t)(l & 0x3F) << 8 | b[p + 1];
            if (to >= p)
                return -1; /* a pointer must point back */
            if (!jumped)
                *at = p + 2;
            jumped = 1;
            p = to;
            continue;
        }
        if (!l) {
            if (!jumped)
                *at = p + 1;
            out[o ? o - 1 : 0] = '\0';
            return 0;
        }
        memcpy(out + o, b + p + 1, l);
        o += l;
        out[o++] = '.';
        p += 1u + l;
    }
    return -1;
}

typedef struct rr {
    char owner[256], target[256];
    uint16_t type, port;
    char addr[64];
    int section;
} rr;

static uint16_t g16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Parses every record of an answer; how many, -1 when malformed. */
static int parse_answer(const uint8_t *b, size_t len, rr *out, int max)
{
    size_t at = 12;
    char name[256];
    if (read_name(b, len, &at, name))
        return -1;
    at += 4;
    int n = 0, counts[3] = {g16(b + 6), g16(b + 8), g16(b + 10)};
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < counts[s]; k++, n++) {
            if (n == max || read_name(b, len, &at, out[n].owner) || at + 10 > len)
                return -1;
            out[n].type = g16(b + at);
            out[n].section = s + 1;
            size_t rdlen = g16(b + at + 8), rd = at + 10;
            at = rd + rdlen;
            if (at > len)
                return -1;
            out[n].addr[0] = out[n].target[0] = '\0';
            if (out[n].type == DNS_T_A && rdlen == 4)
                inet_ntop(AF_INET, b + rd, out[n].addr, sizeof out[n].addr);
            else if (out[n].type == DNS_T_SRV) {
                out[n].port = g16(b + rd + 4);
                size_t t = rd + 6;
                if (read_name(b, len, &t, out[n].target) || t != at)
                    return -1;
            } else if (out[n].type != DNS_T_OPT)
                return -1;
        }
    return at == len ? n : -1;
}

/* The answer to `name` `type` from the cache, in buf; its length. */
static size_t ask(dns_answers *c, const watch_view *v, const char *zone, const char *name, uint16_t type,
                  size_t limit, uint8_t *buf, size_t cap, int *full)
{
    uint8_t q[300];
    size_t qlen = query(q, name, type, 0x1234);
    dns_query qq;
    CU_ASSERT_EQUAL_FATAL(dns_parse(q, qlen, &qq), 0);
    dns_msg m;
    dns_msg_start(&m, buf, cap, limit, q, &qq);
    dns_rrset *s = dns_answers_get(c, v, v, zone, "web", 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (type == DNS_T_SRV)
        dns_rrset_put_srv(c, s, &m, qq.label_off[qq.nlabels - 1]);
    else
        dns_rrset_put_addrs(c, s, &m, type == DNS_T_AAAA);
    dns_msg_finish(&m, 1, m.full, 0);
    *full = m.full;
    CU_ASSERT_EQUAL(buf[0], 0x12);
    CU_ASSERT_EQUAL(buf[1], 0x34);
    return m.len;
}

static void test_a_records(void)
{
    fixture f;
    fixture_make(&f, 10, 1);
    dns_answers *c = dns_answers_new();
    uint8_t buf[1232];
    rr rrs[64];
    char first[200] = "";
    int orders = 0, full;
    for (int round = 0; round < 8; round++) {
        size_t len = ask(c, &f.v, "", "web.service.zkdisc", DNS_T_A, 1232, buf, sizeof buf, &full);
        CU_ASSERT_EQUAL(len, 12 + 24 + 10 * 16); /* 10 records of 16 bytes: owners compressed */
        CU_ASSERT_FALSE(full);
        CU_ASSERT_EQUAL_FATAL(parse_answer(buf, len, rrs, 64), 10);
        int seen[10] = {0};
        char order[200] = "";
        for (int k = 0; k < 10; k++) {
            CU_ASSERT_STRING_EQUAL(rrs[k].owner, "web.service.zkdisc");
            CU_ASSERT_EQUAL(rrs[k].section, DNS_ANSWER);
            int last = atoi(strrchr(rrs[k].addr, '.') + 1);
            CU_ASSERT(last >= 1 && last <= 10 && !seen[last - 1]);
            if (last >= 1 && last <= 10)
                seen[last - 1] = 1;
            strcat(order, rrs[k].addr);
        }
        if (round == 0)
            strcpy(first, order);
        else
            orders += strcmp(first, order) != 0;
    }
    CU_ASSERT(orders > 0); /* shuffled: 10! orders, 7 more answers */
    size_t len = ask(c, &f.v, "", "web.service.zkdisc", DNS_T_AAAA, 1232, buf, sizeof buf, &full);
    CU_ASSERT_EQUAL(g16(buf + 6), 0); /* no IPv6 addresses: no AAAA records */
    CU_ASSERT_EQUAL(len, 12 + 24);
    dns_answers_free(c);
    fixture_free(&f);
}

static void test_truncated(void)
{
    fixture f;
    fixture_make(&f, 40, 1);
    dns_answers *c = dns_answers_new();
    uint8_t buf[1232];
    rr rrs[64];
    int full;
    /* 512 bytes: 12 + 24 + 29 x 16 = 500, the 30th would pass it */
    size_t len = ask(c, &f.v, "", "web.service.zkdisc", DNS_T_A, 512, buf, sizeof buf, &full);
    CU_ASSERT_TRUE(full);
    CU_ASSERT_EQUAL(buf[2] & 2, 2); /* TC */
    CU_ASSERT_EQUAL(parse_answer(buf, len, rrs, 64), 29);
    /* SRV: the records that fit, no addresses (the client retries over TCP) */
    len = ask(c, &f.v, "", "web.service.zkdisc", DNS_T_SRV, 512, buf, sizeof buf, &full);
    CU_ASSERT_TRUE(full);
    CU_ASSERT(len <= 512);
    CU_ASSERT_EQUAL(g16(buf + 10), 0);
    int n = parse_answer(buf, len, rrs, 64);
    CU_ASSERT(n > 10 && n < 40);
    dns_answers_free(c);
    fixture_free(&f);
}

static void test_srv(void)
{
    fixture f;
    fixture_make(&f, 40, 1);
    dns_answers *c = dns_answers_new();
    uint8_t buf[65535];
    rr rrs[128];
    int full;
    for (int round = 0; round < 3; round++) {
        size_t len = ask(c, &f.v, "", "web.service.zkdisc", DNS_T_SRV, 65535, buf, sizeof buf, &full);
        CU_ASSERT_FALSE(full);
        CU_ASSERT_EQUAL_FATAL(parse_answer(buf, len, rrs, 128), 80);
        int seen[40] = {0};
        for (int k = 0; k < 40; k++) {
            CU_ASSERT_EQUAL(rrs[k].type, DNS_T_SRV);
            int id = atoi(rrs[k].target + 1);
            char want[64];
            snprintf(want, sizeof want, "i%d.web.instance.zkdisc", id);
            CU_ASSERT_STRING_EQUAL(rrs[k].target, want);
            CU_ASSERT_EQUAL(rrs[k].port, 8000 + id);
            CU_ASSERT(!seen[id]);
            seen[id] = 1;
            /* its address, in the additional section, in the same order */
            CU_ASSERT_EQUAL(rrs[40 + k].section, DNS_ADDITIONAL);
            CU_ASSERT_STRING_EQUAL(rrs[40 + k].owner, want);
            snprintf(want, sizeof want, "10.0.0.%d", id + 1);
            CU_ASSERT_STRING_EQUAL(rrs[40 + k].addr, want);
        }
        /* compressed: a target after the first is its id and a pointer */
        CU_ASSERT(len < 12 + 24 + 40 * (12 + 6 + 4) + 40 * 16 + 20 * 40);
    }
    dns_answers_free(c);
    fixture_free(&f);
}

static void test_generation_and_zones(void)
{
    fixture f, g;
    fixture_make(&f, 4, 1);
    dns_answers *c = dns_answers_new();
    uint8_t buf[1232];
    rr rrs[16];
    int full;
    size_t len = ask(c, &f.v, "eu-1", "eu-1.web.service.zkdisc", DNS_T_A, 1232, buf, sizeof buf, &full);
    CU_ASSERT_EQUAL(parse_answer(buf, len, rrs, 16), 2); /* i0 and i2 */
    CU_ASSERT_FALSE(dns_rrset_no_zone(dns_answers_get(c, &f.v, &f.v, "eu-1", "web", 7)));
    CU_ASSERT_TRUE(dns_rrset_no_zone(dns_answers_get(c, &f.v, &f.v, "mars", "web", 7)));
    /* A new view: i0 drained, i1 without a port (A, no SRV), an IPv6 one;
     * the same key, a new generation. */
    memset(&g, 0, sizeof g);
    g.items[0] = inst("i0", "10.0.0.1", 8000, "eu-1", 0);
    g.items[1] = inst("i1", "10.0.0.2", -1, NULL, 1);
    g.items[2] = inst("i2", "2001:db8::2", 8002, NULL, 1);
    g.v.inst = (const zkd_instance *const *)g.items;
    g.v.n = 3;
    g.v.generation = 2;
    len = ask(c, &g.v, "", "web.service.zkdisc", DNS_T_A, 1232, buf, sizeof buf, &full);
    /* the cache is keyed by the view: ask's key is the view itself, so use f's key */
    dns_rrset *s = dns_answers_get(c, &f.v, &g.v, "", "web", 7);
    dns_msg m;
    uint8_t q[300];
    dns_query qq;
    size_t qlen = query(q, "web.service.zkdisc", DNS_T_A, 1);
    dns_parse(q, qlen, &qq);
    dns_msg_start(&m, buf, sizeof buf, sizeof buf, q, &qq);
    dns_rrset_put_addrs(c, s, &m, 0);
    dns_msg_finish(&m, 1, 0, 0);
    CU_ASSERT_EQUAL_FATAL(parse_answer(buf, m.len, rrs, 16), 1);
    CU_ASSERT_STRING_EQUAL(rrs[0].addr, "10.0.0.2"); /* not the drained i0 */
    dns_msg_start(&m, buf, sizeof buf, sizeof buf, q, &qq);
    dns_rrset_put_addrs(c, s, &m, 1);
    CU_ASSERT_EQUAL(m.count[DNS_ANSWER], 1); /* i2's AAAA */
    dns_msg_start(&m, buf, sizeof buf, sizeof buf, q, &qq);
    dns_rrset_put_srv(c, s, &m, 12);
    CU_ASSERT_EQUAL(m.count[DNS_ANSWER], 1);     /* i2 only: i1 has no port */
    CU_ASSERT_EQUAL(m.count[DNS_ADDITIONAL], 1); /* its AAAA */
    /* A TTL of another configuration is another entry. */
    CU_ASSERT_PTR_NOT_EQUAL(dns_answers_get(c, &f.v, &g.v, "", "web", 8), NULL);
    CU_ASSERT_EQUAL(dns_answers_get(c, &f.v, &g.v, "", "web", 8)->ttl, 8);
    (void)len;
    for (int k = 0; k < 3; k++)
        zkd_instance_unref(g.items[k]);
    dns_answers_free(c);
    fixture_free(&f);
}

static void test_bad_ids(void)
{
    fixture f;
    memset(&f, 0, sizeof f);
    char longid[80];
    memset(longid, 'x', 70);
    longid[70] = '\0';
    f.items[0] = inst(longid, "10.0.0.1", 80, NULL, 1);
    f.items[1] = inst("ok", "10.0.0.2", 80, NULL, 1);
    f.v.inst = (const zkd_instance *const *)f.items;
    f.v.n = 2;
    f.v.generation = 9;
    dns_answers *c = dns_answers_new();
    uint8_t buf[1232];
    rr rrs[16];
    int full;
    size_t len = ask(c, &f.v, "", "web.service.zkdisc", DNS_T_SRV, 1232, buf, sizeof buf, &full);
    CU_ASSERT_EQUAL_FATAL(parse_answer(buf, len, rrs, 16), 2); /* ok's SRV and A; a 70-byte label is no name */
    CU_ASSERT_STRING_EQUAL(rrs[0].target, "ok.web.instance.zkdisc");
    len = ask(c, &f.v, "", "web.service.zkdisc", DNS_T_A, 1232, buf, sizeof buf, &full);
    CU_ASSERT_EQUAL(parse_answer(buf, len, rrs, 16), 2); /* both addresses */
    dns_answers_free(c);
    fixture_free(&f);
}

/* A service that keeps changing holds one entry: its older view's records
 * are replaced, not kept until evicted (each entry is the size of the set). */
static void test_one_entry_per_set(void)
{
    fixture f;
    fixture_make(&f, 10, 1);
    dns_answers *c = dns_answers_new();
    int other = 0;
    for (uint64_t gen = 1; gen <= 100; gen++) {
        f.v.generation = gen;
        dns_rrset *s = dns_answers_get(c, &f.v, &f.v, "", "web", 7);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(s->gen, gen);
        CU_ASSERT_EQUAL(s->nrec[0], 10);
        dns_answers_get(c, &other, &f.v, "", "web", 7); /* another set, asked as often */
    }
    int held = 0;
    for (int i = 0; i < CACHED_SETS; i++)
        held += c->sets[i].key != NULL;
    CU_ASSERT_EQUAL(held, 2);
    dns_answers_free(c);
    fixture_free(&f);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"A records, shuffled", test_a_records},
        {"truncated under the limit", test_truncated},
        {"SRV targets and addresses", test_srv},
        {"new view, zones, drained, no port, AAAA", test_generation_and_zones},
        {"ids that are no DNS name", test_bad_ids},
        {"one entry per set however often it changes", test_one_entry_per_set},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"dns_answers", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
