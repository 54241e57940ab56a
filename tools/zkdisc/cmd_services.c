/* Discovery from the command line: services, instances (--watch), pick,
 * and the operator's deregister, drain and undrain. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

static void print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(v);
}

static json_t *instance_json(const zkd_instance *i)
{
    char *s = zkd_instance_to_json(i);
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    zkd_free(s);
    return v ? v : json_null();
}

static void endpoint(const zkd_instance *i, char *buf, size_t len)
{
    if (zkd_instance_port(i) >= 0)
        snprintf(buf, len, "%s:%d", zkd_instance_address(i), zkd_instance_port(i));
    else
        snprintf(buf, len, "%s", zkd_instance_address(i));
}

/* Parses "CMD [options] ARGS" with `nargs` positional arguments, checks the
 * first is a valid service name, and connects. */
static int service_args(cli *ctx, const cli_command *cmd, int argc, char **argv, int nargs,
                        const struct option *lo, const char *so,
                        int (*on_opt)(cli *, int, const char *, void *), void *ud, char ***args)
{
    int first;
    int rc = cli_parse(ctx, cmd, argc, argv, lo, so, on_opt, ud, &first);
    if (rc || (rc = cli_expect_args(ctx, cmd, argc - first, nargs, nargs)))
        return rc;
    *args = &argv[first];
    zkd_error err;
    if (nargs > 0 && (rc = zkd_validate_name("service", argv[first], &err)))
        return cli_fail(ctx, rc, &err);
    if (nargs > 1 && (rc = zkd_validate_name("instance id", argv[first + 1], &err)))
        return cli_fail(ctx, rc, &err);
    return cli_connect(ctx);
}

/* ---- services --------------------------------------------------------------- */

static int run_services(cli *ctx, int argc, char **argv)
{
    char **args;
    int rc = service_args(ctx, &cmd_services, argc, argv, 0, NULL, NULL, NULL, NULL, &args);
    if (rc)
        return rc;
    zkd_service_info *list;
    size_t n;
    zkd_error err;
    if ((rc = zkd_services_list(ctx->client, &list, &n, &err)))
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s,s:I}", "name", list[i].name, "instances",
                                                 (json_int_t)list[i].instances));
        print_json(arr);
    } else {
        printf("%-60s %9s\n", "SERVICE", "INSTANCES");
        for (size_t i = 0; i < n; i++)
            printf("%-60s %9zu\n", list[i].name, list[i].instances);
    }
    zkd_services_free(list, n);
    return 0;
}

const cli_command cmd_services = {
    "services", "list services with their instance counts",
    "services\n\nLists every service under <root>/services with its number of instances\n"
    "(-o json: [{\"name\":...,\"instances\":N}]).",
    run_services};

/* ---- instances ------------------------------------------------------------- */

static void print_table(const zkd_snapshot *s)
{
    printf("%-36s %-21s %-8s %6s %s\n", "ID", "ENDPOINT", "ZONE", "WEIGHT", "STATE");
    for (size_t k = 0; k < zkd_snapshot_count(s); k++) {
        const zkd_instance *i = zkd_snapshot_at(s, k);
        char ep[80];
        endpoint(i, ep, sizeof ep);
        const char *zone = zkd_instance_zone(i);
        printf("%-36.36s %-21.21s %-8.8s %6d %s\n", zkd_instance_id(i), ep, zone ? zone : "-",
               zkd_instance_weight(i), zkd_instance_enabled(i) ? "up" : "drained");
    }
}

static void print_delta(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k;
    cli *c = ctx;
    static const char *names[] = {"", "ADDED", "REMOVED", "UPDATED"};
    for (size_t x = 0; x < n; x++) {
        const zkd_instance *i = d[x].now ? d[x].now : d[x].before;
        if (c->json) {
            print_json(json_pack("{s:s,s:o}", "event", names[d[x].kind], "instance", instance_json(i)));
        } else {
            char ep[80];
            endpoint(i, ep, sizeof ep);
            printf("%s %s %s\n", names[d[x].kind], zkd_instance_id(i), ep);
        }
    }
    fflush(stdout);
}

static int watch_instances(cli *ctx, const char *service, const sigset_t *set)
{
    zkd_cache *k;
    zkd_error err;
    int rc = zkd_cache_open(ctx->client, service, print_delta, ctx, &k, &err);
    if (rc)
        return cli_fail(ctx, rc, &err);
    int sig;
    sigwait(set, &sig);
    zkd_cache_close(k);
    return 0;
}

static int instances_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)ctx;
    (void)arg;
    if (opt != 'w')
        return EXIT_USAGE;
    *(int *)ud = 1;
    return 0;
}

static int run_instances(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"watch", no_argument, NULL, 'w'}, {0}};
    int watch = 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Before connecting: the library's threads inherit the blocked mask. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char **args;
    int rc = service_args(ctx, &cmd_instances, argc, argv, 1, lo, "w", instances_opt, &watch, &args);
    if (rc)
        return rc;
    if (watch)
        return watch_instances(ctx, args[0], &set);
    zkd_snapshot *s;
    uint64_t malformed = 0;
    zkd_error err;
    if ((rc = zkd_instances_query(ctx->client, args[0], &s, &malformed, &err)))
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t k = 0; k < zkd_snapshot_count(s); k++)
            json_array_append_new(arr, instance_json(zkd_snapshot_at(s, k)));
        print_json(arr);
    } else {
        print_table(s);
    }
    if (malformed)
        fprintf(stderr, "zkdisc instances: skipped %llu malformed record%s under %s\n",
                (unsigned long long)malformed, malformed == 1 ? "" : "s", args[0]);
    zkd_snapshot_release(s);
    return 0;
}

const cli_command cmd_instances = {
    "instances", "list a service's instances, or watch them change",
    "instances SERVICE [--watch]\n\n"
    "Lists SERVICE's instances as a table (-o json: an array of records with\n"
    "Curator's field names). Malformed records are skipped and counted on stderr.\n"
    "  --watch   print one line per change until interrupted:\n"
    "            ADDED|REMOVED|UPDATED <id> <address>:<port>; the current\n"
    "            instances come first, as ADDED (-o json: one object per line)",
    run_instances};

/* ---- pick -------------------------------------------------------------------- */

typedef struct pick_args {
    zkd_balancer_options o;
    const char *meta[33];
    int nmeta;
} pick_args;

static int pick_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    pick_args *p = ud;
    if (opt == 's') {
        static const char *names[] = {"round-robin", "random", "weighted"};
        for (int i = 0; i < 3; i++)
            if (!strcmp(arg, names[i])) {
                p->o.strategy = (zkd_strategy)i;
                return 0;
            }
        return cli_error(ctx, EXIT_USAGE, "--strategy takes round-robin, random or weighted");
    }
    if (opt == 'z') {
        p->o.zone = arg;
        return 0;
    }
    if (opt == 'm' && p->nmeta < 32 && strchr(arg, '=')) {
        p->meta[p->nmeta++] = arg;
        return 0;
    }
    return cli_error(ctx, EXIT_USAGE, "--meta takes key=value (at most 32)");
}

static int run_pick(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {{"strategy", required_argument, NULL, 's'},
                                       {"zone", required_argument, NULL, 'z'},
                                       {"meta", required_argument, NULL, 'm'},
                                       {0}};
    pick_args p = {0};
    zkd_balancer_options_init(&p.o);
    p.o.strategy = ZKD_PICK_RANDOM;
    char **args;
    int rc = service_args(ctx, &cmd_pick, argc, argv, 1, lo, "", pick_opt, &p, &args);
    if (rc)
        return rc;
    p.meta[p.nmeta] = NULL;
    p.o.meta = p.meta;
    zkd_snapshot *s;
    zkd_balancer *b;
    zkd_instance *chosen;
    zkd_error err;
    if ((rc = zkd_instances_query(ctx->client, args[0], &s, NULL, &err)))
        return cli_fail(ctx, rc, &err);
    if ((rc = zkd_balancer_new(NULL, &p.o, &b, &err)) == 0) {
        rc = zkd_balancer_select_from(b, s, &chosen, &err);
        zkd_balancer_free(b);
    }
    zkd_snapshot_release(s);
    if (rc == ZKD_ENOTFOUND)
        return cli_error(ctx, EXIT_NOTFOUND, "no instance of %s matches", args[0]);
    if (rc)
        return cli_fail(ctx, rc, &err);
    if (ctx->json) {
        print_json(instance_json(chosen));
    } else {
        char ep[80];
        endpoint(chosen, ep, sizeof ep);
        puts(ep);
    }
    zkd_instance_unref(chosen);
    return 0;
}

const cli_command cmd_pick = {
    "pick", "choose one instance of a service",
    "pick SERVICE [--strategy random|weighted|round-robin] [--zone Z] [--meta k=v ...]\n\n"
    "Prints one address:port of SERVICE (-o json: the record), skipping drained\n"
    "instances. Exit 4 when none matches. Default strategy: random (a one-shot\n"
    "pick has no memory, so round-robin always gives the first eligible one).",
    run_pick};

/* ---- deregister, drain, undrain ------------------------------------------------ */

static int operator_action(cli *ctx, const cli_command *cmd, int argc, char **argv, int what)
{
    char **args;
    int rc = service_args(ctx, cmd, argc, argv, 2, NULL, NULL, NULL, NULL, &args);
    if (rc)
        return rc;
    zkd_error err;
    rc = what < 0 ? zkd_instance_remove(ctx->client, args[0], args[1], &err)
                  : zkd_instance_set_enabled(ctx->client, args[0], args[1], what, &err);
    return rc ? cli_fail(ctx, rc, &err) : 0;
}

static int run_deregister(cli *ctx, int argc, char **argv)
{
    return operator_action(ctx, &cmd_deregister, argc, argv, -1);
}
static int run_drain(cli *ctx, int argc, char **argv)
{
    return operator_action(ctx, &cmd_drain, argc, argv, 0);
}
static int run_undrain(cli *ctx, int argc, char **argv)
{
    return operator_action(ctx, &cmd_undrain, argc, argv, 1);
}

const cli_command cmd_deregister = {
    "deregister", "remove an instance (operator)",
    "deregister SERVICE ID\n\nRemoves instance ID of SERVICE. Exit 4 if it is not registered.\n"
    "A process holding the registration does not put it back; to stop traffic\n"
    "but keep the record, use drain.",
    run_deregister};

const cli_command cmd_drain = {
    "drain", "mark an instance disabled so balancers skip it",
    "drain SERVICE ID\n\nSets \"enabled\": false in the instance's record. The registering\n"
    "process keeps that flag across its own updates and re-registrations.",
    run_drain};

const cli_command cmd_undrain = {
    "undrain", "enable a drained instance again",
    "undrain SERVICE ID\n\nRemoves \"enabled\": false from the instance's record.", run_undrain};
