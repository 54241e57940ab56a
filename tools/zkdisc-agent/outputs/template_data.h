/* SPDX-License-Identifier: Apache-2.0 */
/* What templates render (zkdisc-agent.conf(5), TEMPLATES): services.NAME
 * (instances, drained, all), service_list, config.APP and config_info.APP
 * for the apps the templates list, node.hostname and node.services. */
#ifndef ZKDISC_AGENT_TEMPLATE_DATA_H
#define ZKDISC_AGENT_TEMPLATE_DATA_H

#include <event2/buffer.h>
#include <jansson.h>
#include <zkdisc/zkdisc.h>

#include "../conf_consumers.h"
#include "../watch_set.h"

typedef struct tmpl_data tmpl_data;

/* Opens a config watch for every app the `n` templates read (their
 * callbacks write to wake_fd). NULL with a message in `errors`. */
tmpl_data *tmpl_data_open(zkd_client *zk, const tmpl_conf *c, int n, int wake_fd, struct evbuffer *errors);

/* The model over `sets` (borrowed until the next call), rebuilt only when
 * a set's instances, an app's version or the node's services changed;
 * *gen grows with each rebuild. NULL while a set has not loaded or an app
 * has no version yet. */
json_t *tmpl_data_get(tmpl_data *d, watch_set *const *sets, int nsets, unsigned *gen);

void tmpl_data_close(tmpl_data *d);

/* Where node.services comes from: fn(ctx) returns a new JSON array of the
 * agent's own registrations (main.c sets it; unset, the array is empty). */
void tmpls_node_source(json_t *(*fn)(void *ctx), void *ctx);

#endif
