/* SPDX-License-Identifier: Apache-2.0 */
/* Host names in instance records, resolved off the loop for the haproxy
 * and nginx outputs (which need IP addresses): libevent's evdns (reads
 * /etc/resolv.conf and /etc/hosts, never blocks), one cache shared by
 * every output of the loop. A name is looked up when first asked for and
 * again when its entry is older than RESOLVE_TTL_S; meanwhile the last
 * answer is served. ".invalid" names fail at once (RFC 6761). */
#ifndef ZKDISC_AGENT_RESOLVE_H
#define ZKDISC_AGENT_RESOLVE_H

#include <event2/event.h>
#include <stddef.h>

#define RESOLVE_TTL_S 30     /* an answer (or a failure) is asked again after this */

/* Takes and drops a reference on the loop's resolver (outputs call these
 * from open and close; the last drop frees the cache). */
void resolve_ref(struct event_base *base);
void resolve_unref(void);

/* The IP address for `name` into out (at least 64 bytes): 1 when known
 * (an IP address literal is its own answer, IPv4 preferred over IPv6),
 * 0 while a lookup is under way, -1 when it failed (*why says why). */
int resolve_addr(const char *name, char *out, size_t len, const char **why);

/* Grows whenever a lookup finishes with a new answer: an output that was
 * told 0 or whose names changed renders again when this moved. */
unsigned resolve_generation(void);

#endif
