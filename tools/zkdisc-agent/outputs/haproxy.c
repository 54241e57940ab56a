/* SPDX-License-Identifier: Apache-2.0 */
/* haproxy output: keeps a HAProxy backend equal to the watched set without
 * dropping connections.
 *
 * The backend's file (`config`, loaded by HAProxy with -f) declares a fixed
 * number of server slots, zkd1..zkdN; an instance owns a slot for as long
 * as it is registered. The file is rewritten (atomically, change-only) on
 * every change, so a reload or restart at any moment loads the same state.
 *
 * HAProxy's state is observed, never assumed: a round on the Runtime API
 * (`socket`, a unix path or HOST:PORT; prompt mode, commands pipelined on
 * one connection, kept for the rounds of the next second, all on the loop)
 * reads `show info` and `show servers state`, compares every slot with the
 * wanted one (address, port, weight, admin state ready/drain/maint) and
 * sends what differs. A round runs after each change and every tick, so
 * slots taken back at start, after a SIGHUP, or after HAProxy was
 * restarted or reloaded behind our back (a new Pid in `show info`) get
 * their full state within two seconds (a tick, and the age of a kept
 * connection), and any drift is fixed. A round that gets no answer
 * within RT_TIMEOUT_MS is abandoned (a wedged HAProxy never stalls the
 * loop). A reload runs only when HAProxy lacks slots the file declares, or
 * when the socket fails while a change is waiting; once per file version,
 * after `check` passed. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../agent.h"
#include "../resolve.h"
#include "inst_map.h"
#include "output.h"

#define RT_TIMEOUT_MS 2000
/* A round's connection is kept for the rounds that follow within this
 * long: a change then reaches HAProxy without a connect and an accept
 * (60-150 us of the 0.5 ms from the record's read to HAProxy serving it,
 * measured). Not longer: after a reload behind our back, a kept connection
 * still talks to the old process, and a round on a fresh one (the tick's,
 * every second) must reach the new one soon. */
#define RT_KEEP_MS 1000
#define HAPROXY_MAX_WEIGHT 256

typedef struct slot {
    char *id;          /* NULL: free (in maint) */
    char addr[64];
    int port, weight, enabled;
    int push;          /* changed: its commands go first in the next round */
} slot;

enum { Q_PROMPT, Q_INFO, Q_STATE, Q_CMD, Q_PUSH };

typedef struct rt_req {
    int kind;
    char cmd[200];
} rt_req;

typedef struct haproxy_out {
    output base;
    reloader reload;
    validator check;
    slot *slots;       /* the wanted state, slot k is server zkd<k+1> */
    int nslots;        /* slots the file declares */
    int failing;       /* the last file write failed */
    int file_due;      /* the slots changed since the file was written */
    unsigned file_gen; /* grows with each write of new content */
    unsigned reload_gen; /* file_gen when a reload was last asked for, 0: never */
    /* the Runtime API: the connection (kept between rounds, see
     * RT_KEEP_MS) and the round under way (busy) */
    struct bufferevent *bev;
    int64_t bev_at;    /* when it was opened (output_mono_ms) */
    int busy;
    int reused;        /* the round began on a kept connection */
    struct event *deadline;
    rt_req *q;
    int qn, qcap, qnext; /* requests sent, their room, the next to answer */
    int again;         /* another round after this one */
    int changed;       /* the wanted state changed since a round last saw it in place */
    int fixes, fix_failed;
    int rt_failing;    /* the last round failed (logged once) */
    long pid, started; /* HAProxy's process, from show info */
    inst_map known;    /* the last update's instances, each with its slot (-1: none) */
    unsigned mark;     /* the update under way, as known.seen records it */
    int known_ok;      /* known and the slots agree (else the next update redoes all) */
    int max_weight;    /* at least every slotted instance's weight */
} haproxy_out;

static void round_start(haproxy_out *h);
static void conn_drop(haproxy_out *h);
static int conn_open(haproxy_out *h);
static void on_deadline(evutil_socket_t fd, short what, void *arg);
static void flush_file(haproxy_out *h);

/* Takes the slots back from the file a previous run wrote (an agent
 * restart or a SIGHUP), so that instances keep their slots and HAProxy,
 * which loaded that file, needs no reload. The number of slots found. */
static int recover(haproxy_out *h)
{
    char *text = NULL;
    if (zkd__atomic_file_read(h->base.conf->path, 16 << 20, &text) < 0)
        return 0;
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int k, weight;
        char addr[64], tail[300];
        if (sscanf(line, "    server zkd%d %63s %299[^\n]", &k, addr, tail) != 3 || k != n + 1)
            continue;
        n++;
        if (n > h->nslots) {
            h->slots = realloc(h->slots, (size_t)n * sizeof *h->slots);
            memset(&h->slots[n - 1], 0, sizeof *h->slots);
            h->nslots = n;
        }
        char id[256];
        char *colon = strrchr(addr, ':');
        if (!colon || sscanf(tail, "weight %d # %255s", &weight, id) != 2)
            continue; /* a free slot */
        slot *s = &h->slots[n - 1];
        *colon = '\0';
        memcpy(s->addr, addr[0] == '[' ? addr + 1 : addr, sizeof s->addr - 1);
        if (s->addr[0] && s->addr[strlen(s->addr) - 1] == ']')
            s->addr[strlen(s->addr) - 1] = '\0';
        s->port = atoi(colon + 1);
        s->enabled = !strstr(tail, "(drained)");
        s->weight = s->enabled ? weight : 0; /* a drained weight is not in the file */
        s->id = strdup(id);
    }
    free(text);
    return n;
}

static void after_reload(output *o, int ok)
{
    haproxy_out *h = (haproxy_out *)o;
    h->bev_at -= RT_KEEP_MS; /* it may lead to the old process: the next round opens a new one */
    if (ok)
        round_start(h); /* the next tick's rounds see the new process */
}

static void check_passed(output *o)
{
    reloader_request(&((haproxy_out *)o)->reload);
}

/* A reload, once per version of the file (the slots it lacks are not
 * asked for again until the file changes, a failed reload included). */
static void want_reload(haproxy_out *h, const char *why)
{
    flush_file(h); /* what the reload loads */
    if (!h->base.conf->reload || h->reload_gen == h->file_gen)
        return;
    h->reload_gen = h->file_gen;
    agent_log(AGENT_INFO, "watch %s: haproxy reload: %s", h->base.watch->service, why);
    validator_run(&h->check);
}

static output *haproxy_open(struct event_base *base, const watch_conf *w, const out_conf *c)
{
    haproxy_out *h = calloc(1, sizeof *h);
    output_init(&h->base, &output_haproxy_ops, base, w, c);
    reloader_init(&h->reload, &h->base);
    validator_init(&h->check, &h->base, check_passed);
    h->reload.after = after_reload;
    h->nslots = c->slots;
    h->slots = calloc((size_t)h->nslots, sizeof *h->slots);
    h->file_gen = 1;
    h->deadline = evtimer_new(base, on_deadline, h);
    h->changed = 1;
    if (recover(h))
        agent_log(AGENT_INFO, "watch %s: haproxy slots taken back from %s; their state is applied in full",
                  w->service, c->path);
    resolve_ref(base);
    return &h->base;
}

/* ---- the Runtime API ---------------------------------------------------------- */

static void send_req(haproxy_out *h, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_req(haproxy_out *h, int kind, const char *fmt, ...)
{
    if (h->qn == h->qcap) {
        h->qcap = h->qcap ? 2 * h->qcap : 16;
        h->q = realloc(h->q, (size_t)h->qcap * sizeof *h->q);
    }
    rt_req *r = &h->q[h->qn++];
    r->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->cmd, sizeof r->cmd, fmt, ap);
    va_end(ap);
    bufferevent_write(h->bev, r->cmd, strlen(r->cmd));
    bufferevent_write(h->bev, "\n", 1);
    if (kind == Q_CMD)
        h->fixes++;
    if (kind == Q_CMD || kind == Q_PUSH)
        h->base.stats.runtime_cmds++;
}

/* The connection goes (the next round opens a new one). */
static void conn_drop(haproxy_out *h)
{
    if (h->bev)
        bufferevent_free(h->bev);
    h->bev = NULL;
}

static void round_end(haproxy_out *h)
{
    h->busy = 0;
    evtimer_del(h->deadline);
    h->qn = h->qnext = 0;
}

static void round_close(haproxy_out *h)
{
    round_end(h);
    conn_drop(h);
}

static void round_done(haproxy_out *h)
{
    round_end(h); /* the connection is kept for the next round */
    flush_file(h);
    if (h->rt_failing)
        agent_log(AGENT_INFO, "watch %s: haproxy runtime api answers again", h->base.watch->service);
    h->rt_failing = 0;
    if (!h->fixes && !h->fix_failed)
        h->changed = 0; /* HAProxy runs what we want */
    if (h->again) {
        h->again = 0;
        round_start(h);
    }
}

static void round_fail(haproxy_out *h, const char *why)
{
    output *o = &h->base;
    round_close(h);
    flush_file(h);
    o->stats.runtime_failures++;
    if (!h->rt_failing)
        agent_log(AGENT_WARN, "watch %s: haproxy runtime api %s: %s", o->watch->service,
                  o->conf->socket, why);
    h->rt_failing = 1;
    h->again = 0;
    if (h->changed) {
        /* A change HAProxy cannot be told of at runtime: the file has it. */
        h->changed = 0;
        agent_alert("haproxy_runtime_failed", o->watch->service,
                    json_pack("{s:s?,s:s,s:s}", "socket", o->conf->socket, "reason", why, "action", "reload"));
        h->reload_gen = 0;
        want_reload(h, "the runtime api failed");
    }
}

/* An address as HAProxy prints it equals ours (IPv6 in any spelling). */
static int same_addr(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    int f = strchr(a, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(f, a, x) != 1 || inet_pton(f, b, y) != 1)
        return !strcmp(a, b);
    return !memcmp(x, y, f == AF_INET ? 4 : 16);
}

/* Admin-state bits of `show servers state` (HAProxy's SRV_ADMF_*). */
#define ADM_FMAINT 0x01
#define ADM_CMAINT 0x04 /* `disabled` in the file; stays set after `state ready` */
#define ADM_FDRAIN 0x08

/* What slot k needs, given its line of `show servers state`. */
static void fix_slot(haproxy_out *h, int k, const char *addr, int op, int admin, int weight, int port)
{
    const slot *s = &h->slots[k];
    const char *b = h->base.conf->backend;
    int stopped_cfg = (admin & ADM_CMAINT) && op == 0; /* still `disabled` from the file */
    if (!s->id) {
        if (!(admin & ADM_FMAINT))
            send_req(h, Q_CMD, "set server %s/zkd%d state maint", b, k + 1);
        return;
    }
    int want_w = s->enabled ? s->weight : 0; /* the file's weight for a drained one */
    int drained = (admin & ADM_FDRAIN) && !(admin & ADM_FMAINT) && !stopped_cfg;
    int ready = !(admin & (ADM_FMAINT | ADM_FDRAIN)) && !stopped_cfg;
    if (!s->enabled && !drained)
        send_req(h, Q_CMD, "set server %s/zkd%d state drain", b, k + 1);
    if (!same_addr(s->addr, addr) || port != s->port)
        send_req(h, Q_CMD, "set server %s/zkd%d addr %s port %d", b, k + 1, s->addr, s->port);
    if (weight != want_w)
        send_req(h, Q_CMD, "set server %s/zkd%d weight %d", b, k + 1, want_w);
    if (s->enabled && !ready)
        send_req(h, Q_CMD, "set server %s/zkd%d state ready", b, k + 1);
}

/* `show servers state BACKEND`: every slot compared and fixed; slots that
 * HAProxy lacks ask for a reload. */
static void on_state(haproxy_out *h, char *text)
{
    char *seen = calloc((size_t)h->nslots + 1, 1);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char be[256], name[64], addr[64];
        int op, admin, uw, iw, port, k;
        long t;
        /* be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight
         * srv_iweight srv_time_since_last_change srv_check_status srv_check_result
         * srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id
         * srv_fqdn srv_port ... */
        if (sscanf(line, "%*d %255s %*d %63s %63s %d %d %d %d %ld %*d %*d %*d %*d %*d %*d %*d %*s %d", be,
                   name, addr, &op, &admin, &uw, &iw, &t, &port) != 9 ||
            strcmp(be, h->base.conf->backend) || sscanf(name, "zkd%d", &k) != 1 || k < 1 || k > h->nslots)
            continue;
        seen[k - 1] = 1;
        fix_slot(h, k - 1, addr, op, admin, uw, port);
    }
    int missing = 0;
    for (int k = 0; k < h->nslots; k++)
        missing += h->slots[k].id && !seen[k];
    free(seen);
    if (missing) {
        char why[96];
        snprintf(why, sizeof why, "HAProxy lacks %d of the file's slots", missing);
        want_reload(h, why);
    }
}

/* `show info`: a new Pid or start time is another HAProxy process (a
 * restart, or a reload behind our back), which loaded the file: this
 * round's `show servers state` gives it every slot's full state. */
static void on_info(haproxy_out *h, const char *text)
{
    const char *p = strstr(text, "\nPid: ");
    const char *st = strstr(text, "\nStart_time_sec: ");
    long pid = p ? atol(p + 6) : 0, started = st ? atol(st + 17) : 0;
    if (h->pid && (pid != h->pid || started != h->started))
        agent_log(AGENT_INFO, "watch %s: haproxy process changed (pid %ld, was %ld): applying every slot",
                  h->base.watch->service, pid, h->pid);
    h->pid = pid;
    h->started = started;
}

static void on_reply(haproxy_out *h, const rt_req *r, char *text)
{
    output *o = &h->base;
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    switch (r->kind) {
    case Q_INFO:
        on_info(h, text);
        break;
    case Q_STATE:
        if (strstr(text, "Can't find backend"))
            want_reload(h, "HAProxy has not loaded the backend");
        else
            on_state(h, text);
        break;
    case Q_CMD:
        /* Success is an empty reply, or for addr changes a report of it. */
        if (n && !strstr(text, "changed") && !strcasestr(text, "no need to change")) {
            o->stats.runtime_failures++;
            h->fix_failed = 1;
            agent_log(AGENT_WARN, "watch %s: haproxy runtime \"%s\": %s", o->watch->service, r->cmd, text);
        }
        break;
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    haproxy_out *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!h->busy) { /* nothing asked: nothing to read */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    /* In prompt mode every answer ends with "\n> ". */
    for (;;) {
        struct evbuffer_ptr at = evbuffer_search(in, "\n> ", 3, NULL);
        if (at.pos < 0)
            return;
        char *text = malloc((size_t)at.pos + 1);
        evbuffer_remove(in, text, (size_t)at.pos);
        text[at.pos] = '\0';
        evbuffer_drain(in, 3);
        if (h->qnext < h->qn) {
            rt_req r = h->q[h->qnext++];
            on_reply(h, &r, text); /* may send more */
        }
        free(text);
        if (h->qnext == h->qn) {
            round_done(h);
            return;
        }
    }
}

/* A kept connection that HAProxy closed before answering (its `stats
 * timeout` ran out as the round began): the round's requests again, on a
 * new connection. */
static void round_resend(haproxy_out *h)
{
    rt_req *q = h->q;
    int n = h->qn;
    h->q = NULL;
    h->qn = h->qcap = h->qnext = 0;
    h->reused = 0;
    conn_drop(h);
    agent_log(AGENT_DEBUG, "watch %s: haproxy runtime api: the kept connection closed; "
              "the round again on a new one", h->base.watch->service);
    if (conn_open(h) == 0)
        for (int i = 0; i < n; i++)
            send_req(h, q[i].kind, "%s", q[i].cmd);
    free(q);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    haproxy_out *h = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (!h->busy) { /* a kept connection closed between rounds (HAProxy's timeout, a reload) */
        conn_drop(h);
        return;
    }
    if (h->reused && h->qnext == 0) { /* closed as the round began: not a failure */
        round_resend(h);
        return;
    }
    char why[128];
    int e = EVUTIL_SOCKET_ERROR();
    snprintf(why, sizeof why, "%s", (what & BEV_EVENT_ERROR) && e ? strerror(e) : "connection closed");
    round_fail(h, why);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    round_fail(arg, "no answer within 2 s");
}

/* The socket's address: a unix path, or HOST:PORT (HAProxy's ipv4@/ipv6@
 * prefixes accepted). */
static int socket_addr(const char *spec, struct sockaddr_storage *ss, int *len)
{
    memset(ss, 0, sizeof *ss);
    if (!strncmp(spec, "unix@", 5))
        spec += 5;
    if (spec[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        if (strlen(spec) >= sizeof un->sun_path)
            return -1;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, spec);
        *len = sizeof *un;
        return 0;
    }
    if (!strncmp(spec, "ipv4@", 5) || !strncmp(spec, "ipv6@", 5))
        spec += 5;
    *len = sizeof *ss;
    return evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss, len);
}

/* The slots a change touched are told to HAProxy at the head of the
 * round, in the same write as its reads, rather than after `show servers
 * state` answered: a change reaches HAProxy one exchange sooner. Their
 * replies are not judged; the state read after them is, as for any slot. */
static void push_changed(haproxy_out *h)
{
    const char *b = h->base.conf->backend;
    for (int k = 0; k < h->nslots; k++) {
        slot *s = &h->slots[k];
        if (!s->push)
            continue;
        s->push = 0;
        if (!s->id) {
            send_req(h, Q_PUSH, "set server %s/zkd%d state maint", b, k + 1);
            continue;
        }
        if (!s->enabled)
            send_req(h, Q_PUSH, "set server %s/zkd%d state drain", b, k + 1);
        send_req(h, Q_PUSH, "set server %s/zkd%d addr %s port %d", b, k + 1, s->addr, s->port);
        send_req(h, Q_PUSH, "set server %s/zkd%d weight %d", b, k + 1, s->enabled ? s->weight : 0);
        if (s->enabled)
            send_req(h, Q_PUSH, "set server %s/zkd%d state ready", b, k + 1);
    }
}

/* Connects and asks for prompt mode; -1: the round failed. */
static int conn_open(haproxy_out *h)
{
    struct sockaddr_storage ss;
    int len;
    if (socket_addr(h->base.conf->socket, &ss, &len) < 0) {
        round_fail(h, "not a unix path or HOST:PORT");
        return -1;
    }
    h->bev = bufferevent_socket_new(h->base.base, -1, BEV_OPT_CLOSE_ON_FREE);
    h->bev_at = output_mono_ms();
    h->base.stats.runtime_conns++;
    bufferevent_setcb(h->bev, on_read, NULL, on_event, h);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(h->bev, (struct sockaddr *)&ss, len) < 0) {
        char why[128];
        snprintf(why, sizeof why, "%s", strerror(errno));
        round_fail(h, why);
        return -1;
    }
    send_req(h, Q_PROMPT, "prompt");
    return 0;
}

/* Starts a round (or asks for one after the round under way). */
static void round_start(haproxy_out *h)
{
    output *o = &h->base;
    if (!o->conf->socket)
        return;
    if (h->busy) {
        h->again = 1;
        return;
    }
    if (h->bev && output_mono_ms() - h->bev_at >= RT_KEEP_MS)
        conn_drop(h);
    h->busy = 1;
    h->reused = h->bev != NULL;
    h->fixes = h->fix_failed = 0;
    struct timeval tv = {RT_TIMEOUT_MS / 1000, (RT_TIMEOUT_MS % 1000) * 1000};
    evtimer_add(h->deadline, &tv);
    if (!h->bev && conn_open(h) < 0)
        return;
    push_changed(h);
    send_req(h, Q_INFO, "show info");
    send_req(h, Q_STATE, "show servers state %s", o->conf->backend);
}

/* ---- slots and the file ----------------------------------------------------------- */

/* Ids to indexes, open addressing, built per update so that matching N
 * instances with N slots costs O(N), not O(N^2). */
typedef struct id_map {
    const char **key;
    int *val;
    size_t mask;
} id_map;

static size_t id_hash(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void map_init(id_map *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    m->key = calloc(cap, sizeof *m->key);
    m->val = calloc(cap, sizeof *m->val);
    m->mask = cap - 1;
}

/* The slot where `id` is or goes. */
static size_t map_pos(const id_map *m, const char *id)
{
    size_t p = id_hash(id) & m->mask;
    while (m->key[p] && strcmp(m->key[p], id))
        p = (p + 1) & m->mask;
    return p;
}

/* The first value put for `id` is kept (as a first-match scan would find). */
static void map_put(id_map *m, const char *id, int v)
{
    size_t p = map_pos(m, id);
    if (!m->key[p]) {
        m->key[p] = id;
        m->val[p] = v;
    }
}

static int map_get(const id_map *m, const char *id)
{
    size_t p = map_pos(m, id);
    return m->key[p] ? m->val[p] : -1;
}

static void map_free(id_map *m)
{
    free(m->key);
    free(m->val);
}

/* The lowest free slot at or after *from (free slots are only taken
 * during an update, so the lowest free one never moves back). */
static int take_free_slot(haproxy_out *h, int *from)
{
    for (int k = *from; k < h->nslots; k++)
        if (!h->slots[k].id)
            return *from = k;
    /* Out of slots: grow by the configured count; the new ones exist in
     * HAProxy only after a reload. */
    int more = h->base.conf->slots;
    h->slots = realloc(h->slots, (size_t)(h->nslots + more) * sizeof *h->slots);
    memset(h->slots + h->nslots, 0, (size_t)more * sizeof *h->slots);
    h->nslots += more;
    return *from = h->nslots - more;
}

static void write_file(haproxy_out *h, const char *service)
{
    output *o = &h->base;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "# written by zkdisc-agent for service %s; do not edit\nbackend %s\n",
                        service, o->conf->backend);
    for (char **l = o->conf->options; l && *l; l++)
        evbuffer_add_printf(b, "    %s\n", *l);
    for (int k = 0; k < h->nslots; k++) {
        const slot *s = &h->slots[k];
        if (!s->id)
            evbuffer_add_printf(b, "    server zkd%d 127.0.0.1:1 disabled # free\n", k + 1);
        else
            evbuffer_add_printf(b, "    server zkd%d %s%s%s:%d weight %d # %s%s\n", k + 1,
                                strchr(s->addr, ':') ? "[" : "", s->addr, strchr(s->addr, ':') ? "]" : "",
                                s->port, s->enabled ? s->weight : 0, s->id, s->enabled ? "" : " (drained)");
    }
    char err[512];
    int rc = zkd__atomic_file_write(o->conf->path, evbuffer_pullup(b, -1), evbuffer_get_length(b),
                                     o->conf->mode, &o->conf->owner, err, sizeof err);
    evbuffer_free(b);
    if (rc < 0) {
        o->stats.write_failures++;
        if (!h->failing)
            agent_log(AGENT_ERROR, "watch %s: haproxy output: %s", service, err);
        h->failing = 1;
        return;
    }
    h->failing = 0;
    if (rc == 1) {
        o->stats.writes++;
        h->file_gen++;
        if (!o->conf->socket)
            want_reload(h, "the file changed and there is no runtime socket");
    }
}

/* HAProxy takes weights 0..256: a larger one scales every weight of the
 * set by 256/max, keeping proportions (a nonzero weight stays >= 1). */
static int scaled(int w, int max)
{
    if (max <= HAPROXY_MAX_WEIGHT || w <= 0)
        return w;
    long v = ((long)w * HAPROXY_MAX_WEIGHT + max / 2) / max;
    return v < 1 ? 1 : (int)v;
}

/* Every instance worked out again: the first update, and those after a
 * name's lookup may have changed an address, a weight over 256 (which
 * scales all), or a failed write. Remembers the instances in `known`. */
static void update_all(haproxy_out *h, const watch_view *v)
{
    output *o = &h->base;
    inst_map_clear(&h->known);
    h->known_ok = 1;
    /* Which records go in, at which address. */
    char (*addr)[64] = calloc(v->n + 1, sizeof *addr);
    int max = 0;
    id_map slot_of, usable;
    map_init(&slot_of, (size_t)h->nslots + v->n);
    map_init(&usable, v->n);
    for (int k = 0; k < h->nslots; k++)
        if (h->slots[k].id)
            map_put(&slot_of, h->slots[k].id, k);
    o->names = 0;
    for (size_t i = 0; i < v->n; i++) {
        const zkd_instance *in = v->inst[i];
        int w = zkd_instance_weight(in), k = map_get(&slot_of, zkd_instance_id(in)), rc;
        rc = output_address(o, in, addr[i], sizeof addr[i]);
        if (rc == 0 && k >= 0) /* a name being looked up keeps its slot's address meanwhile */
            snprintf(addr[i], sizeof addr[i], "%s", h->slots[k].addr);
        else if (rc <= 0)
            addr[i][0] = '\0';
        if (addr[i][0] && w < 0) {
            output_note(o, zkd_instance_id(in), 1, "skipped: weight %d is negative", w);
            addr[i][0] = '\0';
        }
        if (addr[i][0] && w > max)
            max = w;
        if (addr[i][0])
            map_put(&usable, zkd_instance_id(in), (int)i);
    }
    /* Slots of instances that left are freed (their ids once the map,
     * which points at them, is gone). */
    char **gone = calloc((size_t)h->nslots + 1, sizeof *gone);
    int ngone = 0;
    for (int k = 0; k < h->nslots; k++) {
        if (h->slots[k].id && map_get(&usable, h->slots[k].id) < 0) {
            gone[ngone++] = h->slots[k].id;
            h->slots[k].id = NULL;
            h->slots[k].push = 1;
        }
    }
    int from = 0;
    for (size_t i = 0; i < v->n; i++) {
        const zkd_instance *in = v->inst[i];
        if (!addr[i][0]) {
            h->known_ok &= inst_map_put(&h->known, in, -1) == 0;
            continue;
        }
        /* A slot in the map is one kept above (its id is usable). */
        int k = map_get(&slot_of, zkd_instance_id(in));
        if (k < 0) {
            k = take_free_slot(h, &from);
            h->slots[k].id = strdup(zkd_instance_id(in));
            h->slots[k].push = 1;
            map_put(&slot_of, h->slots[k].id, k);
        }
        slot *s = &h->slots[k], was = *s;
        snprintf(s->addr, sizeof s->addr, "%s", addr[i]);
        s->port = zkd_instance_port(in);
        s->weight = scaled(zkd_instance_weight(in), max);
        s->enabled = zkd_instance_enabled(in) != 0;
        s->push |= strcmp(was.addr, s->addr) || was.port != s->port || was.weight != s->weight ||
                   was.enabled != s->enabled;
        if (s->weight != zkd_instance_weight(in))
            output_note(o, s->id, 0, "weight %d scaled to %d (HAProxy takes at most 256; all weights scaled by 256/%d)",
                        zkd_instance_weight(in), s->weight, max);
        h->known_ok &= inst_map_put(&h->known, in, k) == 0;
    }
    h->max_weight = max;
    map_free(&slot_of);
    map_free(&usable);
    while (ngone)
        free(gone[--ngone]);
    free(gone);
    free(addr);
    output_render_done(o);
}

/* Can update_changed take these instances: IP addresses (a name's lookup
 * is update_all's), weights that need no scaling, ids a note can be kept
 * under? */
static int plain(const zkd_instance *in)
{
    unsigned char raw[16];
    const char *a = zkd_instance_address(in);
    return zkd_instance_weight(in) <= HAPROXY_MAX_WEIGHT && output_safe_token(zkd_instance_id(in)) &&
           (!a || inet_pton(AF_INET, a, raw) == 1 || inet_pton(AF_INET6, a, raw) == 1);
}

/* The instances new since the last update (fresh: their indexes in v),
 * each into the slot its id had (a changed record) or a free one, their
 * notes made again; the slots of those gone freed. */
static void take_fresh(haproxy_out *h, const watch_view *v, const size_t *fresh, size_t nf,
                       const zkd_instance **gone, size_t ng)
{
    output *o = &h->base;
    id_map held; /* the ids of the slots of those gone */
    map_init(&held, ng);
    for (size_t g = 0; g < ng; g++) {
        int k = h->known.val[inst_map_find(&h->known, gone[g])];
        if (k >= 0)
            map_put(&held, h->slots[k].id, k);
        json_object_del(o->noted, zkd_instance_id(gone[g]));
    }
    int *ks = malloc((nf + 1) * sizeof *ks);
    char (*addr)[64] = malloc((nf + 1) * sizeof *addr);
    for (size_t f = 0; f < nf; f++) {
        const zkd_instance *in = v->inst[fresh[f]];
        json_object_del(o->noted, zkd_instance_id(in));
        int rc = output_address(o, in, addr[f], sizeof addr[f]), w = zkd_instance_weight(in);
        if (rc > 0 && w < 0) {
            output_note(o, zkd_instance_id(in), 1, "skipped: weight %d is negative", w);
            rc = -1;
        }
        ks[f] = rc > 0 ? -2 : -1; /* -2: a slot to find */
        size_t at = map_pos(&held, zkd_instance_id(in));
        if (rc > 0 && held.key[at] && held.val[at] >= 0) {
            ks[f] = held.val[at];
            held.val[at] = -1; /* claimed: the slot stays its id's */
        }
    }
    char **freed = calloc(ng + 1, sizeof *freed);
    size_t nfreed = 0;
    for (size_t p = 0; p <= held.mask; p++) {
        if (held.key[p] && held.val[p] >= 0) {
            slot *s = &h->slots[held.val[p]];
            freed[nfreed++] = s->id; /* held's key: freed once held is */
            s->id = NULL;
            s->push = 1;
        }
    }
    map_free(&held);
    int from = 0;
    for (size_t f = 0; f < nf; f++) {
        const zkd_instance *in = v->inst[fresh[f]];
        if (ks[f] == -2) {
            ks[f] = take_free_slot(h, &from);
            h->slots[ks[f]].id = strdup(zkd_instance_id(in));
            h->slots[ks[f]].push = 1;
        }
        if (ks[f] >= 0) {
            slot *s = &h->slots[ks[f]], was = *s;
            memcpy(s->addr, addr[f], sizeof s->addr);
            s->port = zkd_instance_port(in);
            s->weight = zkd_instance_weight(in);
            s->enabled = zkd_instance_enabled(in) != 0;
            s->push |= strcmp(was.addr, s->addr) || was.port != s->port ||
                       was.weight != s->weight || was.enabled != s->enabled;
            if (s->weight > h->max_weight)
                h->max_weight = s->weight;
        }
    }
    for (size_t g = 0; g < ng; g++)
        inst_map_del(&h->known, gone[g]);
    for (size_t f = 0; f < nf; f++)
        h->known_ok &= inst_map_put(&h->known, v->inst[fresh[f]], ks[f]) == 0;
    while (nfreed)
        free(freed[--nfreed]);
    free(freed);
    free(ks);
    free(addr);
}

/* A change costs what changed: an instance met in the last update is the
 * same record (instances are immutable; `known` holds a reference), so
 * only the new ones and the slots of those gone are worked out, and the
 * notes of the rest are kept. -1, having changed nothing, when update_all
 * must run instead. */
static int update_changed(haproxy_out *h, const watch_view *v)
{
    output *o = &h->base;
    unsigned mark = ++h->mark;
    if (!h->known_ok || !mark || h->failing || o->names || output_names_due(o) ||
        h->max_weight > HAPROXY_MAX_WEIGHT)
        return -1;
    size_t *fresh = malloc((v->n + 1) * sizeof *fresh), nf = 0, ng = 0;
    for (size_t i = 0; fresh && i < v->n; i++) {
        long p = inst_map_find(&h->known, v->inst[i]);
        if (p >= 0)
            h->known.seen[p] = mark;
        else
            fresh[nf++] = i;
    }
    const zkd_instance **gone = fresh ? malloc((h->known.count + 1) * sizeof *gone) : NULL;
    int ok = gone != NULL;
    for (size_t f = 0; ok && f < nf; f++)
        ok = plain(v->inst[fresh[f]]);
    for (size_t p = 0; ok && h->known.key && p <= h->known.mask; p++)
        if (h->known.key[p] && h->known.seen[p] != mark)
            ok = plain(gone[ng++] = h->known.key[p]);
    if (!ok) {
        free(fresh);
        free(gone);
        return -1;
    }
    o->noted = o->notes ? json_copy(o->notes) : json_object();
    take_fresh(h, v, fresh, nf, gone, ng);
    free(fresh);
    free(gone);
    output_render_done(o);
    return 0;
}

static void haproxy_update(output *o, const watch_view *v)
{
    haproxy_out *h = (haproxy_out *)o;
    if (update_changed(h, v) != 0)
        update_all(h, v);
    h->file_due = 1;
    h->changed = 1;
    round_start(h);
    if (!h->busy) /* no round to wait for */
        flush_file(h);
}

/* The file is written once the Runtime API round a change started is
 * over, not before it: its fsyncs take milliseconds on a busy disk, and
 * HAProxy takes the change at runtime without it. A reload writes it
 * first (want_reload), and so does the end of every round. */
static void flush_file(haproxy_out *h)
{
    if (!h->file_due)
        return;
    h->file_due = 0;
    write_file(h, h->base.watch->service);
}

static void haproxy_tick(output *o, const watch_view *v)
{
    haproxy_out *h = (haproxy_out *)o;
    if (h->failing || output_names_due(o))
        haproxy_update(o, v);
    else
        round_start(h); /* the periodic reconcile */
}

static void haproxy_close(output *o)
{
    haproxy_out *h = (haproxy_out *)o;
    round_close(h);
    flush_file(h);
    event_free(h->deadline);
    free(h->q);
    reloader_close(&h->reload);
    validator_close(&h->check);
    for (int k = 0; k < h->nslots; k++)
        free(h->slots[k].id);
    free(h->slots);
    inst_map_clear(&h->known);
    output_fini(o);
    resolve_unref();
    free(h);
}

const output_ops output_haproxy_ops = {"haproxy", haproxy_open, haproxy_update, haproxy_tick, haproxy_close};
