/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench's consumer groups: what zkdisc-agent's consumers deliver,
 * against a baseline in the same run.
 *   haproxy  an instance node created until HAProxy's Runtime API shows
 *            its address UP in the agent's backend, against a raw C
 *            children watch (re-armed on each event, kazoo's ChildrenWatch)
 *            seeing the same create; the p50 of each of 5 blocks of
 *            samples is a pair. Also shown: the same watch followed by a
 *            read of the new child's record (the address HAProxy needs).
 *   dns      answers/s of the agent's DNS responder against dnsmasq serving
 *            the same records: tests/agent_consumers/bench_dns.sh (dnsperf,
 *            interleaved pairs), whose pairs are read off its output. */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- dns ------------------------------------------------------------------------ */

void bench_dns(const bench *b)
{
    char build[4096], cmd[8400], line[512];
    beside_self(build, sizeof build, "../..");
    snprintf(cmd, sizeof cmd, "'%s/bench_dns.sh' '%s' 5 5 2>&1", ZKDISC_BENCH_SCRIPTS, build);
    (void)b;
    FILE *f = popen(cmd, "r");
    if (!f)
        die("dns", "cannot run bench_dns.sh");
    double ag[2][16], dm[2][16];
    int n[2] = {0, 0};
    while (fgets(line, sizeof line, f)) {
        char type[8];
        int pair;
        double a, ac, m, mc;
        fputs(line, stderr);
        if (sscanf(line, "%7s pair %d: agent %lf/s (%lf per CPU-second), dnsmasq %lf/s (%lf", type, &pair, &a,
                   &ac, &m, &mc) == 6) {
            int t = !strcmp(type, "A");
            if (n[t] < 16) {
                ag[t][n[t]] = a;
                dm[t][n[t]++] = m;
            }
        }
    }
    if (pclose(f) != 0 || !n[0] || !n[1])
        die("dns", "bench_dns.sh failed (it needs dnsperf, dnsmasq and dig)");
    report_pairs("dns_srv", ag[0], dm[0], n[0], "answers/s");
    report_pairs("dns_a", ag[1], dm[1], n[1], "answers/s");
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < n[t]; i++) {
            add_row("dns", t ? "dnsmasq, A, answers/s" : "dnsmasq, SRV, answers/s", dm[t][i], "/s", 0);
            add_row("dns", t ? "agent, A, answers/s" : "agent, SRV, answers/s", ag[t][i], "/s", 0);
        }
}

/* ---- haproxy ------------------------------------------------------------------- */

enum { HAP_SAMPLES = 60, HAP_BLOCKS = 5 };

typedef struct kids_seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
    zhandle_t *zh;
    char newest[128]; /* the child to read when the count grows */
    double data_at;   /* when its data answered */
} kids_seen;

static void on_kid_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)value, (void)len, (void)st;
    kids_seen *k = (kids_seen *)data;
    pthread_mutex_lock(&k->mu);
    if (rc == ZOK)
        k->data_at = now_s();
    pthread_mutex_unlock(&k->mu);
}

static void on_kids(int rc, const struct String_vector *sv, const void *data)
{
    kids_seen *k = (kids_seen *)data;
    if (rc != ZOK)
        return;
    pthread_mutex_lock(&k->mu);
    int grew = sv->count > k->count;
    k->count = sv->count;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (grew) /* the second baseline: what any consumer reads next, the record */
        zoo_aget(k->zh, k->newest, 0, on_kid_data, k);
}

static void kids_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    if (type == ZOO_CHILD_EVENT)
        zoo_awget_children(zh, path, kids_watch, ctx, on_kids, ctx);
}

/* Waits until the raw watcher has seen `want` children (30 s). */
static void kids_wait(kids_seen *k, int want)
{
    pthread_mutex_lock(&k->mu);
    double end = now_s() + 30;
    while (k->count != want) {
        pthread_mutex_unlock(&k->mu);
        if (now_s() > end)
            die("haproxy", "the raw watch never saw the change");
        usleep(50);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
}

/* Is ADDR:PORT a server of backend `be` in state UP (or "no check")? -1:
 * the socket did not answer. */
static int hap_up(const char *sock, const char *be, const char *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) || write(fd, "show stat\n", 10) != 10) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    static char buf[1 << 18];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof buf - 1 && (got = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)got;
    close(fd);
    buf[len] = 0;
    /* Header "# pxname,svname,...": the columns of status and addr. */
    int st = -1, ad = -1, col = 0;
    char *eol = strchr(buf, '\n');
    if (!eol)
        return -1;
    *eol = 0;
    for (char *p = buf + 2, *tok; (tok = strsep(&p, ",")); col++) {
        st = !strcmp(tok, "status") ? col : st;
        ad = !strcmp(tok, "addr") ? col : ad;
    }
    size_t blen = strlen(be);
    for (char *line = eol + 1, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (strncmp(line, be, blen) || line[blen] != ',')
            continue;
        const char *status = NULL, *a = NULL;
        col = 0;
        for (char *p = line, *tok; (tok = strsep(&p, ",")); col++) {
            status = col == st ? tok : status;
            a = col == ad ? tok : a;
        }
        if (status && a && !strcmp(a, addr) && (!strcmp(status, "UP") || !strcmp(status, "no check")))
            return 1;
    }
    return 0;
}

static pid_t spawn(const char *log, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int tcp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len))
        die("haproxy", "no free port");
    close(fd);
    return ntohs(a.sin_port);
}

static void wait_file(const char *what, const char *path, pid_t pid)
{
    struct stat st;
    for (double end = now_s() + 30; stat(path, &st) || !st.st_size; usleep(10000))
        if (now_s() > end || waitpid(pid, NULL, WNOHANG) == pid)
            die("haproxy", what);
}

void bench_haproxy(const bench *b)
{
    char dir[] = "/tmp/zkdisc-bench-hap-XXXXXX", conf[128], be[128], mainc[128], sock[128], log[2][128],
         agent[4096];
    if (!mkdtemp(dir))
        die("haproxy", "mkdtemp");
    if (b->agent)
        snprintf(agent, sizeof agent, "%s", b->agent);
    else
        beside_self(agent, sizeof agent, "../zkdisc-agent/zkdisc-agent");
    snprintf(conf, sizeof conf, "%s/agent.conf", dir);
    snprintf(be, sizeof be, "%s/be.cfg", dir);
    snprintf(mainc, sizeof mainc, "%s/main.cfg", dir);
    snprintf(sock, sizeof sock, "%s/h.sock", dir);
    snprintf(log[0], sizeof log[0], "%s/agent.log", dir);
    snprintf(log[1], sizeof log[1], "%s/haproxy.log", dir);
    zhandle_t *zh = raw_connect(b->zk);
    raw_prepare(zh, "hap");
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "zookeeper = { connect = \"%s\"; session_timeout = \"30s\"; };\n"
            "agent = { api = \"127.0.0.1:%d\"; state_dir = \"%s/state\"; };\n"
            "watch = ( { service = \"hap\"; allow_empty = true; outputs = ( { type = \"haproxy\";\n"
            "  config = \"%s\"; backend = \"hap\"; slots = 10; socket = \"%s\"; } ); } );\n",
            b->zk, tcp_free_port(), dir, be, sock);
    fclose(f);
    f = fopen(mainc, "w");
    fprintf(f,
            "global\n    stats socket %s level admin\ndefaults\n    mode http\n    timeout connect 2s\n"
            "    timeout client 10s\n    timeout server 10s\nfrontend fe\n    bind 127.0.0.1:%d\n"
            "    default_backend hap\n",
            sock, tcp_free_port());
    fclose(f);
    char *aargv[] = {agent, "-c", conf, NULL};
    pid_t ag = spawn(log[0], aargv);
    wait_file("the agent never wrote the backend's file", be, ag);
    char *hargv[] = {"haproxy", "-W", "-db", "-f", mainc, "-f", be, NULL};
    pid_t hp = spawn(log[1], hargv);
    for (double end = now_s() + 30; hap_up(sock, "hap", "-") < 0; usleep(10000))
        if (now_s() > end || waitpid(hp, NULL, WNOHANG) == hp)
            die("haproxy", "HAProxy did not start (is it installed?)");

    kids_seen k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL, "", 0};
    zhandle_t *watcher = raw_connect(b->zk);
    k.zh = watcher;
    struct String_vector kids;
    zoo_wget_children(watcher, "/zkdisc/services/hap", kids_watch, &k, &kids);
    k.count = kids.count;
    deallocate_String_vector(&kids);
    double hap[HAP_SAMPLES], raw[HAP_SAMPLES], rawd[HAP_SAMPLES];
    for (int i = 0; i < HAP_SAMPLES; i++) {
        char path[128], data[512], addr[64];
        snprintf(path, sizeof path, "/zkdisc/services/hap/i-%06d", i);
        snprintf(addr, sizeof addr, "127.0.%d.%d:9000", i / 200 + 1, i % 200 + 1);
        snprintf(data, sizeof data,
                 "{\"name\":\"hap\",\"id\":\"i-%06d\",\"address\":\"127.0.%d.%d\",\"port\":9000,"
                 "\"sslPort\":null,\"payload\":null,\"registrationTimeUTC\":0,\"serviceType\":\"DYNAMIC\","
                 "\"uriSpec\":null}",
                 i, i / 200 + 1, i % 200 + 1);
        pthread_mutex_lock(&k.mu);
        snprintf(k.newest, sizeof k.newest, "%s", path);
        k.data_at = 0;
        pthread_mutex_unlock(&k.mu);
        double t0 = now_s();
        if (zoo_create(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0) != ZOK)
            die("haproxy", "create");
        kids_wait(&k, 1);
        raw[i] = (now_s() - t0) * 1e3;
        for (double end = t0 + 10; hap_up(sock, "hap", addr) != 1; usleep(200))
            if (now_s() > end)
                die("haproxy", "HAProxy never showed the new server UP");
        hap[i] = (now_s() - t0) * 1e3;
        pthread_mutex_lock(&k.mu);
        rawd[i] = k.data_at > 0 ? (k.data_at - t0) * 1e3 : hap[i]; /* not yet: at least this */
        pthread_mutex_unlock(&k.mu);
        zoo_delete(zh, path, -1);
        kids_wait(&k, 0);
        for (double end = now_s() + 10; hap_up(sock, "hap", addr) != 0; usleep(1000))
            if (now_s() > end)
                die("haproxy", "HAProxy kept the removed server");
    }
    double zb[HAP_BLOCKS], rb[HAP_BLOCKS];
    enum { PER = HAP_SAMPLES / HAP_BLOCKS };
    for (int blk = 0; blk < HAP_BLOCKS; blk++) {
        qsort(hap + blk * PER, PER, sizeof *hap, cmp_double);
        qsort(raw + blk * PER, PER, sizeof *raw, cmp_double);
        zb[blk] = hap[blk * PER + PER / 2];
        rb[blk] = raw[blk * PER + PER / 2];
    }
    report_pairs("haproxy_register", zb, rb, HAP_BLOCKS, "ms");
    qsort(hap, HAP_SAMPLES, sizeof *hap, cmp_double);
    qsort(raw, HAP_SAMPLES, sizeof *raw, cmp_double);
    qsort(rawd, HAP_SAMPLES, sizeof *rawd, cmp_double);
    add_row("haproxy", "raw children watch + getData of the child, p50", rawd[HAP_SAMPLES / 2], "ms",
            rawd[HAP_SAMPLES / 2]);
    add_row("haproxy", "raw children watch sees a create, p50", raw[HAP_SAMPLES / 2], "ms", raw[HAP_SAMPLES / 2]);
    add_row("haproxy", "create to HAProxy serving it, p50", hap[HAP_SAMPLES / 2], "ms", raw[HAP_SAMPLES / 2]);
    add_row("haproxy", "raw children watch sees a create, p95", raw[HAP_SAMPLES * 95 / 100], "ms",
            raw[HAP_SAMPLES * 95 / 100]);
    add_row("haproxy", "create to HAProxy serving it, p95", hap[HAP_SAMPLES * 95 / 100], "ms",
            raw[HAP_SAMPLES * 95 / 100]);
    zookeeper_close(watcher);
    zookeeper_close(zh);
    kill(hp, SIGTERM);
    kill(ag, SIGTERM);
    waitpid(hp, NULL, 0);
    waitpid(ag, NULL, 0);
    snprintf(conf, sizeof conf, "rm -rf '%s'", dir);
    if (system(conf) != 0)
        fprintf(stderr, "zkdisc-bench: could not remove %s\n", dir);
}
