/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc shell`: every command over one ZooKeeper session, with a working
 * node (cd, pwd, relative paths through cu_path), line editing, history and
 * completion from libedit. Each line runs the command in this process with
 * a fresh copy of the shell's context, so options given on one line do not
 * stick to the next. */
#include <editline/readline.h>
#include <errno.h>
#include <histedit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"

static const char *const builtins[] = {"cd", "pwd", "exit", "quit"};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

/* What the completion callbacks (which take no user pointer) reach. */
static struct {
    zkd_client *client;
    const char *cwd;
} shell_state;

/* ---- history ---------------------------------------------------------------------- */

/* $XDG_STATE_HOME/zkdisc/history, else ~/.local/state/zkdisc/history; the
 * directories are created (0700). 0, or -1 when there is no home. */
static int history_path(char *out, size_t len)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (state && *state == '/')
        snprintf(dir, sizeof dir, "%s/zkdisc", state);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/zkdisc", home);
    else
        return -1;
    /* mkdir -p, one level at a time */
    for (char *p = strchr(dir + 1, '/');; p = strchr(p + 1, '/')) {
        if (p)
            *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        if (!p)
            break;
        *p = '/';
    }
    return snprintf(out, len, "%s/history", dir) < (int)len ? 0 : -1;
}

/* ---- completion -------------------------------------------------------------------- */

static char **names_now;
static size_t nnames_now;

static void names_clear(void)
{
    for (size_t i = 0; i < nnames_now; i++)
        free(names_now[i]);
    free(names_now);
    names_now = NULL;
    nnames_now = 0;
}

static void names_add(const char *s)
{
    char **grown = realloc(names_now, (nnames_now + 1) * sizeof *grown);
    if (!grown)
        return;
    names_now = grown;
    if ((names_now[nnames_now] = strdup(s)))
        nnames_now++;
}

/* The generator over names_now (filled by the caller for this completion). */
static char *next_name(const char *text, int state)
{
    static size_t i;
    if (!state)
        i = 0;
    while (i < nnames_now)
        if (!strncmp(names_now[i++], text, strlen(text)))
            return strdup(names_now[i - 1]);
    return NULL;
}

/* Children of the node TEXT's folder part names, spelled as TEXT spells it
 * (relative stays relative). */
static void fill_paths(const char *text)
{
    const char *slash = strrchr(text, '/');
    char dir[4096], full[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - text) + 1 : 0, text);
    if (cu_resolve(shell_state.cwd, *dir ? dir : ".", full, sizeof full) != 0)
        return;
    zkd_strings kids;
    if (zkd_node_children(shell_state.client, full, &kids, NULL, NULL) != 0)
        return;
    for (size_t i = 0; i < kids.count; i++) {
        char name[4096];
        snprintf(name, sizeof name, "%s%s", dir, kids.items[i]);
        names_add(name);
    }
    zkd_strings_free(&kids);
}

/* One match that is a node with children gets a "/" so TAB goes on down. */
static void set_append(char **matches, int is_path)
{
    rl_completion_append_character = ' ';
    /* One match: libedit lists it at [0] and again at [1]; readline at [0] only. */
    if (!is_path || !matches || !matches[0] || (matches[1] && matches[2]))
        return;
    char full[4096];
    zkd_stat st;
    rl_completion_append_character = '\0';
    if (cu_resolve(shell_state.cwd, matches[0], full, sizeof full) == 0 &&
        zkd_node_stat(shell_state.client, full, &st, NULL) == 0 && st.num_children > 0)
        rl_completion_append_character = '/';
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    names_clear();
    /* The words before the one completed: the command, and a group's subcommand. */
    char line[4096], *save = NULL;
    snprintf(line, sizeof line, "%.*s", start, rl_line_buffer);
    const char *w1 = strtok_r(line, " \t", &save), *w2 = w1 ? strtok_r(NULL, " \t", &save) : NULL;
    int is_path = 0;
    if (!w1) {
        for (size_t i = 0; i < cli_ncommands; i++)
            names_add(cli_commands[i]->name);
        for (size_t i = 0; i < NBUILTINS; i++)
            names_add(builtins[i]);
    } else if (!w2 && (!strcmp(w1, "acl") || !strcmp(w1, "service") || !strcmp(w1, "help"))) {
        const cli_command *const *subs = !strcmp(w1, "acl") ? acl_subs : svc_subs;
        size_t n = !strcmp(w1, "acl") ? acl_nsubs : svc_nsubs;
        if (!strcmp(w1, "help"))
            n = 0;
        for (size_t i = 0; i < n; i++)
            names_add(strchr(subs[i]->name, ' ') + 1);
        for (size_t i = 0; !n && i < cli_ncommands; i++)
            names_add(cli_commands[i]->name);
    } else if (!w2 && !strcmp(w1, "config")) {
        static const char *const cfg[] = {"put", "set", "edit", "get", "history", "diff",
                                          "rollback", "watch", "list", "delete", "lock", "unlock"};
        for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++)
            names_add(cfg[i]);
    } else if (text[0] != '-') {
        fill_paths(text);
        is_path = 1;
    }
    char **m = rl_completion_matches(text, next_name);
    set_append(m, is_path);
    return m;
}

/* ---- cd and pwd ---------------------------------------------------------------------- */

static int do_cd(cli *ctx, char **cwd, char **prev, int argc, char **argv)
{
    if (argc > 2)
        return cli_error(ctx, EXIT_USAGE, "cd takes one path");
    const char *arg = argc < 2 ? "/" : strcmp(argv[1], "-") ? argv[1] : *prev;
    char full[4096];
    zkd_error err;
    int rc;
    if (cu_resolve(*cwd, arg, full, sizeof full) != 0)
        return cli_error(ctx, EXIT_USAGE, "path too long");
    if ((rc = zkd_validate_path(full, &err)) || (rc = zkd_node_stat(ctx->client, full, NULL, &err)))
        return cli_fail(ctx, rc, &err);
    free(*prev);
    *prev = *cwd;
    *cwd = strdup(full);
    return 0;
}

/* ---- running a line ---------------------------------------------------------------------- */

/* Ctrl-C and SIGTERM end a running watch, register or run and come back to
 * the prompt; they never end the shell. Commands take them two ways: by
 * sigwait (register, run, instances --watch, config watch), which needs
 * them blocked in every thread, as the shell keeps them; or by a handler
 * (watch), which needs them deliverable to this thread while it runs. */
static void on_interrupt(int sig)
{
    (void)sig;
}

static void quiet_signals(void)
{
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Runs cmd with SIGINT and SIGTERM open to this thread alone (the
 * session's threads keep them blocked), after dropping one left pending
 * from the prompt, which must not end the command at once. */
static int run_interruptible(const cli_command *cmd, cli *c, int argc, char **argv,
                             const sigset_t *sigs)
{
    struct timespec zero = {0, 0};
    while (sigtimedwait(sigs, NULL, &zero) > 0) {
    }
    sigset_t open;
    sigemptyset(&open);
    sigaddset(&open, SIGINT);
    sigaddset(&open, SIGTERM);
    quiet_signals();
    pthread_sigmask(SIG_UNBLOCK, &open, NULL);
    int rc = cmd->run(c, argc, argv);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
    quiet_signals();
    return rc;
}

static int run_line(const cli *base, char **cwd, char **prev, int argc, char **argv,
                    const sigset_t *sigs)
{
    cli c = *base;
    c.cwd = *cwd;
    c.cmd = "shell";
    if (!strcmp(argv[0], "pwd")) {
        printf("%s\n", *cwd);
        return 0;
    }
    if (!strcmp(argv[0], "cd"))
        return do_cd(&c, cwd, prev, argc, argv);
    if (!strcmp(argv[0], "shell"))
        return cli_error(&c, EXIT_USAGE, "already in the shell");
    const cli_command *cmd = cli_lookup(&c, cli_commands, cli_ncommands, 0, "command", argv[0]);
    if (!cmd)
        return EXIT_USAGE;
    c.cmd = cmd->name;
    int pretty = render_json_is_pretty();
    /* The command sees argv with argv[0] its own name, as main hands it over. */
    int rc = run_interruptible(cmd, &c, argc, argv, sigs);
    render_json_pretty(pretty);
    if (c.client != base->client) /* a command that needed a session of its own */
        zkd_close(c.client);
    fflush(NULL);
    return rc < 0 ? 0 : rc;
}

/* Splits a line as sh would (quotes, backslashes) into a malloc'd argv the
 * command may change: commands move entries around (a group drops its
 * subcommand), so the strings are also listed after argv's NULL, for
 * free_argv. -1 when a quote is not closed. */
static int split(Tokenizer *tok, const char *line, int *argc, char ***argv)
{
    const char **words;
    int n;
    tok_reset(tok);
    if (tok_str(tok, line, &n, &words) != 0)
        return -1;
    char **v = calloc(2 * ((size_t)n + 1), sizeof *v);
    for (int i = 0; v && i < n; i++)
        v[i] = v[n + 1 + i] = strdup(words[i]);
    *argc = n;
    *argv = v;
    return v ? 0 : -1;
}

static void free_argv(char **v, int argc)
{
    for (int i = 0; v && i < argc; i++)
        free(v[argc + 1 + i]);
    free(v);
}

/* A line from the terminal (libedit) or, when stdin is not one, plainly. */
static char *next_line(int interactive, const char *cwd)
{
    if (interactive) {
        char prompt[4200];
        snprintf(prompt, sizeof prompt, "zkdisc %s> ", cwd);
        return readline(prompt);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static int loop(cli *ctx, int interactive, const sigset_t *sigs)
{
    char hist[4096];
    int have_hist = interactive && history_path(hist, sizeof hist) == 0;
    if (have_hist) {
        stifle_history(1000);
        read_history(hist);
    }
    Tokenizer *tok = tok_init(NULL);
    char *cwd = strdup("/"), *prev = strdup("/");
    int rc = 0;
    char *line;
    while (tok && (line = next_line(interactive, cwd))) {
        int argc = 0;
        char **argv = NULL;
        const char *p = line + strspn(line, " \t");
        if (*p && *p != '#' && interactive) {
            add_history(line);
            if (have_hist)
                write_history(hist);
        }
        shell_state.cwd = cwd;
        if (!*p || *p == '#') {
            /* nothing */
        } else if (split(tok, line, &argc, &argv) != 0) {
            rc = cli_error(ctx, EXIT_USAGE, "unbalanced quotes");
        } else if (argc && (!strcmp(argv[0], "exit") || !strcmp(argv[0], "quit"))) {
            if (argc > 1)
                cli_parse_int(ctx, "exit", argv[1], 0, &rc);
            free_argv(argv, argc);
            free(line);
            break;
        } else if (argc) {
            rc = run_line(ctx, &cwd, &prev, argc, argv, sigs);
            shell_state.cwd = cwd;
        }
        free_argv(argv, argc);
        free(line);
    }
    if (tok)
        tok_end(tok);
    free(cwd);
    free(prev);
    return rc;
}

static int run_shell(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cli_parse(ctx, &cmd_shell, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (rc || (rc = cli_expect_args(ctx, &cmd_shell, argc - first, 0, 0)))
        return rc;
    /* Block what watch, register and run wait for with sigwait before the
     * session's threads exist, so that they inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    quiet_signals();
    if ((rc = cli_connect(ctx)))
        return rc;
    shell_state.client = ctx->client;
    int interactive = isatty(STDIN_FILENO);
    if (interactive) {
        rl_readline_name = "zkdisc";
        rl_catch_signals = 0;
        rl_attempted_completion_function = complete;
    }
    rc = loop(ctx, interactive, &sigs);
    names_clear();
    if (interactive)
        printf("\n");
    return rc;
}

const cli_command cmd_shell = {
    "shell", "an interactive shell: every command over one session, cd, pwd",
    "shell\n\n"
    "Reads commands, one a line, and runs each over one ZooKeeper session (the\n"
    "one the global options on the shell's line open): every zkdisc command,\n"
    "written without \"zkdisc\" (ls, get /a, config edit orders, watch ...),\n"
    "quoted as in sh. Builtins:\n"
    "  cd [PATH|-]  change the working node (default /; - the previous one)\n"
    "  pwd          print it\n"
    "  exit [N]     leave (so does end of input, Ctrl-D); exits N, else the\n"
    "               last command's exit code\n"
    "Paths that do not start with / are relative to the working node; . and ..\n"
    "work. On a terminal it edits lines (libedit), completes commands and paths\n"
    "with TAB, and keeps history in $XDG_STATE_HOME/zkdisc/history (default\n"
    "~/.local/state/zkdisc/history). Ctrl-C stops a running watch or register\n"
    "and returns to the prompt. Reading a pipe, it runs the lines without a\n"
    "prompt: echo 'ls /' | zkdisc shell.",
    run_shell};
