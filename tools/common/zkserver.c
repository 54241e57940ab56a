/* SPDX-License-Identifier: Apache-2.0 */
/* zkserver.c - launch and probe a real ZooKeeper server on loopback (see zkserver.h). */
#include "zkserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAIN_CLASS "org.apache.zookeeper.server.quorum.QuorumPeerMain"
#define INSTALL_HINT "`apt-get install zookeeper` provides it"
#define LOG_TAIL_LINES 25
#define POLL_INTERVAL_MS 100

/* ---- small helpers ---------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

long long zks_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int remaining_ms(long long deadline)
{
    long long left = deadline - zks_now_ms();
    return left < 0 ? 0 : (int)left;
}

/* Formats into out and reports whether it fit, so that paths are never silently cut. */
__attribute__((format(printf, 3, 4)))
static int fmt_fits(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < outlen;
}

/* ---- locating java and the jar ---------------------------------------------------------- */

static int is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int is_readable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* Like execvp's lookup, but done up front so a missing program is a clear error instead of
 * an exit status of 127 in a log file. */
static int find_program(const char *name, char *out, size_t outlen)
{
    if (strchr(name, '/'))
        return is_executable_file(name) && fmt_fits(out, outlen, "%s", name) ? 0 : -1;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        const char *dir = len ? path : ".";
        int dirlen = len ? (int)len : 1;
        if (fmt_fits(out, outlen, "%.*s/%s", dirlen, dir, name) && is_executable_file(out))
            return 0;
        path += len + (path[len] == ':');
    }
    return -1;
}

int zks_find_java(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv("ZKDISC_JAVA");
    if (env && *env) {
        if (find_program(env, out, outlen) == 0)
            return 0;
        return fail(err, errlen, "ZKDISC_JAVA=%s is not an executable java launcher", env);
    }
    if (find_program("java", out, outlen) == 0)
        return 0;
    return fail(err, errlen,
                "java was not found on PATH, and it is needed to run a ZooKeeper server; "
                INSTALL_HINT " (or set ZKDISC_JAVA to a java launcher)");
}

int zks_find_jar(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv("ZKDISC_ZOOKEEPER_JAR");
    const char *jar = env && *env ? env : ZKS_DEFAULT_JAR;
    if (is_readable_file(jar) && fmt_fits(out, outlen, "%s", jar))
        return 0;
    if (env && *env)
        return fail(err, errlen, "ZKDISC_ZOOKEEPER_JAR=%s is not a readable file", env);
    return fail(err, errlen,
                "the ZooKeeper server jar %s is missing; " INSTALL_HINT
                " (or set ZKDISC_ZOOKEEPER_JAR to a zookeeper.jar)", ZKS_DEFAULT_JAR);
}

/* The server logs through slf4j; without a binding it logs nothing, which makes a failed
 * start impossible to debug. Debian ships slf4j-simple next to zookeeper.jar. */
static void find_slf4j_binding(const char *jar, char *out, size_t outlen)
{
    const char *slash = strrchr(jar, '/');
    int dirlen = slash ? (int)(slash - jar) : 1;
    const char *dir = slash ? jar : ".";
    if (fmt_fits(out, outlen, "%.*s/slf4j-simple.jar", dirlen, dir) && is_readable_file(out))
        return;
    if (fmt_fits(out, outlen, "/usr/share/java/slf4j-simple.jar") && is_readable_file(out))
        return;
    out[0] = '\0';
}

/* ---- ports ------------------------------------------------------------------------------ */

static int bind_loopback_ephemeral(int *port, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(err, errlen, "cannot create a TCP socket: %s", strerror(errno));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "cannot pick a free port on 127.0.0.1: %s", strerror(e));
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

int zks_free_ports(int *ports, int n, char *err, size_t errlen)
{
    int fds[64];
    if (n < 1 || n > (int)(sizeof fds / sizeof fds[0]))
        return fail(err, errlen, "cannot pick %d ports at once (1 to 64)", n);
    int got = 0, rc = 0;
    while (got < n && rc == 0) {
        fds[got] = bind_loopback_ephemeral(&ports[got], err, errlen);
        if (fds[got] < 0)
            rc = -1;
        else
            got++;
    }
    while (got > 0)
        close(fds[--got]);
    return rc;
}

int zks_free_port(int *port, char *err, size_t errlen)
{
    return zks_free_ports(port, 1, err, errlen);
}

int zks_free_tcp_udp_port(int *port, char *err, size_t errlen)
{
    for (int tries = 0; tries < 100; tries++) {
        int tcp = bind_loopback_ephemeral(port, err, errlen);
        if (tcp < 0)
            return -1;
        int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = udp >= 0 && bind(udp, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (udp >= 0)
            close(udp);
        close(tcp);
        if (ok)
            return 0;
    }
    return fail(err, errlen, "no port free for both TCP and UDP on 127.0.0.1 in 100 tries");
}

int zks_assign_ports(zks_server *servers, int n, char *err, size_t errlen)
{
    if (n < 1 || n > 20)
        return fail(err, errlen, "a ZooKeeper ensemble needs 1 to 20 servers, not %d", n);
    int ports[60];
    int per = n == 1 ? 1 : 3;
    if (zks_free_ports(ports, n * per, err, errlen) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        servers[i].id = n == 1 ? 0 : i + 1;
        servers[i].client_port = ports[i * per];
        servers[i].quorum_port = n == 1 ? 0 : ports[i * per + 1];
        servers[i].election_port = n == 1 ? 0 : ports[i * per + 2];
    }
    return 0;
}

/* ---- configuration ---------------------------------------------------------------------- */

static void write_common_config(FILE *f, const zks_server *s)
{
    fprintf(f, "# written by zkdisc tools/common/zkserver.c\n"
               "tickTime=500\n"
               "minSessionTimeout=1000\n"
               "maxSessionTimeout=60000\n"
               "dataDir=%s/data\n"
               "clientPort=%d\n"
               "clientPortAddress=127.0.0.1\n"
               /* the admin server would otherwise listen on 0.0.0.0:8080 */
               "admin.enableServer=false\n"
               "4lw.commands.whitelist=*\n"
               "maxClientCnxns=0\n"
               /* throwaway servers: fsync stalls on a busy machine only cause flaky timeouts */
               "forceSync=no\n"
               "preAllocSize=4096\n",
            s->dir, s->client_port);
}

static void write_ensemble_config(FILE *f, const zks_server *servers, int n)
{
    /* Generous limits (10 s to connect and sync, 5 s to stay in sync): JVMs on a loaded
     * two-core machine pause, and a member dropping out mid-test is not what we test. */
    fprintf(f, "initLimit=20\nsyncLimit=10\nquorumListenOnAllIPs=false\n");
    for (int j = 0; j < n; j++)
        fprintf(f, "server.%d=127.0.0.1:%d:%d\n", servers[j].id, servers[j].quorum_port,
                servers[j].election_port);
}

static int write_file(const char *path, const char *text, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fail(err, errlen, "cannot create %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0)
        return fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int write_myid(const zks_server *s, char *err, size_t errlen)
{
    char path[ZKS_PATH_MAX + 16], text[16];
    snprintf(path, sizeof path, "%s/data/myid", s->dir);
    snprintf(text, sizeof text, "%d\n", s->id);
    return write_file(path, text, err, errlen);
}

int zks_write_config(const zks_server *servers, int n, int i, char *err, size_t errlen)
{
    if (i < 0 || i >= n)
        return fail(err, errlen, "no server %d in an ensemble of %d", i, n);
    const zks_server *s = &servers[i];
    char path[ZKS_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data", s->dir);
    if (mkdir(path, 0700) == -1 && errno != EEXIST)
        return fail(err, errlen, "cannot create %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/zoo.cfg", s->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail(err, errlen, "cannot create %s: %s", path, strerror(errno));
    write_common_config(f, s);
    if (n > 1)
        write_ensemble_config(f, servers, n);
    if (fclose(f) != 0)
        return fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return n > 1 ? write_myid(s, err, errlen) : 0;
}

/* ---- spawning --------------------------------------------------------------------------- */

struct launch {
    char java[ZKS_PATH_MAX];
    char jar[ZKS_PATH_MAX];
    char slf4j[ZKS_PATH_MAX];
    char classpath[2 * ZKS_PATH_MAX + 2];
    char cfg[ZKS_PATH_MAX + 16];
    char log[ZKS_PATH_MAX + 16];
    char *argv[24];
};

static int prepare_launch(struct launch *l, const zks_server *srv, char *err, size_t errlen)
{
    if (zks_find_java(l->java, sizeof l->java, err, errlen) != 0 ||
        zks_find_jar(l->jar, sizeof l->jar, err, errlen) != 0)
        return -1;
    find_slf4j_binding(l->jar, l->slf4j, sizeof l->slf4j);
    snprintf(l->classpath, sizeof l->classpath, "%s%s%s", l->jar, l->slf4j[0] ? ":" : "",
             l->slf4j);
    if (!fmt_fits(l->cfg, sizeof l->cfg, "%s/zoo.cfg", srv->dir) ||
        !fmt_fits(l->log, sizeof l->log, "%s/server.log", srv->dir))
        return fail(err, errlen, "server directory path is too long: %s", srv->dir);
    char *args[] = {
        l->java, "-Xms32m", "-Xmx256m",
        /* small, quick-starting JVMs: several run at once on a two-core machine */
        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
        "-Djava.net.preferIPv4Stack=true", "-Dzookeeper.admin.enableServer=false",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
        "-cp", l->classpath, MAIN_CLASS, l->cfg, NULL,
    };
    memcpy(l->argv, args, sizeof args);
    return 0;
}

/* Runs in the forked child: only async-signal-safe calls until exec. */
static void exec_server(const struct launch *l, int logfd, int flags, pid_t parent)
{
    setpgid(0, 0); /* a Ctrl-C meant for the test runner must not reach the server first */
    if (flags & ZKS_SPAWN_PDEATHSIG) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* the parent died before prctl took effect */
            _exit(127);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, 0);
    dup2(logfd, 1);
    dup2(logfd, 2);
    if (close_range(3, ~0U, 0) == -1)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    /* exec keeps ignored signals and the mask; a JVM that starts with SIGTERM ignored never
     * shuts down on it, so hand it a clean slate. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    execv(l->argv[0], l->argv);
    static const char msg[] = "zkserver: exec of java failed\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
}

static int open_log(const struct launch *l, char *err, size_t errlen)
{
    int fd = open(l->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(err, errlen, "cannot open %s: %s", l->log, strerror(errno));
    /* A marker, so that the tail shown after a failed restart is about this start. */
    dprintf(fd, "--- zkserver: starting %s %s (java %s)\n", MAIN_CLASS, l->cfg, l->java);
    return fd;
}

int zks_spawn(zks_server *srv, int flags, char *err, size_t errlen)
{
    if (srv->pid > 0 && zks_poll_exit(srv) == 0)
        return fail(err, errlen, "server %d (pid %d) is already running", srv->id,
                    (int)srv->pid);
    struct launch l;
    if (prepare_launch(&l, srv, err, errlen) != 0)
        return -1;
    int logfd = open_log(&l, err, errlen);
    if (logfd < 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        exec_server(&l, logfd, flags, parent);
    int e = errno;
    close(logfd);
    if (pid < 0)
        return fail(err, errlen, "cannot fork to start java: %s", strerror(e));
    srv->pid = pid;
    srv->exit_status = -1;
    return 0;
}

/* ---- exits ------------------------------------------------------------------------------ */

int zks_poll_exit(zks_server *srv)
{
    if (srv->pid <= 0)
        return 1;
    int status;
    pid_t r = waitpid(srv->pid, &status, WNOHANG);
    if (r == srv->pid) {
        srv->exit_status = status;
        srv->pid = 0;
        return 1;
    }
    if (r == 0 || errno == EINTR)
        return 0;
    if (errno != ECHILD)
        return -1;
    /* Not our child (or SIGCHLD is ignored and it was reaped for us): probe instead. */
    if (kill(srv->pid, 0) == -1 && errno == ESRCH) {
        srv->exit_status = -1;
        srv->pid = 0;
        return 1;
    }
    return 0;
}

static void describe_status(int status, char *out, size_t outlen)
{
    if (status == -1)
        snprintf(out, outlen, "exited");
    else if (WIFEXITED(status))
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, outlen, "stopped (status 0x%x)", status);
}

int zks_wait_exit(zks_server *srv, int timeout_ms, char *err, size_t errlen)
{
    long long deadline = zks_now_ms() + timeout_ms;
    pid_t pid = srv->pid;
    for (;;) {
        int r = zks_poll_exit(srv);
        if (r == 1)
            return 0;
        if (r == -1)
            return fail(err, errlen, "cannot wait for pid %d: %s", (int)pid, strerror(errno));
        if (zks_now_ms() >= deadline)
            return fail(err, errlen, "server %d (pid %d) did not exit within %d ms", srv->id,
                        (int)pid, timeout_ms);
        sleep_ms(10);
    }
}

static int send_signal(zks_server *srv, int sig, char *err, size_t errlen)
{
    if (srv->pid <= 0 || zks_poll_exit(srv) == 1)
        return 0;
    if (kill(srv->pid, sig) == -1 && errno != ESRCH)
        return fail(err, errlen, "cannot signal server %d (pid %d): %s", srv->id,
                    (int)srv->pid, strerror(errno));
    return 0;
}

int zks_terminate(zks_server *srv, char *err, size_t errlen)
{
    return send_signal(srv, SIGTERM, err, errlen);
}

int zks_kill(zks_server *srv, char *err, size_t errlen)
{
    if (send_signal(srv, SIGKILL, err, errlen) != 0)
        return -1;
    return zks_wait_exit(srv, 10000, err, errlen);
}

int zks_stop(zks_server *srv, int timeout_ms, char *err, size_t errlen)
{
    if (zks_terminate(srv, err, errlen) != 0)
        return -1;
    if (zks_wait_exit(srv, timeout_ms, NULL, 0) == 0)
        return 0;
    return zks_kill(srv, err, errlen);
}

/* ---- logs ------------------------------------------------------------------------------- */

void zks_log_tail(const char *dir, int lines, char *out, size_t outlen)
{
    char path[ZKS_PATH_MAX + 16];
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/server.log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[16384];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t start = size > (off_t)sizeof buf - 1 ? size - (off_t)(sizeof buf - 1) : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, start);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *p = buf + n;
    if (p > buf && p[-1] == '\n')
        p--;
    while (p > buf && lines > 0)
        if (*--p == '\n')
            lines--;
    if (*p == '\n')
        p++;
    /* keep the end, which is where the reason usually is */
    size_t len = strlen(p);
    if (len >= outlen)
        p += len - (outlen - 1);
    snprintf(out, outlen, "%s", p);
}

/* ---- four-letter words ------------------------------------------------------------------ */

static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    for (;;) {
        int r = poll(&pfd, 1, remaining_ms(deadline));
        if (r > 0)
            return 0;
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

static int connect_one(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    int e = errno;
    if (e == EINPROGRESS) {
        socklen_t len = sizeof e;
        if (wait_fd(fd, POLLOUT, deadline) != 0)
            e = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
            e = errno;
        else if (e == 0)
            return fd;
    }
    close(fd);
    errno = e;
    return -1;
}

static int connect_deadline(const char *host, int port, long long deadline)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline);
    int e = errno;
    freeaddrinfo(res);
    errno = e;
    return fd;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLOUT, deadline) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads to EOF; what does not fit in out is read and dropped, so the server can finish. */
static int read_to_eof(int fd, char *out, size_t outlen, long long deadline)
{
    size_t used = 0;
    char buf[4096];
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline) != 0)
            break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno == ECONNRESET && used > 0)) {
            out[used] = '\0';
            return 0;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            break;
        size_t take = n > 0 ? (size_t)n : 0;
        if (take > outlen - 1 - used)
            take = outlen - 1 - used;
        memcpy(out + used, buf, take);
        used += take;
    }
    out[used] = '\0';
    return -1;
}

int zks_4lw(const char *host, int port, const char *word, char *out, size_t outlen,
            int timeout_ms)
{
    if (!out || outlen == 0 || !word) {
        errno = EINVAL;
        return -1;
    }
    out[0] = '\0';
    long long deadline = zks_now_ms() + timeout_ms;
    int fd = connect_deadline(host, port, deadline);
    if (fd < 0)
        return -1;
    int rc = send_all(fd, word, strlen(word), deadline);
    if (rc == 0)
        rc = read_to_eof(fd, out, outlen, deadline);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

zks_mode zks_parse_mode(const char *reply)
{
    static const struct { const char *name; zks_mode mode; } modes[] = {
        { "standalone", ZKS_MODE_STANDALONE }, { "leader", ZKS_MODE_LEADER },
        { "follower", ZKS_MODE_FOLLOWER },     { "observer", ZKS_MODE_OBSERVER },
    };
    if (!reply)
        return ZKS_MODE_UNKNOWN;
    if (strstr(reply, "not currently serving requests"))
        return ZKS_MODE_NOT_SERVING;
    const char *m = strstr(reply, "Mode: ");
    if (!m || (m != reply && m[-1] != '\n'))
        return ZKS_MODE_UNKNOWN;
    m += strlen("Mode: ");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        size_t len = strlen(modes[i].name);
        if (strncmp(m, modes[i].name, len) == 0 && strchr("\r\n", m[len]))
            return modes[i].mode;
    }
    return ZKS_MODE_UNKNOWN;
}

const char *zks_mode_name(zks_mode mode)
{
    switch (mode) {
    case ZKS_MODE_NOT_SERVING: return "not serving";
    case ZKS_MODE_STANDALONE: return "standalone";
    case ZKS_MODE_LEADER: return "leader";
    case ZKS_MODE_FOLLOWER: return "follower";
    case ZKS_MODE_OBSERVER: return "observer";
    default: return "unknown";
    }
}

int zks_server_mode(const char *host, int port, int timeout_ms, zks_mode *mode,
                    char *err, size_t errlen)
{
    char reply[2048];
    *mode = ZKS_MODE_UNKNOWN;
    if (zks_4lw(host, port, "srvr", reply, sizeof reply, timeout_ms) != 0)
        return fail(err, errlen, "%s:%d did not answer `srvr`: %s", host, port,
                    strerror(errno));
    *mode = zks_parse_mode(reply);
    return 0;
}

/* ---- waiting until a server serves ------------------------------------------------------ */

int zks_probe_serving(const zks_server *srv, int ensemble, int timeout_ms, char *why,
                      size_t whylen)
{
    char reply[2048];
    long long deadline = zks_now_ms() + timeout_ms;
    if (zks_4lw("127.0.0.1", srv->client_port, "ruok", reply, sizeof reply, timeout_ms) != 0)
        return fail(why, whylen, "ruok: %s", strerror(errno));
    if (strncmp(reply, "imok", 4) != 0)
        return fail(why, whylen, "ruok answered \"%.40s\"", reply);
    /* imok only means the port is open: until the database is loaded (and, in an
     * ensemble, a quorum follows a leader) srvr says "not currently serving requests". */
    if (zks_4lw("127.0.0.1", srv->client_port, "srvr", reply, sizeof reply,
                remaining_ms(deadline)) != 0)
        return fail(why, whylen, "srvr: %s", strerror(errno));
    zks_mode mode = zks_parse_mode(reply);
    if (mode == ZKS_MODE_LEADER || mode == ZKS_MODE_FOLLOWER || mode == ZKS_MODE_OBSERVER ||
        (!ensemble && mode == ZKS_MODE_STANDALONE))
        return 0;
    return fail(why, whylen, "srvr reports mode %s", zks_mode_name(mode));
}

static int fail_with_log(const zks_server *srv, char *err, size_t errlen, const char *what)
{
    char tail[4096];
    zks_log_tail(srv->dir, LOG_TAIL_LINES, tail, sizeof tail);
    return fail(err, errlen, "ZooKeeper server %d (127.0.0.1:%d) %s; %s/server.log ends with:\n%s",
                srv->id, srv->client_port, what, srv->dir, tail[0] ? tail : "(empty)");
}

int zks_check_running(zks_server *srv, char *err, size_t errlen)
{
    if (zks_poll_exit(srv) != 1)
        return 0;
    char how[128];
    describe_status(srv->exit_status, how, sizeof how);
    return fail_with_log(srv, err, errlen, srv->exit_status == -1 ? "is not running" : how);
}

int zks_wait_serving(zks_server *srv, int ensemble, int timeout_ms, char *err, size_t errlen)
{
    long long deadline = zks_now_ms() + timeout_ms;
    char why[256];
    for (;;) {
        if (zks_check_running(srv, err, errlen) != 0)
            return -1;
        /* a hung connection must not eat the whole deadline */
        int budget = remaining_ms(deadline) < 2000 ? remaining_ms(deadline) : 2000;
        if (zks_probe_serving(srv, ensemble, budget, why, sizeof why) == 0)
            return 0;
        if (zks_now_ms() >= deadline) {
            char what[512];
            snprintf(what, sizeof what, "did not serve within %d ms (last probe: %s)",
                     timeout_ms, why);
            return fail_with_log(srv, err, errlen, what);
        }
        sleep_ms(POLL_INTERVAL_MS);
    }
}

/* ---- directories ------------------------------------------------------------------------ */

int zks_make_tempdir(const char *parent, const char *prefix, char *out, size_t outlen,
                     char *err, size_t errlen)
{
    if (!parent) {
        parent = getenv("TMPDIR");
        if (!parent || !*parent)
            parent = "/tmp";
    }
    if (!fmt_fits(out, outlen, "%s/%sXXXXXX", parent, prefix ? prefix : ""))
        return fail(err, errlen, "temporary directory path under %s is too long", parent);
    if (!mkdtemp(out))
        return fail(err, errlen, "cannot create a directory like %s: %s", out,
                    strerror(errno));
    return 0;
}

static _Thread_local char remove_failed_path[ZKS_PATH_MAX];
static _Thread_local int remove_failed_errno;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    if (remove(path) == 0 || errno == ENOENT)
        return 0;
    remove_failed_errno = errno;
    snprintf(remove_failed_path, sizeof remove_failed_path, "%s", path);
    return -1;
}

int zks_remove_tree(const char *dir, char *err, size_t errlen)
{
    remove_failed_errno = 0;
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
        return 0;
    if (remove_failed_errno)
        return fail(err, errlen, "cannot remove %s: %s", remove_failed_path,
                    strerror(remove_failed_errno));
    if (errno == ENOENT)
        return 0;
    return fail(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
}
