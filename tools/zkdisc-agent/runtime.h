/* SPDX-License-Identifier: Apache-2.0 */
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

/* Restarts without flap (state_dir/session.json, 0600, and checks.json).
 * state_dir_prepare creates the directory (0700). state_session_load gives
 * the saved credentials (id 0: none) and returns the registrations the
 * session may hold ([{"service","id"}], new reference). state_keep_*: the
 * files follow the session and the check states (a write 50 ms after a
 * change; _now at once); _leave forgets the session (a graceful leave
 * closed it). state_on_published is the publisher's done callback. */
int state_dir_prepare(const char *dir);
json_t *state_session_load(const char *dir, zkd_session_credentials *cr);
/* Hands `held` (stolen) to the publisher (publish_inherit), once the
 * services have asked for their registrations: what the resumed session
 * holds and nobody wants any more is removed, the rest adopted. */
void state_session_inherit(agent_rt *rt, json_t *held);
/* {"SERVICE-ID": service_state_json(...)} of the previous run, or NULL. */
json_t *state_checks_load(const char *dir);
void state_keep_start(agent_rt *rt);
void state_keep_soon(void);
void state_keep_now(void);
void state_keep_leave(void);
void state_keep_stop(void);
void state_on_published(void *ctx);
/* Writes session.json: the credentials and every registration the session
 * may hold. Also the publisher's before_register (on its worker thread),
 * so that the one about to be made is on disk first (a kill before the
 * loop's 50 ms write lost it: the next agent then left a renamed service's
 * old node in the tree for as long as the session lived). Not written when
 * the file already says so. */
void state_session_write(publisher *p);
/* A session event CONNECTED or REESTABLISHED: logs whether the saved
 * session `saved_id` was resumed, and saves the credentials. */
void state_session_connected(agent_rt *rt, zkd_session_event ev, int64_t saved_id);

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
/* Runs the sub-command when argv has one (wherever the options are): its
 * exit code; -1 when argv starts the agent. */
int ctl_dispatch(int argc, char **argv);

#endif
