/* SPDX-License-Identifier: Apache-2.0 */
/* A webhook's `headers` and `body` (alerts with `webhook`): headers whose
 * values may come from files (tokens kept out of the config), and a body
 * rendered from the event with the Mustache engine (escape json). */
#ifndef ZKDISC_AGENT_WEBHOOK_H
#define ZKDISC_AGENT_WEBHOOK_H

#include <curl/curl.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <libconfig.h>

#include "conf.h"

/* Reads `headers` (a group: Name = "value" | "@/path" | { file = "/path"; })
 * and `body` (a string, a Mustache template) of alert hook `s` into `ac`.
 * A file's value is stored as "@/path" and read at each delivery. 0, or -1
 * with errors appended. */
int webhook_conf_parse(const config_setting_t *s, alert_conf *ac, struct evbuffer *errors);

/* The request headers: Content-Type application/json unless configured,
 * then the configured ones (files read now, their trailing newline
 * dropped). NULL with a message in err when a file cannot be read. */
struct curl_slist *webhook_headers(const alert_conf *ac, char *err, size_t errlen);

/* The body: `body` rendered over the event's fields and is.EVENT = true,
 * else the event as compact JSON. malloc'd; NULL with a message in err. */
char *webhook_body(const alert_conf *ac, json_t *ev, char *err, size_t errlen);

#endif
