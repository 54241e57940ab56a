/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's shared services, used by every part of zkdisc-agent:
 * logging, alerts, and the one event loop. Everything here runs on the
 * loop thread (library callbacks are handed to it first, see main.c). */
#ifndef ZKDISC_AGENT_H
#define ZKDISC_AGENT_H

#include <event2/event.h>
#include <jansson.h>
#include <zkdisc/zkdisc.h>

typedef enum agent_level { AGENT_ERROR, AGENT_WARN, AGENT_INFO, AGENT_DEBUG } agent_level;

/* One line per event: RFC 3339 UTC timestamp, level, message (text or JSON
 * per agent.log_format). */
void agent_log(agent_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Raises alert `event` (check_critical, service_below_min, output_stale,
 * config_apply_failed, ...) about `subject` (a service id, an output path,
 * an app). `fields` (may be NULL) are extra JSON fields; the reference is
 * stolen. Hooks configured under `alerts` decide whether and where it goes
 * (dedup per transition and rate limits are theirs). */
void agent_alert(const char *event, const char *subject, json_t *fields);

#endif
