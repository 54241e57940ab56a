/* SPDX-License-Identifier: Apache-2.0 */
/* `templates`: files rendered with Mustache from every watched service,
 * configuration documents and the node's own facts (the data model is
 * documented in zkdisc-agent.conf(5), TEMPLATES). Each entry renders when
 * that data changes; an identical render touches nothing. A new render is
 * first written to a temporary file beside the destination and checked by
 * check_cmd (a failure keeps the old file and alerts config_apply_failed),
 * then replaces the destination atomically, then on_change runs (a failure
 * puts the previous file back, runs on_change again and alerts). A render
 * refused so is not tried again until the data renders differently. */
#ifndef ZKDISC_AGENT_TEMPLATE_H
#define ZKDISC_AGENT_TEMPLATE_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <zkdisc/zkdisc.h>

#include "../conf_consumers.h"
#include "../watch_set.h"
#include "template_data.h"

typedef struct tmpls tmpls;

/* Compiles the templates and opens a config watch per app they read. NULL
 * with a message in `errors`. Nothing is rendered before tmpls_refresh. */
tmpls *tmpls_start(struct event_base *base, zkd_client *zk, const tmpl_conf *c, int n, int wake_fd,
                   struct evbuffer *errors);

/* On the loop, after the watch sets refreshed: rebuilds the data when it
 * changed and applies every template whose render changed. Waits (renders
 * nothing) until every set has loaded and every app has a version. */
void tmpls_refresh(tmpls *t, watch_set *const *sets, int nsets);

void tmpls_metrics(const tmpls *t, struct evbuffer *out);

/* Stops running checks and hooks and frees `t` (NULL is fine). */
void tmpls_stop(tmpls *t);

#endif
