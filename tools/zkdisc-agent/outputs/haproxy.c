#include <stdlib.h>
#include "output.h"
static output *hp_open(struct event_base *base, const watch_conf *w, const out_conf *c)
{
    output *o = calloc(1, sizeof *o);
    output_init(o, &output_haproxy_ops, base, w, c);
    return o;
}
static void hp_update(output *o, const watch_view *v) { (void)o; (void)v; }
static void hp_close(output *o) { free(o); }
const output_ops output_haproxy_ops = {"haproxy", hp_open, hp_update, NULL, hp_close};
