/* Stand-ins for the consumer side (issue 10) so this half builds alone; the
 * lead deletes this file when both halves are merged. */
#include <jansson.h>
#include <stdlib.h>

#include "consumers.h"

struct consumers_conf {
    int unused;
};

struct consumers {
    int unused;
};

consumers_conf *consumers_conf_parse(const config_t *cfg, struct evbuffer *errors)
{
    (void)cfg;
    (void)errors;
    return calloc(1, sizeof(consumers_conf));
}

void consumers_conf_free(consumers_conf *cc)
{
    free(cc);
}

consumers *consumers_start(struct event_base *base, zkd_client *zk, const consumers_conf *cc,
                           struct evbuffer *errors)
{
    (void)base;
    (void)zk;
    (void)cc;
    (void)errors;
    return calloc(1, sizeof(consumers));
}

int consumers_reload(consumers *cs, const consumers_conf *cc, struct evbuffer *errors)
{
    (void)cs;
    (void)cc;
    (void)errors;
    return 0;
}

json_t *consumers_watch_json(consumers *cs, const char *service)
{
    (void)cs;
    (void)service;
    return NULL;
}

void consumers_metrics(consumers *cs, struct evbuffer *out)
{
    (void)cs;
    (void)out;
}

void consumers_stop(consumers *cs)
{
    free(cs);
}
