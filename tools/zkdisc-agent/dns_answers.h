/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS responder's answer cache: a service's (or one zone's) A, AAAA
 * and SRV records, prepared in wire form once per view (a new generation
 * of watch_view) and reused by every query until the view changes. A
 * query copies the records it gets, in an order shuffled for it, into its
 * message: no address parsing, name writing or allocation per query. */
#ifndef ZKDISC_AGENT_DNS_ANSWERS_H
#define ZKDISC_AGENT_DNS_ANSWERS_H

#include <stdint.h>

#include "dns_wire.h"
#include "outputs/output.h"

typedef struct dns_answers dns_answers;
typedef struct dns_rrset dns_rrset;

dns_answers *dns_answers_new(void);
void dns_answers_free(dns_answers *c);
/* Forgets every set (a new configuration: services may be named anew). */
void dns_answers_clear(dns_answers *c);

/* The records of the enabled instances of view `v` (of the set `key`),
 * those of `zone` only when zone is not "": from the cache, or prepared
 * now. `service` names the SRV targets (ID.SERVICE.instance.DOMAIN). NULL
 * when memory ran out. Valid until the next call. */
dns_rrset *dns_answers_get(dns_answers *c, const void *key, const watch_view *v, const char *zone,
                           const char *service, uint32_t ttl);

/* The zone was named but no instance (enabled or not) is in it. */
int dns_rrset_no_zone(const dns_rrset *s);

/* A (v6 0) or AAAA records owned by the question (offset 12), as many
 * whole ones as fit under m's limit (m->full when some did not), shuffled. */
void dns_rrset_put_addrs(dns_answers *c, dns_rrset *s, dns_msg *m, int v6);

/* SRV records (targets ID.SERVICE.instance then a pointer to `apex`, the
 * offset of DOMAIN in the question) shuffled, then the targets' A and AAAA
 * records in the additional section; when not every SRV record fits,
 * m->full and no additional records (the client asks again over TCP). */
void dns_rrset_put_srv(dns_answers *c, dns_rrset *s, dns_msg *m, uint16_t apex);

#endif
