/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench's consumer groups: what zkdisc-agent's consumers deliver,
 * against a baseline in the same run.
 *   haproxy  `zkdisc register` (the CLI, as a process) until HAProxy puts
 *            the new server in service in the agent's backend (its log
 *            says UP; its Runtime API confirms, see hap_log),
 *            against a kazoo ChildrenWatch (a Python process of its own)
 *            seeing the same node; a block of 30 registrations is a pair
 *            (report_haproxy). Also shown, as information: a raw C
 *            children watch, and in registrations of their own the same
 *            followed by a read of the new child's record.
 *   dns      answers/s of the agent's DNS responder against dnsmasq serving
 *            the same records: tests/agent_consumers/bench_dns.sh (dnsperf,
 *            interleaved pairs), whose pairs are read off its output. */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
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

/* HAP_SAMPLES registrations measure the pair; RAWD_SAMPLES more measure
 * a raw C reader of the new record, alone: its getData, sent at the same
 * moment as the agent's, made the agent's answer 0.1-0.2 ms later. */
enum { HAP_SAMPLES = 150, HAP_BLOCKS = 5, RAWD_SAMPLES = 30 };

/* A watcher's view of the service's children: how many, and when the
 * count last changed (CLOCK_MONOTONIC, as now_s), stamped by the watcher
 * itself so that the bench's own waiting adds nothing. */
typedef struct kids_seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count, gone; /* gone: the watcher's process ended */
    double at;
    zhandle_t *zh;
    char newest[128]; /* the child to read when the count grows */
    int read_data;    /* read it (the information samples) */
    double data_at;   /* when its data answered */
} kids_seen;

static void kids_set(kids_seen *k, int count, double at)
{
    pthread_mutex_lock(&k->mu);
    if (count != k->count)
        k->at = at;
    k->count = count;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

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
    double at = now_s();
    pthread_mutex_lock(&k->mu);
    int grew = sv->count > k->count;
    pthread_mutex_unlock(&k->mu);
    kids_set(k, sv->count, at);
    /* The second raw measure: what any consumer reads next, the record. */
    if (grew && sv->count == 1 && k->read_data) {
        snprintf(k->newest, sizeof k->newest, "/zkdisc/services/hap/%s", sv->data[0]);
        zoo_aget(k->zh, k->newest, 0, on_kid_data, k);
    }
}

static void kids_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    if (type == ZOO_CHILD_EVENT)
        zoo_awget_children(zh, path, kids_watch, ctx, on_kids, ctx);
}

/* Waits on cv at most 5 ms (the caller checks its deadline). */
static void wait_5ms(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 5000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(cv, mu, &ts);
}

/* Waits until the watcher has seen `want` children (30 s); when they were
 * seen. */

static double kids_wait(kids_seen *k, int want, const char *who)
{
    pthread_mutex_lock(&k->mu);
    double end = now_s() + 30;
    while (k->count != want) {
        if (k->gone || now_s() > end) {
            char why[128];
            snprintf(why, sizeof why, "%s never saw %d children", who, want);
            die("haproxy", why);
        }
        wait_5ms(&k->cv, &k->mu);
    }
    double at = k->at;
    pthread_mutex_unlock(&k->mu);
    return at;
}

/* The baseline: a kazoo ChildrenWatch (Debian's python3-kazoo) in a Python
 * process of its own, printing "time.monotonic() count" per change; Linux's
 * time.monotonic() is CLOCK_MONOTONIC, the clock of now_s. It exits when
 * the bench closes its stdin (the bench's exit included). */
static const char kazoo_script[] =
    "import sys, time\n"
    "try:\n"
    "    from kazoo.client import KazooClient\n"
    "except ImportError as e:\n"
    "    sys.exit('zkdisc-bench: the haproxy baseline needs kazoo (python3-kazoo, tools/install-deps.sh): %s' % e)\n"
    "zk = KazooClient(hosts=sys.argv[1])\n"
    "zk.start()\n"
    "def seen(kids):\n"
    "    print('%.9f %d' % (time.monotonic(), len(kids)), flush=True)\n"
    "zk.ChildrenWatch(sys.argv[2], seen)\n"
    "sys.stdin.read()\n"
    "zk.stop()\n";

typedef struct kazoo_watch {
    kids_seen seen;
    pid_t pid;
    int in, out; /* its stdin (ours to close), its stdout */
    pthread_t reader;
} kazoo_watch;

static void *kazoo_read(void *arg)
{
    kazoo_watch *kw = arg;
    FILE *f = fdopen(kw->out, "r");
    char line[256];
    double at;
    int n;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%lf %d", &at, &n) == 2)
            kids_set(&kw->seen, n, at);
    if (f)
        fclose(f);
    pthread_mutex_lock(&kw->seen.mu);
    kw->seen.gone = 1;
    pthread_cond_broadcast(&kw->seen.cv);
    pthread_mutex_unlock(&kw->seen.mu);
    return NULL;
}

/* Starts the kazoo watcher on `path` and waits for its first call (the
 * children as they are). Dies when Python or kazoo is missing. */
static void kazoo_start(kazoo_watch *kw, const char *zk, const char *path)
{
    int in[2], out[2];
    /* Close-on-exec: no other child (the agent, HAProxy) may hold its stdin open. */
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
        die("haproxy", "pipe");
    kw->pid = fork();
    if (kw->pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execl("/usr/bin/python3", "python3", "-c", kazoo_script, zk, path, (char *)NULL);
        fprintf(stderr, "zkdisc-bench: /usr/bin/python3: cannot run it (the baseline needs python3-kazoo)\n");
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    kw->in = in[1];
    kw->out = out[0];
    kw->seen.count = -1;
    pthread_create(&kw->reader, NULL, kazoo_read, kw);
    pthread_mutex_lock(&kw->seen.mu);
    for (double end = now_s() + 30; kw->seen.count < 0;) {
        if (kw->seen.gone || now_s() > end)
            die("haproxy", "kazoo's ChildrenWatch did not start: the baseline needs /usr/bin/python3 "
                           "with python3-kazoo (tools/install-deps.sh)");
        pthread_mutex_unlock(&kw->seen.mu);
        usleep(10000);
        pthread_mutex_lock(&kw->seen.mu);
    }
    pthread_mutex_unlock(&kw->seen.mu);
}

static void kazoo_stop(kazoo_watch *kw)
{
    close(kw->in);
    pthread_join(kw->reader, NULL);
    waitpid(kw->pid, NULL, 0);
}

/* HAProxy's Runtime API on one connection in prompt mode, so that a poll
 * is one write and one read: no connect and no full `show stat` per poll. */
typedef struct hap_cli {
    const char *sock;
    int fd;
} hap_cli;

static int hap_connect(hap_cli *c)
{
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", c->sock);
    char ans[64];
    size_t len = 0;
    ssize_t got = 0;
    int ok = c->fd >= 0 && !connect(c->fd, (struct sockaddr *)&sa, sizeof sa) && send(c->fd, "prompt\n", 7, MSG_NOSIGNAL) == 7;
    /* The answer to "prompt" is a prompt: "\n> ". */
    while (ok && len < 3 && (got = read(c->fd, ans + len, sizeof ans - len)) > 0)
        len += (size_t)got;
    if (!ok || len < 3 || memcmp(ans + len - 2, "> ", 2)) {
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

/* Sends `cmd`, reads its answer (up to the prompt) into buf; -1: no
 * answer (the connection is dropped, the next call reconnects). */
static int hap_ask(hap_cli *c, const char *cmd, char *buf, size_t cap)
{
    size_t len = 0, clen = strlen(cmd);
    if ((c->fd < 0 && hap_connect(c) < 0) || send(c->fd, cmd, clen, MSG_NOSIGNAL) != (ssize_t)clen)
        goto fail;
    for (;;) {
        ssize_t got = read(c->fd, buf + len, cap - 1 - len);
        if (got <= 0)
            goto fail;
        len += (size_t)got;
        buf[len] = 0;
        if (len >= 3 && !strcmp(buf + len - 3, "\n> ")) /* the end of an answer */
            return (int)len;
        if (len == cap - 1)
            goto fail;
    }
fail:
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    return -1;
}

/* Is ADDR:PORT a server of backend `be` with status UP (or "no check")? -1:
 * the socket did not answer. `show stat BACKEND 4 -1`: the backend's
 * servers only. What hap_running's answer is checked against. */
static int hap_stat_up(hap_cli *c, const char *be, const char *addr)
{
    static char buf[1 << 18];
    char cmd[160];
    snprintf(cmd, sizeof cmd, "show stat %s 4 -1\n", be);
    if (hap_ask(c, cmd, buf, sizeof buf) < 0)
        return -1;
    char *head = strstr(buf, "# pxname,");
    if (!head)
        return -1;
    /* Header "# pxname,svname,...": the columns of status and addr. */
    int st = -1, ad = -1, col = 0;
    char *eol = strchr(head, '\n');
    if (!eol)
        return -1;
    *eol = 0;
    for (char *p = head + 2, *tok; (tok = strsep(&p, ",")); col++) {
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

/* The same from `show servers state BACKEND`, which HAProxy answers in half
 * the time of `show stat` (the poll's own cost delays what it measures): a
 * server is UP when running (srv_op_state 2) with no admin state but
 * CMAINT (0x04, `disabled` in the file, which `state ready` leaves set and
 * `show stat` ignores). */
static int hap_running(hap_cli *c, const char *be, const char *ip, int port)
{
    static char buf[1 << 16];
    char cmd[160];
    snprintf(cmd, sizeof cmd, "show servers state %s\n", be);
    if (hap_ask(c, cmd, buf, sizeof buf) < 0)
        return -1;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[256], addr[64];
        int op, admin, p;
        /* be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port (19th) */
        if (sscanf(line, "%*d %255s %*d %*s %63s %d %d %*d %*d %*d %*d %*d %*d %*d %*d %*d %*d %*s %d", name,
                   addr, &op, &admin, &p) == 5 &&
            !strcmp(name, be) && !strcmp(addr, ip) && p == port && op == 2 && !(admin & ~0x04))
            return 1;
    }
    return 0;
}

static pid_t spawn(const char *log, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a bench that dies leaves nothing running */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void wait_file(const char *what, const char *path, pid_t pid)
{
    struct stat st;
    for (double end = now_s() + 30; stat(path, &st) || !st.st_size; usleep(10000))
        if (now_s() > end || waitpid(pid, NULL, WNOHANG) == pid)
            die("haproxy", what);
}

/* HAProxy's own word for the moment a server is put in service: when a
 * slot leaves maintenance it logs "Server hap/zkdN is UP/READY" (global
 * `log` to this UDP socket), at once, from the command that did it. The
 * bench used to poll the Runtime API every 50 us instead; on 2 cores the
 * polls and their answers took the CPU the agent's path needed, and the
 * next poll came 0.4 ms (median) after HAProxy had applied the change
 * (timestamps on both sides), all of it counted against the agent. A
 * datagram is stamped by a thread blocked in recv, as kazoo's changes are
 * stamped by its own callback. */
typedef struct hap_log {
    int fd;
    atomic_int stop;
    pthread_t reader;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ups;             /* UP events seen */
    double up_at[HAP_SAMPLES * 8];
} hap_log;

static void *hap_log_read(void *arg)
{
    hap_log *l = arg;
    char msg[1024];
    ssize_t n;
    while ((n = recv(l->fd, msg, sizeof msg - 1, 0)) >= 0 && !atomic_load(&l->stop)) {
        double at = now_s();
        msg[n] = 0;
        if (!strstr(msg, "Server hap/zkd") || !strstr(msg, " is UP"))
            continue;
        pthread_mutex_lock(&l->mu);
        if (l->ups < (int)(sizeof l->up_at / sizeof *l->up_at))
            l->up_at[l->ups++] = at;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
    return NULL;
}

/* Listens on a loopback UDP port of its own; the port. */
static int hap_log_start(hap_log *l)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    *l = (hap_log){.fd = socket(AF_INET, SOCK_DGRAM, 0)};
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) ||
        getsockname(l->fd, (struct sockaddr *)&sa, &len))
        die("haproxy", "cannot open a UDP socket for HAProxy's log");
    pthread_create(&l->reader, NULL, hap_log_read, l);
    return ntohs(sa.sin_port);
}

static void hap_log_stop(hap_log *l)
{
    /* shutdown does not wake a recv on an unconnected UDP socket: an
     * empty datagram to itself does. */
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    l->stop = 1;
    if (getsockname(l->fd, (struct sockaddr *)&sa, &len) == 0)
        (void)!sendto(l->fd, "", 0, 0, (struct sockaddr *)&sa, len);
    pthread_join(l->reader, NULL);
    close(l->fd);
}

/* The UP event numbered `nth` (from 0); waits for it. -1: none within 10 s. */
static double hap_log_up(hap_log *l, int nth)
{
    double at = -1, end = now_s() + 10;
    pthread_mutex_lock(&l->mu);
    while (l->ups <= nth && now_s() < end)
        wait_5ms(&l->cv, &l->mu);
    if (l->ups > nth)
        at = l->up_at[nth];
    pthread_mutex_unlock(&l->mu);
    return at;
}

/* When HAProxy put IP:9000 in service: the first UP event after t0. Only
 * the agent's round for the new instance can log one then (the slot was
 * in maintenance, and the round sets its address before `state ready`);
 * the Runtime API must then show IP:9000 running, and `show stat` agree.
 * (The state shows a moment after the log line: asked at once, the
 * answer is sometimes the old one.) */
static double hap_wait_up(hap_cli *c, hap_log *l, int *seen, const char *ip, double t0)
{
    char addr[64];
    snprintf(addr, sizeof addr, "%s:9000", ip);
    double at;
    do
        if ((at = hap_log_up(l, (*seen)++)) < 0)
            die("haproxy", "HAProxy never logged the new server UP");
    while (at < t0);
    for (double end = now_s() + 5; hap_running(c, "hap", ip, 9000) != 1; usleep(1000))
        if (now_s() > end)
            die("haproxy", "HAProxy logged a server UP but never showed the new one running");
    if (hap_stat_up(c, "hap", addr) != 1)
        die("haproxy", "show stat and show servers state disagree on the new server");
    return at;
}

/* Polls until HAProxy no longer has IP:9000 running (not measured). */
static void hap_wait_gone(hap_cli *c, const char *ip)
{
    for (double end = now_s() + 10; hap_running(c, "hap", ip, 9000) != 0; usleep(1000))
        if (now_s() > end)
            die("haproxy", "HAProxy kept the removed server");
}

/* The median of each block of v (sorted in place, block by block). */
static void block_medians(double *v, double *out)
{
    enum { PER = HAP_SAMPLES / HAP_BLOCKS };
    for (int blk = 0; blk < HAP_BLOCKS; blk++) {
        qsort(v + blk * PER, PER, sizeof *v, cmp_double);
        out[blk] = v[blk * PER + PER / 2];
    }
}

/* A pair per block: the median, over the block's registrations, of each
 * registration's ratio (the agent's time over kazoo's for that same
 * registration). Both times hold the CLI's start (5-12 ms, the most of
 * either); a ratio of the block's two medians compares different
 * registrations, and that start's spread moved it 0.04x either way. */
static void report_haproxy(const double *hap, const double *kaz)
{
    double r[HAP_SAMPLES], h[HAP_SAMPLES], k[HAP_SAMPLES], rb[HAP_BLOCKS], hb[HAP_BLOCKS], kb[HAP_BLOCKS];
    for (int i = 0; i < HAP_SAMPLES; i++)
        r[i] = hap[i] / kaz[i], h[i] = hap[i], k[i] = kaz[i];
    block_medians(r, rb);
    block_medians(h, hb);
    block_medians(k, kb);
    report_ratios("haproxy_register", rb, hb, kb, HAP_BLOCKS, "ms");
}

static void add_pcts(const char *what, double *v, double base)
{
    char row[160];
    qsort(v, HAP_SAMPLES, sizeof *v, cmp_double);
    snprintf(row, sizeof row, "%s, p50", what);
    add_row("haproxy", strdup(row), v[HAP_SAMPLES / 2], "ms", base > 0 ? base : v[HAP_SAMPLES / 2]);
    snprintf(row, sizeof row, "%s, p95", what);
    add_row("haproxy", strdup(row), v[HAP_SAMPLES * 95 / 100], "ms", v[HAP_SAMPLES * 95 / 100]); /* rows keep it */
}

void bench_haproxy(const bench *b)
{
    char dir[] = "/tmp/zkdisc-bench-hap-XXXXXX", conf[128], be[128], mainc[128], sock[128], log[3][128],
         agent[4096], cli[4096];
    if (!mkdtemp(dir))
        die("haproxy", "mkdtemp");
    if (b->agent)
        snprintf(agent, sizeof agent, "%s", b->agent);
    else
        beside_self(agent, sizeof agent, "../zkdisc-agent/zkdisc-agent");
    if (b->cli)
        snprintf(cli, sizeof cli, "%s", b->cli);
    else
        beside_self(cli, sizeof cli, "../zkdisc/zkdisc");
    snprintf(conf, sizeof conf, "%s/agent.conf", dir);
    snprintf(be, sizeof be, "%s/be.cfg", dir);
    snprintf(mainc, sizeof mainc, "%s/main.cfg", dir);
    snprintf(sock, sizeof sock, "%s/h.sock", dir);
    snprintf(log[0], sizeof log[0], "%s/agent.log", dir);
    snprintf(log[1], sizeof log[1], "%s/haproxy.log", dir);
    snprintf(log[2], sizeof log[2], "%s/register.log", dir);
    zhandle_t *zh = raw_connect(b->zk);
    raw_prepare(zh, "hap");
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "zookeeper = { connect = \"%s\"; session_timeout = \"30s\"; };\n"
            "agent = { api = \"127.0.0.1:%d\"; state_dir = \"%s/state\"; };\n"
            "watch = ( { service = \"hap\"; allow_empty = true; outputs = ( { type = \"haproxy\";\n"
            "  config = \"%s\"; backend = \"hap\"; slots = 10; socket = \"%s\"; } ); } );\n",
            b->zk, bench_free_port(0), dir, be, sock);
    fclose(f);
    hap_log hl;
    int log_port = hap_log_start(&hl), ups_seen = 0;
    f = fopen(mainc, "w");
    fprintf(f,
            "global\n    stats socket %s level admin\n    log 127.0.0.1:%d local0\ndefaults\n    mode http\n"
            "    log global\n    timeout connect 2s\n"
            "    timeout client 10s\n    timeout server 10s\nfrontend fe\n    bind 127.0.0.1:%d\n"
            "    default_backend hap\n",
            sock, log_port, bench_free_port(0));
    fclose(f);
    kazoo_watch kw = {.seen = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, "", 0, 0}};
    kazoo_start(&kw, b->zk, "/zkdisc/services/hap");
    char *aargv[] = {agent, "-c", conf, NULL};
    pid_t ag = spawn(log[0], aargv);
    wait_file("the agent never wrote the backend's file", be, ag);
    char *hargv[] = {"haproxy", "-W", "-db", "-f", mainc, "-f", be, NULL};
    pid_t hp = spawn(log[1], hargv);
    hap_cli hc = {sock, -1};
    for (double end = now_s() + 30; hap_running(&hc, "hap", "-", 0) < 0; usleep(10000))
        if (now_s() > end || waitpid(hp, NULL, WNOHANG) == hp)
            die("haproxy", "HAProxy did not start (is it installed?)");

    kids_seen k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, "", 0, 0};
    zhandle_t *watcher = raw_connect(b->zk);
    k.zh = watcher;
    struct String_vector kids;
    zoo_wget_children(watcher, "/zkdisc/services/hap", kids_watch, &k, &kids);
    k.count = kids.count;
    deallocate_String_vector(&kids);
    kids_wait(&kw.seen, k.count, "kazoo's ChildrenWatch");
    double hap[HAP_SAMPLES], kaz[HAP_SAMPLES], raw[HAP_SAMPLES], rawd[RAWD_SAMPLES];
    for (int i = 0; i < HAP_SAMPLES + RAWD_SAMPLES; i++) {
        int pair = i < HAP_SAMPLES;
        char id[32], ip[32];
        snprintf(id, sizeof id, "i-%06d", i);
        snprintf(ip, sizeof ip, "127.0.%d.%d", i / 200 + 1, i % 200 + 1);
        char *rargv[] = {cli, "--zk", (char *)b->zk, "register", "hap", "--port", "9000", "--address", ip,
                         "--id", id, NULL};
        pthread_mutex_lock(&k.mu);
        k.data_at = 0;
        k.read_data = !pair;
        pthread_mutex_unlock(&k.mu);
        double t0 = now_s();
        pid_t reg = spawn(log[2], rargv);
        double r = (kids_wait(&k, 1, "the raw children watch") - t0) * 1e3;
        double h = (hap_wait_up(&hc, &hl, &ups_seen, ip, t0) - t0) * 1e3;
        double z = (kids_wait(&kw.seen, 1, "kazoo's ChildrenWatch") - t0) * 1e3;
        if (pair) {
            raw[i] = r, hap[i] = h, kaz[i] = z;
        } else {
            double at = 0;
            for (double end = now_s() + 10; at == 0; usleep(1000)) {
                pthread_mutex_lock(&k.mu);
                at = k.data_at;
                pthread_mutex_unlock(&k.mu);
                if (at == 0 && now_s() > end)
                    die("haproxy", "the raw C reader never read the new record");
            }
            rawd[i - HAP_SAMPLES] = (at - t0) * 1e3;
        }
        int status;
        kill(reg, SIGTERM);
        if (waitpid(reg, &status, 0) != reg || !WIFEXITED(status) || WEXITSTATUS(status))
            die("haproxy", "zkdisc register did not deregister and exit 0 on SIGTERM (see register.log)");
        kids_wait(&k, 0, "the raw children watch");
        kids_wait(&kw.seen, 0, "kazoo's ChildrenWatch");
        hap_wait_gone(&hc, ip);
    }
    double gap[HAP_SAMPLES];
    for (int i = 0; i < HAP_SAMPLES; i++) /* the agent's and HAProxy's part, the CLI's start left out */
        gap[i] = hap[i] - kaz[i];
    report_haproxy(hap, kaz);
    qsort(kaz, HAP_SAMPLES, sizeof *kaz, cmp_double);
    double kaz50 = kaz[HAP_SAMPLES / 2];
    add_pcts("kazoo ChildrenWatch sees the registration", kaz, 0);
    add_pcts("`zkdisc register` to HAProxy serving it", hap, kaz50);
    add_pcts("HAProxy serving it after kazoo saw it (information)", gap, 0);
    add_pcts("raw C children watch sees it (information)", raw, 0);
    qsort(rawd, RAWD_SAMPLES, sizeof *rawd, cmp_double);
    add_row("haproxy", "raw C children watch + getData of the child, alone (information), p50",
            rawd[RAWD_SAMPLES / 2], "ms", rawd[RAWD_SAMPLES / 2]);
    if (hc.fd >= 0)
        close(hc.fd);
    zookeeper_close(watcher);
    zookeeper_close(zh);
    kazoo_stop(&kw);
    hap_log_stop(&hl);
    kill(hp, SIGTERM);
    kill(ag, SIGTERM);
    waitpid(hp, NULL, 0);
    waitpid(ag, NULL, 0);
    snprintf(conf, sizeof conf, "rm -rf '%s'", dir);
    if (system(conf) != 0)
        fprintf(stderr, "zkdisc-bench: could not remove %s\n", dir);
}
