/* Child processes on the loop (see consumers_run.h). stdin is a memfd, so
 * a large input never blocks the loop on a pipe; exit is seen through a
 * pidfd, so nothing else's SIGCHLD handling can steal or confuse it. */
#include "consumers_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct run_job {
    pid_t pid;
    int pidfd;
    struct event *exited;
    struct event *timer;
    int timed_out;
    run_done_fn done;
    void *ctx;
};

void run_describe(char *const *argv, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (char *const *a = argv; a && *a && used + 1 < len; a++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", a == argv ? "" : " ", *a);
}

static void finish(run_job *j)
{
    event_free(j->exited);
    event_free(j->timer);
    close(j->pidfd);
    free(j);
}

static void on_exit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_job *j = arg;
    int st = 0;
    if (waitpid(j->pid, &st, WNOHANG) == 0)
        return; /* spurious */
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char why[128];
    if (j->timed_out) {
        status = 124;
        snprintf(why, sizeof why, "timed out (killed)");
    } else if (WIFEXITED(st))
        snprintf(why, sizeof why, "exited with status %d", status);
    else
        snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(st));
    run_done_fn done = j->done;
    void *ctx = j->ctx;
    finish(j);
    done(status, why, ctx);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_job *j = arg;
    j->timed_out = 1;
    kill(-j->pid, SIGKILL);
}

static int input_fd(const void *input, size_t len)
{
    if (!input)
        return open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fd = memfd_create("zkdisc-agent-stdin", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const char *p = input;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

run_job *run_start(struct event_base *base, char *const *argv, const void *input, size_t len,
                   int timeout_ms, run_done_fn done, void *ctx)
{
    int in = input_fd(input, len);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (in < 0 || devnull < 0) {
        if (in >= 0)
            close(in);
        if (devnull >= 0)
            close(devnull);
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Async-signal-safe calls only: the parent has threads. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        dup2(in, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in);
    close(devnull);
    if (pid < 0)
        return NULL;
    setpgid(pid, pid); /* also here: no race with the kill at the timeout */
    run_job *j = calloc(1, sizeof *j);
    j->pid = pid;
    j->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    j->done = done;
    j->ctx = ctx;
    if (j->pidfd < 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        free(j);
        return NULL;
    }
    j->exited = event_new(base, j->pidfd, EV_READ | EV_PERSIST, on_exit_cb, j);
    j->timer = evtimer_new(base, on_timeout, j);
    event_add(j->exited, NULL);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(j->timer, &tv);
    return j;
}

void run_cancel(run_job *j)
{
    if (!j)
        return;
    kill(-j->pid, SIGKILL);
    waitpid(j->pid, NULL, 0);
    finish(j);
}
