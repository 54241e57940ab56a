/* SPDX-License-Identifier: Apache-2.0 */
/* One line per event on stderr: RFC 3339 UTC time, level, message; or one
 * JSON object per line for log shippers. Safe from any thread (one write). */
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

/* Set by the loop on a reload, read by every thread that logs. */
static atomic_int log_json;

void log_set_json(int json)
{
    atomic_store_explicit(&log_json, json, memory_order_relaxed);
}

int64_t now_realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double now_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void log_time(int64_t ms, char *buf, size_t len)
{
    if (!ms)
        ms = now_realtime_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

static const char *level_name(agent_level l)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    return l >= AGENT_ERROR && l <= AGENT_DEBUG ? names[l] : "INFO";
}

/* fields: extra members of the JSON line (borrowed, may be NULL); the text
 * format has them in the message already. */
static void vlog(agent_level level, json_t *fields, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* Messages built from error buffers end in newlines: one line per event. */
    for (size_t n = strlen(msg); n && (msg[n - 1] == '\n' || msg[n - 1] == ' '); n--)
        msg[n - 1] = '\0';
    for (char *nl = msg; (nl = strchr(nl, '\n'));)
        *nl = ';'; /* several errors: still one line */
    char ts[40];
    log_time(0, ts, sizeof ts);
    char *line = NULL;
    if (atomic_load_explicit(&log_json, memory_order_relaxed)) {
        json_t *o = json_pack("{ssssss}", "time", ts, "level", level_name(level), "msg", msg);
        if (o && fields)
            json_object_update_missing(o, fields);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (text && asprintf(&line, "%s\n", text) < 0)
            line = NULL;
        free(text);
    } else if (asprintf(&line, "%s %s %s\n", ts, level_name(level), msg) < 0) {
        line = NULL;
    }
    if (line) {
        ssize_t w = write(STDERR_FILENO, line, strlen(line));
        (void)w;
        free(line);
    }
}

void agent_log(agent_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void agent_log_fields(agent_level level, json_t *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fields, fmt, ap);
    va_end(ap);
}
