/* SPDX-License-Identifier: Apache-2.0 */
/* Probing the servers of a connect string with the four-letter words ruok,
 * srvr and mntr, in parallel: what `zkdisc health` prints and the console's
 * Ensemble page shows. */
#ifndef ZKDISC_HEALTH_PROBE_H
#define ZKDISC_HEALTH_PROBE_H

#include <jansson.h>

#include "cli.h"
#include "zkserver.h"

enum { MAX_SERVERS = 32 };

typedef struct probe {
    char host[256];
    int port;
    char label[300];
    int timeout_ms;
    /* results */
    int reachable;
    int imok;
    zks_mode mode;
    double rtt_ms;
    double avg_latency, max_latency;
    long long znodes, watches, outstanding, connections;
    char version[64];
    char zxid[24]; /* "0x..." from srvr */
    char error[160];
} probe;

/* "h1:p1,h2:p2[/chroot]" (IPv6 as [addr]:port; port 2181 when absent) into
 * v[0..*n). 0, or an exit code with a message (cli_error). */
int parse_connect(cli *ctx, const char *connect, probe *v, int *n);

/* Probes v[0..n) in parallel, each within its timeout_ms. */
void probe_all(probe *v, int n);

/* Reachable, imok and in a serving mode. */
int serving(const probe *p);

typedef struct health_summary {
    int ensemble;       /* more than one server listed */
    int voters, down, members, needed;
    int quorum, healthy;
    const char *leader; /* the serving leader's label, or NULL */
} health_summary;

/* Whether the probed servers hold a quorum, and who leads. */
void health_summarize(const probe *v, int n, health_summary *h);

/* What `health -o json` prints: {servers: [...], quorum: {...}, healthy}. */
json_t *health_json(const probe *v, int n, const health_summary *h);

#endif
