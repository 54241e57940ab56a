/* SPDX-License-Identifier: Apache-2.0 */
/* Child processes on the loop (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct proc {
    proc *next;
    pid_t pid;
    int pidfd;
    int out_fd;
    struct event *exited, *readable, *timer;
    int timeout_ms, timed_out;
    int killed;            /* by proc_kill: only the reaping is left */
    proc_result_fn done;
    proc_done_fn legacy;   /* proc_spawn's callback instead of done */
    void *ctx;
    char output[PROC_OUTPUT_MAX + 1];
    size_t len;
};

static struct event_base *proc_base;
static proc *procs; /* every child not yet reaped */

void proc_describe(char *const *argv, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (char *const *a = argv; a && *a && used + 1 < len; a++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", a == argv ? "" : " ", *a);
}

void proc_excerpt(const char *out, size_t outlen, char *buf, size_t len)
{
    size_t used = 0;
    while (outlen && (out[outlen - 1] == '\n' || out[outlen - 1] == '\r'))
        outlen--;
    for (size_t i = 0; i < outlen && used + 1 < len; i++) {
        if (out[i] == '\r')
            continue;
        if (out[i] != '\n') {
            buf[used++] = out[i];
        } else if (used + 4 < len) {
            memcpy(buf + used, " | ", 3);
            used += 3;
        } else {
            break;
        }
    }
    buf[used] = '\0';
}

static void unlink_proc(proc *p)
{
    for (proc **pp = &procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static void proc_free(proc *p)
{
    unlink_proc(p);
    if (p->exited)
        event_free(p->exited);
    if (p->readable)
        event_free(p->readable);
    if (p->timer)
        event_free(p->timer);
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->pidfd >= 0)
        close(p->pidfd);
    free(p);
}

/* Reads what the pipe holds now; keeps the first PROC_OUTPUT_MAX bytes and
 * drops the rest, so a chatty child never blocks on a full pipe. 0 at EOF. */
static int read_output(proc *p)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(p->out_fd, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0)
            return errno == EINTR ? read_output(p) : 1; /* EAGAIN: nothing more now */
        size_t keep = PROC_OUTPUT_MAX - p->len;
        if (keep > (size_t)n)
            keep = (size_t)n;
        memcpy(p->output + p->len, buf, keep);
        p->len += keep;
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    proc *p = arg;
    if (read_output(p) == 0)
        event_del(p->readable); /* EOF; the exit comes through the pidfd */
}

static void describe_status(proc_result *r, int timeout_ms, char *why, size_t len)
{
    int st = r->status;
    if (r->timed_out) {
        r->code = 124;
        snprintf(why, len, "timed out after %d ms (killed)", timeout_ms);
    } else if (WIFEXITED(st)) {
        r->code = WEXITSTATUS(st);
        snprintf(why, len, "exited with status %d", r->code);
    } else {
        r->code = 128 + WTERMSIG(st);
        snprintf(why, len, "killed by signal %d", WTERMSIG(st));
    }
    r->why = why;
}

/* Reaps the child if it has exited and reports it; 0 while it runs. */
static int reap(proc *p)
{
    int st = 0;
    pid_t got = waitpid(p->pid, &st, WNOHANG);
    if (got == 0 || (got < 0 && errno == EINTR))
        return 0;
    if (got < 0) {
        /* Cannot happen while nothing else reaps our children; say so
         * rather than report a status nobody saw. */
        st = W_EXITCODE(127, 0);
        snprintf(p->output, sizeof p->output, "waitpid %d: %s", (int)p->pid, strerror(errno));
        p->len = strlen(p->output);
    } else {
        read_output(p); /* everything the child wrote is in the pipe now */
    }
    p->output[p->len] = '\0';
    if (p->legacy && !p->killed) {
        p->legacy(p->ctx, st, p->output, p->len);
    } else if (!p->killed) {
        char why[96];
        proc_result r = {.status = st, .timed_out = p->timed_out, .output = p->output, .len = p->len};
        describe_status(&r, p->timeout_ms, why, sizeof why);
        p->done(p->ctx, &r);
    }
    proc_free(p);
    return 1;
}

static void on_exited(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reap(arg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    proc *p = arg;
    /* A loop busy past the deadline sees the timer and the exit together:
     * a child that has exited did not time out. */
    if (reap(p))
        return;
    p->timed_out = 1;
    kill(-p->pid, SIGKILL);
}

int proc_init(struct event_base *base)
{
    proc_base = base;
    return 0;
}

void proc_shutdown(void)
{
    while (procs) {
        proc *p = procs;
        kill(-p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        proc_free(p);
    }
}

static char **env_with(char *const extra[])
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        env[k++] = extra[i];
    for (size_t i = 0; i < n; i++) {
        int shadowed = 0;
        for (size_t j = 0; j < m && !shadowed; j++) {
            size_t klen = strcspn(extra[j], "=");
            shadowed = !strncmp(environ[i], extra[j], klen + 1);
        }
        if (!shadowed)
            env[k++] = environ[i];
    }
    return env;
}

/* stdin: a memfd holding the input, so that no input size can block the
 * loop on a pipe; /dev/null without one. */
static int input_fd(const void *input, size_t len)
{
    if (!input)
        return open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fd = memfd_create("zkdisc-agent-stdin", MFD_CLOEXEC);
    for (const char *p = input; fd >= 0 && len;) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fd >= 0)
        lseek(fd, 0, SEEK_SET);
    return fd;
}

/* posix_spawnp in a new process group with default signals and an empty
 * mask; the child's pid, or -1 with err set. */
static pid_t spawn(const proc_spec *s, int in, int out, char *err, size_t errlen)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, out, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char **env = env_with(s->env_extra);
    pid_t pid = -1;
    int rc = env ? posix_spawnp(&pid, s->argv[0], &fa, &attr, s->argv, env) : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", s->argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

proc *proc_start(const proc_spec *s, proc_result_fn done, void *ctx, char *err, size_t errlen)
{
    int out[2];
    int in = input_fd(s->input, s->input_len);
    if (in < 0 || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot run %s: %s", s->argv[0], strerror(errno));
        if (in >= 0)
            close(in);
        return NULL;
    }
    pid_t pid = spawn(s, in, out[1], err, errlen);
    close(in);
    close(out[1]);
    if (pid < 0) {
        close(out[0]);
        return NULL;
    }
    proc *p = calloc(1, sizeof *p);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (!p || pidfd < 0) {
        snprintf(err, errlen, "cannot watch %s: pidfd_open: %s", s->argv[0], strerror(errno));
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(out[0]);
        if (pidfd >= 0)
            close(pidfd);
        free(p);
        return NULL;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    *p = (proc){.next = procs, .pid = pid, .pidfd = pidfd, .out_fd = out[0],
                .timeout_ms = s->timeout_ms, .done = done, .ctx = ctx};
    procs = p;
    p->exited = event_new(proc_base, pidfd, EV_READ | EV_PERSIST, on_exited, p);
    p->readable = event_new(proc_base, out[0], EV_READ | EV_PERSIST, on_readable, p);
    event_add(p->exited, NULL);
    event_add(p->readable, NULL);
    if (s->timeout_ms > 0) {
        struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
        p->timer = evtimer_new(proc_base, on_timeout, p);
        evtimer_add(p->timer, &tv);
    }
    return p;
}

proc *proc_spawn(char *const argv[], char *const env_extra[], const char *input, proc_done_fn done,
                 void *ctx, char *err, size_t errlen)
{
    proc_spec s = {argv, env_extra, input, input ? strlen(input) : 0, PROC_SPAWN_TIMEOUT_MS};
    proc *p = proc_start(&s, NULL, ctx, err, errlen);
    if (p)
        p->legacy = done;
    return p;
}

void proc_kill(proc *p)
{
    if (!p || p->killed)
        return;
    kill(-p->pid, SIGKILL);
    p->killed = 1; /* reaped by on_exited when the kill lands, without a report */
    if (p->timer)
        evtimer_del(p->timer);
}
