/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS responder (see dns.h). libevent 2.1's evdns server listens on UDP
 * only and has no SRV helper, so the sockets are libevent's (a UDP socket
 * and a TCP listener) and dns_wire.c reads and writes the wire format.
 *
 *   SERVICE.service.DOMAIN         A/AAAA of the usable instances, SRV with
 *                                  ID.SERVICE.instance.DOMAIN targets whose
 *                                  addresses go in the additional section
 *   ZONE.SERVICE.service.DOMAIN    the same, for one zone
 *   ID.SERVICE.instance.DOMAIN     A/AAAA of one instance
 *   DOMAIN                         SOA and NS (ns.DOMAIN, the listen address)
 *
 * Answers are shuffled, their names compressed. An unknown name is
 * NXDOMAIN and a known name without records of the type asked NOERROR
 * empty, both with the SOA in the authority section (its minimum is
 * negative_ttl); a name outside DOMAIN is REFUSED (this is not a recursive
 * resolver); a malformed query FORMERR.
 *
 * Nothing here can be turned against anyone: a UDP answer is at most 1,232
 * bytes (DNS Flag Day 2020) whatever EDNS size the query asks, carrying as
 * many whole records as fit, with TC set when answers were left out; TCP
 * connections are capped in number, stop being read while their unsent
 * output is over TCP_OUT_HIGH (a client that pipelines and never reads does
 * not grow memory) and close when idle. */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "agent.h"
#include "dns_answers.h"
#include "dns_dir.h"
#include "dns_wire.h"

enum { QT_A, QT_AAAA, QT_SRV, QT_OTHER, QT_N };
enum { RC_NOERROR, RC_FORMERR, RC_SERVFAIL, RC_NXDOMAIN, RC_NOTIMP, RC_REFUSED, RC_N };
static const char *qt_names[QT_N] = {"A", "AAAA", "SRV", "other"};
static const char *rc_names[RC_N] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
static const int rc_wire[RC_N] = {0, 1, 2, 3, 4, 5};

#define UDP_MAX 1232          /* DNS Flag Day 2020: no fragmentation */
#define TCP_MAX_CONNS 64
#define TCP_OUT_HIGH 65536    /* stop reading a connection whose unsent output is above */
#define TCP_IDLE_S 10
#define ADHOC_MAX 256
#define UDP_BATCH 32

/* ---- the server ------------------------------------------------------------ */

/* A service answered with dns.all_services that no watch covers: a cache
 * of its own (no snapshot file), opened on the first query, closed after
 * idle_close or when the least recently used of ADHOC_MAX must make room. */
typedef struct adhoc {
    watch_conf wc;
    watch_set *ws;
    struct timeval used;
} adhoc;

typedef struct conn conn;

struct dns_server {
    struct event_base *base;
    zkd_client *zk;
    int wake_fd;
    dns_dir *dir;
    adhoc adhoc[ADHOC_MAX];
    int nadhoc;
    int pending;         /* the last lookup could not tell (SERVFAIL, not NXDOMAIN) */
    struct event *idle;
    const dns_conf *conf;
    int domain_labels;
    watch_set *const *sets;
    int nsets;
    evutil_socket_t udp;
    struct event *udp_ev;
    struct evconnlistener *tcp;
    conn *conns;         /* open TCP connections, closed with the server */
    int nconns;
    uint32_t serial;
    dns_answers *answers;
    uint64_t queries[QT_N][RC_N];
    uint64_t truncated, tcp_refused;
    uint8_t wire[65535];  /* a TCP answer */
    uint8_t udp_in[UDP_BATCH][UDP_MAX];
    uint8_t udp_out[UDP_BATCH][UDP_MAX];
    struct sockaddr_storage udp_from[UDP_BATCH];
};

struct conn {
    struct bufferevent *bev;
    dns_server *d;
    conn *prev, *next;
};

static void conn_close(conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->d->nconns--;
    bufferevent_free(c->bev);
    free(c);
}

/* ---- names -------------------------------------------------------------------- */

static int elapsed_ms(const struct timeval *since)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (int)((now.tv_sec - since->tv_sec) * 1000 + (now.tv_usec - since->tv_usec) / 1000);
}

static void adhoc_close(dns_server *d, int i, const char *why)
{
    agent_log(AGENT_INFO, "dns: closing the %s cache of %s", why, d->adhoc[i].wc.service);
    watch_set_close(d->adhoc[i].ws);
    free(d->adhoc[i].wc.service);
    /* The last cache moves into the gap: its watch set keeps a pointer to
     * its conf, which must follow it. */
    if (i != --d->nadhoc) {
        d->adhoc[i] = d->adhoc[d->nadhoc];
        watch_set_rebind(d->adhoc[i].ws, &d->adhoc[i].wc);
    }
}

/* The ad-hoc cache of an existing service, opened now if need be (it loads
 * in the background: until then its view is NULL and the answer SERVFAIL).
 * NULL when the service does not exist or has no instance. */
static watch_set *adhoc_find(dns_server *d, const char *name, size_t len)
{
    for (int i = 0; i < d->nadhoc; i++)
        if (strlen(d->adhoc[i].wc.service) == len && !strncmp(d->adhoc[i].wc.service, name, len)) {
            gettimeofday(&d->adhoc[i].used, NULL);
            watch_set_refresh(d->adhoc[i].ws, watch_set_view(d->adhoc[i].ws) == NULL);
            const watch_view *v = watch_set_view(d->adhoc[i].ws);
            return !v || v->n ? d->adhoc[i].ws : NULL;
        }
    char svc[129];
    if (len >= sizeof svc)
        return NULL;
    memcpy(svc, name, len);
    svc[len] = '\0';
    int has = d->dir ? dns_dir_has(d->dir, svc) : -1;
    if (has < 0)
        d->pending = 1;
    if (has <= 0 || zkd_validate_name("service", svc, NULL))
        return NULL;
    if (d->nadhoc == ADHOC_MAX) {
        int lru = 0;
        for (int i = 1; i < d->nadhoc; i++)
            if (timercmp(&d->adhoc[i].used, &d->adhoc[lru].used, <))
                lru = i;
        adhoc_close(d, lru, "least recently used");
    }
    adhoc *a = &d->adhoc[d->nadhoc];
    memset(a, 0, sizeof *a);
    a->wc.service = strdup(svc);
    a->wc.unstored = 1;
    gettimeofday(&a->used, NULL);
    struct evbuffer *errors = evbuffer_new();
    a->ws = watch_set_open(d->base, d->zk, &a->wc, d->wake_fd, errors);
    evbuffer_free(errors);
    if (!a->ws) {
        free(a->wc.service);
        return NULL;
    }
    d->nadhoc++;
    return a->ws;
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    dns_server *d = arg;
    for (int i = d->nadhoc - 1; i >= 0; i--)
        if (elapsed_ms(&d->adhoc[i].used) > d->conf->idle_close_ms)
            adhoc_close(d, i, "idle");
}

/* A watched service by name (any case); with `open` (dns.all_services),
 * any service under the root. */
static watch_set *find_service(dns_server *d, const char *name, size_t len, int open)
{
    if (open)
        return adhoc_find(d, name, len);
    for (int i = 0; i < d->nsets; i++) {
        const char *s = watch_set_conf(d->sets[i])->service;
        if (strlen(s) == len && !strncasecmp(s, name, len))
            return d->sets[i];
    }
    return NULL;
}

typedef struct target {
    watch_set *ws;
    char zone[64];       /* "" for every zone */
    const zkd_instance *one; /* an ID.SERVICE.instance name */
} target;

/* Resolves `rel` (the query name without ".DOMAIN", lower case) into a
 * target among the watched services (open 0) or any service (open 1); 0
 * when nothing is known by that name. */
static int resolve_in(dns_server *d, const char *rel, target *t, int open)
{
    memset(t, 0, sizeof *t);
    size_t len = strlen(rel);
    static const char svc_sfx[] = ".service", inst_sfx[] = ".instance";
    if (len > sizeof svc_sfx - 1 && !strcmp(rel + len - (sizeof svc_sfx - 1), svc_sfx)) {
        len -= sizeof svc_sfx - 1;
        if ((t->ws = find_service(d, rel, len, open)))
            return 1;
        const char *dot = memchr(rel, '.', len);
        if (!dot || dot - rel >= (long)sizeof t->zone)
            return 0;
        memcpy(t->zone, rel, (size_t)(dot - rel));
        return (t->ws = find_service(d, dot + 1, len - (size_t)(dot - rel) - 1, open)) != NULL;
    }
    if (len > sizeof inst_sfx - 1 && !strcmp(rel + len - (sizeof inst_sfx - 1), inst_sfx)) {
        len -= sizeof inst_sfx - 1;
        /* ID.SERVICE: ids and services may hold dots, so try each split. */
        for (const char *dot = memchr(rel, '.', len); dot; dot = memchr(dot + 1, '.', len - (size_t)(dot + 1 - rel))) {
            watch_set *ws = find_service(d, dot + 1, len - (size_t)(dot - rel) - 1, open);
            const watch_view *v = ws ? watch_set_view(ws) : NULL;
            if (ws && !v)
                d->pending = 1; /* not loaded yet */
            for (size_t k = 0; v && k < v->n; k++) {
                const char *id = zkd_instance_id(v->inst[k]);
                if (strlen(id) == (size_t)(dot - rel) && !strncasecmp(id, rel, (size_t)(dot - rel))) {
                    t->ws = ws;
                    t->one = v->inst[k];
                    return 1;
                }
            }
        }
    }
    return 0;
}

static int resolve(dns_server *d, const char *rel, target *t)
{
    return resolve_in(d, rel, t, 0) || (d->conf->all_services && resolve_in(d, rel, t, 1));
}

/* ---- answers ---------------------------------------------------------------- */

typedef struct reply {
    dns_server *d;
    dns_msg m;
    uint16_t apex;       /* where DOMAIN starts in the question */
    uint32_t ttl;
} reply;

/* An A or AAAA record of `addr` (text) owned by the name at `owner`; 1
 * added, 0 not of that family, -1 full. */
static int addr_rr(reply *r, uint16_t owner, const char *addr, int v6)
{
    unsigned char buf[16];
    if (!addr || inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1)
        return 0;
    size_t mark = dns_rr_begin(&r->m, owner, v6 ? DNS_T_AAAA : DNS_T_A, r->ttl);
    dns_put(&r->m, buf, v6 ? 16 : 4);
    /* The question's name is answered; any other (ns.DOMAIN) is additional. */
    return dns_rr_end(&r->m, mark, owner == 12 ? DNS_ANSWER : DNS_ADDITIONAL) ? -1 : 1;
}

static void soa_rr(reply *r, int section)
{
    uint32_t neg = (uint32_t)r->d->conf->negative_ttl;
    size_t mark = dns_rr_begin(&r->m, r->apex, DNS_T_SOA, neg);
    dns_put_name(&r->m, "ns", 2, r->apex);
    dns_put_name(&r->m, "hostmaster", 10, r->apex);
    dns_put32(&r->m, r->d->serial);
    dns_put32(&r->m, 3600);  /* refresh */
    dns_put32(&r->m, 600);   /* retry */
    dns_put32(&r->m, 86400); /* expire */
    dns_put32(&r->m, neg);   /* minimum: how long a negative answer is cached */
    dns_rr_end(&r->m, mark, section);
}

/* The listen address when it is one a client can use (not a wildcard). */
static const char *ns_address(const dns_server *d, int v6)
{
    const char *h = d->conf->listen_host;
    unsigned char buf[16], any[16] = {0};
    if (inet_pton(v6 ? AF_INET6 : AF_INET, h, buf) != 1 || !memcmp(buf, any, v6 ? 16 : 4))
        return NULL;
    return h;
}

/* DOMAIN itself and ns.DOMAIN. */
static int answer_apex(reply *r, int ns_name, uint16_t qtype)
{
    if (ns_name) {
        if (qtype == DNS_T_A || qtype == DNS_T_AAAA)
            addr_rr(r, 12, ns_address(r->d, qtype == DNS_T_AAAA), qtype == DNS_T_AAAA);
        return RC_NOERROR;
    }
    if (qtype == DNS_T_SOA || qtype == 255)
        soa_rr(r, DNS_ANSWER);
    if (qtype == DNS_T_NS || qtype == 255) {
        size_t mark = dns_rr_begin(&r->m, r->apex, DNS_T_NS, r->ttl);
        int ns = dns_put_name(&r->m, "ns", 2, r->apex);
        if (dns_rr_end(&r->m, mark, DNS_ANSWER) == 0 && ns >= 0 && ns < 0x4000)
            for (int v6 = 0; v6 < 2; v6++)
                addr_rr(r, (uint16_t)ns, ns_address(r->d, v6), v6);
    }
    return RC_NOERROR;
}

static int answer(reply *r, const target *t, int qt)
{
    const watch_view *v = watch_set_view(t->ws);
    if (!v)
        return RC_SERVFAIL; /* not loaded yet: nothing a client should cache */
    if (t->one) {
        if (qt == QT_A || qt == QT_AAAA)
            addr_rr(r, 12, zkd_instance_address(t->one), qt == QT_AAAA);
        return RC_NOERROR;
    }
    /* The records, prepared when the view last changed (dns_answers.c). */
    dns_rrset *s = dns_answers_get(r->d->answers, t->ws, v, t->zone, watch_set_conf(t->ws)->service, r->ttl);
    if (!s)
        return RC_SERVFAIL;
    if (t->zone[0] && dns_rrset_no_zone(s))
        return RC_NXDOMAIN; /* a zone name exists only while some instance is in that zone */
    if (qt == QT_SRV)
        dns_rrset_put_srv(r->d->answers, s, &r->m, r->apex);
    else if (qt == QT_A || qt == QT_AAAA)
        dns_rrset_put_addrs(r->d->answers, s, &r->m, qt == QT_AAAA);
    return RC_NOERROR;
}

static int qtype_index(uint16_t t)
{
    return t == DNS_T_A ? QT_A : t == DNS_T_AAAA ? QT_AAAA : t == DNS_T_SRV ? QT_SRV : QT_OTHER;
}

/* The rcode for a query inside DOMAIN (`rel`: the name without it). */
static int answer_name(reply *r, const dns_query *qq, char *rel)
{
    int qt = qtype_index(qq->qtype);
    if (!rel)
        return answer_apex(r, 0, qq->qtype);
    if (!strcmp(rel, "ns"))
        return answer_apex(r, 1, qq->qtype);
    target t;
    r->d->pending = 0;
    if (resolve(r->d, rel, &t))
        return answer(r, &t, qt);
    return r->d->pending ? RC_SERVFAIL : RC_NXDOMAIN;
}

/* The answer to `q` in out (cap bytes, at least UDP_MAX for UDP, 65535
 * for TCP); its length, 0 when no answer is due. */
static size_t respond(dns_server *d, const uint8_t *q, size_t qlen, int udp, uint8_t *out, size_t cap)
{
    dns_query qq;
    int prc = dns_parse(q, qlen, &qq);
    if (prc == DNS_DROP)
        return 0;
    if (prc == DNS_BAD) {
        size_t n = dns_formerr(q, qlen, out);
        if (n)
            d->queries[QT_OTHER][RC_FORMERR]++;
        return n;
    }
    size_t limit = 65535;
    if (udp)
        limit = !qq.edns || qq.edns_size < 512 ? 512 : qq.edns_size > UDP_MAX ? UDP_MAX : qq.edns_size;
    size_t opt = qq.edns ? 11 : 0; /* room kept for the OPT record */
    reply r = {.d = d, .ttl = (uint32_t)d->conf->ttl};
    dns_msg_start(&r.m, out, cap, limit - opt, q, &qq);
    int rc, aa = 0;
    size_t nl = strlen(qq.name), dl = strlen(d->conf->domain);
    if (qq.opcode != 0) {
        rc = RC_NOTIMP;
    } else if ((qq.qclass != 1 && qq.qclass != 255) || nl < dl || strcmp(qq.name + nl - dl, d->conf->domain) ||
               (nl > dl && qq.name[nl - dl - 1] != '.') || qq.nlabels < d->domain_labels) {
        rc = RC_REFUSED;
    } else {
        aa = 1;
        r.apex = qq.label_off[qq.nlabels - d->domain_labels];
        if (nl > dl)
            qq.name[nl - dl - 1] = '\0';
        rc = answer_name(&r, &qq, nl > dl ? qq.name : NULL);
        if ((rc == RC_NOERROR || rc == RC_NXDOMAIN) && r.m.count[DNS_ANSWER] == 0 && !r.m.full)
            soa_rr(&r, DNS_AUTHORITY); /* NXDOMAIN or NODATA: how long to remember it */
    }
    int tc = udp && r.m.full;
    if (tc)
        d->truncated++;
    if (opt) {
        r.m.limit += opt;
        size_t mark = dns_rr_begin(&r.m, 0, DNS_T_OPT, UDP_MAX);
        dns_rr_end(&r.m, mark, DNS_ADDITIONAL);
    }
    dns_msg_finish(&r.m, aa, tc, rc_wire[rc]);
    d->queries[qtype_index(qq.qtype)][rc]++;
    return r.m.len;
}

/* ---- transports ----------------------------------------------------------- */

/* Datagrams are read and answered UDP_BATCH at a time (recvmmsg and
 * sendmmsg: two system calls for a batch, not two per query), until the
 * socket is empty or 8 batches were answered: under a steady stream, the
 * queries that arrived while a batch was answered are read by the next
 * recvmmsg, not after another trip through the loop's epoll_wait. */
static void on_udp(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    dns_server *d = arg;
    for (int budget = 8; budget > 0; budget--) {
        struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
        struct iovec iv[UDP_BATCH], ov[UDP_BATCH];
        memset(in, 0, sizeof in);
        for (int k = 0; k < UDP_BATCH; k++) {
            iv[k] = (struct iovec){d->udp_in[k], sizeof d->udp_in[k]};
            in[k].msg_hdr.msg_iov = &iv[k];
            in[k].msg_hdr.msg_iovlen = 1;
            in[k].msg_hdr.msg_name = &d->udp_from[k];
            in[k].msg_hdr.msg_namelen = sizeof d->udp_from[k];
        }
        int n = recvmmsg(fd, in, UDP_BATCH, MSG_DONTWAIT, NULL), m = 0;
        if (n <= 0)
            return;
        for (int k = 0; k < n; k++) {
            size_t len = respond(d, d->udp_in[k], in[k].msg_len, 1, d->udp_out[k], sizeof d->udp_out[k]);
            if (!len)
                continue;
            ov[m] = (struct iovec){d->udp_out[k], len};
            memset(&out[m], 0, sizeof out[m]);
            out[m].msg_hdr.msg_iov = &ov[m];
            out[m].msg_hdr.msg_iovlen = 1;
            out[m].msg_hdr.msg_name = &d->udp_from[k];
            out[m].msg_hdr.msg_namelen = in[k].msg_hdr.msg_namelen;
            m++;
        }
        for (int sent = 0; sent < m;) {
            int r = sendmmsg(fd, out + sent, (unsigned)(m - sent), MSG_DONTWAIT);
            if (r <= 0)
                break; /* a full socket buffer drops answers, as UDP may */
            sent += r;
        }
    }
}

/* Answers the whole queries buffered, as long as the unsent output stays
 * under TCP_OUT_HIGH; past it, reading stops until the output drains
 * (tcp_drained), so a client that never reads holds at most that much. */
static void tcp_read(struct bufferevent *bev, void *arg)
{
    dns_server *d = ((conn *)arg)->d;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    while (evbuffer_get_length(out) < TCP_OUT_HIGH) {
        uint8_t q[65537];
        if (evbuffer_copyout(in, q, 2) < 2)
            break;
        size_t qlen = (size_t)q[0] << 8 | q[1];
        if (evbuffer_get_length(in) < qlen + 2)
            break;
        evbuffer_remove(in, q, qlen + 2);
        size_t n = respond(d, q + 2, qlen, 0, d->wire, sizeof d->wire);
        if (n) {
            uint8_t hdr[2] = {(uint8_t)(n >> 8), (uint8_t)n};
            evbuffer_add(out, hdr, 2);
            evbuffer_add(out, d->wire, n);
        }
    }
    if (evbuffer_get_length(out) >= TCP_OUT_HIGH)
        bufferevent_disable(bev, EV_READ);
}

static void tcp_drained(struct bufferevent *bev, void *arg)
{
    if (!(bufferevent_get_enabled(bev) & EV_READ)) {
        bufferevent_enable(bev, EV_READ);
        tcp_read(bev, arg); /* what was already buffered */
    }
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)bev;
    conn_close(arg); /* EOF, error or idle timeout */
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    dns_server *d = arg;
    if (d->nconns >= TCP_MAX_CONNS) {
        d->tcp_refused++;
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct timeval idle = {TCP_IDLE_S, 0};
    bufferevent_set_timeouts(bev, &idle, &idle);
    /* Input: at most one largest query beyond what is being answered. */
    bufferevent_setwatermark(bev, EV_READ, 0, 65537);
    bufferevent_setwatermark(bev, EV_WRITE, TCP_OUT_HIGH / 2, 0);
    conn *c = calloc(1, sizeof *c);
    c->bev = bev;
    c->d = d;
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    d->nconns++;
    bufferevent_setcb(bev, tcp_read, tcp_drained, tcp_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int count_labels(const char *domain)
{
    int n = 1;
    for (const char *c = domain; *c; c++)
        n += *c == '.';
    return n;
}

dns_server *dns_start(struct event_base *base, zkd_client *zk, int wake_fd, const dns_conf *c,
                      watch_set *const *sets, int n, struct evbuffer *errors)
{
    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    char spec[300];
    snprintf(spec, sizeof spec, strchr(c->listen_host, ':') && c->listen_host[0] != '[' ? "[%s]:%d" : "%s:%d",
             c->listen_host, c->listen_port);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
        evbuffer_add_printf(errors, "dns: %s is not an address and port\n", spec);
        return NULL;
    }
    dns_server *d = calloc(1, sizeof *d);
    d->base = base;
    d->zk = zk;
    d->wake_fd = wake_fd;
    d->serial = (uint32_t)time(NULL);
    if (!(d->answers = dns_answers_new())) {
        free(d);
        evbuffer_add_printf(errors, "dns: out of memory\n");
        return NULL;
    }
    dns_set_watches(d, c, sets, n);
    d->udp = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(d->udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (d->udp < 0 || bind(d->udp, (struct sockaddr *)&ss, (socklen_t)sslen) != 0) {
        evbuffer_add_printf(errors, "dns: cannot listen on udp %s: %s\n", spec, strerror(errno));
        dns_stop(d);
        return NULL;
    }
    d->udp_ev = event_new(base, d->udp, EV_READ | EV_PERSIST, on_udp, d);
    event_add(d->udp_ev, NULL);
    d->tcp = evconnlistener_new_bind(base, on_accept, d, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                     LEV_OPT_CLOSE_ON_EXEC, 128, (struct sockaddr *)&ss, sslen);
    if (!d->tcp) {
        evbuffer_add_printf(errors, "dns: cannot listen on tcp %s: %s\n", spec, strerror(errno));
        dns_stop(d);
        return NULL;
    }
    if (c->all_services && !(d->dir = dns_dir_open(zk))) {
        evbuffer_add_printf(errors, "dns: cannot start the thread that lists services\n");
        dns_stop(d);
        return NULL;
    }
    d->idle = event_new(base, -1, EV_PERSIST, on_idle, d);
    struct timeval second = {1, 0};
    event_add(d->idle, &second);
    agent_log(AGENT_INFO, "dns: answering for %s. on %s (udp and tcp)", c->domain, spec);
    return d;
}

void dns_set_watches(dns_server *d, const dns_conf *c, watch_set *const *sets, int n)
{
    d->conf = c;
    dns_answers_clear(d->answers);
    d->domain_labels = count_labels(c->domain);
    d->sets = sets;
    d->nsets = n;
}

void dns_metrics(const dns_server *d, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP zkdisc_agent_dns_queries_total DNS queries answered, by type and "
                        "answer code.\n# TYPE zkdisc_agent_dns_queries_total counter\n");
    for (int t = 0; t < QT_N; t++)
        for (int r = 0; r < RC_N; r++)
            if (d->queries[t][r])
                evbuffer_add_printf(out, "zkdisc_agent_dns_queries_total{type=\"%s\",rcode=\"%s\"} %llu\n",
                                    qt_names[t], rc_names[r], (unsigned long long)d->queries[t][r]);
    evbuffer_add_printf(out, "# HELP zkdisc_agent_dns_truncated_total UDP answers sent with TC (answers "
                        "left out).\n# TYPE zkdisc_agent_dns_truncated_total counter\n"
                        "zkdisc_agent_dns_truncated_total %llu\n", (unsigned long long)d->truncated);
    evbuffer_add_printf(out, "# HELP zkdisc_agent_dns_tcp_refused_total TCP connections closed at once "
                        "(too many open).\n# TYPE zkdisc_agent_dns_tcp_refused_total counter\n"
                        "zkdisc_agent_dns_tcp_refused_total %llu\n", (unsigned long long)d->tcp_refused);
    evbuffer_add_printf(out, "# HELP zkdisc_agent_dns_service_caches Caches open for services no watch "
                        "names (all_services).\n# TYPE zkdisc_agent_dns_service_caches gauge\n"
                        "zkdisc_agent_dns_service_caches %d\n", d->nadhoc);
}

void dns_stop(dns_server *d)
{
    if (!d)
        return;
    if (d->udp_ev)
        event_free(d->udp_ev);
    if (d->udp >= 0)
        close(d->udp);
    if (d->tcp)
        evconnlistener_free(d->tcp);
    while (d->conns)
        conn_close(d->conns);
    dns_dir_close(d->dir);
    while (d->nadhoc)
        adhoc_close(d, 0, "open");
    if (d->idle)
        event_free(d->idle);
    dns_answers_free(d->answers);
    free(d);
}
