/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc-bench's agent group: the CPU a zkdisc-agent spends on N http
 * checks at a 1 s interval, against a plain libcurl-multi loop making the
 * same N requests a second (a new connection each, as the checks do) in a
 * process of its own, over the same window, both against one local HTTP
 * server (a forked libevent server whose CPU counts for neither). CPU is
 * also compared per request, so a slightly different rate does not move
 * that ratio. */
#include "bench_agent.h"
#include "bench.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rusage_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- the HTTP server (a child) ---------------------------------------------- */

static void on_health(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "ok\n", 3);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static pid_t start_server(int *port)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct event_base *base = event_base_new();
        struct evhttp *http = evhttp_new(base);
        evhttp_set_gencb(http, on_health, NULL);
        struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        int got = bs && getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len) == 0
                      ? ntohs(sa.sin_port) : -1;
        (void)!write(p[1], &got, sizeof got);
        event_base_dispatch(base);
        _exit(0);
    }
    close(p[1]);
    if (pid < 0 || read(p[0], port, sizeof *port) != sizeof *port || *port < 0)
        pid = -1;
    close(p[0]);
    return pid;
}

/* ---- the baseline loop (a child) -------------------------------------------- */

static size_t discard(char *d, size_t s, size_t n, void *arg)
{
    (void)d, (void)arg;
    return s * n;
}

/* n requests at once, every second, for warm + secs seconds; writes the CPU
 * seconds and the requests of the last secs seconds. */
static void loop_child(const char *url, int n, int warm, int secs, int out)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    double start = mono(), cpu0 = 0;
    long done = 0;
    for (int tick = 0; tick < warm + secs; tick++) {
        if (tick == warm) {
            cpu0 = rusage_cpu();
            done = 0;
            (void)!write(out, "s", 1); /* the window starts: the parent samples the agent */
        }
        for (int i = 0; i < n; i++) {
            CURL *e = curl_easy_init();
            curl_easy_setopt(e, CURLOPT_URL, url);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
            curl_multi_add_handle(m, e);
        }
        int running = 1;
        while (running) {
            curl_multi_perform(m, &running);
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(m, &left))) {
                if (msg->msg != CURLMSG_DONE)
                    continue;
                done++;
                curl_multi_remove_handle(m, msg->easy_handle);
                curl_easy_cleanup(msg->easy_handle);
            }
            if (running)
                curl_multi_poll(m, NULL, 0, 100, NULL);
        }
        double next = start + tick + 1, now = mono();
        if (next > now)
            usleep((useconds_t)((next - now) * 1e6));
    }
    double r[2] = {rusage_cpu() - cpu0, (double)done};
    (void)!write(out, r, sizeof r);
    curl_multi_cleanup(m);
    _exit(0);
}

/* The loop in a child; returns its pid and the pipe it reports on. */
static pid_t start_loop(const char *url, int n, int secs, int *fd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(p[0]);
        loop_child(url, n, 3, secs, p[1]);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* ---- the agent ---------------------------------------------------------------- */

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
    evbuffer_add(arg, d, s * n);
    return s * n;
}

/* The probes the agent has made so far (its check duration counts), or -1. */
static double probes(int api_port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", api_port);
    CURL *e = curl_easy_init();
    struct evbuffer *b = evbuffer_new();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    double sum = -1;
    if (curl_easy_perform(e) == CURLE_OK) {
        evbuffer_add(b, "", 1);
        sum = 0;
        const char *key = "zkdisc_agent_check_duration_seconds_count{";
        for (char *s = (char *)evbuffer_pullup(b, -1); (s = strstr(s, key)); s++) {
            char *sp = strchr(s, ' ');
            if (sp)
                sum += atof(sp + 1);
        }
    }
    evbuffer_free(b);
    curl_easy_cleanup(e);
    return sum;
}

static double proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int run_agent(const char *agent, const char *zk, const char *url, int n, int secs,
                     double *cpu, double *reqs, double *loop_cpu, double *loop_reqs, char *err,
                     size_t errlen)
{
    char dir[] = "/tmp/zkdisc-bench-agent.XXXXXX", conf[128], log[128];
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "mkdtemp: %m");
        return -1;
    }
    int api_port = bench_free_port(0), per = 10;
    snprintf(conf, sizeof conf, "%s/agent.conf", dir);
    snprintf(log, sizeof log, "%s/agent.log", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f, "zookeeper = { connect = \"%s\"; };\nagent = { api = \"127.0.0.1:%d\"; drain_delay = \"0s\"; };\nservices = (\n",
            zk, api_port);
    for (int s = 0; s * per < n; s++) {
        fprintf(f, "%s{ name = \"bench-agent-%d\"; port = 1; checks = (", s ? ",\n" : "", s);
        for (int c = 0; c < per && s * per + c < n; c++)
            fprintf(f, "%s{ type = \"http\"; name = \"h%d\"; url = \"%s\"; interval = \"1s\"; }",
                    c ? ", " : "", c, url);
        fprintf(f, " ); }");
    }
    fprintf(f, "\n);\n");
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(agent, agent, "-c", conf, (char *)NULL);
        _exit(127);
    }
    int rc = -1;
    /* Steady state: every check has run twice (registration settled). */
    double deadline = mono() + 60, p0 = -1;
    while (mono() < deadline && (p0 = probes(api_port)) < 2.0 * n)
        usleep(200000);
    if (p0 < 2.0 * n) {
        snprintf(err, errlen, "the agent (%s) did not run its checks within 60 s; see %s", agent, log);
    } else {
        /* The loop runs beside the agent, over the same window: both see the
         * same machine (a busy one shifts both alike). */
        int fd = -1;
        char go;
        double r[2];
        pid_t loop = start_loop(url, n, secs, &fd);
        if (loop > 0 && read(fd, &go, 1) == 1) {
            double c0 = proc_cpu(pid);
            p0 = probes(api_port);
            int got = read(fd, r, sizeof r) == sizeof r;
            double c1 = proc_cpu(pid), p1 = probes(api_port);
            *cpu = c1 - c0;
            *reqs = p1 - p0;
            *loop_cpu = r[0];
            *loop_reqs = r[1];
            rc = got && c0 >= 0 && c1 >= 0 ? 0 : -1;
        }
        if (rc)
            snprintf(err, errlen, "the baseline loop or the agent's CPU time failed");
        if (loop > 0)
            waitpid(loop, NULL, 0);
        if (fd >= 0)
            close(fd);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (rc == 0)
        (void)!system(cmd);
    return rc;
}

int bench_agent_run(const char *agent, const char *zk, int n, int secs, bench_agent_result *r,
                    char *err, size_t errlen)
{
    int port;
    pid_t srv = start_server(&port);
    if (srv < 0) {
        snprintf(err, errlen, "cannot start the HTTP server");
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = run_agent(agent, zk, url, n, secs, &r->agent_cpu, &r->agent_requests, &r->loop_cpu,
                       &r->loop_requests, err, errlen);
    r->seconds = secs;
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    return rc;
}
