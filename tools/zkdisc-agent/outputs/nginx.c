/* nginx output: an `upstream` block file (drained instances `down`) and a
 * rate-limited reload when the file changed. nginx refuses an upstream with
 * no server, so an empty set is written as one placeholder marked down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent.h"
#include "output.h"

typedef struct nginx_out {
    output base;
    reloader reload;
    int failing;
} nginx_out;

static output *nginx_open(struct event_base *base, const watch_conf *w, const out_conf *c)
{
    nginx_out *n = calloc(1, sizeof *n);
    output_init(&n->base, &output_nginx_ops, base, w, c);
    reloader_init(&n->reload, &n->base);
    return &n->base;
}

static void nginx_update(output *o, const watch_view *v)
{
    nginx_out *n = (nginx_out *)o;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "# written by zkdisc-agent for service %s; do not edit\nupstream %s {\n",
                        v->service, o->conf->backend);
    for (char **l = o->conf->options; l && *l; l++)
        evbuffer_add_printf(b, "    %s\n", *l);
    int servers = 0;
    for (size_t k = 0; k < v->n; k++) {
        const zkd_instance *i = v->inst[k];
        const char *addr = zkd_instance_address(i);
        int port = zkd_instance_port(i), weight = zkd_instance_weight(i);
        if (!output_safe_token(addr) || port <= 0 || port > 65535 || weight < 0) {
            o->stats.skipped++;
            continue;
        }
        int down = !zkd_instance_enabled(i) || weight == 0;
        evbuffer_add_printf(b, "    server %s%s%s:%d weight=%d%s; # %s\n", strchr(addr, ':') ? "[" : "",
                            addr, strchr(addr, ':') ? "]" : "", port, weight ? weight : 1,
                            down ? " down" : "", output_safe_token(zkd_instance_id(i)) ? zkd_instance_id(i) : "-");
        servers++;
    }
    if (!servers)
        evbuffer_add_printf(b, "    server 127.0.0.1:1 down; # no instance\n");
    evbuffer_add_printf(b, "}\n");
    size_t len = evbuffer_get_length(b);
    char err[512];
    int rc = atomic_file_write(o->conf->path, evbuffer_pullup(b, -1), len, o->conf->mode,
                               &o->conf->owner, err, sizeof err);
    evbuffer_free(b);
    if (rc < 0) {
        o->stats.write_failures++;
        if (!n->failing)
            agent_log(AGENT_ERROR, "watch %s: nginx output: %s", v->service, err);
        n->failing = 1;
        return;
    }
    n->failing = 0;
    if (rc == 1) {
        o->stats.writes++;
        reloader_request(&n->reload);
    }
}

static void nginx_tick(output *o, const watch_view *v)
{
    if (((nginx_out *)o)->failing)
        nginx_update(o, v);
}

static void nginx_close(output *o)
{
    reloader_close(&((nginx_out *)o)->reload);
    free(o);
}

const output_ops output_nginx_ops = {"nginx", nginx_open, nginx_update, nginx_tick, nginx_close};
