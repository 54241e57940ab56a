/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc help [COMMAND [SUBCOMMAND]] and zkdisc version. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"

static void overview(void)
{
    printf("usage: zkdisc [global options] COMMAND [ARGS...]\n\n"
           "zkdisc browses and manages a ZooKeeper tree used for service discovery\n"
           "and configuration.\n\nCommands:\n");
    for (size_t i = 0; i < cli_ncommands; i++)
        printf("  %-12s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    printf("\nRun 'zkdisc help COMMAND' for a command's options, 'zkdisc help global'\n"
           "for the options every command takes (--zk, --root, -o json...), and\n"
           "'man zkdisc' for the whole manual.\n");
}

static int run_help(cli *ctx, int argc, char **argv)
{
    int at = cli_find_word(argc, argv);
    if (at < 0) {
        for (int i = 1; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                cli_print_help(&cmd_help);
                return -1;
            }
        overview();
        return -1;
    }
    if (!strcmp(argv[at], "global")) {
        cli_print_global_help(stdout);
        return -1;
    }
    const cli_command *cmd = cli_lookup(ctx, cli_commands, cli_ncommands, 0, "command", argv[at]);
    if (!cmd) {
        fprintf(stderr, "Run 'zkdisc help' for the commands.\n");
        return EXIT_USAGE;
    }
    /* `help CMD [SUB]` is `CMD [SUB] --help`: one place knows each text. */
    char *args[8] = {argv[0]};
    int n = 1;
    for (int i = at + 1; i < argc && n < 6; i++)
        if (argv[i][0] != '-')
            args[n++] = argv[i];
    args[n++] = "--help";
    args[n] = NULL;
    ctx->cmd = cmd->name;
    return cmd->run(ctx, n, args);
}

const cli_command cmd_help = {
    "help", "show the commands, or one command's options",
    "help [COMMAND [SUBCOMMAND] | global]\n\n"
    "Without an argument, lists the commands. With a COMMAND, prints its\n"
    "options (the same as 'zkdisc COMMAND --help'); 'zkdisc help global' prints\n"
    "the options every command takes and the exit codes.",
    run_help};

static int run_version(cli *ctx, int argc, char **argv)
{
    int first, rc = cli_parse(ctx, &cmd_version, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc || (rc = cli_expect_args(ctx, &cmd_version, argc - first, 0, 0)))
        return rc;
    if (ctx->json)
        render_json(json_pack("{s:s}", "version", ZKD_VERSION_STRING));
    else
        printf("zkdisc %s\n", ZKD_VERSION_STRING);
    return 0;
}

const cli_command cmd_version = {
    "version", "print zkdisc's version",
    "version\n\n"
    "Prints \"zkdisc VERSION\" (also 'zkdisc --version' and 'zkdisc -V').\n"
    "-o json gives {\"version\": \"X.Y.Z\"}.",
    run_version};
