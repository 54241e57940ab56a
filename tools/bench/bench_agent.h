/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench's agent group (bench_agent.c). */
#ifndef ZKDISC_BENCH_AGENT_H
#define ZKDISC_BENCH_AGENT_H

#include <stddef.h>

typedef struct bench_agent_result {
    double agent_cpu, agent_requests; /* CPU seconds and probes over `seconds` */
    double loop_cpu, loop_requests;   /* the same for the plain libcurl-multi loop */
    int seconds;
} bench_agent_result;

/* Runs `agent` (a zkdisc-agent binary) with n http checks at 1 s against a
 * local server, then the loop; 0, or -1 with a message. */
int bench_agent_run(const char *agent, const char *zk, int n, int secs, bench_agent_result *r,
                    char *err, size_t errlen);

#endif
