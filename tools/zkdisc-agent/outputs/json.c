/* SPDX-License-Identifier: Apache-2.0 */
/* json output: one file per service, written atomically and only when its
 * content changes; `output_stale` when ZooKeeper has been unreachable for
 * longer than stale_after. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../agent.h"
#include "output.h"

typedef struct json_out {
    output base;
    int failing;         /* the last write failed: retried on the next tick */
    int64_t fresh_ms;    /* when the view was last not stale (monotonic) */
    int stale_alerted;
    json_records *records; /* the last render's, reused by the next */
} json_out;

static output *json_open(struct event_base *base, const watch_conf *w, const out_conf *c)
{
    json_out *j = calloc(1, sizeof *j);
    output_init(&j->base, &output_json_ops, base, w, c);
    j->fresh_ms = output_mono_ms();
    return &j->base;
}

static void json_update(output *o, const watch_view *v)
{
    json_out *j = (json_out *)o;
    size_t len;
    char *text = output_render_json(v, &len, &j->records);
    char err[512];
    int rc = zkd__atomic_file_write(o->conf->path, text, len, o->conf->mode, &o->conf->owner, err, sizeof err);
    free(text);
    if (rc < 0) {
        o->stats.write_failures++;
        if (!j->failing)
            agent_log(AGENT_ERROR, "watch %s: json output: %s", v->service, err);
        j->failing = 1;
        return;
    }
    if (j->failing)
        agent_log(AGENT_INFO, "watch %s: json output %s written again", v->service, o->conf->path);
    j->failing = 0;
    if (rc == 1)
        o->stats.writes++;
}

static void json_tick(output *o, const watch_view *v)
{
    json_out *j = (json_out *)o;
    if (j->failing)
        json_update(o, v);
    int64_t now = output_mono_ms();
    if (!v->stale) {
        j->fresh_ms = now;
        j->stale_alerted = 0;
        return;
    }
    if (o->conf->stale_after_ms > 0 && !j->stale_alerted && now - j->fresh_ms > o->conf->stale_after_ms) {
        j->stale_alerted = 1;
        agent_log(AGENT_WARN, "watch %s: %s is stale (ZooKeeper unreachable for over %d ms)",
                  v->service, o->conf->path, o->conf->stale_after_ms);
        agent_alert("output_stale", o->conf->path,
                    json_pack("{s:s,s:I}", "service", v->service, "staleMs", (json_int_t)(now - j->fresh_ms)));
    }
}

static void json_close(output *o)
{
    output_json_records_free(((json_out *)o)->records);
    free(o);
}

const output_ops output_json_ops = {"json", json_open, json_update, json_tick, json_close};
