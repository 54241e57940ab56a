/* SPDX-License-Identifier: Apache-2.0 */
/* Host names resolved on the loop without blocking it (see resolve.h). */
#include "resolve.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_ENTRIES 4096

typedef struct entry {
    struct entry *next;
    char *name;
    char addr[64];      /* the last answer, "" when none */
    char why[96];       /* the last failure */
    int state;          /* 1 answered, -1 failed, 0 never answered */
    time_t asked;       /* when the last lookup started (monotonic s) */
    time_t used;
    struct evdns_getaddrinfo_request *req;
    int orphan;         /* dropped while its lookup was in flight: freed by its callback */
} entry;

static struct {
    int refs;
    struct evdns_base *dns;
    entry *list;
    entry *orphans;     /* cancelled lookups whose callbacks are still to come */
    int n;
    unsigned gen;
} R;

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

void resolve_ref(struct event_base *base)
{
    if (R.refs++ == 0 && !R.dns) {
        R.dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (R.dns) {
            evdns_base_set_option(R.dns, "timeout:", "2");
            evdns_base_set_option(R.dns, "attempts:", "2");
        }
    }
}

/* libevent 2.1 delivers a cancelled lookup's callback later, from the loop:
 * such an entry waits on R.orphans until then. */
static void entry_free(entry *e)
{
    if (e->req) {
        e->orphan = 1;
        e->next = R.orphans;
        R.orphans = e;
        evdns_getaddrinfo_cancel(e->req);
        return;
    }
    free(e->name);
    free(e);
}

static void orphan_free(entry *e)
{
    entry **p = &R.orphans;
    while (*p && *p != e)
        p = &(*p)->next;
    if (*p)
        *p = e->next;
    free(e->name);
    free(e);
}

void resolve_unref(void)
{
    if (R.refs <= 0 || --R.refs > 0)
        return;
    while (R.list) {
        entry *e = R.list;
        R.list = e->next;
        entry_free(e);
    }
    R.n = 0;
    /* The evdns base stays for the process: freeing it while cancelled
     * lookups still have callbacks queued would free what they touch. */
}

unsigned resolve_generation(void)
{
    return R.gen;
}

static void answered(int result, struct evutil_addrinfo *res, void *arg)
{
    entry *e = arg;
    e->req = NULL;
    if (e->orphan) {
        if (res)
            evutil_freeaddrinfo(res);
        orphan_free(e);
        return;
    }
    if (result == EVUTIL_EAI_CANCEL) {
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    const struct evutil_addrinfo *pick = NULL;
    for (const struct evutil_addrinfo *a = res; a; a = a->ai_next)
        if ((a->ai_family == AF_INET && (!pick || pick->ai_family != AF_INET)) ||
            (a->ai_family == AF_INET6 && !pick))
            pick = a;
    char addr[64] = "";
    if (result == 0 && pick) {
        const void *raw = pick->ai_family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)pick->ai_addr)->sin_addr
                              : (const void *)&((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
        inet_ntop(pick->ai_family, raw, addr, sizeof addr);
    }
    if (res)
        evutil_freeaddrinfo(res);
    if (addr[0]) {
        if (e->state != 1 || strcmp(e->addr, addr))
            R.gen++;
        snprintf(e->addr, sizeof e->addr, "%s", addr);
        e->state = 1;
    } else {
        /* A name that resolved before keeps its last address through a
         * failed refresh (like a resolver serving stale), else it fails. */
        snprintf(e->why, sizeof e->why, "%s", result ? evutil_gai_strerror(result) : "no IP address");
        if (e->state != 1) {
            e->state = -1;
            R.gen++;
        }
    }
}

static void ask(entry *e)
{
    e->asked = now_s();
    size_t l = strlen(e->name);
    if (!R.dns || (l >= 8 && !strcasecmp(e->name + l - 8, ".invalid"))) {
        answered(R.dns ? EVUTIL_EAI_NONAME : EVUTIL_EAI_FAIL, NULL, e);
        return;
    }
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(R.dns, e->name, NULL, &hints, answered, e);
    e->req = req; /* NULL when it was answered at once */
}

/* Drops the entry unused for longest, to stay bounded. */
static void evict(void)
{
    entry **oldest = NULL;
    for (entry **p = &R.list; *p; p = &(*p)->next)
        if (!(*p)->req && (!oldest || (*p)->used < (*oldest)->used))
            oldest = p;
    if (oldest) {
        entry *e = *oldest;
        *oldest = e->next;
        entry_free(e);
        R.n--;
    }
}

int resolve_addr(const char *name, char *out, size_t len, const char **why)
{
    unsigned char raw[16];
    if (inet_pton(AF_INET, name, raw) == 1 || inet_pton(AF_INET6, name, raw) == 1) {
        snprintf(out, len, "%s", name);
        return 1;
    }
    entry *e = R.list;
    while (e && strcmp(e->name, name))
        e = e->next;
    if (!e) {
        if (R.n >= MAX_ENTRIES)
            evict();
        e = calloc(1, sizeof *e);
        e->name = strdup(name);
        e->next = R.list;
        R.list = e;
        R.n++;
        ask(e);
    } else if (!e->req && now_s() - e->asked >= RESOLVE_TTL_S) {
        ask(e);
    }
    e->used = now_s();
    if (e->state == 1)
        snprintf(out, len, "%s", e->addr);
    if (e->state < 0 && why)
        *why = e->why;
    return e->state;
}
