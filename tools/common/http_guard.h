/* SPDX-License-Identifier: Apache-2.0 */
/* Who may talk to a local HTTP listener: the Host and Origin checks that keep
 * a web page in a local browser (DNS rebinding, cross-site requests) away
 * from it. The agent's API and the console's pages follow the same rules. */
#ifndef ZKDISC_TOOLS_HTTP_GUARD_H
#define ZKDISC_TOOLS_HTTP_GUARD_H

#include <stddef.h>

/* An address literal in 127/8 or ::1, or "localhost": never a DNS name that
 * merely starts with "127." (127.evil.example can be made to point here). */
int hg_is_loopback(const char *host);

/* hp[0..n), "HOST[:PORT]" as a Host header or an Origin's authority, names
 * the listener on listen_host:port: its own address, a loopback name when it
 * listens on loopback, or any address literal when it listens on all of
 * them. Never another DNS name: that is what a rebinding page sends. */
int hg_authority_ok(const char *listen_host, int port, const char *hp, size_t n);

/* "http://HOST[:PORT]" naming the listener (hg_authority_ok). */
int hg_origin_ok(const char *listen_host, int port, const char *origin);

#endif
