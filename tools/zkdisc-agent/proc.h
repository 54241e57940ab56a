/* SPDX-License-Identifier: Apache-2.0 */
/* Every child process the agent runs (exec checks, alert hooks, command
 * outputs, reloads, config_files on_change) goes through here. A child is
 * spawned without a shell in a process group of its own; its stdin is a
 * memfd (any size, never blocking the loop), its stdout and stderr are
 * captured together (the first PROC_OUTPUT_MAX bytes; the rest is read and
 * dropped), and its whole group is killed at the timeout. Each child is
 * reaped through its own pidfd, never with waitpid(-1): nothing else can
 * collect it, and the one caller that started it gets its true status. */
#ifndef ZKDISC_AGENT_PROC_H
#define ZKDISC_AGENT_PROC_H

#include <event2/event.h>
#include <stddef.h>

#define PROC_OUTPUT_MAX 4096
/* proc_spawn's timeout: a hook that hangs must not hold a process forever. */
#define PROC_SPAWN_TIMEOUT_MS 60000

typedef struct proc proc;

typedef struct proc_result {
    int status;         /* the wait() status */
    int code;           /* exit code; 128+N after signal N; 124 when timed out */
    int timed_out;      /* the group was killed at the timeout */
    const char *why;    /* for a person: "exited with status 3", "timed out after 5000 ms (killed)" */
    const char *output; /* stdout and stderr, NUL-terminated, at most PROC_OUTPUT_MAX bytes */
    size_t len;
} proc_result;

typedef void (*proc_result_fn)(void *ctx, const proc_result *r);

typedef struct proc_spec {
    char *const *argv;      /* argv[0] is searched in PATH */
    char *const *env_extra; /* "K=V" added to the environment, NULL-terminated; may be NULL */
    const void *input;      /* stdin (NULL: /dev/null) */
    size_t input_len;
    int timeout_ms;         /* <= 0: none (the caller cancels with proc_kill) */
} proc_spec;

/* The loop children are watched on. Once, before the first start. */
int proc_init(struct event_base *base);
/* Kills every child still running and reaps it. */
void proc_shutdown(void);

/* Starts a child. NULL with the reason in err (a missing program is found
 * here). `done` is called once, on the loop, when the child has exited,
 * unless proc_kill comes first. */
proc *proc_start(const proc_spec *spec, proc_result_fn done, void *ctx, char *err, size_t errlen);

/* `status` is a wait() status; `output` as in proc_result. */
typedef void (*proc_done_fn)(void *ctx, int status, const char *output, size_t len);

/* proc_start with a NUL-terminated `input` (may be NULL) and a timeout of
 * PROC_SPAWN_TIMEOUT_MS. */
proc *proc_spawn(char *const argv[], char *const env_extra[], const char *input, proc_done_fn done,
                 void *ctx, char *err, size_t errlen);

/* Kills the child's whole process group; `done` is not called (the child
 * is still reaped, on the loop). NULL is ignored. */
void proc_kill(proc *p);

/* A child's output as one line for a log or an alert, into buf: trailing
 * line breaks dropped, inner ones as " | ", cut at len - 1 bytes. */
void proc_excerpt(const char *out, size_t outlen, char *buf, size_t len);

/* "prog arg arg" for messages, into buf. */
void proc_describe(char *const *argv, char *buf, size_t len);

#endif
