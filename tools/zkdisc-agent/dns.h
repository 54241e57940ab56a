/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS responder over the watched services' views (UDP and TCP). */
#ifndef ZKDISC_AGENT_DNS_H
#define ZKDISC_AGENT_DNS_H

#include <event2/buffer.h>
#include <event2/event.h>

#include "conf_consumers.h"
#include "watch_set.h"

typedef struct dns_server dns_server;

/* Binds UDP and TCP on c->listen_host:listen_port. NULL with a message in
 * `errors` when it cannot. `sets` is borrowed (see dns_set_watches). With
 * c->all_services, other services get caches of their own on `zk` (their
 * callbacks wake the loop through `wake_fd`). */
dns_server *dns_start(struct event_base *base, zkd_client *zk, int wake_fd, const dns_conf *c,
                      watch_set *const *sets, int n, struct evbuffer *errors);

/* The configuration (equal to the running one in what the sockets need)
 * and services it answers for from now on (borrowed until the next call or
 * dns_stop). */
void dns_set_watches(dns_server *d, const dns_conf *c, watch_set *const *sets, int n);

void dns_metrics(const dns_server *d, struct evbuffer *out);
void dns_stop(dns_server *d);

#endif
