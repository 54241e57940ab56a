/* SPDX-License-Identifier: Apache-2.0 */
/* One interface for every output of a watch (json, command, haproxy,
 * nginx). A watch hands each of its outputs the current view of its
 * service whenever that view changes; outputs run on the loop thread only. */
#ifndef ZKDISC_AGENT_OUTPUT_H
#define ZKDISC_AGENT_OUTPUT_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>
#include <zkdisc/zkdisc.h>

#include "../conf_consumers.h"

/* What a watch's outputs see: the instances that pass the watch's zone
 * and metadata filters, sorted by id, drained ones included (json and
 * command list only the enabled; haproxy and nginx mark the rest drained).
 * Borrowed for the duration of the call. */
typedef struct watch_view {
    const char *service;
    const zkd_instance *const *inst;
    size_t n;
    size_t usable;      /* how many are enabled */
    int stale;          /* ZooKeeper unreachable: this is the last known state */
    int64_t updated_ms; /* when this set last changed (ms since the epoch) */
    uint64_t generation; /* new with every new `inst`, unique across sets (DNS answers key on it) */
    const char *source; /* "zookeeper", "file" (static) or "default_servers" */
} watch_view;

/* Counters every output keeps (the metrics page shows them). */
typedef struct output_stats {
    uint64_t writes;          /* files written (content changed) or commands run */
    uint64_t write_failures;
    uint64_t skipped;         /* records refused as unsafe for this output */
    uint64_t reloads;
    uint64_t reload_failures;
    uint64_t runtime_cmds;    /* haproxy Runtime API commands sent */
    uint64_t runtime_conns;   /* haproxy Runtime API connections opened */
    uint64_t runtime_failures;
} output_stats;

typedef struct output output;
typedef struct json_records json_records;

typedef struct output_ops {
    const char *type;
    /* A new output (its first member an `output`), or NULL. */
    output *(*open)(struct event_base *base, const watch_conf *w, const out_conf *c);
    void (*update)(output *o, const watch_view *v);
    /* Called about once a second with the current view (staleness timers). */
    void (*tick)(output *o, const watch_view *v);
    void (*close)(output *o);
} output_ops;

struct output {
    const output_ops *ops;
    const watch_conf *watch;
    const out_conf *conf;
    struct event_base *base;
    output_stats stats;
    json_t *notes, *noted; /* id -> why, from the last render and this one */
    int names;             /* records with a host name at the last render */
    unsigned names_gen;    /* resolve_generation() then */
    int64_t names_ms;      /* when (monotonic) */
};

extern const output_ops output_json_ops, output_command_ops, output_haproxy_ops, output_nginx_ops;

/* The ops of `type`. */
const output_ops *output_ops_for(out_type type);

/* The document json and command outputs produce: {"service", "stale",
 * "updated" (RFC 3339 UTC), "instances": [records as `zkdisc instances -o
 * json` prints them]} with only enabled instances. malloc'd, ends in a
 * newline. With `cache` (*cache NULL at first), records already rendered
 * for the previous view are reused: a change decodes only what changed. */
char *output_render_json(const watch_view *v, size_t *len, json_records **cache);

/* Frees a cache of output_render_json (NULL is fine). */
void output_json_records_free(json_records *c);

/* An address or id that cannot break a generated config file: printable,
 * no space, quote, '#', ';', '{' or '}'. */
int output_safe_token(const char *s);

/* Fills `o`'s common fields (used by every open). */
void output_init(output *o, const output_ops *ops, struct event_base *base, const watch_conf *w,
                 const out_conf *c);

/* The IP address to write for record `i` into addr (64 bytes): 1 when
 * there is one (a host name is resolved, see resolve.h), 0 while its
 * lookup runs, -1 when the record cannot be used (noted, see below). Also
 * checks the port (1..65535) and that the id is a safe token. */
int output_address(output *o, const zkd_instance *i, char *addr, size_t len);

/* Logs once per record why it is left out or changed (again only when the
 * reason changes); `skipped` counts it in stats.skipped. */
void output_note(output *o, const char *id, int skipped, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends a render: forgets the notes of records not noted in it. */
void output_render_done(output *o);

/* Whether a render is due because a host name's lookup finished or its
 * cached answer may be stale (called from tick). */
int output_names_due(const output *o);

/* Frees what output_init and the notes hold (haproxy and nginx close). */
void output_fini(output *o);

/* Runs an output's `reload` argv when asked, at most once per
 * min_reload_interval (requests in between coalesce into one later run),
 * one at a time; failures are logged, alerted (reload_failed) and counted. */
typedef struct reloader {
    output *o;
    struct proc *job;
    struct event *timer;
    int64_t last_ms;
    int pending;
    int failed;                       /* the last reload failed (its true exit status was not 0) */
    void (*after)(output *o, int ok); /* optional: called when a reload finished; ok is 0 on failure */
} reloader;

void reloader_init(reloader *r, output *o);
void reloader_request(reloader *r);
void reloader_close(reloader *r);

/* Validates a written file with the output's `check` argv before a
 * reload: validator_run after each write that needs a reload; when the
 * check passes, `passed` runs (it requests the reload); when it fails the
 * last file that passed (or the one found at start) is put back, and
 * reload_failed is alerted. One check at a time; writes meanwhile coalesce. */
typedef struct validator {
    output *o;
    struct proc *job;
    char *good;        /* the content last known to pass, NULL: none */
    long good_len;
    int again;
    void (*passed)(output *o);
} validator;

void validator_init(validator *v, output *o, void (*passed)(output *o));
void validator_run(validator *v);
void validator_close(validator *v);

/* Milliseconds on the monotonic clock. */
int64_t output_mono_ms(void);

#endif
