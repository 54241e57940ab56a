/* The running agent as main.c holds it; the API and the metrics page read
 * it (on the loop thread only). */
#ifndef ZKDISC_AGENT_RUNTIME_H
#define ZKDISC_AGENT_RUNTIME_H

#include <event2/event.h>
#include <jansson.h>
#include <zkdisc/zkdisc.h>

#include "conf.h"
#include "consumers.h"
#include "health.h"
#include "publish.h"

#define SESSION_EVENT_KINDS 7

typedef struct agent_rt {
    struct event_base *base;
    agent_conf *conf;
    zkd_client *zk;
    publisher *pub;
    consumers *cons;
    service **services; /* parallel to conf->services */
    size_t nservices;
    json_t *maint;      /* {"id": {"reason": ..., "since": ...}}, kept in state_dir */
    uint64_t session_events[SESSION_EVENT_KINDS];
    uint64_t reloads, reload_failures;
    int64_t started_ms;
    int stopping;
} agent_rt;

/* A service by id, else by name when exactly one has it; NULL if none. */
service *agent_find_service(agent_rt *rt, const char *name);
/* Maintenance on or off for s: applied, persisted, alerted. */
void agent_set_maint(agent_rt *rt, service *s, int on, const char *reason);

/* The Prometheus text page. */
void metrics_render(agent_rt *rt, struct evbuffer *out);

/* state_dir: maintenance kept across restarts. NULL dir: nothing kept. */
json_t *state_load(const char *dir);
int state_save(const char *dir, json_t *maint);

typedef struct api api;
api *api_start(agent_rt *rt, const char *host, int port, char *err, size_t errlen);
void api_stop(api *a);
/* The API token's file: agent.api_token_file, else api.token in
 * agent.state_dir, else api.token beside the configuration file. */
void api_token_path(const agent_conf *c, char *buf, size_t len);
/* Reads a token file (one line); refused when others may read it. */
#define API_TOKEN_MAX 256
int api_token_read(const char *path, char *token, size_t len, char *err, size_t errlen);

/* Sub-commands (pass|warn|fail|maint|status|check-config); exit status. */
int ctl_main(int argc, char **argv);

#endif
