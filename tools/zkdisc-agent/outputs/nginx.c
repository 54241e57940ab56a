/* SPDX-License-Identifier: Apache-2.0 */
/* nginx output: an `upstream` block file (drained instances `down`) and a
 * rate-limited reload when the file changed, after `check` passed (the
 * previous file is put back when it fails). Addresses are IPs: host names
 * are resolved by the agent (resolve.h), so nginx never meets a name it
 * cannot resolve at reload. nginx refuses an upstream with no server, so
 * an empty set is written as one placeholder marked down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent.h"
#include "../resolve.h"
#include "output.h"

typedef struct nginx_out {
    output base;
    reloader reload;
    validator check;
    int failing;
} nginx_out;

static void passed(output *o)
{
    reloader_request(&((nginx_out *)o)->reload);
}

static output *nginx_open(struct event_base *base, const watch_conf *w, const out_conf *c)
{
    nginx_out *n = calloc(1, sizeof *n);
    output_init(&n->base, &output_nginx_ops, base, w, c);
    reloader_init(&n->reload, &n->base);
    validator_init(&n->check, &n->base, passed);
    resolve_ref(base);
    return &n->base;
}

static void nginx_update(output *o, const watch_view *v)
{
    nginx_out *n = (nginx_out *)o;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "# written by zkdisc-agent for service %s (source: %s); do not edit\n"
                        "upstream %s {\n", v->service, v->source ? v->source : "zookeeper",
                        o->conf->backend);
    for (char **l = o->conf->options; l && *l; l++)
        evbuffer_add_printf(b, "    %s\n", *l);
    int servers = 0;
    o->names = 0;
    for (size_t k = 0; k < v->n; k++) {
        const zkd_instance *i = v->inst[k];
        char addr[64];
        int weight = zkd_instance_weight(i);
        if (output_address(o, i, addr, sizeof addr) <= 0)
            continue;
        if (weight < 0) {
            output_note(o, zkd_instance_id(i), 1, "skipped: weight %d is negative", weight);
            continue;
        }
        int down = !zkd_instance_enabled(i) || weight == 0;
        evbuffer_add_printf(b, "    server %s%s%s:%d weight=%d%s; # %s\n", strchr(addr, ':') ? "[" : "",
                            addr, strchr(addr, ':') ? "]" : "", zkd_instance_port(i), weight ? weight : 1,
                            down ? " down" : "", zkd_instance_id(i));
        servers++;
    }
    output_render_done(o);
    if (!servers)
        evbuffer_add_printf(b, "    server 127.0.0.1:1 down; # no instance\n");
    evbuffer_add_printf(b, "}\n");
    size_t len = evbuffer_get_length(b);
    char err[512];
    int rc = zkd__atomic_file_write(o->conf->path, evbuffer_pullup(b, -1), len, o->conf->mode,
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
        validator_run(&n->check);
    }
}

static void nginx_tick(output *o, const watch_view *v)
{
    if (((nginx_out *)o)->failing || output_names_due(o))
        nginx_update(o, v);
}

static void nginx_close(output *o)
{
    nginx_out *n = (nginx_out *)o;
    reloader_close(&n->reload);
    validator_close(&n->check);
    output_fini(o);
    resolve_unref();
    free(o);
}

const output_ops output_nginx_ops = {"nginx", nginx_open, nginx_update, nginx_tick, nginx_close};
