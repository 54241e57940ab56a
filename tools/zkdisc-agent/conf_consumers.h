/* SPDX-License-Identifier: Apache-2.0 */
/* The parsed `watch`, `dns` and `config_files` groups (consumers_conf,
 * opaque in consumers.h). Built once by conf_consumers.c, then read-only:
 * every string and array here is owned by the consumers_conf. */
#ifndef ZKDISC_AGENT_CONF_CONSUMERS_H
#define ZKDISC_AGENT_CONF_CONSUMERS_H

#include <jansson.h> /* before consumers.h, which uses json_t without it */
#include <sys/types.h>

#include "core/atomic_file.h"
#include "consumers.h"

typedef enum out_type { OUT_JSON, OUT_COMMAND, OUT_HAPROXY, OUT_NGINX } out_type;

/* One output of a watch. Durations are in milliseconds. */
typedef struct out_conf {
    out_type type;
    char *path;          /* json: the file; haproxy: `config`; nginx: the upstream file */
    mode_t mode;         /* of written files, default 0644 */
    zkd__file_owner owner;
    int stale_after_ms;  /* json: alert output_stale past this while stale; 0: never */
    char **argv;         /* command: what to run; NULL-terminated */
    int min_interval_ms; /* command: debounce, default 1000 */
    int timeout_ms;      /* command, reload: default 10000 */
    char *backend;       /* haproxy backend / nginx upstream name, default the service */
    char *socket;        /* haproxy: the stats socket (Runtime API) */
    int slots;           /* haproxy: server slots the file declares at least, default 10 */
    char **reload;       /* haproxy, nginx: argv that reloads; NULL-terminated, may be NULL */
    int min_reload_interval_ms; /* default 5000 */
    char **check;        /* haproxy, nginx: argv that validates the file before a reload; an
                          * empty argv (`check = []`) checks nothing. Default with a reload:
                          * nginx -t -q; haproxy -c -q -f /etc/haproxy/haproxy.cfg -f CONFIG */
    char **options;      /* haproxy: lines written into the backend; nginx: into the upstream */
} out_conf;

typedef struct watch_conf {
    char *service;
    char *zone;          /* NULL: any zone */
    char **meta_keys;    /* metadata filters: every key must have the value */
    char **meta_vals;
    int nmeta;
    int min_instances;
    int allow_empty;
    out_conf *outs;
    int nouts;
    int unstored;        /* no snapshot file (DNS all_services' caches) */
    char *file;          /* static source: the instances come from this file, not ZooKeeper */
    char *defaults_json; /* default_servers as a JSON array of records, or NULL */
} watch_conf;

typedef struct dns_conf {
    int enabled;
    char *listen_host;   /* default 127.0.0.1 */
    int listen_port;     /* default 8600 */
    char *domain;        /* lower case, no trailing dot, default "zkdisc" */
    int ttl;             /* seconds, default 5 */
    int all_services;    /* answer for every service under the root, not only watched ones */
    int idle_close_ms;   /* all_services: a cache unused this long is closed, default 5 min */
    int negative_ttl;    /* seconds: the SOA minimum (how long NXDOMAIN is cached), default ttl */
    int allow_remote;    /* a non-loopback listen address is refused unless set */
} dns_conf;

typedef enum cfile_format { CFILE_JSON, CFILE_LIBCONFIG, CFILE_ENV } cfile_format;

typedef struct cfile_conf {
    char *app;
    char *path;
    cfile_format format;
    mode_t mode;
    zkd__file_owner owner;
    char **on_change;    /* NULL-terminated, may be NULL */
    int timeout_ms;      /* of on_change, default 30000 */
} cfile_conf;

/* One `templates` entry (outputs/template.h). */
typedef struct tmpl_conf {
    char *source;        /* the Mustache file; partials come from its directory */
    char *destination;
    int escape;          /* zkd_mustache_escape, default none */
    mode_t mode;
    zkd__file_owner owner;
    char **check_cmd;    /* argv run on the rendered temporary file ({{path}} or %s); may be NULL */
    char **on_change;    /* argv run after the destination changed; may be NULL */
    char **apps;         /* config apps the template reads (config.APP); NULL-terminated, may be NULL */
    int min_interval_ms; /* at most one apply per interval, default 1000 */
    int timeout_ms;      /* of check_cmd and on_change, default 30000 */
    json_t *vars;        /* `vars` as JSON (an object, may be empty) */
} tmpl_conf;

struct consumers_conf {
    watch_conf *watches;
    int nwatches;
    dns_conf dns;
    cfile_conf *files;
    int nfiles;
    tmpl_conf *templates;
    int ntemplates;
};

/* A duration "250ms", "2s", "1m", "1h" or a bare number of seconds, in
 * milliseconds; -1 when it is none of these. */
long conf_duration_ms(const char *text);

/* Whether two watches are configured identically (a reload keeps such a
 * watch running: same cache, same outputs, nothing rewritten). */
int watch_conf_equal(const watch_conf *a, const watch_conf *b);

#endif
