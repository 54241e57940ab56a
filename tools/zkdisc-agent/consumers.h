/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's consumer side (issue 10): `watch` (caches -> json, command,
 * haproxy, nginx outputs), `dns`, and `config_files`. main.c, conf.c, api.c
 * and the metrics page reach it only through these calls. */
#ifndef ZKDISC_AGENT_CONSUMERS_H
#define ZKDISC_AGENT_CONSUMERS_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <libconfig.h>
#include <zkdisc/zkdisc.h>

typedef struct consumers_conf consumers_conf;
typedef struct consumers consumers;

/* Reads the `watch`, `dns` and `config_files` groups of a parsed agent
 * config (absent groups are fine). On a problem, appends one line per error
 * ("FILE:LINE: key: what is wrong") to `errors` and returns NULL. The result
 * is immutable; free with consumers_conf_free. */
consumers_conf *consumers_conf_parse(const config_t *cfg, struct evbuffer *errors);
void consumers_conf_free(consumers_conf *cc);

/* Starts outputs, DNS and config files on `base` over client `zk` (which
 * may not be connected yet). NULL with a message in `errors` when a
 * listener cannot bind. */
consumers *consumers_start(struct event_base *base, zkd_client *zk, const consumers_conf *cc,
                           struct evbuffer *errors);

/* SIGHUP: applies a new configuration, touching only what changed. The
 * caller keeps ownership of `cc` until consumers_stop or the next reload
 * (the running consumers keep a pointer to it). 0, or -1 with `errors`
 * filled and the running configuration kept. */
int consumers_reload(consumers *cs, const consumers_conf *cc, struct evbuffer *errors);

/* GET /v1/watch/SERVICE: what the outputs see, as a JSON object (a new
 * reference), or NULL when SERVICE is not watched (the API answers 404). */
json_t *consumers_watch_json(consumers *cs, const char *service);

/* Appends the consumer side's metrics, Prometheus text format (with HELP and
 * TYPE lines), to `out`. */
void consumers_metrics(consumers *cs, struct evbuffer *out);

/* Stops everything and frees `cs` (NULL is fine). Written files stay. */
void consumers_stop(consumers *cs);

#endif
