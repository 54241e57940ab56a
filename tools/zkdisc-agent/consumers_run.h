/* Runs an argv (never a shell) from the loop without blocking it: the
 * child's stdin is `input` (NULL: /dev/null), its stdout and stderr go to
 * /dev/null, and its whole process group is killed at the timeout. The
 * child is reaped by its pid alone (a pidfd), never by waitpid(-1). */
#ifndef ZKDISC_AGENT_CONSUMERS_RUN_H
#define ZKDISC_AGENT_CONSUMERS_RUN_H

#include <event2/event.h>
#include <stddef.h>

typedef struct run_job run_job;

/* `status` is the exit code, 128+N for signal N, 124 on a timeout, 127
 * when the program could not be started. `why` says it for a person. */
typedef void (*run_done_fn)(int status, const char *why, void *ctx);

/* Starts argv[0] (searched in PATH). `done` is called once, on the loop,
 * unless run_cancel comes first. NULL with *why set when fork fails. */
run_job *run_start(struct event_base *base, char *const *argv, const void *input, size_t len,
                   int timeout_ms, run_done_fn done, void *ctx);

/* Kills the child's group and forgets it; `done` is not called. */
void run_cancel(run_job *job);

/* "prog arg arg" for messages, into buf. */
void run_describe(char *const *argv, char *buf, size_t len);

#endif
