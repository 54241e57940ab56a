/* SPDX-License-Identifier: Apache-2.0 */
/* Running checks and services: schedules each check (with jitter), applies
 * rise/fall (DESIGN.md section 8), and turns a service's checks and
 * maintenance into what publish.c should make of its registration. */
#ifndef ZKDISC_AGENT_HEALTH_H
#define ZKDISC_AGENT_HEALTH_H

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

#include "conf.h"
#include "publish.h"

typedef struct service service;

/* Called when a service's wanted registration may have changed. */
typedef void (*service_changed_fn)(service *s, void *ctx);

service *service_start(struct event_base *base, const service_conf *sc, service_changed_fn fn,
                       void *ctx);
/* A reload: a service for `sc` that takes over the state of `old`'s checks
 * whose identity (the check's name, in this service) stays, whatever their
 * settings. `old` keeps running until freed. */
service *service_replace(const service *old, const service_conf *sc);
/* A reload with an unchanged definition: only the conf pointers move. */
void service_rebind(service *s, const service_conf *sc);
void service_stop(service *s);

const service_conf *service_get_conf(const service *s);
int service_healthy(const service *s);
void service_set_maint(service *s, int on, const char *reason);
int service_maint(const service *s, const char **reason);
/* What the registration should be now. */
publish_want service_want(const service *s);
/* Remembers `w` as the last asked-for state; returns the previous one. */
publish_want service_swap_want(service *s, publish_want w);

/* A TTL report (pass/warn/fail) for check `name`. -1 when no such ttl check. */
int service_ttl_report(service *s, const char *name, check_status st, const char *note);
int service_has_check(const service *s, const char *name);

/* Check states as kept in state_dir across restarts: {"CHECK": {"status",
 * "ok_streak", "fail_streak", "failed_once", "last_change"}}; new reference. */
json_t *service_state_json(const service *s);
/* Takes over the states in `saved` (from service_state_json) of checks of
 * the same name; malformed entries are ignored. Returns how many. */
int service_state_restore(service *s, const json_t *saved);
/* `fn` runs (on the loop) whenever what service_state_json says changes. */
void health_on_state_change(void (*fn)(void));

/* {"checks":[...]} fields for the API; new reference. */
json_t *service_checks_json(const service *s);
/* Prometheus lines for this service's checks (no HELP/TYPE). */
void service_metrics(const service *s, struct evbuffer *status, struct evbuffer *durations);

#endif
