/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc completion bash|zsh: completion scripts generated from the command
 * table itself (names, summaries, and the options each --help text lists),
 * so they cannot drift from the CLI; plus `completion paths PREFIX`,
 * `completion services`, `completion instances SERVICE` and `completion
 * apps`, which the scripts call for live completion from ZooKeeper when
 * ZKDISC_ZK is set or --zk is on the line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_config.h"

/* What --acl and acl set take besides SCHEME:ID:PERMS. */
#define ACL_PRESETS "open read-only creator"
/* ZooKeeper 3.8's four-letter words, for health --4lw. */
#define FOUR_LETTER_WORDS "conf cons crst dirs dump envi gtmk isro mntr ruok srst srvr stat wchc wchp wchs"
static const char *const global_opts =
    "--zk --root --timeout --auth --auth-file -o --output --pretty --no-headers -v --verbose --help";

/* The options a --help text names: "--long" words and "-X" flags, once each. */
static void print_options(const char *text)
{
    char seen[2048] = " ";
    for (const char *p = text; *p; p++) {
        if (*p != '-' || (p > text && !strchr(" [,(|\n", p[-1])))
            continue;
        size_t n = 1;
        if (p[1] == '-')
            while (isalnum((unsigned char)p[n + 1]) || p[n + 1] == '-')
                n++;
        else if (isalpha((unsigned char)p[1]) && !isalnum((unsigned char)p[2]) && p[2] != '-')
            n = 1;
        else
            continue;
        char word[64];
        snprintf(word, sizeof word, " %.*s ", (int)(n + 1), p);
        if (n + 1 < 3 && p[1] == '-')
            continue;
        if (strstr(seen, word) || strlen(seen) + strlen(word) >= sizeof seen)
            continue;
        strcat(seen, word + 1);
        printf("%.*s ", (int)(n + 1), p);
    }
}

static const cli_command *const config_subs[] = {
    &cfg_put, &cfg_set, &cfg_edit, &cfg_get, &cfg_history, &cfg_diff, &cfg_rollback,
    &cfg_watch, &cfg_list, &cfg_delete, &cfg_lock, &cfg_unlock,
};
#define NCONFIG (sizeof config_subs / sizeof config_subs[0])

/* Shell `case` arms: "    NAME) opts='...' ;;" for each command and config subcommand. */
static void print_option_cases(const char *indent)
{
    for (size_t i = 0; i < cli_ncommands; i++) {
        printf("%s%s) opts='", indent, cli_commands[i]->name);
        print_options(cli_commands[i]->usage);
        if (cli_commands[i] == &cmd_run) /* "[register's options]" */
            print_options(cmd_register.usage);
        printf("' ;;\n");
    }
    const cli_command *const *groups[] = {config_subs, acl_subs, svc_subs};
    size_t sizes[] = {NCONFIG, acl_nsubs, svc_nsubs};
    for (size_t g = 0; g < 3; g++)
        for (size_t i = 0; i < sizes[g]; i++) {
            printf("%s'%s') opts='", indent, groups[g][i]->name);
            print_options(groups[g][i]->usage);
            printf("' ;;\n");
        }
}

/* Every "--name VALUE" its --help text shows, so that the scan below skips
 * option values when it counts positional arguments. */
static void print_value_options_of(const char *text, char *seen, size_t len)
{
    for (const char *p = strstr(text, "--"); p; p = strstr(p + 2, "--")) {
        size_t n = 2;
        while (isalnum((unsigned char)p[n]) || p[n] == '-')
            n++;
        if (n == 2 || p[n] != ' ' || !isupper((unsigned char)p[n + 1]))
            continue;
        char word[64];
        snprintf(word, sizeof word, " %.*s ", (int)n, p);
        if (!strstr(seen, word) && strlen(seen) + strlen(word) < len) {
            strcat(seen, word + 1);
            printf("%.*s ", (int)n, p);
        }
    }
}

static void print_value_options(void)
{
    char seen[4096] = " ";
    for (size_t i = 0; i < cli_ncommands; i++)
        print_value_options_of(cli_commands[i]->usage, seen, sizeof seen);
    const cli_command *const *groups[] = {config_subs, acl_subs, svc_subs};
    size_t sizes[] = {NCONFIG, acl_nsubs, svc_nsubs};
    for (size_t g = 0; g < 3; g++)
        for (size_t i = 0; i < sizes[g]; i++)
            print_value_options_of(groups[g][i]->usage, seen, sizeof seen);
}

/* The subcommand names of acl or service, after "acl " or "service ". */
static void print_sub_names(const cli_command *const *subs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", strchr(subs[i]->name, ' ') + 1);
}

static void print_names(void)
{
    for (size_t i = 0; i < cli_ncommands; i++)
        printf("%s%s", i ? " " : "", cli_commands[i]->name);
}

static void print_config_names(void)
{
    for (size_t i = 0; i < NCONFIG; i++)
        printf("%s%s", i ? " " : "", config_subs[i]->name + strlen("config "));
}

/* Finds the command (and config's subcommand) on the line, skipping options
 * and their values; counts the positional arguments before the cursor
 * (npos; arg1 is the first) and keeps the connection options typed on the
 * line (zkargs, for the live part). Shared by both shells (arrays from 1 in
 * zsh). */
static void print_scan(const char *words, const char *first, const char *last)
{
    printf("    local cmd= sub= i w npos=0 arg1= dashdash= haszk=${ZKDISC_ZK:+1}\n"
           "    local -a zkargs=()\n"
           "    local valopts=' ");
    print_value_options();
    printf("'\n"
           "    for ((i = %s; i < %s; i++)); do\n"
           "        w=${%s[i]}\n"
           "        case $w in\n"
           "        --zk|--root|--timeout|--auth|--auth-file) zkargs+=(\"$w\" \"${%s[i+1]}\"); [[ $w == --zk ]] && haszk=1; ((i++)) ;;\n"
           "        --zk=*|--root=*|--timeout=*|--auth=*|--auth-file=*) zkargs+=(\"$w\"); [[ $w == --zk=* ]] && haszk=1 ;;\n"
           "        -o|--output) ((i++)) ;;\n"
           "        --) [[ -n $cmd ]] && { dashdash=1; break; } ;;\n"
           "        -*) [[ $valopts == *\" $w \"* ]] && ((i++)) ;;\n"
           "        *) if [[ -z $cmd ]]; then cmd=$w\n"
           "           elif [[ ($cmd == config || $cmd == acl || $cmd == service) && -z $sub ]]; then sub=$w\n"
           "           else [[ -z $arg1 ]] && arg1=$w; ((++npos)); fi ;;\n"
           "        esac\n"
           "    done\n"
           "    local key=$cmd opts=\n"
           "    [[ -n $sub ]] && key=\"$cmd $sub\"\n"
           "    case $key in\n",
           first, last, words, words);
    print_option_cases("    ");
    printf("    esac\n");
}

static void print_bash(void)
{
    printf("# bash completion for zkdisc; generated by `zkdisc completion bash`.\n"
           "# Paths, services, instance ids and apps are completed live from\n"
           "# ZooKeeper when ZKDISC_ZK is set or --zk is on the line.\n"
           "_zkdisc_live() { [[ -n $haszk ]] && zkdisc --timeout 2s \"${zkargs[@]}\" completion \"$@\" 2>/dev/null; }\n"
           "_zkdisc_words() { local -a live; mapfile -t live < <(_zkdisc_live \"$@\"); COMPREPLY=($(compgen -W \"${live[*]}\" -- \"$cur\")); }\n"
           "_zkdisc_paths() { mapfile -t COMPREPLY < <(_zkdisc_live paths \"${cur:-/}\"); compopt -o nospace 2>/dev/null; }\n"
           "_zkdisc_files() { compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); }\n"
           "_zkdisc() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
           "    COMPREPLY=()\n");
    print_scan("COMP_WORDS", "1", "COMP_CWORD");
    printf("    case $prev in\n"
           "    -o|--output) COMPREPLY=($(compgen -W 'text json' -- \"$cur\")); return ;;\n"
           "    --format) COMPREPLY=($(compgen -W 'json libconfig' -- \"$cur\")); return ;;\n"
           "    --acl) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n"
           "    --auth-file) _zkdisc_files; return ;;\n"
           "    --path) _zkdisc_paths; return ;;\n"
           "    --4lw) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n"
           "    esac\n"
           "    [[ $valopts == *\" $prev \"* || $prev == --zk || $prev == --root ]] && return\n"
           "    if [[ $cur == -* && -z $dashdash ]]; then\n"
           "        COMPREPLY=($(compgen -W \"$opts %s\" -- \"$cur\")); return\n"
           "    fi\n"
           "    [[ -n $dashdash ]] && { _zkdisc_files; return; }\n"
           "    case $cmd in\n"
           "    '') COMPREPLY=($(compgen -W '", ACL_PRESETS, FOUR_LETTER_WORDS, global_opts);
    print_names();
    printf("' -- \"$cur\")) ;;\n"
           "    import) _zkdisc_files ;;\n"
           "    ls|get|stat|tree|find|du|watch|rm|export|sync) _zkdisc_paths ;;\n"
           "    create|set) ((npos == 0)) && _zkdisc_paths ;;\n"
           "    grep) ((npos == 1)) && _zkdisc_paths ;;\n"
           "    deregister|drain|undrain)\n"
           "        if ((npos == 0)); then _zkdisc_words services\n"
           "        elif ((npos == 1)); then _zkdisc_words instances \"$arg1\"; fi ;;\n"
           "    instances|pick|register|run) ((npos == 0)) && _zkdisc_words services ;;\n"
           "    config)\n"
           "        if [[ -z $sub ]]; then COMPREPLY=($(compgen -W '");
    print_config_names();
    printf("' -- \"$cur\"))\n"
           "        elif ((npos == 0)) && [[ $sub != list ]]; then _zkdisc_words apps\n"
           "        elif ((npos == 1)) && [[ $sub == put ]]; then _zkdisc_files; fi ;;\n"
           "    service)\n"
           "        if [[ -z $sub ]]; then COMPREPLY=($(compgen -W '");
    print_sub_names(svc_subs, svc_nsubs);
    printf("' -- \"$cur\"))\n"
           "        elif ((npos == 0)); then _zkdisc_words services; fi ;;\n"
           "    acl)\n"
           "        if [[ -z $sub ]]; then COMPREPLY=($(compgen -W '");
    print_sub_names(acl_subs, acl_nsubs);
    printf("' -- \"$cur\"))\n"
           "        elif [[ $sub == get || $sub == set ]] && ((npos == 0)); then _zkdisc_paths\n"
           "        elif [[ $sub == set ]]; then COMPREPLY=($(compgen -W '%s' -- \"$cur\")); fi ;;\n"
           "    help) COMPREPLY=($(compgen -W 'global ", ACL_PRESETS);
    print_names();
    printf("' -- \"$cur\")) ;;\n"
           "    completion) ((npos == 0)) && COMPREPLY=($(compgen -W 'bash zsh' -- \"$cur\")) ;;\n"
           "    esac\n"
           "}\n"
           "complete -F _zkdisc zkdisc\n");
}

static void print_zsh(void)
{
    printf("#compdef zkdisc\n"
           "# zsh completion for zkdisc; generated by `zkdisc completion zsh`.\n"
           "# Paths, services, instance ids and apps are completed live from\n"
           "# ZooKeeper when ZKDISC_ZK is set or --zk is on the line.\n"
           "_zkdisc() {\n");
    print_scan("words", "2", "CURRENT");
    printf("    if [[ ${words[CURRENT-1]} == (-o|--output) ]]; then compadd text json; return; fi\n"
           "    if [[ $PREFIX == -* ]]; then compadd -- ${=opts} %s; return; fi\n"
           "    local -a cmds\n"
           "    cmds=(\n", global_opts);
    for (size_t i = 0; i < cli_ncommands; i++) {
        printf("        '%s:", cli_commands[i]->name);
        for (const char *c = cli_commands[i]->summary; *c; c++) /* ' closes, escapes, reopens */
            fputs(*c == '\'' ? "'\\''" : (char[]){*c, 0}, stdout);
        printf("'\n");
    }
    printf("    )\n"
           "    _zl() { [[ -n $haszk ]] && zkdisc --timeout 2s \"${zkargs[@]}\" completion \"$@\" 2>/dev/null; }\n"
           "    local -a live\n"
           "    case ${words[CURRENT-1]} in\n"
           "    --acl) compadd -- %s; return ;;\n"
           "    --format) compadd json libconfig; return ;;\n"
           "    --auth-file) _files; return ;;\n"
           "    esac\n"
           "    [[ $valopts == *\" ${words[CURRENT-1]} \"* ]] && return\n"
           "    [[ -n $dashdash ]] && { _files; return; }\n"
           "    case $cmd in\n"
           "    '') _describe command cmds ;;\n"
           "    import) _files ;;\n"
           "    ls|get|stat|tree|find|grep|du|watch|create|set|rm|export|sync)\n"
           "        live=(${(f)\"$(_zl paths ${PREFIX:-/})\"}); compadd -S '' -- $live ;;\n"
           "    deregister|drain|undrain)\n"
           "        if ((npos == 0)); then live=(${(f)\"$(_zl services)\"})\n"
           "        else live=(${(f)\"$(_zl instances $arg1)\"}); fi\n"
           "        compadd -- $live ;;\n"
           "    instances|pick|register|run) live=(${(f)\"$(_zl services)\"}); compadd -- $live ;;\n"
           "    config)\n"
           "        if [[ -z $sub ]]; then compadd -- ", ACL_PRESETS);
    print_config_names();
    printf("\n"
           "        elif ((npos == 1)) && [[ $sub == put ]]; then _files\n"
           "        else live=(${(f)\"$(_zl apps)\"}); compadd -- $live; fi ;;\n"
           "    service)\n"
           "        if [[ -z $sub ]]; then compadd -- ");
    print_sub_names(svc_subs, svc_nsubs);
    printf("\n"
           "        else live=(${(f)\"$(_zl services)\"}); compadd -- $live; fi ;;\n"
           "    acl)\n"
           "        if [[ -z $sub ]]; then compadd -- ");
    print_sub_names(acl_subs, acl_nsubs);
    printf("\n"
           "        elif ((npos == 0)); then live=(${(f)\"$(_zl paths ${PREFIX:-/})\"}); compadd -S '' -- $live\n"
           "        else compadd -- %s; fi ;;\n"
           "    help) compadd -- global ", ACL_PRESETS);
    print_names();
    printf(" ;;\n"
           "    completion) compadd bash zsh ;;\n"
           "    esac\n"
           "}\n"
           "_zkdisc \"$@\"\n");
}

/* Children of the folder part of PREFIX whose full path starts with PREFIX. */
static int live_paths(cli *ctx, const char *prefix)
{
    if (prefix[0] != '/')
        return 0;
    char parent[1024];
    const char *slash = strrchr(prefix, '/');
    snprintf(parent, sizeof parent, "%.*s", slash == prefix ? 1 : (int)(slash - prefix), prefix);
    int rc = cli_connect(ctx);
    zkd_strings kids;
    zkd_error err;
    if (rc || zkd_node_children(ctx->client, parent, &kids, NULL, &err))
        return rc ? rc : EXIT_ERROR;
    for (size_t i = 0; i < kids.count; i++) {
        char full[2048];
        snprintf(full, sizeof full, "%s/%s", strcmp(parent, "/") ? parent : "", kids.items[i]);
        if (!strncmp(full, prefix, strlen(prefix)))
            puts(full);
    }
    zkd_strings_free(&kids);
    return 0;
}

/* The children of <root>/<folder>: service or app names. */
static int live_names(cli *ctx, const char *folder)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ctx->root && *ctx->root ? ctx->root : "/zkdisc", folder);
    int rc = cli_connect(ctx);
    zkd_strings kids;
    zkd_error err;
    if (rc || zkd_node_children(ctx->client, path, &kids, NULL, &err))
        return rc ? rc : EXIT_ERROR;
    for (size_t i = 0; i < kids.count; i++)
        puts(kids.items[i]);
    zkd_strings_free(&kids);
    return 0;
}

static int run_completion(cli *ctx, int argc, char **argv)
{
    int first, rc = cli_parse(ctx, &cmd_completion, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc || (rc = cli_expect_args(ctx, &cmd_completion, argc - first, 1, 2)))
        return rc;
    const char *what = argv[first];
    char folder[300];
    if (argc - first > 1 && strlen(argv[first + 1]) > 200)
        return EXIT_USAGE;
    if (!strcmp(what, "bash"))
        print_bash();
    else if (!strcmp(what, "zsh"))
        print_zsh();
    else if (!strcmp(what, "paths"))
        return live_paths(ctx, argc - first > 1 ? argv[first + 1] : "/");
    else if (!strcmp(what, "services"))
        return live_names(ctx, "services");
    else if (!strcmp(what, "apps"))
        return live_names(ctx, "config");
    else if (!strcmp(what, "instances") && argc - first > 1)
        return live_names(ctx, strcat(strcpy(folder, "services/"), argv[first + 1]));
    else
        return cli_error(ctx, EXIT_USAGE, "completion takes bash or zsh, not \"%s\"", what);
    return 0;
}

const cli_command cmd_completion = {
    "completion", "print a shell completion script (bash, zsh)",
    "completion bash|zsh\n\n"
    "Prints a completion script for the shell: commands, their options, files\n"
    "where a file is expected, ACL presets after --acl, and live completion of\n"
    "paths, service names, instance ids and config apps from ZooKeeper. The\n"
    "Debian package installs both; by hand:\n"
    "  source <(zkdisc completion bash)                 # bash, e.g. in ~/.bashrc\n"
    "  zkdisc completion zsh > \"${fpath[1]}/_zkdisc\"     # zsh\n"
    "The live part runs when ZKDISC_ZK is set or --zk is on the line being\n"
    "completed (with its --root and --auth-file): the scripts call 'zkdisc\n"
    "completion paths PREFIX', 'completion services', 'completion instances\n"
    "SERVICE' and 'completion apps' (one name per line).",
    run_completion};
