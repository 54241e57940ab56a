/* SPDX-License-Identifier: Apache-2.0 */
/* dns.all_services: which services exist under <root>/services, kept by
 * one children watch, so that a DNS query for a name that does not exist
 * costs nothing on ZooKeeper and takes no cache. */
#ifndef ZKDISC_AGENT_DNS_DIR_H
#define ZKDISC_AGENT_DNS_DIR_H

#include <zkdisc/zkdisc.h>

typedef struct dns_dir dns_dir;

/* Starts watching (in the background: never waits). NULL when no thread
 * could be started. */
dns_dir *dns_dir_open(zkd_client *zk);

/* 1: the service exists; 0: it does not; -1: not known yet (ZooKeeper has
 * not answered). Any thread. */
int dns_dir_has(dns_dir *s, const char *name);

/* Stops; does not wait for a first read still in progress. NULL is ignored. */
void dns_dir_close(dns_dir *s);

#endif
