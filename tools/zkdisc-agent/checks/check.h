/* SPDX-License-Identifier: Apache-2.0 */
/* One interface for every check kind. A kind parses its own settings at
 * config time and runs one probe at a time on the agent's loop; health.c
 * schedules runs, enforces the timeout and applies rise/fall. */
#ifndef ZKDISC_AGENT_CHECK_H
#define ZKDISC_AGENT_CHECK_H

#include <event2/buffer.h>
#include <libconfig.h>

#include "conf.h"

typedef struct check check; /* the running check, see health.h */

struct check_kind {
    const char *name;
    /* Passive kinds (ttl) are never run: results come from outside. */
    int passive;
    /* Reads the kind's keys of check group `s` into a new kconf; NULL after
     * appending errors. `known` receives the kind's key names for the
     * unknown-key test (NULL-terminated, static). */
    void *(*parse)(const config_setting_t *s, struct evbuffer *errors);
    const char *const *keys;
    void (*free_conf)(void *kconf);
    /* Starts one probe. It ends with exactly one check_done() (now or later)
     * unless cancel() is called first. */
    void (*run)(check *c);
    /* Aborts the probe in flight (timeout, stop); check_done is not called. */
    void (*cancel)(check *c);
};

extern const check_kind check_http, check_tcp, check_exec, check_memory, check_disk, check_ttl;

const check_kind *check_kind_find(const char *name);

/* ttl: the silence after which the check counts a failure. */
int64_t check_ttl_period(const check_conf *cc);

/* A check's note keeps this much of a probe's output. */
#define PROC_NOTE_MAX 4096

/* What a kind needs from the running check. */
const check_conf *check_get_conf(const check *c);
struct event_base *check_base(const check *c);
void **check_run_state(check *c); /* a slot for the probe in flight */
/* The probe's result; `note` is copied (at most 4 KiB kept). */
void check_done(check *c, check_status status, const char *note);

#endif
