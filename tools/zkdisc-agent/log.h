/* SPDX-License-Identifier: Apache-2.0 */
/* Log output settings (agent_log itself is declared in agent.h). */
#ifndef ZKDISC_AGENT_LOG_H
#define ZKDISC_AGENT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent.h"

void log_set_json(int json);
/* agent_log, and in JSON lines `fields`' members beside time, level and msg
 * (service, check, event...); fields is borrowed and may be NULL. */
void agent_log_fields(agent_level level, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* RFC 3339 UTC with milliseconds, "2026-12-01T15:50:00.123Z", of a
 * realtime ms timestamp (0: now). */
void log_time(int64_t ms, char *buf, size_t len);
int64_t now_realtime_ms(void);
int64_t now_mono_ms(void);
double now_mono_s(void);

#endif
