/* SPDX-License-Identifier: Apache-2.0 */
/* GET /metrics: the Prometheus text format (HELP and TYPE for each family,
 * one family's samples together, as promtool requires). */
#include <inttypes.h>

#include "alerts.h"
#include "runtime.h"

static void family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_render(agent_rt *rt, struct evbuffer *out)
{
    struct evbuffer *status = evbuffer_new(), *durations = evbuffer_new();
    for (size_t i = 0; i < rt->nservices; i++)
        service_metrics(rt->services[i], status, durations);
    family(out, "zkdisc_agent_check_status", "gauge",
           "1 for the check's current state (passing, warning, critical), 0 for the others.");
    evbuffer_add_buffer(out, status);
    family(out, "zkdisc_agent_check_duration_seconds", "histogram", "How long each probe took.");
    evbuffer_add_buffer(out, durations);
    evbuffer_free(status);
    evbuffer_free(durations);
    family(out, "zkdisc_agent_service_maintenance", "gauge", "1 while the service is in maintenance.");
    for (size_t i = 0; i < rt->nservices; i++)
        evbuffer_add_printf(out, "zkdisc_agent_service_maintenance{service=\"%s\"} %d\n",
                            service_get_conf(rt->services[i])->id, service_maint(rt->services[i], NULL));
    family(out, "zkdisc_agent_service_healthy", "gauge", "1 while every check of the service is healthy.");
    for (size_t i = 0; i < rt->nservices; i++)
        evbuffer_add_printf(out, "zkdisc_agent_service_healthy{service=\"%s\"} %d\n",
                            service_get_conf(rt->services[i])->id, service_healthy(rt->services[i]));
    publish_metrics(rt->pub, out);
    family(out, "zkdisc_agent_zookeeper_connected", "gauge", "1 while the ZooKeeper session is connected.");
    evbuffer_add_printf(out, "zkdisc_agent_zookeeper_connected %d\n",
                        zkd_client_state(rt->zk) == ZKD_STATE_CONNECTED);
    family(out, "zkdisc_agent_session_events_total", "counter", "ZooKeeper session events seen.");
    for (int e = 1; e < SESSION_EVENT_KINDS; e++)
        evbuffer_add_printf(out, "zkdisc_agent_session_events_total{event=\"%s\"} %" PRIu64 "\n",
                            zkd_session_event_name((zkd_session_event)e), rt->session_events[e]);
    family(out, "zkdisc_agent_reloads_total", "counter", "Configuration reloads (SIGHUP), by result.");
    evbuffer_add_printf(out, "zkdisc_agent_reloads_total{result=\"applied\"} %" PRIu64 "\n"
                             "zkdisc_agent_reloads_total{result=\"refused\"} %" PRIu64 "\n",
                        rt->reloads, rt->reload_failures);
    alerts_metrics(out);
    consumers_metrics(rt->cons, out);
}
