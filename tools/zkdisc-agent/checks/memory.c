/* SPDX-License-Identifier: Apache-2.0 */
/* memory: the resident memory of a process (`pid` or `pidfile`: VmRSS from
 * /proc) or of a cgroup v2 directory (`cgroup`: memory.current) stays
 * under `max_rss` (bytes, "512M", or "10%" of the host's memory). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks/check.h"

typedef struct memory_conf {
    int pid;
    char *pidfile, *cgroup;
    uint64_t max_rss;
} memory_conf;

static void memory_free(void *p)
{
    memory_conf *m = p;
    free(m->pidfile);
    free(m->cgroup);
    free(m);
}

static uint64_t host_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static void *memory_parse(const config_setting_t *s, struct evbuffer *errors)
{
    memory_conf *m = calloc(1, sizeof *m);
    int bad = conf_int(s, "pid", 1, 1 << 30, &m->pid, errors) < 0;
    bad |= conf_string(s, "pidfile", &m->pidfile, errors) < 0;
    bad |= conf_string(s, "cgroup", &m->cgroup, errors) < 0;
    if (!bad && (m->pid > 0) + !!m->pidfile + !!m->cgroup != 1) {
        conf_error(errors, s, NULL, "a memory check needs exactly one of `pid`, `pidfile` or `cgroup`");
        bad = 1;
    }
    int rc = conf_size(s, "max_rss", host_memory(), &m->max_rss, errors);
    if (rc == 1)
        conf_error(errors, s, "max_rss", "missing: a memory check needs `max_rss` (\"512M\" or \"10%%\")");
    if (bad || rc != 0) {
        memory_free(m);
        return NULL;
    }
    return m;
}

static int read_first_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    return ok ? 0 : -1;
}

/* RSS in bytes, or -1 with a note. */
static int64_t measure(const memory_conf *m, char *note, size_t len)
{
    char path[4096], line[256];
    if (m->cgroup) {
        snprintf(path, sizeof path, "%s/memory.current", m->cgroup);
        if (read_first_line(path, line, sizeof line) != 0) {
            snprintf(note, len, "cannot read %.200s", path);
            return -1;
        }
        return strtoll(line, NULL, 10);
    }
    int pid = m->pid;
    if (m->pidfile) {
        if (read_first_line(m->pidfile, line, sizeof line) != 0 || (pid = atoi(line)) <= 0) {
            snprintf(note, len, "cannot read a pid from %.200s", m->pidfile);
            return -1;
        }
    }
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(note, len, "process %d is not running", pid);
        return -1;
    }
    int64_t kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %" SCNd64, &kb) == 1)
            break;
    fclose(f);
    if (kb < 0)
        snprintf(note, len, "process %d has no VmRSS (a zombie?)", pid);
    return kb < 0 ? -1 : kb * 1024;
}

static void memory_run(check *c)
{
    const memory_conf *m = check_get_conf(c)->kconf;
    char note[256];
    int64_t rss = measure(m, note, sizeof note);
    check_status st = CHECK_CRITICAL;
    if (rss >= 0) {
        st = (uint64_t)rss <= m->max_rss ? CHECK_PASSING : CHECK_CRITICAL;
        snprintf(note, sizeof note, "rss %.1f MiB, limit %.1f MiB", (double)rss / 1048576.0,
                 (double)m->max_rss / 1048576.0);
    }
    check_done(c, st, note);
}

static const char *const memory_keys[] = {"pid", "pidfile", "cgroup", "max_rss", NULL};

const check_kind check_memory = {
    .name = "memory", .parse = memory_parse, .keys = memory_keys, .free_conf = memory_free,
    .run = memory_run, .cancel = NULL,
};
