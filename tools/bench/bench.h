/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench's shared pieces: the run's settings, the raw-client helpers
 * every group measures against, and the report (bench_report.c). A group
 * is a function `void bench_NAME(const bench *)` listed in zkdisc-bench.c's
 * group table; it adds rows (add_row) and, for a claim of the README's
 * table, a report line (report_pairs). */
#ifndef ZKDISC_BENCH_H
#define ZKDISC_BENCH_H

#include <stddef.h>
#include <zkdisc/zkdisc.h>
#include <zookeeper/zookeeper.h>

#include "zkserver.h"

typedef struct bench {
    const char *zk;
    int n;       /* instances */
    int changes; /* watch latency samples */
    int json;
    const char *only;  /* comma-separated groups, NULL: the default ones */
    const char *agent; /* the zkdisc-agent binary for the agent group */
    const char *cli;   /* the zkdisc binary for the cli group */
    int agent_checks, agent_seconds;
    int recovery;      /* instances for the recovery measure (0: skip) */
    zks_server *srv;   /* our own server, or NULL with --zk */
    const int *sizes;  /* the scale group's sizes, ascending, 0-terminated */
    const char *steps; /* the scale group's steps, NULL: all */
} bench;

double now_s(void);
void die(const char *what, const char *why);
int cmp_double(const void *a, const void *b);

/* The raw ZooKeeper C client. */
zhandle_t *raw_connect(const char *zk);
void record_json(char *buf, size_t len, const char *service, const char *prefix, int i);
void raw_prepare(zhandle_t *zh, const char *service);
void raw_fill(zhandle_t *zh, const char *service, const char *prefix, int n);
double raw_async_reads(zhandle_t *zh, const char *service);

/* zkdisc. */
zkd_client *zkd_open(const char *zk);
double zkd_cold_load(const char *zk, const char *service, int n);
double memory_in_child(const bench *b, const char *service, int n);
/* Seconds from the client's reconnect after a restart of b's server to a
 * cache of n instances of `service` being fresh again. */
double zkd_recovery_of(const bench *b, const char *service, int n);

/* A free loopback port (TCP; `udp_too`: free for UDP as well); dies when
 * there is none. */
int bench_free_port(int udp_too);

/* Processes: a binary beside this one, a run's wall time (stdout to
 * /dev/null; dies unless it exits 0). */
void beside_self(char *out, size_t len, const char *rel);
double run_timed(char *const argv[]);

/* Groups in files of their own. */
void bench_scale(const bench *b);   /* bench_scale.c */
void bench_dns(const bench *b);     /* bench_consumers.c */
void bench_haproxy(const bench *b); /* bench_consumers.c */

/* A group that fails on its own (a bound it checks) adds one: the run then
 * exits 1. */
extern int bench_failures;

void add_row(const char *group, const char *what, double value, const char *unit, double baseline);

/* ---- the report (bench_report.c) ----------------------------------------------
 * Each claim of the README's performance table has a key. A group that
 * measures it hands over the pairs it took: zkdisc's value and the
 * baseline's, measured side by side; the report takes the ratio of each
 * pair (zkdisc / baseline: above 1 is slower for times, faster for rates)
 * and prints its median and spread. n = 1 is a single pair. */
void report_pairs(const char *key, const double *zkd, const double *base, int n, const char *unit);
/* The same with each pair's ratio given (not zkd[i] / base[i]). */
void report_ratios(const char *key, const double *ratio, const double *zkd, const double *base, int n,
                   const char *unit);
/* A claim that is a bound on zkdisc's own value (no baseline): ms, say. */
void report_value(const char *key, double value, const char *unit);
/* Prints the table in Markdown; returns the number of measured rows that
 * missed their target. */
int report_print(void);

#endif
