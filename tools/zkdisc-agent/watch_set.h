/* SPDX-License-Identifier: Apache-2.0 */
/* One watched service: a library cache, the zone/metadata filters,
 * min_instances and the allow_empty hold-back, and the outputs fed with
 * the resulting view. Loop thread only, except watch_set's cache callback,
 * which only marks the set dirty and wakes the loop through `wake_fd`. */
#ifndef ZKDISC_AGENT_WATCH_SET_H
#define ZKDISC_AGENT_WATCH_SET_H

#include <event2/buffer.h>
#include <jansson.h>
#include <zkdisc/zkdisc.h>

#include "conf_consumers.h"
#include "outputs/output.h"

typedef struct watch_set watch_set;

/* Opens the cache and the outputs. NULL with a message in `errors`. */
watch_set *watch_set_open(struct event_base *base, zkd_client *zk, const watch_conf *wc,
                          int wake_fd, struct evbuffer *errors);

/* On the loop: re-reads the cache if it changed (force: even if not) and
 * feeds the outputs when the view changed. */
void watch_set_refresh(watch_set *ws, int force);

/* About once a second: staleness and retries. */
void watch_set_tick(watch_set *ws);

const watch_conf *watch_set_conf(const watch_set *ws);

/* The current view (borrowed until the next refresh). NULL before the
 * first load. */
const watch_view *watch_set_view(const watch_set *ws);

json_t *watch_set_json(const watch_set *ws);
/* family 0: zkdisc_agent_watch_instances lines; 1: held_back_total. */
void watch_set_metrics(const watch_set *ws, struct evbuffer *out, int family);

/* Waits (blocking, at most timeout_ms in all) for the sets' first loads. */
void watch_sets_wait_ready(watch_set *const *sets, int n, int timeout_ms);

/* One line per output: `name`{service,output,index} and the output_stats
 * counter at `offset` (offsetof(output_stats, ...)). */
void watch_set_output_metric(const watch_set *ws, struct evbuffer *out, const char *name,
                             size_t offset);

void watch_set_close(watch_set *ws);
/* A reload kept this watch (watch_conf_equal): from now on it and its
 * outputs read `wc`, an identical configuration that outlives the old one. */
void watch_set_rebind(watch_set *ws, const watch_conf *wc);

#endif
