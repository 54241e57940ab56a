/* SPDX-License-Identifier: Apache-2.0 */
/* The answer cache (see dns_answers.h). A set's records are kept whole in
 * wire form: an A record is 16 bytes (owner: a pointer to the question),
 * an AAAA record 28, each copied as is into an answer; a target's address
 * record reuses the same bytes behind the target's owner name. SRV records
 * are written from prepared parts, because their compressed target names
 * point at the first target written, which the shuffle chooses. Each
 * record list keeps a permutation that a query shuffles in place as far as
 * it takes records (a partial Fisher-Yates), so a UDP answer of a large
 * set costs the records it carries, not the set's size. */
#include "dns_answers.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CACHED_SETS 32
enum { A_SIZE = 16, AAAA_SIZE = 28 };

typedef struct srv_rec {
    uint8_t rdata[6];   /* priority, weight, port */
    uint8_t id_len;     /* the id's labels in wire form, at names + id_off */
    uint32_t id_off;
    int32_t addr[2];    /* its A and AAAA record among rec[0] and rec[1], -1: none */
} srv_rec;

struct dns_rrset {
    const void *key;    /* the watch set; with gen, ttl and zone, what this holds */
    uint64_t gen;
    uint32_t ttl;
    char zone[64];
    int no_zone;
    uint8_t *rec[2];    /* A records, AAAA records */
    size_t nrec[2];
    uint32_t *perm[2];
    srv_rec *srv;
    size_t nsrv;
    uint32_t *srv_perm;
    uint32_t *at;       /* scratch: where each SRV record written put its target */
    uint8_t *names;     /* the ids' labels */
    uint8_t svc[256];   /* SERVICE.instance as labels */
    size_t svc_len;
};

struct dns_answers {
    dns_rrset sets[CACHED_SETS];
    int next;           /* the entry replaced next */
    uint64_t rng;
};

dns_answers *dns_answers_new(void)
{
    dns_answers *c = calloc(1, sizeof *c);
    if (c)
        c->rng = ((uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c) | 1;
    return c;
}

static void rrset_clear(dns_rrset *s)
{
    for (int v6 = 0; v6 < 2; v6++) {
        free(s->rec[v6]);
        free(s->perm[v6]);
    }
    free(s->srv);
    free(s->srv_perm);
    free(s->at);
    free(s->names);
    memset(s, 0, sizeof *s);
}

void dns_answers_clear(dns_answers *c)
{
    for (int i = 0; i < CACHED_SETS; i++)
        rrset_clear(&c->sets[i]);
}

void dns_answers_free(dns_answers *c)
{
    if (c)
        dns_answers_clear(c);
    free(c);
}

/* xorshift64*: a shuffle needs no lock (random() takes one) and no strength. */
static uint32_t below(dns_answers *c, size_t n)
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    uint64_t x = c->rng * 0x2545F4914F6CDD1DULL;
    return (uint32_t)(((x >> 32) * (uint64_t)n) >> 32);
}

/* Dotted text as labels (no final root label) into out; its length, or -1
 * for an empty or over-long label, or past `cap`. */
static int to_labels(const char *text, uint8_t *out, size_t cap)
{
    size_t len = strlen(text), o = 0;
    for (size_t i = 0; i <= len;) {
        const char *dot = memchr(text + i, '.', len - i);
        size_t l = (dot ? (size_t)(dot - text) : len) - i;
        if (l == 0 || l > 63 || o + 1 + l > cap)
            return -1;
        out[o++] = (uint8_t)l;
        memcpy(out + o, text + i, l);
        o += l;
        i += l + 1;
    }
    return (int)o;
}

/* An A or AAAA record of `addr` owned by the question, at out; 0 when the
 * address is not of that family (a host name, or the other family). */
static int addr_record(uint8_t *out, const char *addr, int v6, uint32_t ttl)
{
    if (!addr || inet_pton(v6 ? AF_INET6 : AF_INET, addr, out + 12) != 1)
        return 0;
    uint16_t type = v6 ? DNS_T_AAAA : DNS_T_A, rdlen = v6 ? 16 : 4;
    uint8_t head[12] = {0xC0, 12, (uint8_t)(type >> 8), (uint8_t)type, 0, 1, (uint8_t)(ttl >> 24),
                        (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl, 0, (uint8_t)rdlen};
    memcpy(out, head, sizeof head);
    return 1;
}

static int in_zone(const zkd_instance *i, const char *zone)
{
    const char *z = zkd_instance_zone(i);
    return z && !strcasecmp(z, zone);
}

static int prepare(dns_rrset *s, const watch_view *v, const char *zone, const char *service, uint32_t ttl)
{
    size_t n = v->n ? v->n : 1, names = 1;
    for (size_t k = 0; k < v->n; k++)
        names += strlen(zkd_instance_id(v->inst[k])) + 1;
    s->rec[0] = malloc(n * A_SIZE);
    s->rec[1] = malloc(n * AAAA_SIZE);
    s->perm[0] = malloc(n * sizeof *s->perm[0]);
    s->perm[1] = malloc(n * sizeof *s->perm[1]);
    s->srv = malloc(n * sizeof *s->srv);
    s->srv_perm = malloc(n * sizeof *s->srv_perm);
    s->at = malloc(n * sizeof *s->at);
    s->names = malloc(names);
    if (!s->rec[0] || !s->rec[1] || !s->perm[0] || !s->perm[1] || !s->srv || !s->srv_perm || !s->at || !s->names)
        return -1;
    char target[300];
    snprintf(target, sizeof target, "%s.instance", service);
    int svc_len = to_labels(target, s->svc, sizeof s->svc);
    s->svc_len = svc_len < 0 ? 0 : (size_t)svc_len;
    size_t names_len = 0;
    s->no_zone = zone[0] != '\0';
    for (size_t k = 0; k < v->n; k++) {
        const zkd_instance *i = v->inst[k];
        if (s->no_zone && in_zone(i, zone))
            s->no_zone = 0; /* a zone exists while any instance is in it, drained or not */
        if (!zkd_instance_enabled(i) || (zone[0] && !in_zone(i, zone)))
            continue;
        srv_rec *r = &s->srv[s->nsrv];
        for (int v6 = 0; v6 < 2; v6++) {
            size_t size = v6 ? AAAA_SIZE : A_SIZE;
            r->addr[v6] = -1;
            if (addr_record(s->rec[v6] + s->nrec[v6] * size, zkd_instance_address(i), v6, ttl)) {
                s->perm[v6][s->nrec[v6]] = (uint32_t)s->nrec[v6];
                r->addr[v6] = (int32_t)s->nrec[v6]++;
            }
        }
        int port = zkd_instance_port(i), w = zkd_instance_weight(i);
        int id_len = to_labels(zkd_instance_id(i), s->names + names_len, names - names_len);
        /* No SRV record for an instance without a port, or whose id is no
         * DNS label (the target's name, written out, must stay in 255). */
        if (port < 0 || id_len < 0 || svc_len < 0 || (size_t)id_len + (size_t)svc_len + 2 > 255)
            continue;
        w = w < 0 ? 0 : w > 65535 ? 65535 : w;
        uint8_t rdata[6] = {0, 1, (uint8_t)(w >> 8), (uint8_t)w, (uint8_t)(port >> 8), (uint8_t)port};
        memcpy(r->rdata, rdata, sizeof rdata);
        r->id_off = (uint32_t)names_len;
        r->id_len = (uint8_t)id_len;
        names_len += (size_t)id_len;
        s->srv_perm[s->nsrv] = (uint32_t)s->nsrv;
        s->nsrv++;
    }
    /* Room for both families was taken; most sets use one. */
    for (int v6 = 0; v6 < 2; v6++) {
        size_t keep = s->nrec[v6] ? s->nrec[v6] : 1;
        uint8_t *rec = realloc(s->rec[v6], keep * (v6 ? AAAA_SIZE : A_SIZE));
        uint32_t *perm = realloc(s->perm[v6], keep * sizeof *perm);
        if (rec)
            s->rec[v6] = rec;
        if (perm)
            s->perm[v6] = perm;
    }
    return 0;
}

dns_rrset *dns_answers_get(dns_answers *c, const void *key, const watch_view *v, const char *zone,
                           const char *service, uint32_t ttl)
{
    /* A set's older view is replaced where it is, so a service that keeps
     * changing holds one entry, not one per change. */
    dns_rrset *s = NULL;
    for (int i = 0; i < CACHED_SETS && !s; i++)
        if (c->sets[i].key == key && c->sets[i].ttl == ttl && !strcmp(c->sets[i].zone, zone))
            s = &c->sets[i];
    if (s && s->gen == v->generation)
        return s;
    if (!s) {
        s = &c->sets[c->next];
        c->next = (c->next + 1) % CACHED_SETS;
    }
    rrset_clear(s);
    if (strlen(zone) >= sizeof s->zone || prepare(s, v, zone, service, ttl)) {
        rrset_clear(s);
        return NULL;
    }
    s->key = key;
    s->gen = v->generation;
    s->ttl = ttl;
    strcpy(s->zone, zone);
    return s;
}

int dns_rrset_no_zone(const dns_rrset *s)
{
    return s->no_zone;
}

/* The next index of a partial shuffle of perm[0..n) at position k. */
static uint32_t take(dns_answers *c, uint32_t *perm, size_t k, size_t n)
{
    size_t j = k + below(c, n - k);
    uint32_t x = perm[j];
    perm[j] = perm[k];
    perm[k] = x;
    return x;
}

void dns_rrset_put_addrs(dns_answers *c, dns_rrset *s, dns_msg *m, int v6)
{
    size_t size = v6 ? AAAA_SIZE : A_SIZE, n = s->nrec[v6];
    size_t room = m->limit > m->len ? (m->limit - m->len) / size : 0;
    if (room < n) {
        n = room;
        m->full = 1;
    }
    for (size_t k = 0; k < n; k++) {
        memcpy(m->b + m->len, s->rec[v6] + (size_t)take(c, s->perm[v6], k, s->nrec[v6]) * size, size);
        m->len += size;
    }
    m->count[DNS_ANSWER] = (uint16_t)(m->count[DNS_ANSWER] + n);
}

void dns_rrset_put_srv(dns_answers *c, dns_rrset *s, dns_msg *m, uint16_t apex)
{
    uint16_t svc_at = 0; /* SERVICE.instance in the first target */
    for (size_t k = 0; k < s->nsrv; k++) {
        const srv_rec *r = &s->srv[take(c, s->srv_perm, k, s->nsrv)];
        size_t mark = dns_rr_begin(m, 12, DNS_T_SRV, s->ttl), at = m->len + 6;
        dns_put(m, r->rdata, sizeof r->rdata);
        dns_put(m, s->names + r->id_off, r->id_len);
        if (svc_at) {
            dns_put16(m, (uint16_t)(0xC000 | svc_at));
        } else {
            dns_put(m, s->svc, s->svc_len);
            dns_put16(m, (uint16_t)(0xC000 | apex));
        }
        if (dns_rr_end(m, mark, DNS_ANSWER))
            return; /* truncated: the client asks again over TCP */
        if (!svc_at)
            svc_at = (uint16_t)(at + r->id_len);
        s->at[k] = (uint32_t)at;
    }
    /* The targets' addresses; a target past a pointer's reach (16 KB) is
     * named again: ID and a pointer to SERVICE.instance.DOMAIN. */
    for (size_t k = 0; k < s->nsrv; k++) {
        const srv_rec *r = &s->srv[s->srv_perm[k]];
        for (int v6 = 0; v6 < 2; v6++) {
            if (r->addr[v6] < 0)
                continue;
            size_t size = v6 ? AAAA_SIZE : A_SIZE, mark = m->len;
            if (s->at[k] < 0x4000) {
                dns_put16(m, (uint16_t)(0xC000 | s->at[k]));
            } else {
                dns_put(m, s->names + r->id_off, r->id_len);
                dns_put16(m, (uint16_t)(0xC000 | svc_at));
            }
            dns_put(m, s->rec[v6] + (size_t)r->addr[v6] * size + 2, size - 2);
            if (m->len > m->limit) {
                m->len = mark;
                m->full = 1;
                return;
            }
            m->count[DNS_ADDITIONAL]++;
        }
    }
}
