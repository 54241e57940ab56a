/* SPDX-License-Identifier: Apache-2.0 */
/* zk-harness - real ZooKeeper servers for shell tests (see harness.sh).
 *
 * `zk-harness start` forks a keeper daemon that owns the servers and returns once they
 * serve. The keeper is the parent of every java process (so they get SIGKILL from the kernel
 * if the keeper dies, even by SIGKILL), it tears everything down when the owner process
 * (the shell test) is gone, and it carries out the other sub-commands, which reach it over a
 * unix socket in the state directory. Restarted servers are thus still its children.
 */
#include "zkh.h"
#include "zkserver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SOCKET_NAME "ctl.sock"
#define OWNER_POLL_MS 200
#define CLIENT_IO_TIMEOUT_MS 5000
#define REPLY_TIMEOUT_MS 300000 /* a restart waits up to a minute for a quorum */
#define DEFAULT_WAIT_MS 60000

static const char usage[] =
    "usage: zk-harness start --servers N --dir STATEDIR [--owner PID] [--timeout MS]\n"
    "       zk-harness COMMAND STATEDIR [ARGS]\n"
    "\n"
    "start     starts N (1, 3, 5, ...) ZooKeeper servers on loopback, owned by a keeper\n"
    "          process that stops them when PID (default: the parent of zk-harness) is\n"
    "          gone or on `down`; returns once they serve and prints the connect string.\n"
    "          Pass --owner $$ from a shell: in $(...) the parent may be a subshell.\n"
    "          STATEDIR is created if missing; server data dirs and keeper.log go there.\n"
    "\n"
    "commands (I is a server index from 0):\n"
    "  connect DIR          print the connect string 127.0.0.1:p0,127.0.0.1:p1,...\n"
    "  count DIR            print the number of servers\n"
    "  address DIR I        print 127.0.0.1:port of server I\n"
    "  port DIR I           print the client port of server I\n"
    "  pid DIR I            print the pid of server I (0 if it is not running)\n"
    "  datadir DIR I        print the data directory of server I\n"
    "  stop DIR I           stop server I gracefully (SIGTERM) and wait for it to exit\n"
    "  kill DIR I           kill server I with SIGKILL\n"
    "  restart DIR I        start server I again on the same ports and data; wait until it\n"
    "                       serves (in an ensemble: as leader or follower)\n"
    "  wait DIR I [MS]      wait until server I serves (default 60000 ms)\n"
    "  leader DIR           print the index of the current leader (-1 and exit 1 if none)\n"
    "  wait-leader DIR [MS] wait for a leader and print its index (default 60000 ms)\n"
    "  down DIR             stop every server, remove their data, end the keeper\n"
    "\n"
    "Exit status 0 on success, 1 on failure (the reason goes to stderr), 2 on bad usage.\n"
    "ZKH_KEEP=1 keeps the server data dirs; ZKDISC_JAVA and ZKDISC_ZOOKEEPER_JAR override\n"
    "the java launcher and the ZooKeeper jar.\n";

/* ---- small helpers ---------------------------------------------------------------------- */

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zk-harness: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(zk-harness --help for usage)\n");
    va_end(ap);
    return 2;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < INT_MIN || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

static int socket_path(const char *dir, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/" SOCKET_NAME, dir);
    return n > 0 && (size_t)n < sizeof sa->sun_path ? 0 : -1;
}

static void logmsg(const char *fmt, ...)
{
    char stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%H:%M:%S", localtime(&now));
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s keeper[%d]: ", stamp, (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The end of the keeper's log (which is where zkh prints why something failed). */
static void keeper_log_tail(const char *dir, char *out, size_t outlen)
{
    char path[PATH_MAX + 32];
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/keeper.log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    size_t want = outlen - 1;
    off_t start = size > (off_t)want ? size - (off_t)want : 0;
    ssize_t n = pread(fd, out, want, start);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- the keeper: owner tracking --------------------------------------------------------- */

/* Field 22 of /proc/PID/stat (start time), so that a recycled pid does not keep us alive;
 * 0 if unknown. Sets *zombie when the process has exited but is not reaped yet. */
static unsigned long long process_start_time(pid_t pid, int *zombie)
{
    char path[64], buf[1024];
    *zombie = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!p)
        return 0;
    char state;
    unsigned long long start = 0;
    if (sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                      "%*s %*s %*s %llu", &state, &start) != 2)
        return 0;
    *zombie = state == 'Z' || state == 'X';
    return start;
}

struct owner {
    pid_t pid;
    unsigned long long start_time;
};

static int owner_alive(const struct owner *o)
{
    if (kill(o->pid, 0) == -1 && errno == ESRCH)
        return 0;
    int zombie;
    unsigned long long start = process_start_time(o->pid, &zombie);
    if (zombie)
        return 0;
    return o->start_time == 0 || start == 0 || start == o->start_time;
}

/* ---- the keeper: commands --------------------------------------------------------------- */

struct keeper {
    zkh *h;
    const char *dir;
    int quit;
};

struct reply {
    char text[8192];
    int ok;
};

__attribute__((format(printf, 3, 4)))
static void answer(struct reply *r, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
    r->ok = ok;
}

static void answer_failure(struct keeper *k, struct reply *r, const char *what)
{
    char tail[3000];
    fflush(stderr);
    keeper_log_tail(k->dir, tail, sizeof tail);
    answer(r, 0, "%s failed; %s/keeper.log ends with:\n%s", what, k->dir, tail);
}

static int server_arg(struct keeper *k, const char *arg, struct reply *r)
{
    int i;
    if (parse_int(arg, &i) != 0 || i < 0 || i >= zkh_count(k->h)) {
        answer(r, 0, "no server '%s'; servers are numbered 0 to %d", arg ? arg : "",
               zkh_count(k->h) - 1);
        return -1;
    }
    return i;
}

static int wait_arg(const char *arg)
{
    int ms;
    return arg && parse_int(arg, &ms) == 0 && ms >= 0 ? ms : DEFAULT_WAIT_MS;
}

static void cmd_server_info(struct keeper *k, const char *cmd, int i, struct reply *r)
{
    if (strcmp(cmd, "address") == 0)
        answer(r, 1, "%s", zkh_server_address(k->h, i));
    else if (strcmp(cmd, "port") == 0)
        answer(r, 1, "%d", zkh_client_port(k->h, i));
    else if (strcmp(cmd, "pid") == 0)
        answer(r, 1, "%d", (int)zkh_pid(k->h, i));
    else
        answer(r, 1, "%s", zkh_data_dir(k->h, i));
}

static void cmd_server_action(struct keeper *k, const char *cmd, int i, const char *arg,
                              struct reply *r)
{
    int rc;
    if (strcmp(cmd, "stop") == 0)
        rc = zkh_stop_server(k->h, i);
    else if (strcmp(cmd, "kill") == 0)
        rc = zkh_kill_server(k->h, i);
    else if (strcmp(cmd, "restart") == 0)
        rc = zkh_restart_server(k->h, i);
    else
        rc = zkh_wait_serving(k->h, i, wait_arg(arg));
    if (rc == 0)
        answer(r, 1, "%s", "");
    else
        answer_failure(k, r, cmd);
}

static void cmd_leader(struct keeper *k, const char *cmd, const char *arg, struct reply *r)
{
    int leader = strcmp(cmd, "leader") == 0 ? zkh_leader(k->h)
                                            : zkh_wait_leader(k->h, wait_arg(arg));
    answer(r, leader >= 0, "%d", leader);
}

static void cmd_down(struct keeper *k, struct reply *r)
{
    zkh_stop(k->h); /* before answering, so that `down` returns once the servers are gone */
    k->h = NULL;
    k->quit = 1;
    answer(r, 1, "%s", "");
}

static int is_one_of(const char *cmd, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(cmd, *names) == 0)
            return 1;
    return 0;
}

static void run_command(struct keeper *k, char *line, struct reply *r)
{
    static const char *const info[] = { "address", "port", "pid", "datadir", NULL };
    static const char *const actions[] = { "stop", "kill", "restart", "wait", NULL };
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\r\n", &save);
    char *arg1 = strtok_r(NULL, " \t\r\n", &save);
    char *arg2 = strtok_r(NULL, " \t\r\n", &save);
    if (!cmd)
        cmd = "";
    logmsg("command: %s %s %s", cmd, arg1 ? arg1 : "", arg2 ? arg2 : "");
    int i = 0;
    if ((is_one_of(cmd, info) || is_one_of(cmd, actions)) &&
        (i = server_arg(k, arg1, r)) < 0)
        return;
    if (is_one_of(cmd, info))
        cmd_server_info(k, cmd, i, r);
    else if (is_one_of(cmd, actions))
        cmd_server_action(k, cmd, i, arg2, r);
    else if (strcmp(cmd, "connect") == 0)
        answer(r, 1, "%s", zkh_connect_string(k->h));
    else if (strcmp(cmd, "count") == 0)
        answer(r, 1, "%d", zkh_count(k->h));
    else if (strcmp(cmd, "leader") == 0 || strcmp(cmd, "wait-leader") == 0)
        cmd_leader(k, cmd, arg1, r);
    else if (strcmp(cmd, "down") == 0)
        cmd_down(k, r);
    else
        answer(r, 0, "unknown command '%s'", cmd);
}

/* ---- the keeper: socket ----------------------------------------------------------------- */

static int read_line(int fd, char *buf, size_t len)
{
    size_t used = 0;
    while (used + 1 < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, CLIENT_IO_TIMEOUT_MS) <= 0)
            return -1;
        ssize_t n = read(fd, buf + used, 1);
        if (n <= 0)
            break;
        if (buf[used] == '\n')
            break;
        used++;
    }
    buf[used] = '\0';
    return used > 0 ? 0 : -1;
}

static void serve_client(struct keeper *k, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    char line[512];
    if (read_line(fd, line, sizeof line) == 0) {
        struct reply r;
        run_command(k, line, &r);
        char head[4];
        snprintf(head, sizeof head, "%s", r.ok ? "OK " : "ERR");
        if (write_all(fd, head, 3) == 0 && write_all(fd, "\n", 1) == 0)
            write_all(fd, r.text, strlen(r.text));
    }
    close(fd);
}

static int listen_socket(const char *dir, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (socket_path(dir, &sa) != 0) {
        snprintf(err, errlen, "state directory path too long for a socket: %s", dir);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(sa.sun_path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", sa.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void keeper_loop(struct keeper *k, int lfd, const struct owner *owner)
{
    while (!k->quit) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        if (poll(&p, 1, OWNER_POLL_MS) > 0)
            serve_client(k, lfd);
        if (!k->quit && !owner_alive(owner)) {
            logmsg("owner %d is gone; tearing down", (int)owner->pid);
            break;
        }
    }
}

/* ---- the keeper: life cycle ------------------------------------------------------------- */

struct start_args {
    int servers;
    int timeout_ms;
    char dir[PATH_MAX];
    struct owner owner;
};

/* Detaches from the caller's terminal and output: a $(zk-harness start) must see EOF, and a
 * Ctrl-C for the test must reach the test (whose trap calls `down`), not the keeper. */
static void become_daemon(const char *dir, int *report_fd)
{
    setsid();
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/keeper.log", dir);
    int log = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
    dup2(*report_fd, 3);
    *report_fd = 3;
    close_range(4, ~0U, 0);
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (chdir("/") != 0)
        logmsg("chdir /: %s", strerror(errno));
}

static void write_pid_file(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/keeper.pid", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
}

static void report(int fd, const char *status, const char *text)
{
    dprintf(fd, "%s %s\n", status, text);
    close(fd);
}

/* After `down` the shell (harness.sh) removes the state directory itself. When the owner
 * vanished there is nobody left to do it, so the keeper removes its log and the directory,
 * if that leaves it empty. */
static void remove_keeper_files(const char *dir, int owner_gone)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/" SOCKET_NAME, dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/keeper.pid", dir);
    unlink(path);
    const char *keep = getenv("ZKH_KEEP");
    if (!owner_gone || (keep && *keep))
        return;
    snprintf(path, sizeof path, "%s/keeper.log", dir);
    unlink(path);
    rmdir(dir);
}

static int run_keeper(const struct start_args *a, int report_fd)
{
    become_daemon(a->dir, &report_fd);
    logmsg("starting %d server(s) in %s for owner %d", a->servers, a->dir, (int)a->owner.pid);
    char err[8192];
    zkh_options opts = { .nservers = a->servers, .base_dir = a->dir,
                         .start_timeout_ms = a->timeout_ms };
    struct keeper k = { .dir = a->dir };
    k.h = zkh_start_opts(&opts, err, sizeof err);
    int lfd = k.h ? listen_socket(a->dir, err, sizeof err) : -1;
    if (lfd < 0) {
        logmsg("start failed: %s", err);
        zkh_stop(k.h);
        report(report_fd, "ERR", err);
        return 1;
    }
    write_pid_file(a->dir);
    logmsg("serving at %s", zkh_connect_string(k.h));
    report(report_fd, "OK", zkh_connect_string(k.h));
    keeper_loop(&k, lfd, &a->owner);
    close(lfd);
    zkh_stop(k.h);
    logmsg("done");
    remove_keeper_files(a->dir, !k.quit);
    return 0;
}

/* ---- the start command ------------------------------------------------------------------ */

static int parse_start(int argc, char **argv, struct start_args *a)
{
    const char *dir = NULL;
    int owner = (int)getppid();
    a->servers = 1;
    a->timeout_ms = 0;
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(opt, "--servers") == 0)
            bad = parse_int(val, &a->servers) != 0 || a->servers < 1 ||
                  a->servers > ZKH_MAX_SERVERS;
        else if (strcmp(opt, "--owner") == 0)
            bad = parse_int(val, &owner) != 0 || owner <= 0;
        else if (strcmp(opt, "--timeout") == 0)
            bad = parse_int(val, &a->timeout_ms) != 0 || a->timeout_ms < 0;
        else if (strcmp(opt, "--dir") == 0)
            dir = val;
        else
            return bad_usage("start: unknown option '%s'", opt);
        if (bad || !val)
            return bad_usage("start: %s needs a valid value", opt);
        i++;
    }
    if (!dir)
        return bad_usage("start: --dir STATEDIR is required");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "zk-harness: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!realpath(dir, a->dir)) {
        fprintf(stderr, "zk-harness: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int zombie;
    a->owner.pid = owner;
    a->owner.start_time = process_start_time(owner, &zombie);
    return 0;
}

static int keeper_running(const char *dir)
{
    struct sockaddr_un sa;
    if (socket_path(dir, &sa) != 0)
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int up = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return up;
}

/* Waits for the keeper's one-line verdict and relays it. */
static int await_keeper(int fd, const char *dir)
{
    char buf[8192];
    size_t used = 0;
    ssize_t n;
    while (used + 1 < sizeof buf && (n = read(fd, buf + used, sizeof buf - 1 - used)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    close(fd);
    if (strncmp(buf, "OK ", 3) == 0) {
        fputs(buf + 3, stdout);
        return 0;
    }
    if (strncmp(buf, "ERR ", 4) == 0) {
        fprintf(stderr, "zk-harness: start failed: %s", buf + 4);
        return 1;
    }
    char tail[3000];
    keeper_log_tail(dir, tail, sizeof tail);
    fprintf(stderr, "zk-harness: the keeper died while starting; %s/keeper.log ends with:\n%s\n",
            dir, tail);
    return 1;
}

static int cmd_start(int argc, char **argv)
{
    struct start_args a;
    int rc = parse_start(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (keeper_running(a.dir)) {
        fprintf(stderr, "zk-harness: a keeper already runs in %s\n", a.dir);
        return 1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("zk-harness: pipe");
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("zk-harness: fork");
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        _exit(run_keeper(&a, p[1]));
    }
    close(p[1]);
    return await_keeper(p[0], a.dir);
}

/* ---- the other commands: a client of the keeper ---------------------------------------- */

static int connect_keeper(const char *dir)
{
    struct sockaddr_un sa;
    if (socket_path(dir, &sa) != 0) {
        fprintf(stderr, "zk-harness: state directory path too long: %s\n", dir);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    fprintf(stderr, "zk-harness: no keeper answers at %s: %s\n", sa.sun_path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int read_reply(int fd, char *buf, size_t len)
{
    size_t used = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, REPLY_TIMEOUT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, buf + used, len - 1 - used);
        if (n <= 0 || used + (size_t)n >= len - 1) {
            used += n > 0 ? (size_t)n : 0;
            break;
        }
        used += (size_t)n;
    }
    buf[used] = '\0';
    return 0;
}

static int relay(const char *dir, const char *line)
{
    int fd = connect_keeper(dir);
    if (fd < 0)
        return 1;
    char buf[16384];
    if (write_all(fd, line, strlen(line)) != 0 || read_reply(fd, buf, sizeof buf) != 0) {
        fprintf(stderr, "zk-harness: no reply from the keeper in %s\n", dir);
        close(fd);
        return 1;
    }
    close(fd);
    int ok = strncmp(buf, "OK \n", 4) == 0;
    const char *text = strlen(buf) >= 4 ? buf + 4 : "";
    if (ok && *text)
        printf("%s\n", text);
    else if (!ok && strncmp(buf, "ERR\n", 4) == 0 && strcmp(text, "-1") == 0)
        printf("-1\n"); /* `leader` with no leader */
    else if (!ok)
        fprintf(stderr, "zk-harness: %s\n", *text ? text : "the keeper gave no answer");
    return ok ? 0 : 1;
}

static int cmd_client(int argc, char **argv)
{
    static const struct { const char *name; int min_args, max_args; } commands[] = {
        { "connect", 0, 0 }, { "count", 0, 0 },   { "address", 1, 1 },
        { "port", 1, 1 },    { "pid", 1, 1 },     { "datadir", 1, 1 },
        { "stop", 1, 1 },    { "kill", 1, 1 },    { "restart", 1, 1 },
        { "wait", 1, 2 },    { "leader", 0, 0 },  { "wait-leader", 0, 1 },
        { "down", 0, 0 },
    };
    const char *cmd = argv[1];
    for (size_t j = 0; j < sizeof commands / sizeof commands[0]; j++) {
        if (strcmp(cmd, commands[j].name) != 0)
            continue;
        int nargs = argc - 3;
        if (argc < 3 || nargs < commands[j].min_args || nargs > commands[j].max_args)
            return bad_usage("%s: wrong number of arguments", cmd);
        char line[512];
        snprintf(line, sizeof line, "%s %s %s\n", cmd, nargs > 0 ? argv[3] : "",
                 nargs > 1 ? argv[4] : "");
        return relay(argv[2], line);
    }
    return bad_usage("unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage("a command is required");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "start") == 0) {
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0) {
                fputs(usage, stdout);
                return 0;
            }
        return cmd_start(argc, argv);
    }
    return cmd_client(argc, argv);
}
