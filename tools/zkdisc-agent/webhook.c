/* SPDX-License-Identifier: Apache-2.0 */
/* Webhook headers and body templates (see webhook.h). */
#include "webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "mustache.h"

/* A header name: an RFC 9110 token. */
static int token_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("()<>@,;:\\\"/[]?={}", *s))
            return 0;
    return 1;
}

/* A header value may not hold a line break (it would start another header). */
static int value_ok(const char *s)
{
    return !strpbrk(s, "\r\n");
}

int webhook_conf_parse(const config_setting_t *s, alert_conf *ac, struct evbuffer *errors)
{
    int bad = 0;
    const config_setting_t *h = config_setting_get_member(s, "headers");
    if (h && !config_setting_is_group(h)) {
        conf_error(errors, s, "headers", "must be a group: headers = { Authorization = \"@/etc/zkdisc/token\"; }");
        return -1;
    }
    int n = h ? config_setting_length(h) : 0;
    if (n) {
        ac->headers = calloc(2 * (size_t)n + 1, sizeof *ac->headers);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(h, (unsigned)i);
            const char *name = config_setting_name(e), *v = config_setting_get_string(e);
            const config_setting_t *f = config_setting_is_group(e) ? config_setting_get_member(e, "file") : NULL;
            char *value = NULL;
            if (v)
                value = strdup(v);
            else if (f && config_setting_get_string(f) && config_setting_length(e) == 1 &&
                     asprintf(&value, "@%s", config_setting_get_string(f)) < 0)
                value = NULL;
            if (!value) {
                conf_error(errors, h, name, "must be a string, \"@/path\" or { file = \"/path\"; }");
                bad = 1;
            } else if (!token_ok(name) || !value_ok(value)) {
                conf_error(errors, h, name, "not a valid header name, or its value holds a line break");
                bad = 1;
            }
            ac->headers[2 * i] = strdup(name);
            ac->headers[2 * i + 1] = value ? value : strdup("");
        }
    }
    if (conf_string(s, "body", &ac->body, errors) < 0)
        bad = 1;
    if (ac->body) {
        zkd_mustache *t = NULL;
        char err[256];
        if (zkd_mustache_compile(ac->body, strlen(ac->body), &t, err, sizeof err) < 0) {
            conf_error(errors, s, "body", "%s", err);
            bad = 1;
        }
        zkd_mustache_free(t);
    }
    if ((ac->headers || ac->body) && !ac->webhook && !bad) {
        conf_error(errors, s, ac->headers ? "headers" : "body", "only a `webhook` hook has headers and a body");
        bad = 1;
    }
    return bad ? -1 : 0;
}

struct curl_slist *webhook_headers(const alert_conf *ac, char *err, size_t errlen)
{
    struct curl_slist *l = NULL;
    int typed = 0;
    for (char **h = ac->headers; h && *h; h += 2)
        typed |= !strcasecmp(h[0], "Content-Type");
    if (!typed)
        l = curl_slist_append(l, "Content-Type: application/json");
    for (char **h = ac->headers; h && *h; h += 2) {
        char *value = NULL, *line = NULL;
        if (h[1][0] == '@') {
            long n = zkd__atomic_file_read(h[1] + 1, 64 << 10, &value);
            if (n < 0) {
                snprintf(err, errlen, "header %s: cannot read %s: %s", h[0], h[1] + 1, strerror(errno));
                curl_slist_free_all(l);
                return NULL;
            }
            while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == '\r'))
                value[--n] = '\0';
            if (!value_ok(value)) {
                snprintf(err, errlen, "header %s: %s holds more than one line", h[0], h[1] + 1);
                free(value);
                curl_slist_free_all(l);
                return NULL;
            }
        }
        /* "Name;" is curl's spelling of a header with an empty value. */
        const char *v = value ? value : h[1];
        if (asprintf(&line, *v ? "%s: %s" : "%s;", h[0], v) >= 0)
            l = curl_slist_append(l, line);
        free(line);
        free(value);
    }
    return l;
}

char *webhook_body(const alert_conf *ac, json_t *ev, char *err, size_t errlen)
{
    if (!ac->body)
        return json_dumps(ev, JSON_COMPACT);
    zkd_mustache *t = NULL;
    char *out = NULL;
    /* is.EVENT is true: Mustache cannot compare, a section can test it
     * ({{#is.check_recovered}}resolve{{/is.check_recovered}}). */
    json_t *data = json_copy(ev);
    const char *event = json_string_value(json_object_get(ev, "event"));
    json_object_set_new(data, "is", event ? json_pack("{s:b}", event, 1) : json_object());
    if (zkd_mustache_compile(ac->body, strlen(ac->body), &t, err, errlen) == 0)
        zkd_mustache_render(t, data, ZKD_MUSTACHE_JSON, NULL, NULL, &out, NULL, err, errlen);
    zkd_mustache_free(t);
    json_decref(data);
    return out;
}
