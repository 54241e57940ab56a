/* The DNS responder (see dns.h). libevent 2.1's evdns server listens on UDP
 * only and has no SRV helper, so the sockets are libevent's (a UDP socket
 * and a TCP listener) and ldns reads and writes the wire format.
 *
 *   SERVICE.service.DOMAIN         A/AAAA of the usable instances, SRV with
 *                                  ID.SERVICE.instance.DOMAIN targets whose
 *                                  addresses go in the additional section
 *   ZONE.SERVICE.service.DOMAIN    the same, for one zone
 *   ID.SERVICE.instance.DOMAIN     A/AAAA of one instance
 *
 * Answers are shuffled. An unknown name is NXDOMAIN; a known service with
 * no usable instance an empty NOERROR; a name outside DOMAIN is REFUSED
 * (this is not a recursive resolver); what ldns cannot parse is FORMERR.
 * An answer over 512 bytes (or the query's EDNS size) over UDP goes out
 * empty with TC set, and the client asks again over TCP. */
#include "dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "agent.h"

enum { QT_A, QT_AAAA, QT_SRV, QT_OTHER, QT_N };
enum { RC_NOERROR, RC_FORMERR, RC_SERVFAIL, RC_NXDOMAIN, RC_NOTIMP, RC_REFUSED, RC_N };
static const char *qt_names[QT_N] = {"A", "AAAA", "SRV", "other"};
static const char *rc_names[RC_N] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};

struct dns_server {
    struct event_base *base;
    const dns_conf *conf;
    watch_set *const *sets;
    int nsets;
    evutil_socket_t udp;
    struct event *udp_ev;
    struct evconnlistener *tcp;
    struct conn *conns;  /* open TCP connections, closed with the server */
    uint64_t queries[QT_N][RC_N];
    uint64_t truncated;
};

typedef struct conn {
    struct bufferevent *bev;
    dns_server *d;
    struct conn *prev, *next;
} conn;

static void conn_close(conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    free(c);
}

/* ---- names -------------------------------------------------------------------- */

static watch_set *find_service(const dns_server *d, const char *name, size_t len)
{
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
 * target; 0 when nothing is known by that name. */
static int resolve(const dns_server *d, const char *rel, target *t)
{
    memset(t, 0, sizeof *t);
    size_t len = strlen(rel);
    static const char svc_sfx[] = ".service", inst_sfx[] = ".instance";
    if (len > sizeof svc_sfx - 1 && !strcmp(rel + len - (sizeof svc_sfx - 1), svc_sfx)) {
        len -= sizeof svc_sfx - 1;
        if ((t->ws = find_service(d, rel, len)))
            return 1;
        const char *dot = memchr(rel, '.', len);
        if (!dot || dot - rel >= (long)sizeof t->zone)
            return 0;
        memcpy(t->zone, rel, (size_t)(dot - rel));
        return (t->ws = find_service(d, dot + 1, len - (size_t)(dot - rel) - 1)) != NULL;
    }
    if (len > sizeof inst_sfx - 1 && !strcmp(rel + len - (sizeof inst_sfx - 1), inst_sfx)) {
        len -= sizeof inst_sfx - 1;
        /* ID.SERVICE: ids and services may hold dots, so try each split. */
        for (const char *dot = memchr(rel, '.', len); dot; dot = memchr(dot + 1, '.', len - (size_t)(dot + 1 - rel))) {
            watch_set *ws = find_service(d, dot + 1, len - (size_t)(dot - rel) - 1);
            const watch_view *v = ws ? watch_set_view(ws) : NULL;
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

/* ---- answers ---------------------------------------------------------------- */

static ldns_rr *new_rr(ldns_rdf *owner, ldns_rr_type type, uint32_t ttl)
{
    ldns_rr *rr = ldns_rr_new();
    ldns_rr_set_owner(rr, owner);
    ldns_rr_set_type(rr, type);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, ttl);
    return rr;
}

/* An A or AAAA record for `i`'s address when it is one of that family. */
static ldns_rr *addr_rr(const zkd_instance *i, ldns_rdf *owner, int v6, uint32_t ttl)
{
    unsigned char buf[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, zkd_instance_address(i), buf) != 1) {
        ldns_rdf_deep_free(owner);
        return NULL;
    }
    ldns_rr *rr = new_rr(owner, v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A, ttl);
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, v6 ? 16 : 4, buf));
    return rr;
}

static ldns_rdf *instance_name(const dns_server *d, const zkd_instance *i)
{
    char name[512];
    snprintf(name, sizeof name, "%s.%s.instance.%s.", zkd_instance_id(i), zkd_instance_service(i),
             d->conf->domain);
    return ldns_dname_new_frm_str(name);
}

static void add_instance(const dns_server *d, ldns_pkt *r, const zkd_instance *i, const ldns_rdf *qname,
                         int qt)
{
    uint32_t ttl = (uint32_t)d->conf->ttl;
    if (qt == QT_A || qt == QT_AAAA) {
        ldns_rr *rr = addr_rr(i, ldns_rdf_clone(qname), qt == QT_AAAA, ttl);
        if (rr)
            ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
        return;
    }
    if (qt != QT_SRV || zkd_instance_port(i) < 0)
        return;
    ldns_rdf *target = instance_name(d, i);
    if (!target)
        return;
    ldns_rr *srv = new_rr(ldns_rdf_clone(qname), LDNS_RR_TYPE_SRV, ttl);
    int w = zkd_instance_weight(i);
    ldns_rr_push_rdf(srv, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 1));
    ldns_rr_push_rdf(srv, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, (uint16_t)(w < 0 ? 0 : w > 65535 ? 65535 : w)));
    ldns_rr_push_rdf(srv, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, (uint16_t)zkd_instance_port(i)));
    ldns_rr_push_rdf(srv, ldns_rdf_clone(target));
    ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, srv);
    for (int v6 = 0; v6 < 2; v6++) {
        ldns_rr *a = addr_rr(i, ldns_rdf_clone(target), v6, ttl);
        if (a)
            ldns_pkt_push_rr(r, LDNS_SECTION_ADDITIONAL, a);
    }
    ldns_rdf_deep_free(target);
}

/* Fills r's answer for `t`; the rcode. */
static int answer(const dns_server *d, ldns_pkt *r, const target *t, const ldns_rdf *qname, int qt)
{
    const watch_view *v = watch_set_view(t->ws);
    if (!v)
        return RC_SERVFAIL; /* not loaded yet: nothing a client should cache */
    if (t->one) {
        if (qt != QT_SRV)
            add_instance(d, r, t->one, qname, qt);
        return RC_NOERROR;
    }
    size_t *order = malloc((v->n ? v->n : 1) * sizeof *order), n = 0;
    for (size_t k = 0; k < v->n; k++) {
        const zkd_instance *i = v->inst[k];
        const char *zone = zkd_instance_zone(i);
        if (zkd_instance_enabled(i) && (!t->zone[0] || (zone && !strcasecmp(zone, t->zone))))
            order[n++] = k;
    }
    if (t->zone[0] && n == 0) {
        /* A zone name exists only while some instance is in that zone. */
        int seen = 0;
        for (size_t k = 0; k < v->n && !seen; k++)
            seen = zkd_instance_zone(v->inst[k]) && !strcasecmp(zkd_instance_zone(v->inst[k]), t->zone);
        if (!seen) {
            free(order);
            return RC_NXDOMAIN;
        }
    }
    for (size_t k = n; k > 1; k--) {
        size_t j = (size_t)random() % k, tmp = order[k - 1];
        order[k - 1] = order[j];
        order[j] = tmp;
    }
    for (size_t k = 0; k < n; k++)
        add_instance(d, r, v->inst[order[k]], qname, qt);
    free(order);
    return RC_NOERROR;
}

static int qtype_index(ldns_rr_type t)
{
    return t == LDNS_RR_TYPE_A ? QT_A : t == LDNS_RR_TYPE_AAAA ? QT_AAAA : t == LDNS_RR_TYPE_SRV ? QT_SRV : QT_OTHER;
}

static const ldns_pkt_rcode rcodes[RC_N] = {LDNS_RCODE_NOERROR, LDNS_RCODE_FORMERR, LDNS_RCODE_SERVFAIL,
                                            LDNS_RCODE_NXDOMAIN, LDNS_RCODE_NOTIMPL, LDNS_RCODE_REFUSED};

/* A header-only FORMERR for what ldns could not parse (the id, when there
 * is one, is copied so the client can match it). 0 when there is nothing
 * to answer. */
static size_t formerr(const uint8_t *q, size_t qlen, uint8_t *out)
{
    if (qlen < 12 || (q[2] & 0x80))
        return 0; /* too short to be a query, or a response: never answer those */
    memset(out, 0, 12);
    out[0] = q[0];
    out[1] = q[1];
    out[2] = (uint8_t)(0x80 | (q[2] & 0x78)); /* QR, the opcode */
    out[3] = LDNS_RCODE_FORMERR;
    return 12;
}

/* The answer to `q` in a malloc'd buffer (*out, *outlen), or 0 when no
 * answer is due. `limit` is the largest answer allowed (UDP), 0 for none. */
static int respond(dns_server *d, const uint8_t *q, size_t qlen, int udp, uint8_t **out, size_t *outlen)
{
    ldns_pkt *query = NULL;
    if (ldns_wire2pkt(&query, q, qlen) != LDNS_STATUS_OK || ldns_pkt_qr(query) ||
        ldns_pkt_qdcount(query) != 1) {
        ldns_pkt_free(query);
        *out = malloc(12);
        *outlen = formerr(q, qlen, *out);
        if (*outlen)
            d->queries[QT_OTHER][RC_FORMERR]++;
        return *outlen > 0;
    }
    ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(query), 0);
    int qt = qtype_index(ldns_rr_get_type(question));
    ldns_pkt *r = ldns_pkt_new();
    ldns_pkt_set_id(r, ldns_pkt_id(query));
    ldns_pkt_set_qr(r, true);
    ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(query));
    ldns_pkt_set_rd(r, ldns_pkt_rd(query));
    ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
    size_t limit = 0;
    if (ldns_pkt_edns(query)) {
        ldns_pkt_set_edns_udp_size(r, 4096);
        limit = ldns_pkt_edns_udp_size(query) < 512 ? 512 : ldns_pkt_edns_udp_size(query);
    }
    if (udp && !limit)
        limit = 512;
    if (!udp)
        limit = 65535;
    int rc;
    if (ldns_pkt_get_opcode(query) != LDNS_PACKET_QUERY) {
        rc = RC_NOTIMP;
    } else {
        char *name = ldns_rdf2str(ldns_rr_owner(question));
        size_t nl = strlen(name), dl = strlen(d->conf->domain);
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (nl && name[nl - 1] == '.')
            name[--nl] = '\0';
        if (nl < dl || strcmp(name + nl - dl, d->conf->domain) || (nl > dl && name[nl - dl - 1] != '.')) {
            rc = RC_REFUSED;
        } else {
            ldns_pkt_set_aa(r, true);
            target t;
            if (nl == dl)
                rc = RC_NOERROR; /* the domain itself exists, with nothing in it */
            else {
                name[nl - dl - 1] = '\0';
                rc = resolve(d, name, &t) ? answer(d, r, &t, ldns_rr_owner(question), qt) : RC_NXDOMAIN;
            }
        }
        free(name);
    }
    ldns_pkt_set_rcode(r, (uint8_t)rcodes[rc]);
    d->queries[qt][rc]++;
    if (ldns_pkt2wire(out, r, outlen) == LDNS_STATUS_OK && *outlen > limit) {
        /* Does not fit: an empty answer with TC; the client retries over TCP. */
        free(*out);
        ldns_rr_list_deep_free(ldns_pkt_answer(r));
        ldns_rr_list_deep_free(ldns_pkt_additional(r));
        ldns_pkt_set_answer(r, ldns_rr_list_new());
        ldns_pkt_set_additional(r, ldns_rr_list_new());
        ldns_pkt_set_ancount(r, 0);
        ldns_pkt_set_arcount(r, 0);
        ldns_pkt_set_tc(r, true);
        d->truncated++;
        if (ldns_pkt2wire(out, r, outlen) != LDNS_STATUS_OK)
            *outlen = 0;
    }
    ldns_pkt_free(r);
    ldns_pkt_free(query);
    return *outlen > 0;
}

/* ---- transports ----------------------------------------------------------- */

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    dns_server *d = arg;
    uint8_t buf[65536];
    for (int budget = 64; budget > 0; budget--) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            return;
        uint8_t *out = NULL;
        size_t outlen = 0;
        if (respond(d, buf, (size_t)n, 1, &out, &outlen))
            sendto(fd, out, outlen, 0, (struct sockaddr *)&from, flen);
        free(out);
    }
}

static void tcp_read(struct bufferevent *bev, void *arg)
{
    dns_server *d = ((conn *)arg)->d;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        uint8_t lenbuf[2];
        if (evbuffer_copyout(in, lenbuf, 2) < 2)
            return;
        size_t qlen = (size_t)lenbuf[0] << 8 | lenbuf[1];
        if (evbuffer_get_length(in) < qlen + 2)
            return;
        evbuffer_drain(in, 2);
        uint8_t *q = malloc(qlen ? qlen : 1), *out = NULL;
        evbuffer_remove(in, q, qlen);
        size_t outlen = 0;
        if (respond(d, q, qlen, 0, &out, &outlen)) {
            uint8_t hdr[2] = {(uint8_t)(outlen >> 8), (uint8_t)outlen};
            bufferevent_write(bev, hdr, 2);
            bufferevent_write(bev, out, outlen);
        }
        free(q);
        free(out);
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
    struct bufferevent *bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct timeval idle = {10, 0};
    bufferevent_set_timeouts(bev, &idle, &idle);
    conn *c = calloc(1, sizeof *c);
    c->bev = bev;
    c->d = d;
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    bufferevent_setcb(bev, tcp_read, NULL, tcp_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

dns_server *dns_start(struct event_base *base, const dns_conf *c, watch_set *const *sets, int n,
                      struct evbuffer *errors)
{
    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    char spec[300];
    snprintf(spec, sizeof spec, strchr(c->listen_host, ':') ? "[%s]:%d" : "%s:%d", c->listen_host,
             c->listen_port);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
        evbuffer_add_printf(errors, "dns: %s is not an address and port\n", spec);
        return NULL;
    }
    dns_server *d = calloc(1, sizeof *d);
    d->base = base;
    d->conf = c;
    d->sets = sets;
    d->nsets = n;
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
    agent_log(AGENT_INFO, "dns: answering for %s. on %s (udp and tcp)", c->domain, spec);
    return d;
}

void dns_set_watches(dns_server *d, watch_set *const *sets, int n)
{
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
    evbuffer_add_printf(out, "# HELP zkdisc_agent_dns_truncated_total UDP answers sent empty with TC.\n"
                        "# TYPE zkdisc_agent_dns_truncated_total counter\n"
                        "zkdisc_agent_dns_truncated_total %llu\n", (unsigned long long)d->truncated);
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
    free(d);
}

void dns_set_conf(dns_server *d, const dns_conf *c)
{
    d->conf = c;
}
