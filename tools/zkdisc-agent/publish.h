/* SPDX-License-Identifier: Apache-2.0 */
/* Registrations in ZooKeeper, off the loop thread: the loop says what each
 * service's registration should be (publish_set, never blocks); one worker
 * thread makes it so with zkd_register / update / set_enabled / deregister,
 * which may each block up to the request timeout, retrying every second
 * until it holds. The loop hears back through an event. */
#ifndef ZKDISC_AGENT_PUBLISH_H
#define ZKDISC_AGENT_PUBLISH_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <zkdisc/zkdisc.h>

#include "conf.h"

typedef enum publish_want { WANT_ABSENT = 0, WANT_ENABLED = 1, WANT_DRAINED = 2 } publish_want;

const char *publish_want_name(publish_want w);

typedef struct publisher publisher;

/* `done` runs on the loop after the worker changed something.
 * `before_register` (may be NULL) runs on the worker before each
 * zkd_register: it must put publish_held on disk, so that an agent killed
 * right after the create still knows, at its next start, every node its
 * session may hold. */
publisher *publisher_start(struct event_base *base, zkd_client *zk, void (*done)(void *ctx),
                           void (*before_register)(publisher *p), void *ctx);
/* Asks for service `sc` (copied as needed) to be in state `want`. */
void publish_set(publisher *p, const service_conf *sc, publish_want want);
/* The previous run's session, resumed, may hold a node for `service`/`id`
 * (from state_dir): while it is not wanted, it is removed if the current
 * session holds it; when wanted, registering adopts it. */
void publish_inherit(publisher *p, const char *service, const char *id);
/* [{"service","id"}] of every node the session may hold now or soon (what
 * publish_inherit needs after a restart); new reference. */
json_t *publish_held(publisher *p);
/* The client the publisher registers with. */
zkd_client *publish_client(publisher *p);
/* What the tree holds for the service id as far as we know. */
publish_want publish_actual(publisher *p, const char *id);
/* 1 when every service is as asked. */
int publish_settled(publisher *p);
void publish_metrics(publisher *p, struct evbuffer *out);
/* Stops the worker (after its current request) and frees p; registrations
 * still held are left to the session. */
void publisher_stop(publisher *p);

#endif
