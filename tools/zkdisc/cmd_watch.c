/* SPDX-License-Identifier: Apache-2.0 */
/* watch: streams a node's (or a subtree's) changes as timestamped lines,
 * until Ctrl-C, SIGTERM or --count events. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"
#include "term.h"

typedef struct watch_opts {
    int flags;
    int count;
    int json;
    _Atomic int seen;
    _Atomic int exit_code;
} watch_opts;

static int wake_fd = -1;

static void wake(void)
{
    char b = 1;
    ssize_t r = write(wake_fd, &b, 1);
    (void)r;
}

static void on_signal(int sig)
{
    (void)sig;
    int e = errno;
    wake();
    errno = e;
}

static int watch_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    watch_opts *o = ud;
    switch (opt) {
    case 'c': o->flags |= ZKD_WATCH_CHILDREN; return 0;
    case 'R':
    case 'r': o->flags |= ZKD_WATCH_RECURSIVE; return 0;
    case 'n': return cli_parse_int(ctx, "--count", arg, 1, &o->count);
    }
    return EXIT_USAGE;
}

/* The CLI's one event vocabulary, the same for every watch (instances
 * --watch, config watch): added, removed, changed; and children. */
static const char *event_word(zkd_watch_event_type t)
{
    switch (t) {
    case ZKD_WATCH_CREATED: return "added";
    case ZKD_WATCH_DELETED: return "removed";
    default: return zkd_watch_event_name(t);
    }
}

static const char *event_colour(const char *name)
{
    if (!strcmp(name, "added"))
        return term_sgr("32");
    if (!strcmp(name, "removed"))
        return term_sgr("31");
    if (!strcmp(name, "changed"))
        return term_sgr("33");
    return term_sgr("36");
}

static void print_line(const char *event, const char *path, const char *detail)
{
    char ts[RENDER_TIME_LEN];
    render_time_now(ts, sizeof ts);
    printf("%s  %s%-9s%s %s%s%s\n", ts, event_colour(event), event, term_reset(), path,
           detail && *detail ? "  " : "", detail ? detail : "");
    fflush(stdout);
}

/* One event per line, its time first. Steals o. */
static void print_json_line(json_t *o)
{
    char ts[RENDER_TIME_LEN];
    render_time_now(ts, sizeof ts);
    json_t *line = json_pack("{s:s}", "time", ts);
    json_object_update(line, o);
    json_decref(o);
    render_json_line(line);
}

static json_t *names_json(const zkd_strings *s)
{
    json_t *a = json_array();
    for (size_t i = 0; s && i < s->count; i++)
        json_array_append_new(a, json_string(s->items[i]));
    return a;
}

static void on_event(zkd_watch *w, const zkd_watch_event *ev, void *ud)
{
    (void)w;
    watch_opts *o = ud;
    if (o->count && atomic_load(&o->seen) >= o->count)
        return;
    const char *name = event_word(ev->type);
    if (o->json) {
        json_t *x = json_pack("{s:s,s:s}", "event", name, "path", ev->path);
        if (ev->stat) {
            json_object_set_new(x, "version", json_integer(ev->stat->version));
            json_object_set_new(x, "dataLength", json_integer(ev->stat->data_length));
            json_object_set_new(x, "ephemeral", json_boolean(ev->stat->ephemeral_owner != 0));
        }
        if (ev->type == ZKD_WATCH_CHILDREN_CHANGED) {
            json_object_set_new(x, "added", names_json(ev->added));
            json_object_set_new(x, "removed", names_json(ev->removed));
        }
        print_json_line(x);
    } else {
        char detail[512] = "";
        size_t n = 0;
        if (ev->type == ZKD_WATCH_CHILDREN_CHANGED) {
            for (size_t i = 0; ev->added && i < ev->added->count && n < sizeof detail - 1; i++)
                n += (size_t)snprintf(detail + n, sizeof detail - n, "%s+%s", n ? " " : "", ev->added->items[i]);
            for (size_t i = 0; ev->removed && i < ev->removed->count && n < sizeof detail - 1; i++)
                n += (size_t)snprintf(detail + n, sizeof detail - n, "%s-%s", n ? " " : "", ev->removed->items[i]);
            if (n >= sizeof detail - 1)
                memcpy(detail + sizeof detail - 5, "...", 4);
        } else if (ev->stat) {
            snprintf(detail, sizeof detail, "version %d, %d bytes%s", ev->stat->version,
                     ev->stat->data_length, ev->stat->ephemeral_owner ? ", ephemeral" : "");
        }
        print_line(name, ev->path, detail);
    }
    if (o->count && atomic_fetch_add(&o->seen, 1) + 1 >= o->count)
        wake();
}

static void on_session(zkd_client *c, zkd_session_event ev, void *ud)
{
    (void)c;
    watch_opts *o = ud;
    if (ev == ZKD_SESSION_CONNECTED)
        return;
    const char *name = zkd_session_event_name(ev);
    if (o->json)
        print_json_line(json_pack("{s:s,s:s}", "event", "session", "state", name));
    else
        print_line("session", name,
                   ev == ZKD_SESSION_EXPIRED         ? "watches lost; re-arming on the new session"
                   : ev == ZKD_SESSION_REESTABLISHED ? "new session; watches re-armed, changes since reported"
                                                     : "");
    if (ev == ZKD_SESSION_AUTH_FAILED) {
        atomic_store(&o->exit_code, EXIT_NOAUTH);
        wake();
    }
}

static int run_watch(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"children", no_argument, NULL, 'c'},
                                       {"recursive", no_argument, NULL, 'R'},
                                       {"count", required_argument, NULL, 'n'},
                                       {0}};
    watch_opts o = {0};
    int first;
    int rc = cu_parse(ctx, &cmd_watch, argc, argv, lo, "Rrn:", watch_opt, &o, 0, 1, &first);
    if (rc)
        return rc;
    o.json = ctx->json;
    const char *path = cu_path(ctx, first < argc ? argv[first] : NULL);
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return cli_error(ctx, EXIT_ERROR, "pipe: %s", strerror(errno));
    wake_fd = pipefd[1];
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if ((rc = cu_connect_path(ctx, path)))
        return rc;
    zkd_error err;
    int sub = -1;
    zkd_session_subscribe(ctx->client, on_session, &o, &sub, NULL);
    zkd_watch *w;
    if ((rc = zkd_watch_open(ctx->client, path, o.flags, on_event, &o, &w, &err))) {
        zkd_session_unsubscribe(ctx->client, sub);
        return cli_fail(ctx, rc, &err);
    }
    size_t nodes = zkd_watch_count(w);
    const char *what = o.flags & ZKD_WATCH_RECURSIVE ? "subtree"
                     : o.flags & ZKD_WATCH_CHILDREN  ? "node and children"
                                                     : "node";
    if (o.json) {
        print_json_line(json_pack("{s:s,s:s,s:s,s:I}", "event", "watching", "path", path, "scope", what,
                                  "nodes", (json_int_t)nodes));
    } else {
        char detail[96];
        snprintf(detail, sizeof detail, "%s, %zu node%s now", what, nodes, nodes == 1 ? "" : "s");
        print_line("watching", path, detail);
    }
    char b;
    while (read(pipefd[0], &b, 1) < 0 && errno == EINTR)
        ;
    zkd_watch_close(w);
    zkd_session_unsubscribe(ctx->client, sub);
    close(pipefd[0]); /* zkdisc shell runs many watches in one process */
    close(pipefd[1]);
    wake_fd = -1;
    return atomic_load(&o.exit_code);
}

const cli_command cmd_watch = {
    "watch", "stream a node's or a subtree's changes",
    "watch [PATH] [--children] [-R] [--count N]\n\n"
    "Prints one timestamped line per change until Ctrl-C (exit 0):\n"
    "  TIME  added|changed|removed  PATH  version V, N bytes\n"
    "  TIME  children  PATH  +added -removed\n"
    "The first line, \"watching PATH\", says the watches are armed: changes from\n"
    "then on are reported. Watches are re-armed after every event and after a\n"
    "session expiry (changes made meanwhile are then reported).\n"
    "PATH defaults to /. Times are RFC 3339 UTC with milliseconds.\n"
    "  --children        also report PATH's list of children changing\n"
    "  -R, --recursive   the whole subtree, including nodes created later (-r too)\n"
    "  -n, --count N     exit after N events\n"
    "  -o json           one compact JSON object per line (even on a terminal):\n"
    "                    time, event, path, version, ...",
    run_watch};
