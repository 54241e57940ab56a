/* zkdisc: one CLI for the whole tree. This file finds the command and hands
 * over; the commands are in cmd_*.c. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_command *const commands[] = {
    &cmd_dev, &cmd_ls, &cmd_get, &cmd_stat,
    &cmd_tree, &cmd_find, &cmd_grep, &cmd_du, &cmd_watch, &cmd_create, &cmd_set, &cmd_rm,
    &cmd_export, &cmd_import, &cmd_health,
    &cmd_services, &cmd_instances, &cmd_register, &cmd_run, &cmd_deregister, &cmd_drain,
    &cmd_undrain, &cmd_pick,
    &cmd_config,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_overview(FILE *out)
{
    fprintf(out, "usage: zkdisc [global options] COMMAND [ARGS...]\n\n"
                 "zkdisc browses and manages a ZooKeeper tree used for service discovery\n"
                 "and configuration.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nRun 'zkdisc COMMAND --help' for a command's options; the global options\n"
                 "(--zk, --root, --timeout, --auth, -o, -v) are listed there too.\n");
}

/* Global options that take a value, so their value is not taken for the command. */
static int takes_value(const char *arg)
{
    static const char *with_value[] = {"--zk", "--root", "--timeout", "--auth", "--output", "-o"};
    for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++)
        if (!strcmp(arg, with_value[i]))
            return 1;
    return 0;
}

static int find_command(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-')
            return i;
        if (takes_value(argv[i]))
            i++;
    }
    return -1;
}

int main(int argc, char **argv)
{
    cli ctx = {.zk = getenv("ZKDISC_ZK"), .root = getenv("ZKDISC_ROOT"),
               .auth = getenv("ZKDISC_AUTH"), .timeout_ms = 5000};
    if (!ctx.zk || !*ctx.zk)
        ctx.zk = "127.0.0.1:2181";
    if (!ctx.auth || !*ctx.auth)
        ctx.auth = NULL;

    int at = find_command(argc, argv);
    if (at < 0) {
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--version")) {
                printf("zkdisc %s\n", ZKD_VERSION_STRING);
                return EXIT_OK;
            }
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                print_overview(stdout);
                return EXIT_OK;
            }
        }
        print_overview(stderr);
        return EXIT_USAGE;
    }
    const cli_command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i]->name, argv[at]))
            cmd = commands[i];
    if (!cmd) {
        fprintf(stderr, "zkdisc: unknown command \"%s\"\n", argv[at]);
        print_overview(stderr);
        return EXIT_USAGE;
    }
    ctx.cmd = cmd->name;
    /* The command sees argv without its own name; global options may sit on
     * either side of it. */
    memmove(&argv[at], &argv[at + 1], (size_t)(argc - at) * sizeof *argv);
    int rc = cmd->run(&ctx, argc - 1, argv);
    zkd_close(ctx.client);
    return rc < 0 ? EXIT_OK : rc;
}
