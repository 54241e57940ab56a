/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's configuration: a libconfig file (plus conf.d/NAME.conf files beside
 * it) read into a validated, immutable agent_conf. check-config uses only
 * this; the running agent swaps whole agent_confs on SIGHUP. */
#ifndef ZKDISC_AGENT_CONF_H
#define ZKDISC_AGENT_CONF_H

#include <event2/buffer.h>
#include <libconfig.h>
#include <stdint.h>

#include <jansson.h> /* consumers.h uses json_t without including it */
#include "consumers.h"

typedef enum check_status { CHECK_PASSING = 0, CHECK_WARNING = 1, CHECK_CRITICAL = 2 } check_status;

const char *check_status_name(check_status s);

typedef struct check_kind check_kind;

typedef struct check_conf {
    char *name;              /* unique within its service; default the kind's name */
    const check_kind *kind;
    int64_t interval_ms;
    int64_t timeout_ms;
    int rise, fall;
    check_status initial;
    void *kconf;             /* the kind's own settings (check_kind.parse) */
    char *fingerprint;       /* the whole definition as text: equal means unchanged */
} check_conf;

typedef enum on_critical { ON_CRITICAL_DEREGISTER = 0, ON_CRITICAL_DRAIN = 1 } on_critical;

typedef struct service_conf {
    char *name, *id, *address, *zone;
    int port, ssl_port, weight;
    char **meta; /* NULL-terminated "key=value" */
    on_critical on_critical;
    check_conf *checks;
    size_t nchecks;
    char *fingerprint;
} service_conf;

typedef struct alert_conf {
    char *name;         /* "alerts[N]" or its `name` */
    char **on;          /* NULL-terminated event names; "*" is every event */
    char **exec;        /* argv or NULL */
    char *webhook;      /* URL or NULL */
    int64_t after_ms;   /* zookeeper_unreachable: how long unreachable first */
    int retries;        /* webhook retries after the first attempt */
    int max_per_minute; /* rate limit per hook */
    char **headers;     /* webhook: name, value pairs, NULL-terminated (webhook.h) */
    char *body;         /* webhook: a Mustache template of the body, NULL: the event as JSON */
} alert_conf;

typedef struct agent_conf {
    char *path;
    char *zk_connect, *zk_root, *zk_auth;
    char *zk_auth_file; /* credentials from a file only its owner may read */
    int64_t session_timeout_ms;
    char *api_host;
    int api_port;
    int api_allow_remote;
    char *api_token_file; /* NULL: see api_token_path */
    char *state_dir;
    int log_json;
    int64_t drain_delay_ms;
    int leave_on_terminate; /* SIGTERM: drain and deregister (1), or exit leaving the session */
    service_conf *services;
    size_t nservices;
    alert_conf *alerts;
    size_t nalerts;
    consumers_conf *consumers;
} agent_conf;

/* Reads `path` (and the *.conf files of the conf.d directory beside it,
 * in name order: their `services` and `alerts` are appended). NULL with one
 * "FILE:LINE: key: what is wrong" line per problem in `errors`. */
agent_conf *conf_load(const char *path, struct evbuffer *errors);
void conf_free(agent_conf *c);

const service_conf *conf_service(const agent_conf *c, const char *id);

/* Helpers for the check kinds' parsers. Each returns 0, 1 when the key is
 * absent (the default is left), or -1 with an error appended. */
void conf_error(struct evbuffer *errors, const config_setting_t *s, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int conf_string(const config_setting_t *g, const char *key, char **out, struct evbuffer *errors);
int conf_int(const config_setting_t *g, const char *key, int min, int max, int *out,
             struct evbuffer *errors);
int conf_bool(const config_setting_t *g, const char *key, int *out, struct evbuffer *errors);
int conf_duration(const config_setting_t *g, const char *key, int64_t *ms, struct evbuffer *errors);
/* A size: an integer or "512M"; "10%" when `percent_of` > 0 (the whole). */
int conf_size(const config_setting_t *g, const char *key, uint64_t percent_of, uint64_t *out,
              struct evbuffer *errors);
/* A list or array of strings into a NULL-terminated malloc'd vector. */
int conf_strv(const config_setting_t *g, const char *key, char ***out, struct evbuffer *errors);
/* Refuses keys of `g` that are not in the NULL-terminated `known`. */
int conf_known_keys(const config_setting_t *g, const char *const *known, struct evbuffer *errors);
void strv_free(char **v);

/* Parses "500ms", "2s", "1m", "1h" (or a bare integer of seconds). -1 when bad. */
int64_t parse_duration_ms(const char *s);

#endif
