/* Child processes on the loop: spawned without a shell in their own process
 * group, output captured (the first 4 KiB), reaped through SIGCHLD. Used by
 * exec checks and exec alert hooks. */
#ifndef ZKDISC_AGENT_PROC_H
#define ZKDISC_AGENT_PROC_H

#include <event2/event.h>
#include <stddef.h>

#define PROC_OUTPUT_MAX 4096

typedef struct proc proc;

/* `status` is a wait() status; `output` (NUL-terminated) is stdout and
 * stderr together, at most PROC_OUTPUT_MAX bytes. */
typedef void (*proc_done_fn)(void *ctx, int status, const char *output, size_t len);

/* Installs the SIGCHLD handler on `base`. Once, before the first spawn. */
int proc_init(struct event_base *base);
void proc_shutdown(void);

/* Starts argv[0] (searched in PATH) with `env_extra` (NULL-terminated
 * "K=V", may be NULL) added to the environment and `input` (may be NULL)
 * on its stdin. NULL with the reason in err (a missing program is found
 * here). `done` is called once on the loop when the child exits. */
proc *proc_spawn(char *const argv[], char *const env_extra[], const char *input, proc_done_fn done,
                 void *ctx, char *err, size_t errlen);

/* Kills the child's whole process group; `done` is not called. */
void proc_kill(proc *p);

#endif
