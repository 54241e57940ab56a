/* SPDX-License-Identifier: Apache-2.0 */
/* The consumer side's entry points (consumers.h): watch sets with their
 * outputs, the DNS responder and config files, one wake pipe through which
 * library callbacks reach the loop, and a one-second tick. */
#include <jansson.h> /* consumers.h uses json_t without including it */

#include "consumers.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conf_consumers.h"
#include "config_files.h"
#include "dns.h"
#include "outputs/template.h"
#include "watch_set.h"

struct consumers {
    struct event_base *base;
    zkd_client *zk;
    const consumers_conf *conf;
    int wake[2];
    struct event *wake_ev;
    struct event *tick;
    watch_set **sets;
    int nsets;
    dns_server *dns;
    cfiles *files;
    tmpls *tmpls;
};

static void refresh_all(consumers *cs, int force)
{
    for (int i = 0; i < cs->nsets; i++)
        watch_set_refresh(cs->sets[i], force);
    cfiles_refresh(cs->files);
    tmpls_refresh(cs->tmpls, cs->sets, cs->nsets);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    refresh_all(arg, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    consumers *cs = arg;
    for (int i = 0; i < cs->nsets; i++)
        watch_set_tick(cs->sets[i]);
    cfiles_refresh(cs->files);
    tmpls_refresh(cs->tmpls, cs->sets, cs->nsets);
}

static void close_sets(watch_set **sets, int n)
{
    for (int i = 0; i < n; i++)
        watch_set_close(sets[i]);
    free(sets);
}

/* Opens every watch of `cc`; on failure closes what it opened. */
static watch_set **open_sets(consumers *cs, const consumers_conf *cc, struct evbuffer *errors)
{
    watch_set **sets = calloc((size_t)cc->nwatches + 1, sizeof *sets);
    for (int i = 0; i < cc->nwatches; i++)
        if (!(sets[i] = watch_set_open(cs->base, cs->zk, &cc->watches[i], cs->wake[1], errors))) {
            close_sets(sets, i);
            return NULL;
        }
    return sets;
}

consumers *consumers_start(struct event_base *base, zkd_client *zk, const consumers_conf *cc,
                           struct evbuffer *errors)
{
    consumers *cs = calloc(1, sizeof *cs);
    cs->base = base;
    cs->zk = zk;
    cs->conf = cc;
    if (pipe2(cs->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        evbuffer_add_printf(errors, "consumers: cannot create a pipe\n");
        free(cs);
        return NULL;
    }
    cs->wake_ev = event_new(base, cs->wake[0], EV_READ | EV_PERSIST, on_wake, cs);
    event_add(cs->wake_ev, NULL);
    cs->tick = event_new(base, -1, EV_PERSIST, on_tick, cs);
    struct timeval second = {1, 0};
    event_add(cs->tick, &second);
    if (!(cs->sets = open_sets(cs, cc, errors)))
        goto fail;
    cs->nsets = cc->nwatches;
    if (cc->dns.enabled && !(cs->dns = dns_start(base, zk, cs->wake[1], &cc->dns, cs->sets, cs->nsets, errors)))
        goto fail;
    if (!(cs->files = cfiles_start(base, zk, cc->files, cc->nfiles, cs->wake[1], errors)))
        goto fail;
    if (!(cs->tmpls = tmpls_start(base, zk, cc->templates, cc->ntemplates, cs->wake[1], errors)))
        goto fail;
    refresh_all(cs, 1);
    return cs;
fail:
    consumers_stop(cs);
    return NULL;
}

static int same_dns(const dns_conf *a, const dns_conf *b)
{
    return a->enabled == b->enabled &&
           (!a->enabled || (a->listen_port == b->listen_port && !strcmp(a->listen_host, b->listen_host) &&
                            !strcmp(a->domain, b->domain) && a->ttl == b->ttl &&
                            a->all_services == b->all_services && a->idle_close_ms == b->idle_close_ms));
}

/* Make-before-break: the new watches and files are opened (their caches
 * load) before the old ones close; files they write are change-only. A
 * watch configured exactly as before is kept as it is (its cache, its
 * outputs and their state, such as the json output's "updated"), so an
 * unchanged file rewrites nothing and restarts nothing. */
int consumers_reload(consumers *cs, const consumers_conf *cc, struct evbuffer *errors)
{
    watch_set **sets = calloc((size_t)cc->nwatches + 1, sizeof *sets);
    int *keep = calloc((size_t)cc->nwatches + 1, sizeof *keep);
    char *taken = calloc((size_t)cs->nsets + 1, 1);
    int failed = 0;
    for (int i = 0; i < cc->nwatches && !failed; i++) {
        keep[i] = -1;
        for (int j = 0; j < cs->nsets && keep[i] < 0; j++)
            if (!taken[j] && watch_conf_equal(watch_set_conf(cs->sets[j]), &cc->watches[i])) {
                keep[i] = j;
                taken[j] = 1;
            }
        if (keep[i] < 0 && !(sets[i] = watch_set_open(cs->base, cs->zk, &cc->watches[i], cs->wake[1], errors)))
            failed = 1;
    }
    cfiles *files = failed ? NULL : cfiles_start(cs->base, cs->zk, cc->files, cc->nfiles, cs->wake[1], errors);
    tmpls *tm = files ? tmpls_start(cs->base, cs->zk, cc->templates, cc->ntemplates, cs->wake[1], errors) : NULL;
    if (!tm) {
        cfiles_stop(files);
        files = NULL;
    }
    if (!files) {
        for (int i = 0; i < cc->nwatches; i++)
            watch_set_close(sets[i]); /* only the new ones: kept ones are still NULL */
        free(sets);
        free(keep);
        free(taken);
        return -1;
    }
    /* Committed: the kept sets move over to the new configuration. */
    for (int i = 0; i < cc->nwatches; i++)
        if (keep[i] >= 0) {
            sets[i] = cs->sets[keep[i]];
            cs->sets[keep[i]] = NULL;
            watch_set_rebind(sets[i], &cc->watches[i]);
        }
    dns_server *dns = cs->dns;
    if (!same_dns(&cs->conf->dns, &cc->dns)) {
        dns_stop(cs->dns);
        cs->dns = dns = NULL; /* freed: nothing may keep the old pointer */
        if (cc->dns.enabled && !(dns = dns_start(cs->base, cs->zk, cs->wake[1], &cc->dns, sets, cc->nwatches, errors)))
            agent_log(AGENT_ERROR, "dns: not serving after the reload");
    } else if (dns) {
        dns_set_watches(dns, &cc->dns, sets, cc->nwatches);
    }
    watch_sets_wait_ready(sets, cc->nwatches, 2000);
    close_sets(cs->sets, cs->nsets); /* what is left: watches no longer configured so */
    cfiles_carry(files, cs->files);
    cfiles_stop(cs->files);
    tmpls_stop(cs->tmpls);
    cs->tmpls = tm;
    cs->sets = sets;
    cs->nsets = cc->nwatches;
    cs->files = files;
    cs->dns = dns;
    cs->conf = cc;
    free(keep);
    free(taken);
    refresh_all(cs, 1);
    return 0;
}

json_t *consumers_watch_json(consumers *cs, const char *service)
{
    for (int i = 0; cs && i < cs->nsets; i++)
        if (!strcmp(watch_set_conf(cs->sets[i])->service, service))
            return watch_set_json(cs->sets[i]);
    return NULL;
}

void consumers_metrics(consumers *cs, struct evbuffer *out)
{
    if (!cs)
        return;
    evbuffer_add_printf(out, "# HELP zkdisc_agent_watch_instances Instances of a watched service that "
                        "pass its filters, by state.\n# TYPE zkdisc_agent_watch_instances gauge\n");
    for (int i = 0; i < cs->nsets; i++)
        watch_set_metrics(cs->sets[i], out, 0);
    static const struct { const char *name, *help; size_t off; } counters[] = {
        {"zkdisc_agent_output_writes_total", "Files written (content changed) or commands run.",
         offsetof(output_stats, writes)},
        {"zkdisc_agent_output_write_failures_total", "Failed writes or commands.",
         offsetof(output_stats, write_failures)},
        {"zkdisc_agent_output_skipped_records_total", "Records refused as unsafe for the output.",
         offsetof(output_stats, skipped)},
        {"zkdisc_agent_output_reloads_total", "Reloads run (haproxy, nginx).",
         offsetof(output_stats, reloads)},
        {"zkdisc_agent_output_reload_failures_total", "Reloads that failed.",
         offsetof(output_stats, reload_failures)},
        {"zkdisc_agent_haproxy_runtime_commands_total", "HAProxy Runtime API commands sent.",
         offsetof(output_stats, runtime_cmds)},
        {"zkdisc_agent_haproxy_runtime_connections_total", "HAProxy Runtime API connections opened "
         "(one serves the rounds of a second).", offsetof(output_stats, runtime_conns)},
        {"zkdisc_agent_haproxy_runtime_failures_total", "HAProxy Runtime API commands refused or unsent.",
         offsetof(output_stats, runtime_failures)},
    };
    for (size_t c = 0; c < sizeof counters / sizeof counters[0]; c++) {
        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help,
                            counters[c].name);
        for (int i = 0; i < cs->nsets; i++)
            watch_set_output_metric(cs->sets[i], out, counters[c].name, counters[c].off);
    }
    evbuffer_add_printf(out, "# HELP zkdisc_agent_watch_held_back_total Updates that would have "
                        "emptied a set, held back.\n# TYPE zkdisc_agent_watch_held_back_total counter\n");
    for (int i = 0; i < cs->nsets; i++)
        watch_set_metrics(cs->sets[i], out, 1);
    if (cs->dns)
        dns_metrics(cs->dns, out);
    cfiles_metrics(cs->files, out);
    tmpls_metrics(cs->tmpls, out);
}

void consumers_stop(consumers *cs)
{
    if (!cs)
        return;
    dns_stop(cs->dns);
    close_sets(cs->sets, cs->nsets);
    cfiles_stop(cs->files);
    tmpls_stop(cs->tmpls);
    if (cs->wake_ev)
        event_free(cs->wake_ev);
    if (cs->tick)
        event_free(cs->tick);
    close(cs->wake[0]);
    close(cs->wake[1]);
    free(cs);
}
