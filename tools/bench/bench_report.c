/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench --report: the README's performance table, one row per claim,
 * each filled by the group that measures it (see bench.h). A claim no group
 * measured in this run is printed as such, never left out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct claim {
    const char *key, *measure, *baseline;
    char cmp; /* '<': the ratio (or value) at most target; '>': at least */
    double target;
} claim;

/* What report_pairs / report_value filled in, one per claim. */
typedef struct result {
    int measured, pairs;
    double zkd, base, median, lo, hi;
    const char *unit;
} result;

static claim claims[] = {
    {"cli_list", "`zkdisc -o json instances` of N instances, whole process",
     "raw pipelined getChildren + getData (zkdisc-bench-raw-list)", '<', 1.2},
    {"cli_list_growth", "the same listing at 100,000 over 10,000 (time)", "the listing at 10,000", '<', 12},
    {"register_rate", "registrations/s, one thread (rate)", "raw synchronous ephemeral creates", '>', 0.9},
    {"register_rate_watched", "registrations/s with spec.watch_node = 1 (the agent's), one thread (rate)",
     "raw synchronous creates, each followed by an exists watch on the node", '>', 0.9},
    {"listener_p50", "create to a cache's listener, 1 subscriber, p50",
     "raw children watch + getData of the new child", '<', 1.1},
    {"listener_p95", "create to a cache's listener, 1 subscriber, p95",
     "raw children watch + getData of the new child", '<', 1.1},
    {"listener_p99", "create to a cache's listener, 1 subscriber, p99",
     "raw children watch + getData of the new child", 0, 0},
    {"cache_change_growth", "a change reaching a cache's listener, p50, 50,000 over 1,000",
     "the raw watch + getData (constant in N)", '<', 1.5},
    {"cache_change_cpu_growth", "the subscriber's CPU per change, 50,000 over 1,000",
     "the same at 1,000", '<', 1.5},
    {"memory_10k", "memory per cached instance, 10,000 (own process, max RSS growth / N)",
     "the record's size", '<', 2.5},
    {"memory_50k", "memory per cached instance, 50,000 (own process, max RSS growth / N)", "the record's size",
     '<', 2.5},
    {"recovery", "fresh again after a server restart inside the session timeout",
     "raw pipelined re-read of every instance's data", '<', 1.1},
    {"agent_change_growth", "the agent's CPU per change (json, haproxy, nginx, DNS), 10,000 over 1,000",
     "the same at 1,000 (linear: 10x)", '<', 15},
    {"agent_change_ms", "a change at 10,000 instances reaching the agent's json file", "-", '<', 100},
    {"dns_srv", "DNS answers/s, 10-instance service, SRV (rate)", "dnsmasq serving the same records", '>',
     1.0},
    {"dns_a", "DNS answers/s, 10-instance service, A (rate)", "dnsmasq serving the same records", '>', 1.0},
    {"haproxy_register", "`zkdisc register` to HAProxy serving the server, p50",
     "a kazoo ChildrenWatch seeing the same node", '<', 1.1},
    {"scale_worst", "scale group: the steepest step's growth over N's growth", "N's growth", '<', 1.3},
};
enum { NCLAIMS = sizeof claims / sizeof claims[0] };
static result results[NCLAIMS];

static result *find(const char *key)
{
    for (int i = 0; i < NCLAIMS; i++)
        if (!strcmp(claims[i].key, key))
            return &results[i];
    fprintf(stderr, "zkdisc-bench: report: no claim %s\n", key);
    return NULL;
}

void report_pairs(const char *key, const double *zkd, const double *base, int n, const char *unit)
{
    double *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    for (int i = 0; i < n; i++)
        r[i] = base[i] > 0 ? zkd[i] / base[i] : 0;
    report_ratios(key, r, zkd, base, n, unit);
    free(r);
}

void report_ratios(const char *key, const double *ratio, const double *zkd, const double *base, int n,
                   const char *unit)
{
    result *c = find(key);
    if (!c || n <= 0)
        return;
    double *r = malloc((size_t)n * sizeof *r), *z = malloc((size_t)n * sizeof *z),
           *b = malloc((size_t)n * sizeof *b);
    for (int i = 0; i < n; i++) {
        r[i] = ratio[i];
        z[i] = zkd[i];
        b[i] = base[i];
    }
    qsort(r, (size_t)n, sizeof *r, cmp_double);
    qsort(z, (size_t)n, sizeof *z, cmp_double);
    qsort(b, (size_t)n, sizeof *b, cmp_double);
    /* The median of an even count is the mean of the middle two. */
    c->median = n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
    c->zkd = n % 2 ? z[n / 2] : (z[n / 2 - 1] + z[n / 2]) / 2;
    c->base = n % 2 ? b[n / 2] : (b[n / 2 - 1] + b[n / 2]) / 2;
    c->lo = r[0];
    c->hi = r[n - 1];
    c->pairs = n;
    c->unit = unit;
    c->measured = 1;
    free(r);
    free(z);
    free(b);
}

void report_value(const char *key, double value, const char *unit)
{
    result *c = find(key);
    if (!c)
        return;
    c->zkd = c->median = c->lo = c->hi = value;
    c->base = 0;
    c->pairs = 1;
    c->unit = unit;
    c->measured = 1;
}

static int passes(const claim *c, const result *r)
{
    return !c->cmp || (c->cmp == '<' ? r->median <= c->target : r->median >= c->target);
}

int report_print(void)
{
    int failed = 0;
    printf("| measure | baseline in the same run | zkdisc | baseline | ratio (median) | spread (pairs) "
           "| target | result |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < NCLAIMS; i++) {
        const claim *c = &claims[i];
        const result *r = &results[i];
        char target[32] = "-";
        if (c->cmp)
            snprintf(target, sizeof target, "%s %.4g%s", c->cmp == '<' ? "at most" : "at least", c->target,
                     strcmp(c->baseline, "-") ? "x" : "");
        printf("| %s | %s | ", c->measure, c->baseline);
        if (!r->measured) {
            printf("not measured | | | | %s | - |\n", target);
            continue;
        }
        int ok = passes(c, r);
        failed += !ok;
        if (r->base > 0)
            printf("%.4g %s | %.4g %s | %.2fx | %.2f-%.2f (%d) | %s | %s |\n", r->zkd, r->unit, r->base,
                   r->unit, r->median, r->lo, r->hi, r->pairs, target, ok ? "pass" : "**FAIL**");
        else
            printf("%.4g %s | - | - | - | %s | %s |\n", r->zkd, r->unit, target, ok ? "pass" : "**FAIL**");
    }
    return failed;
}
