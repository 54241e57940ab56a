/* Child processes on the loop (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

extern char **environ;

struct proc {
    proc *next;
    pid_t pid;
    int out_fd;
    struct event *out_ev;
    char output[PROC_OUTPUT_MAX + 1];
    size_t len;
    proc_done_fn done;
    void *ctx;
};

static struct event_base *proc_base;
static struct event *sigchld_ev;
static proc *procs;

static void unlink_proc(proc *p)
{
    for (proc **pp = &procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static void drain_output(proc *p)
{
    char buf[4096];
    ssize_t n;
    while (p->out_fd >= 0 && (n = read(p->out_fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* EAGAIN: nothing more now */
        }
        size_t keep = PROC_OUTPUT_MAX - p->len;
        if (keep > (size_t)n)
            keep = (size_t)n;
        memcpy(p->output + p->len, buf, keep);
        p->len += keep;
    }
    p->output[p->len] = 0;
}

static void proc_free(proc *p)
{
    if (p->out_ev)
        event_free(p->out_ev);
    if (p->out_fd >= 0)
        close(p->out_fd);
    free(p);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    proc *p = arg;
    char buf[4096];
    ssize_t n = read(p->out_fd, buf, sizeof buf);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
        event_del(p->out_ev); /* EOF: the exit comes through SIGCHLD */
        return;
    }
    if (n > 0) {
        size_t keep = PROC_OUTPUT_MAX - p->len;
        if (keep > (size_t)n)
            keep = (size_t)n;
        memcpy(p->output + p->len, buf, keep);
        p->len += keep;
    }
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        proc *p = procs;
        while (p && p->pid != pid)
            p = p->next;
        if (!p)
            continue; /* killed earlier: only the zombie was left */
        unlink_proc(p);
        drain_output(p);
        p->done(p->ctx, status, p->output, p->len);
        proc_free(p);
    }
}

int proc_init(struct event_base *base)
{
    proc_base = base;
    sigchld_ev = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
    return sigchld_ev && event_add(sigchld_ev, NULL) == 0 ? 0 : -1;
}

void proc_shutdown(void)
{
    while (procs)
        proc_kill(procs);
    if (sigchld_ev)
        event_free(sigchld_ev);
    sigchld_ev = NULL;
}

static char **env_with(char *const extra[])
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
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

proc *proc_spawn(char *const argv[], char *const env_extra[], const char *input, proc_done_fn done,
                 void *ctx, char *err, size_t errlen)
{
    int out[2], in[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0 || (input && pipe2(in, O_CLOEXEC) != 0)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (input)
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    char **env = env_with(env_extra);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, env);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out[1]);
    if (input)
        close(in[0]);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        close(out[0]);
        if (input)
            close(in[1]);
        return NULL;
    }
    if (input) {
        /* Event payloads are far below the pipe's 64 KiB: one write, no wait. */
        fcntl(in[1], F_SETFL, O_NONBLOCK);
        ssize_t w = write(in[1], input, strlen(input));
        (void)w;
        close(in[1]);
    }
    proc *p = calloc(1, sizeof *p);
    p->pid = pid;
    p->out_fd = out[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    p->done = done;
    p->ctx = ctx;
    p->out_ev = event_new(proc_base, p->out_fd, EV_READ | EV_PERSIST, on_output, p);
    event_add(p->out_ev, NULL);
    p->next = procs;
    procs = p;
    return p;
}

void proc_kill(proc *p)
{
    if (!p)
        return;
    kill(-p->pid, SIGKILL);
    unlink_proc(p);
    proc_free(p);
}
