/* SPDX-License-Identifier: Apache-2.0 */
/* exec: runs `command` (argv, never a shell) in its own process group.
 * Nagios convention: exit 0 passing, 1 warning, anything else critical; at
 * the timeout health.c cancels us and the whole group is killed. The output
 * (first 4 KiB) becomes the check's note. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "checks/check.h"
#include "proc.h"

typedef struct exec_conf {
    char **argv;
} exec_conf;

static void exec_free(void *p)
{
    exec_conf *x = p;
    strv_free(x->argv);
    free(x);
}

static void *exec_parse(const config_setting_t *s, struct evbuffer *errors)
{
    exec_conf *x = calloc(1, sizeof *x);
    int rc = conf_strv(s, "command", &x->argv, errors);
    if (rc == 1)
        conf_error(errors, s, "command", "missing: an exec check needs `command` ([\"prog\", \"arg\"])");
    else if (rc == 0 && !x->argv[0]) {
        conf_error(errors, s, "command", "must name a program");
        rc = -1;
    }
    if (rc != 0) {
        exec_free(x);
        return NULL;
    }
    return x;
}

static void on_exit_status(void *ctx, const proc_result *r)
{
    check *c = ctx;
    int status = r->status;
    const char *output = r->output;
    size_t len = r->len;
    char note[PROC_NOTE_MAX + 64];
    *check_run_state(c) = NULL; /* reaped: nothing left to cancel */
    while (len && (output[len - 1] == '\n' || output[len - 1] == '\r'))
        len--;
    check_status st = CHECK_CRITICAL;
    if (WIFEXITED(status) && WEXITSTATUS(status) <= 1)
        st = WEXITSTATUS(status) == 0 ? CHECK_PASSING : CHECK_WARNING;
    if (WIFEXITED(status) && (WEXITSTATUS(status) <= 1 || len))
        snprintf(note, sizeof note, "%.*s", (int)len, output);
    else if (WIFEXITED(status))
        snprintf(note, sizeof note, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(note, sizeof note, "killed by signal %d%s%.*s", WTERMSIG(status), len ? ": " : "",
                 (int)len, output);
    check_done(c, st, note);
}

static void exec_run(check *c)
{
    const exec_conf *x = check_get_conf(c)->kconf;
    char err[512];
    /* No timeout here: health.c cancels the run at the check's timeout. */
    proc_spec spec = {.argv = x->argv};
    proc *p = proc_start(&spec, on_exit_status, c, err, sizeof err);
    *check_run_state(c) = p;
    if (!p)
        check_done(c, CHECK_CRITICAL, err);
}

static void exec_cancel(check *c)
{
    proc_kill(*check_run_state(c));
}

static const char *const exec_keys[] = {"command", NULL};

const check_kind check_exec = {
    .name = "exec", .parse = exec_parse, .keys = exec_keys, .free_conf = exec_free,
    .run = exec_run, .cancel = exec_cancel,
};
