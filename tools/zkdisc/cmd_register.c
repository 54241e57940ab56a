/* SPDX-License-Identifier: Apache-2.0 */
/* Holding a registration from the command line: `register` (until a
 * signal) and `run` (while a child command runs). Both share the instance
 * options and the signal handling here. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define MAX_META 64

typedef struct reg_args {
    zkd_instance_spec spec;
    const char *meta[MAX_META + 1];
    int nmeta;
    int have_port;
    int session_timeout_ms;
    const char *payload_class;
    char *payload; /* the payload with "@class", when --payload-class */
} reg_args;

enum { O_PORT = 'p', O_ADDRESS = 'a', O_ID = 'i', O_SSL = 2000, O_PAYLOAD, O_WEIGHT, O_ZONE,
       O_META, O_VERSION, O_SESSION, O_CLASS };

static const struct option reg_opts[] = {
    {"port", required_argument, NULL, O_PORT},
    {"address", required_argument, NULL, O_ADDRESS},
    {"id", required_argument, NULL, O_ID},
    {"ssl-port", required_argument, NULL, O_SSL},
    {"payload", required_argument, NULL, O_PAYLOAD},
    {"weight", required_argument, NULL, O_WEIGHT},
    {"zone", required_argument, NULL, O_ZONE},
    {"meta", required_argument, NULL, O_META},
    {"version", required_argument, NULL, O_VERSION},
    {"session-timeout", required_argument, NULL, O_SESSION},
    {"payload-class", required_argument, NULL, O_CLASS},
    {0},
};

static int port_value(cli *ctx, const char *what, const char *text, int *out)
{
    int rc = cli_parse_int(ctx, what, text, 1, out);
    if (!rc && *out > 65535)
        rc = cli_error(ctx, EXIT_USAGE, "%s must be 1..65535", what);
    return rc;
}

static int reg_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    reg_args *a = ud;
    switch (opt) {
    case O_PORT: a->have_port = 1; return port_value(ctx, "--port", arg, &a->spec.port);
    case O_SSL: return port_value(ctx, "--ssl-port", arg, &a->spec.ssl_port);
    case O_ADDRESS: a->spec.address = arg; return 0;
    case O_ID: a->spec.id = arg; return 0;
    case O_PAYLOAD: a->spec.payload = arg; return 0;
    case O_WEIGHT: return cli_parse_int(ctx, "--weight", arg, 0, &a->spec.weight);
    case O_ZONE: a->spec.zone = arg; return 0;
    case O_VERSION: a->spec.version = arg; return 0;
    case O_SESSION: return cli_parse_duration(ctx, "--session-timeout", arg, 1, &a->session_timeout_ms);
    case O_CLASS: a->payload_class = arg; return 0;
    case O_META:
        if (a->nmeta == MAX_META)
            return cli_error(ctx, EXIT_USAGE, "at most %d --meta options", MAX_META);
        if (!strchr(arg, '=') || arg[0] == '=')
            return cli_error(ctx, EXIT_USAGE, "--meta takes key=value, not \"%s\"", arg);
        a->meta[a->nmeta++] = arg;
        return 0;
    }
    return EXIT_USAGE;
}

/* Puts "@class" first in the payload: Curator readers whose payload type
 * is a class annotated @JsonTypeInfo(use = CLASS) (Spring Cloud's
 * ZookeeperInstance, say) need it to pick the class. The library checks the
 * rest of the payload. */
static int add_payload_class(cli *ctx, reg_args *a)
{
    json_t *given = a->spec.payload ? json_loads(a->spec.payload, 0, NULL) : json_object();
    if (!json_is_object(given)) {
        json_decref(given);
        return cli_error(ctx, EXIT_USAGE, "--payload must be a JSON object");
    }
    json_t *p = json_pack("{s:s}", "@class", a->payload_class);
    json_object_update(p, given);
    json_decref(given);
    a->payload = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(p);
    a->spec.payload = a->payload;
    return a->payload ? 0 : cli_error(ctx, EXIT_ERROR, "out of memory");
}

/* Parses "SERVICE --port N [options]" (argv already cut before "--"). */
static int parse_reg(cli *ctx, const cli_command *cmd, int argc, char **argv, reg_args *a)
{
    memset(a, 0, sizeof *a);
    zkd_instance_spec_init(&a->spec);
    /* An operator's drain or removal must be seen at once (a removal ends
     * the command, see on_log) and outlive an expiry: worth a second request. */
    a->spec.watch_node = 1;
    a->session_timeout_ms = 10000;
    int first;
    int rc = cli_parse(ctx, cmd, argc, argv, reg_opts, "p:a:i:", reg_opt, a, &first);
    if (rc || (rc = cli_expect_args(ctx, cmd, argc - first, 1, 1)))
        return rc;
    if (!a->have_port) {
        cli_error(ctx, EXIT_USAGE, "--port is required");
        return cli_usage(ctx, cmd);
    }
    a->spec.service = argv[first];
    a->meta[a->nmeta] = NULL;
    a->spec.meta = a->meta;
    zkd_error err;
    if ((rc = zkd_validate_name("service", a->spec.service, &err)) ||
        (a->spec.id && (rc = zkd_validate_name("instance id", a->spec.id, &err))))
        return cli_fail(ctx, rc, &err);
    return a->payload_class ? add_payload_class(ctx, a) : 0;
}

/* Blocks the signals we wait for, before any thread exists, so that every
 * thread (ZooKeeper's too) inherits the mask and sigwait sees them. */
static void block_signals(sigset_t *set, int with_child)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1); /* our instance was removed: see on_log */
    if (with_child)
        sigaddset(set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* The log lines go where they would have gone; the registry's line saying
 * that another client removed our node (it has checked that our session is
 * alive, so this is no expiry) also wakes the main thread, which exits 4:
 * an operator's deregister ends the holder, and a supervisor decides what
 * comes next. */
static struct {
    zkd_log_fn fn;
    void *ctx;
} prev_log;

static void on_log(zkd_log_level level, const char *message, void *ctx)
{
    (void)ctx;
    if (prev_log.fn)
        prev_log.fn(level, message, prev_log.ctx);
    else
        fprintf(stderr, "zkdisc: %s\n", message);
    if (strstr(message, " was removed by another client"))
        kill(getpid(), SIGUSR1);
}

static int removed_by_operator(cli *ctx, zkd_registration *r)
{
    return cli_error(ctx, EXIT_NOTFOUND,
                     "instance %s was removed by another client (an operator's deregister?); "
                     "exiting so that a supervisor can decide what comes next",
                     zkd_registration_id(r));
}

static int connect_and_register(cli *ctx, reg_args *a, zkd_registration **r)
{
    zkd_options o;
    cli_options(ctx, &o);
    prev_log.fn = o.log_fn;
    prev_log.ctx = o.log_ctx;
    o.log_fn = on_log;
    o.session_timeout_ms = a->session_timeout_ms;
    /* A long-running holder reports session trouble even without -v. */
    if (!ctx->verbose)
        o.log_level = ZKD_LOG_WARN;
    int rc = cli_connect_with(ctx, &o);
    if (rc)
        return rc;
    zkd_error err;
    rc = zkd_register(ctx->client, &a->spec, r, &err);
    if (rc == ZKD_ENOAUTH) {
        const char *root = zkd_client_root(ctx->client);
        char svc[1024];
        snprintf(svc, sizeof svc, "%s/services/%s", strcmp(root, "/") ? root : "", a->spec.service);
        return acl_refused(ctx, "register into", a->spec.service, svc, ZKD_PERM_CREATE);
    }
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

static void announce(cli *ctx, zkd_registration *r)
{
    zkd_instance *i = zkd_registration_instance(r);
    if (ctx->json) {
        char *json = zkd_instance_to_json(i);
        printf("%s\n", json ? json : "{}");
        zkd_free(json);
    } else {
        printf("%s\n", zkd_instance_id(i));
    }
    fflush(stdout);
    zkd_instance_unref(i);
}

static int leave(cli *ctx, zkd_registration *r)
{
    zkd_error err;
    int rc = zkd_registration_close(r, &err);
    if (rc)
        return cli_fail(ctx, rc, &err);
    return 0;
}

/* ---- register ------------------------------------------------------------ */

static int run_register(cli *ctx, int argc, char **argv)
{
    reg_args a;
    int rc = parse_reg(ctx, &cmd_register, argc, argv, &a);
    if (rc)
        return rc;
    sigset_t set;
    block_signals(&set, 0);
    zkd_registration *r;
    if ((rc = connect_and_register(ctx, &a, &r)))
        return rc;
    announce(ctx, r);
    int sig;
    sigwait(&set, &sig);
    if (sig == SIGUSR1) {
        rc = removed_by_operator(ctx, r);
        zkd_registration_close(r, NULL);
    } else {
        rc = leave(ctx, r);
    }
    free(a.payload);
    return rc;
}

const cli_command cmd_register = {
    "register", "register an instance and hold it until interrupted",
    "register SERVICE --port N [--address A] [--id ID] [--ssl-port N]\n"
    "       [--payload JSON] [--weight W] [--zone Z] [--version V] [--meta k=v ...]\n"
    "       [--session-timeout TIME] [--payload-class CLASS]\n\n"
    "Registers an ephemeral instance of SERVICE and prints its id (-o json: the\n"
    "record). Holds it, across session expiries, until SIGINT or SIGTERM; then\n"
    "deregisters and exits 0. If the process is killed outright, ZooKeeper\n"
    "removes the instance after the session timeout (default 10000 ms).\n"
    "If another client removes the instance (zkdisc deregister), it exits 4:\n"
    "run it under a supervisor that restarts it if it should come back.\n"
    "  -p, --port N      1..65535 (--ssl-port N too)\n"
    "  --address A       default: the host's first non-loopback IPv4 address\n"
    "  --id ID           default: a random UUID\n"
    "  --payload JSON    a JSON object; --weight/--zone/--version/--meta go into it.\n"
    "                    \"weight\" must be an integer 0..1000000, \"zone\" and\n"
    "                    \"version\" strings, \"metadata\" an object of strings\n"
    "  --payload-class C write \"@class\": C first in the payload, for Curator\n"
    "                    readers with a typed payload class (see the README)\n"
    "  --weight W        payload.weight, 0..1000000 (readers assume 100)\n"
    "  --zone Z          payload.zone, for pick --zone and zone-aware balancers\n"
    "  --version V       payload.version, the service's version as text\n"
    "  --meta k=v        payload.metadata.k = \"v\" (repeat for more)\n"
    "  --session-timeout TIME  asked of the server (10s, 500ms; a bare number is\n"
    "                    ms; default 10s): how long a killed holder's instance\n"
    "                    outlives it",
    run_register};

/* ---- run ------------------------------------------------------------------ */

static pid_t start_child(char **cmdv, const sigset_t *set)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec in a threaded
         * process; and the child gets none of our descriptors (the
         * ZooKeeper socket among them). */
        pthread_sigmask(SIG_UNBLOCK, set, NULL);
        close_range(3, ~0U, 0);
        execvp(cmdv[0], cmdv);
        static const char msg[] = "zkdisc run: cannot run the command: ";
        const char *why = strerror(errno);
        (void)!write(2, msg, sizeof msg - 1);
        (void)!write(2, cmdv[0], strlen(cmdv[0]));
        (void)!write(2, ": ", 2);
        (void)!write(2, why, strlen(why));
        (void)!write(2, "\n", 1);
        _exit(127);
    }
    return pid;
}

/* Waits for the child, forwarding SIGINT and SIGTERM; returns its exit
 * status the way a shell reports it. When our instance is removed
 * (SIGUSR1), the child gets SIGTERM and *evicted is set. */
static int supervise(pid_t child, const sigset_t *set, int *evicted)
{
    for (;;) {
        int sig, status;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            *evicted = 1;
            sig = SIGTERM;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            kill(child, sig);
            continue;
        }
        pid_t got = waitpid(child, &status, WNOHANG);
        if (got == child)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
}

static int run_run(cli *ctx, int argc, char **argv)
{
    int dash = 0;
    for (int i = 1; i < argc && !dash; i++)
        if (!strcmp(argv[i], "--"))
            dash = i;
    reg_args a;
    if (!dash || dash == argc - 1) {
        int help = 0;
        for (int i = 1; i < argc; i++)
            help |= !strcmp(argv[i], "--help");
        if (help)
            return parse_reg(ctx, &cmd_run, argc, argv, &a);
        cli_error(ctx, EXIT_USAGE, "missing \"-- COMMAND\"");
        return cli_usage(ctx, &cmd_run);
    }
    argv[dash] = NULL;
    int rc = parse_reg(ctx, &cmd_run, dash, argv, &a);
    if (rc)
        return rc;
    sigset_t set;
    block_signals(&set, 1);
    zkd_registration *r;
    if ((rc = connect_and_register(ctx, &a, &r)))
        return rc;
    pid_t child = start_child(&argv[dash + 1], &set);
    if (child < 0) {
        leave(ctx, r);
        return cli_error(ctx, EXIT_ERROR, "cannot start %s: %s", argv[dash + 1], strerror(errno));
    }
    if (ctx->verbose)
        announce(ctx, r);
    int evicted = 0;
    int status = supervise(child, &set, &evicted);
    if (evicted) {
        status = removed_by_operator(ctx, r);
        zkd_registration_close(r, NULL);
    } else {
        leave(ctx, r);
    }
    free(a.payload);
    return status;
}

const cli_command cmd_run = {
    "run", "run a command and keep it registered while it runs",
    "run SERVICE --port N [register's options] -- COMMAND [ARGS...]\n\n"
    "Registers an instance of SERVICE (see 'zkdisc register --help'), starts\n"
    "COMMAND, and keeps the instance registered while COMMAND runs, across\n"
    "session expiries. SIGINT and SIGTERM are forwarded to COMMAND. When it\n"
    "exits, the instance is deregistered and zkdisc exits with its status\n"
    "(128+N if it died of signal N). With -v the instance id is printed.\n"
    "If another client removes the instance, COMMAND gets SIGTERM and zkdisc\n"
    "exits 4.",
    run_run};
