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
} watch_view;

/* Counters every output keeps (the metrics page shows them). */
typedef struct output_stats {
    uint64_t writes;          /* files written (content changed) or commands run */
    uint64_t write_failures;
    uint64_t skipped;         /* records refused as unsafe for this output */
    uint64_t reloads;
    uint64_t reload_failures;
    uint64_t runtime_cmds;    /* haproxy Runtime API commands sent */
    uint64_t runtime_failures;
} output_stats;

typedef struct output output;

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
};

extern const output_ops output_json_ops, output_command_ops, output_haproxy_ops, output_nginx_ops;

/* The ops of `type`. */
const output_ops *output_ops_for(out_type type);

/* The document json and command outputs produce: {"service", "stale",
 * "updated" (RFC 3339 UTC), "instances": [records as `zkdisc instances -o
 * json` prints them]} with only enabled instances. malloc'd, ends in a
 * newline. */
char *output_render_json(const watch_view *v, size_t *len);

/* An address or id that cannot break a generated config file: printable,
 * no space, quote, '#', ';', '{' or '}'. */
int output_safe_token(const char *s);

/* Fills `o`'s common fields (used by every open). */
void output_init(output *o, const output_ops *ops, struct event_base *base, const watch_conf *w,
                 const out_conf *c);

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

/* Milliseconds on the monotonic clock. */
int64_t output_mono_ms(void);

#endif
