/* SPDX-License-Identifier: Apache-2.0 */
/* A file checked by its consumer's own program before a reload (see
 * validator in output.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent.h"
#include "../proc.h"
#include "output.h"

void validator_init(validator *v, output *o, void (*passed)(output *o))
{
    memset(v, 0, sizeof *v);
    v->o = o;
    v->passed = passed;
    /* The file a previous run left is what the consumer runs now. */
    char *text = NULL;
    long n = zkd__atomic_file_read(o->conf->path, 16 << 20, &text);
    if (n >= 0) {
        v->good = text;
        v->good_len = n;
    }
}

static void checked(validator *v, int status, const char *why, const char *text, size_t len)
{
    output *o = v->o;
    v->job = NULL;
    if (v->again) { /* the file changed while it was checked: check the new one */
        v->again = 0;
        validator_run(v);
        return;
    }
    char *file = NULL;
    long n = zkd__atomic_file_read(o->conf->path, 16 << 20, &file);
    if (status == 0) {
        free(v->good);
        v->good = n >= 0 ? file : NULL;
        v->good_len = n;
        v->passed(o);
    } else {
        free(file);
        char cmd[256], err[512], said[513];
        proc_describe(o->conf->check, cmd, sizeof cmd);
        proc_excerpt(text, len, said, sizeof said);
        o->stats.reload_failures++;
        int kept = v->good && zkd__atomic_file_write(o->conf->path, v->good, (size_t)v->good_len, o->conf->mode,
                                                      &o->conf->owner, err, sizeof err) >= 0;
        agent_log(AGENT_ERROR, "watch %s: %s check \"%s\" %s%s%s; not reloaded, %s", o->watch->service,
                  o->ops->type, cmd, why, *said ? ": " : "", said,
                  kept ? "the previous file is back" : "no previous file to put back");
        agent_alert("reload_failed", o->watch->service,
                    json_pack("{s:s,s:s,s:s,s:s}", "output", o->ops->type, "command", cmd, "reason", why,
                              "message", said));
    }
}

static void on_done(void *arg, const proc_result *res)
{
    checked(arg, res->code, res->why, res->output, res->len);
}

void validator_run(validator *v)
{
    char *const *check = v->o->conf->check;
    if (!check || !check[0]) {
        v->passed(v->o);
        return;
    }
    if (v->job) {
        v->again = 1;
        return;
    }
    char err[512];
    proc_spec spec = {.argv = check, .timeout_ms = v->o->conf->timeout_ms};
    v->job = proc_start(&spec, on_done, v, err, sizeof err);
    if (!v->job)
        checked(v, 127, err, "", 0);
}

void validator_close(validator *v)
{
    proc_kill(v->job);
    v->job = NULL;
    free(v->good);
    v->good = NULL;
}
