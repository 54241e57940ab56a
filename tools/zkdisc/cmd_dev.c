/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc dev: a local standalone ZooKeeper in the foreground, for
 * development (the way `consul agent -dev` works). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "zkserver.h"

typedef struct dev_args {
    int port;
    const char *data;
} dev_args;

static int dev_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    dev_args *a = ud;
    if (opt == 'p')
        return cli_parse_int(ctx, "--port", arg, 1, &a->port) ? EXIT_USAGE
               : a->port > 65535 ? cli_error(ctx, EXIT_USAGE, "--port must be 1..65535") : 0;
    if (opt == 'd') {
        a->data = arg;
        return 0;
    }
    return EXIT_USAGE;
}

/* A server already on the port would answer our readiness probe and fool
 * us, so refuse a taken port up front. */
static int port_is_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* mkdir -p: --data names a directory to keep, made on first use. */
static int mkdir_p(char *dir)
{
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(dir, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int prepare_dir(cli *ctx, const dev_args *a, zks_server *srv, int *temporary)
{
    char err[512];
    *temporary = !a->data;
    if (*temporary)
        return zks_make_tempdir(NULL, "zkdisc-dev-", srv->dir, sizeof srv->dir, err, sizeof err)
                   ? cli_error(ctx, EXIT_ERROR, "%s", err) : 0;
    if (strlen(a->data) >= sizeof srv->dir)
        return cli_error(ctx, EXIT_USAGE, "--data path is too long");
    snprintf(srv->dir, sizeof srv->dir, "%s", a->data);
    if (mkdir_p(srv->dir) != 0)
        return cli_error(ctx, EXIT_ERROR, "cannot create --data %s: %s", srv->dir, strerror(errno));
    return 0;
}

/* Blocks until SIGINT/SIGTERM (0) or the server exits on its own (1). */
static int wait_for_end(zks_server *srv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            return 1;
        if (sig != SIGCHLD)
            return 0;
        if (zks_poll_exit(srv) == 1)
            return 1;
    }
}

static void announce(cli *ctx, const zks_server *srv, int temporary)
{
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", srv->client_port);
    if (ctx->json) {
        render_json(json_pack("{s:s,s:s,s:b}", "connect", connect, "data", srv->dir, "temporary", temporary));
    } else {
        printf("ZooKeeper (standalone, for development) is serving.\n"
               "  connect string: %s\n"
               "  data directory: %s%s\n"
               "  try:            export ZKDISC_ZK=%s; zkdisc ls /\n"
               "Press Ctrl-C to stop it.\n",
               connect, srv->dir, temporary ? " (removed on exit)" : "", connect);
    }
    fflush(stdout);
}

static int run_dev(cli *ctx, int argc, char **argv)
{
    static const struct option lo[] = {
        {"port", required_argument, NULL, 'p'}, {"data", required_argument, NULL, 'd'}, {0}};
    dev_args a = {.port = 2181};
    int first, rc = cli_parse(ctx, &cmd_dev, argc, argv, lo, "p:d:", dev_opt, &a, &first);
    if (rc || (rc = cli_expect_args(ctx, &cmd_dev, argc - first, 0, 0)))
        return rc;
    if (!port_is_free(a.port))
        return cli_error(ctx, EXIT_ERROR,
                         "port %d on 127.0.0.1 is already in use (another ZooKeeper? "
                         "`zkdisc --zk 127.0.0.1:%d ls /` would talk to it); pick --port N",
                         a.port, a.port);

    /* Signals are taken with sigwait, so block them before any thread or child exists. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    zks_server srv = {.id = 0, .client_port = a.port, .exit_status = -1};
    int temporary;
    if ((rc = prepare_dir(ctx, &a, &srv, &temporary)))
        return rc;
    char err[2048];
    if (zks_write_config(&srv, 1, 0, err, sizeof err) ||
        zks_spawn(&srv, ZKS_SPAWN_PDEATHSIG, err, sizeof err) ||
        zks_wait_serving(&srv, 0, 60000, err, sizeof err)) {
        if (srv.pid > 0)
            zks_kill(&srv, NULL, 0);
        if (temporary)
            zks_remove_tree(srv.dir, NULL, 0);
        return cli_error(ctx, EXIT_ERROR, "%s", err);
    }
    announce(ctx, &srv, temporary);
    int died = wait_for_end(&srv);
    if (died) {
        zks_log_tail(srv.dir, 20, err, sizeof err);
        rc = cli_error(ctx, EXIT_ERROR, "ZooKeeper exited on its own; its log ends:\n%s", err);
    } else {
        fprintf(stderr, "zkdisc dev: stopping ZooKeeper\n");
        zks_stop(&srv, 10000, NULL, 0);
    }
    if (temporary)
        zks_remove_tree(srv.dir, NULL, 0);
    return rc;
}

const cli_command cmd_dev = {
    "dev", "run a local ZooKeeper for development",
    "dev [--port N] [--data DIR]\n\n"
    "Runs a standalone ZooKeeper server from Debian's zookeeper package on\n"
    "127.0.0.1 in the foreground, prints its connect string, and stops it on\n"
    "Ctrl-C. Not for production: one server, no replication.\n"
    "  -p, --port N    client port (default 2181)\n"
    "  -d, --data DIR  keep data in DIR across runs, created when missing\n"
    "              (default: a temporary directory, removed on exit)\n"
    "Needs java and ZooKeeper (apt-get install zookeeper); ZKDISC_JAVA and\n"
    "ZKDISC_ZOOKEEPER_JAR override where they are found.",
    run_dev};
