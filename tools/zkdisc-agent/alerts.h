/* SPDX-License-Identifier: Apache-2.0 */
/* Alert hooks (`alerts` in the config): agent_alert (agent.h) sends each
 * event to the hooks that want it, as an exec (event JSON on stdin,
 * ZKDISC_* variables) or a webhook (JSON POST, retried with backoff); once
 * per transition, every time (a repeated state is not raised again), at most
 * max_per_minute per hook (the rest counted as dropped and logged). */
#ifndef ZKDISC_AGENT_ALERTS_H
#define ZKDISC_AGENT_ALERTS_H

#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"

void alerts_init(struct event_base *base);
/* Uses the hooks of `c` from now on (c must outlive the next call). */
void alerts_configure(const agent_conf *c);
/* ZooKeeper unreachable for `ms` so far (0: reachable again). Hooks that
 * want zookeeper_unreachable fire once their `after` has passed. */
void alerts_unreachable(int64_t ms);
/* Records that the previous run raised check_critical for subject/check (a
 * check restored critical from state_dir after a failure), so its recovery
 * is raised; nothing is delivered now. */
void alerts_seed_critical(const char *subject, const char *check);
void alerts_metrics(struct evbuffer *out);
void alerts_shutdown(void);

#endif
