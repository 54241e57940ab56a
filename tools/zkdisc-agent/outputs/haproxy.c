/* haproxy output: keeps a HAProxy backend equal to the watched set without
 * dropping connections.
 *
 * The backend's file (`config`, loaded by HAProxy with -f) declares a fixed
 * number of server slots, zkd1..zkdN; an instance owns a slot for as long
 * as it is registered. Changes between reloads go through the Runtime API
 * on `socket`: a new instance takes a free slot (set server addr/port,
 * weight, state ready), a drained one goes to `drain`, a removed one to
 * `maint` (its slot is free again). The file is rewritten (atomically,
 * change-only) before the commands are sent, so a reload or restart at any
 * moment loads the same state. A reload runs only when the slots run out,
 * the backend's options change, the file changed while the agent was not
 * running, or the socket refused a command; rate-limited by the reloader. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../agent.h"
#include "output.h"

typedef struct slot {
    char *id;          /* NULL: free (in maint) */
    char addr[64];
    int port, weight, enabled;
} slot;

typedef struct haproxy_out {
    output base;
    reloader reload;
    slot *slots;
    int nslots;        /* slots the file declares */
    int running;       /* slots the running HAProxy has (from its last load) */
    int synced;        /* the file has been written once */
    int failing;
} haproxy_out;

/* A record HAProxy can take at runtime: an IP address, a port, a weight of
 * 0..256, an id that cannot break the file's comment. */
static int usable_record(const zkd_instance *i)
{
    unsigned char buf[16];
    const char *a = zkd_instance_address(i);
    int port = zkd_instance_port(i), w = zkd_instance_weight(i);
    return (inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1) && port > 0 &&
           port <= 65535 && w >= 0 && w <= 256 && output_safe_token(zkd_instance_id(i)) &&
           strlen(a) < sizeof ((slot *)0)->addr;
}

static void after_reload(output *o, int ok)
{
    haproxy_out *h = (haproxy_out *)o;
    if (ok)
        h->running = h->nslots;
}

/* Takes the slots back from the file a previous run wrote (an agent
 * restart or a SIGHUP), so that instances keep their slots and HAProxy,
 * which loaded that file, needs no reload. The number of slots found. */
static int recover(haproxy_out *h)
{
    char *text = NULL;
    if (atomic_file_read(h->base.conf->path, 16 << 20, &text) < 0)
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

static output *haproxy_open(struct event_base *base, const watch_conf *w, const out_conf *c)
{
    haproxy_out *h = calloc(1, sizeof *h);
    output_init(&h->base, &output_haproxy_ops, base, w, c);
    reloader_init(&h->reload, &h->base);
    h->reload.after = after_reload;
    h->nslots = c->slots;
    h->running = c->slots; /* as if HAProxy loaded a file of ours; the first write tells */
    h->slots = calloc((size_t)h->nslots, sizeof *h->slots);
    int found = recover(h);
    if (found) {
        h->running = found;
        h->synced = 1;
        agent_log(AGENT_INFO, "watch %s: haproxy slots taken back from %s", w->service, c->path);
    }
    return &h->base;
}

/* ---- the Runtime API ---------------------------------------------------------- */

/* Sends one command; 0 when HAProxy accepted it. */
static int runtime(haproxy_out *h, const char *cmd)
{
    output *o = &h->base;
    o->stats.runtime_cmds++;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!o->conf->socket || strlen(o->conf->socket) >= sizeof sa.sun_path)
        return -1;
    strcpy(sa.sun_path, o->conf->socket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char reply[512] = "";
    size_t got = 0;
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
             dprintf(fd, "%s\n", cmd) > 0;
    while (ok && got < sizeof reply - 1) {
        ssize_t n = read(fd, reply + got, sizeof reply - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ok = 0;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    int e = errno;
    if (fd >= 0)
        close(fd);
    reply[got] = '\0';
    while (got && (reply[got - 1] == '\n' || reply[got - 1] == ' '))
        reply[--got] = '\0';
    /* Success is an empty reply, or for addr changes a report of it. */
    if (ok && (!got || strstr(reply, "changed") || strcasestr(reply, "no need to change")))
        return 0;
    o->stats.runtime_failures++;
    agent_log(AGENT_WARN, "watch %s: haproxy runtime \"%s\": %s", o->watch->service, cmd,
              ok ? reply : strerror(e));
    return -1;
}

/* Moves running slot `k` to its new state; 0 when every command worked. */
static int apply(haproxy_out *h, int k, const slot *was)
{
    const slot *s = &h->slots[k];
    const char *b = h->base.conf->backend;
    char cmd[256];
    int rc = 0;
    if (!s->id) {
        if (was->id) {
            snprintf(cmd, sizeof cmd, "set server %s/zkd%d state maint", b, k + 1);
            rc |= runtime(h, cmd);
        }
        return rc;
    }
    int fresh = !was->id || strcmp(was->id, s->id);
    if (fresh || strcmp(was->addr, s->addr) || was->port != s->port) {
        snprintf(cmd, sizeof cmd, "set server %s/zkd%d addr %s port %d", b, k + 1, s->addr, s->port);
        rc |= runtime(h, cmd);
    }
    /* The file gives a drained server weight 0: undraining restores it. */
    if (fresh || was->weight != s->weight || was->enabled != s->enabled) {
        snprintf(cmd, sizeof cmd, "set server %s/zkd%d weight %d", b, k + 1, s->weight);
        rc |= runtime(h, cmd);
    }
    if (fresh || was->enabled != s->enabled) {
        snprintf(cmd, sizeof cmd, "set server %s/zkd%d state %s", b, k + 1, s->enabled ? "ready" : "drain");
        rc |= runtime(h, cmd);
    }
    return rc;
}

/* ---- slots and the file ----------------------------------------------------------- */

static int find_slot(const haproxy_out *h, const char *id)
{
    for (int k = 0; k < h->nslots; k++)
        if (h->slots[k].id && !strcmp(h->slots[k].id, id))
            return k;
    return -1;
}

static int take_free_slot(haproxy_out *h)
{
    for (int k = 0; k < h->nslots; k++)
        if (!h->slots[k].id)
            return k;
    /* Out of slots: grow by the configured count; the new ones exist in
     * HAProxy only after a reload. */
    int more = h->base.conf->slots;
    h->slots = realloc(h->slots, (size_t)(h->nslots + more) * sizeof *h->slots);
    memset(h->slots + h->nslots, 0, (size_t)more * sizeof *h->slots);
    h->nslots += more;
    return h->nslots - more;
}

static int write_file(haproxy_out *h, const char *service)
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
    int rc = atomic_file_write(o->conf->path, evbuffer_pullup(b, -1), evbuffer_get_length(b),
                               o->conf->mode, &o->conf->owner, err, sizeof err);
    evbuffer_free(b);
    if (rc < 0) {
        o->stats.write_failures++;
        if (!h->failing)
            agent_log(AGENT_ERROR, "watch %s: haproxy output: %s", service, err);
        h->failing = 1;
    } else {
        h->failing = 0;
        o->stats.writes += rc == 1;
    }
    return rc;
}


static void haproxy_update(output *o, const watch_view *v)
{
    haproxy_out *h = (haproxy_out *)o;
    int old_n = h->nslots;
    slot *was = calloc((size_t)old_n, sizeof *was);
    memcpy(was, h->slots, (size_t)old_n * sizeof *was);
    /* Slots of instances that left are freed (their ids stay owned by `was`). */
    for (int k = 0; k < h->nslots; k++) {
        int keep = 0;
        for (size_t i = 0; h->slots[k].id && i < v->n && !keep; i++)
            keep = usable_record(v->inst[i]) && !strcmp(zkd_instance_id(v->inst[i]), h->slots[k].id);
        if (!keep)
            h->slots[k].id = NULL;
        else
            h->slots[k].id = strdup(h->slots[k].id);
    }
    for (size_t i = 0; i < v->n; i++) {
        const zkd_instance *in = v->inst[i];
        if (!usable_record(in)) {
            o->stats.skipped++;
            continue;
        }
        int k = find_slot(h, zkd_instance_id(in));
        if (k < 0) {
            k = take_free_slot(h);
            h->slots[k].id = strdup(zkd_instance_id(in));
        }
        slot *s = &h->slots[k];
        snprintf(s->addr, sizeof s->addr, "%s", zkd_instance_address(in));
        s->port = zkd_instance_port(in);
        s->weight = zkd_instance_weight(in);
        s->enabled = zkd_instance_enabled(in) != 0;
    }
    int rc = write_file(h, v->service);
    int reload = rc == 1 && !h->synced; /* what HAProxy loaded may be older */
    h->synced |= rc >= 0;
    int failed = 0;
    for (int k = 0; k < h->nslots; k++) {
        if (k >= h->running) {
            reload |= h->slots[k].id != NULL;
            continue;
        }
        slot none = {0};
        failed |= apply(h, k, k < old_n ? &was[k] : &none) != 0;
    }
    if (failed) {
        agent_alert("haproxy_runtime_failed", v->service,
                    json_pack("{s:s?,s:s}", "socket", o->conf->socket, "action", "reload"));
        reload = 1;
    }
    for (int k = 0; k < old_n; k++)
        free(was[k].id);
    free(was);
    if (reload)
        reloader_request(&h->reload);
}

static void haproxy_tick(output *o, const watch_view *v)
{
    if (((haproxy_out *)o)->failing)
        haproxy_update(o, v);
}

static void haproxy_close(output *o)
{
    haproxy_out *h = (haproxy_out *)o;
    reloader_close(&h->reload);
    for (int k = 0; k < h->nslots; k++)
        free(h->slots[k].id);
    free(h->slots);
    free(h);
}

const output_ops output_haproxy_ops = {"haproxy", haproxy_open, haproxy_update, haproxy_tick, haproxy_close};
