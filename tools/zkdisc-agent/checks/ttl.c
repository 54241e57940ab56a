/* SPDX-License-Identifier: Apache-2.0 */
/* ttl: the heartbeat. Never run by the agent: the service reports
 * pass/warn/fail through the API; silence past `ttl` counts a failure. */
#include <stdlib.h>

#include "checks/check.h"

typedef struct ttl_conf {
    int64_t ttl_ms;
} ttl_conf;

static void *ttl_parse(const config_setting_t *s, struct evbuffer *errors)
{
    ttl_conf *t = calloc(1, sizeof *t);
    int rc = conf_duration(s, "ttl", &t->ttl_ms, errors);
    if (rc == 1)
        conf_error(errors, s, "ttl", "missing: a ttl check needs `ttl` (such as \"30s\")");
    else if (rc == 0 && t->ttl_ms < 10)
        conf_error(errors, s, "ttl", "must be at least 10ms");
    if (rc != 0 || t->ttl_ms < 10) {
        free(t);
        return NULL;
    }
    return t;
}

int64_t check_ttl_period(const check_conf *cc)
{
    return ((const ttl_conf *)cc->kconf)->ttl_ms;
}

static void ttl_run(check *c)
{
    (void)c; /* passive: never scheduled */
}

static const char *const ttl_keys[] = {"ttl", NULL};

const check_kind check_ttl = {
    .name = "ttl", .passive = 1, .parse = ttl_parse, .keys = ttl_keys, .free_conf = free,
    .run = ttl_run, .cancel = NULL,
};
