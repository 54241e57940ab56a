/* SPDX-License-Identifier: Apache-2.0 */
/* http: a request through libcurl's multi interface on the agent's loop;
 * passing when the status is in `expect_status` (default 200-399) and the
 * body holds `body_contains` (when set). TLS is verified unless
 * `tls_skip_verify`. A DNS failure is a critical result like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/check.h"
#include "curlev.h"

#define BODY_MAX (64 * 1024)

typedef struct http_conf {
    char *url, *method, *body_contains;
    char **headers;
    int status_lo, status_hi;
    int skip_verify;
} http_conf;

typedef struct http_run {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    size_t len;
} http_run;

static void http_free(void *p)
{
    http_conf *h = p;
    free(h->url);
    free(h->method);
    free(h->body_contains);
    strv_free(h->headers);
    free(h);
}

static int parse_status(const config_setting_t *s, http_conf *h, struct evbuffer *errors)
{
    h->status_lo = 200;
    h->status_hi = 399;
    const config_setting_t *m = config_setting_get_member(s, "expect_status");
    if (!m)
        return 0;
    if (config_setting_type(m) == CONFIG_TYPE_INT) {
        h->status_lo = h->status_hi = config_setting_get_int(m);
    } else if (config_setting_type(m) != CONFIG_TYPE_STRING ||
               sscanf(config_setting_get_string(m), "%d-%d", &h->status_lo, &h->status_hi) < 1) {
        conf_error(errors, s, "expect_status", "must be a status (200) or a range (\"200-299\")");
        return -1;
    } else if (!strchr(config_setting_get_string(m), '-')) {
        h->status_hi = h->status_lo;
    }
    if (h->status_lo < 100 || h->status_hi > 599 || h->status_lo > h->status_hi) {
        conf_error(errors, s, "expect_status", "must lie within 100-599");
        return -1;
    }
    return 0;
}

static void *http_parse(const config_setting_t *s, struct evbuffer *errors)
{
    http_conf *h = calloc(1, sizeof *h);
    int bad = 0, rc = conf_string(s, "url", &h->url, errors);
    if (rc == 1)
        conf_error(errors, s, "url", "missing: an http check needs `url`");
    else if (rc == 0 && strncmp(h->url, "http://", 7) && strncmp(h->url, "https://", 8)) {
        conf_error(errors, s, "url", "must be an http:// or https:// URL");
        rc = -1;
    }
    bad |= rc != 0;
    bad |= conf_string(s, "method", &h->method, errors) < 0;
    bad |= conf_string(s, "body_contains", &h->body_contains, errors) < 0;
    bad |= conf_bool(s, "tls_skip_verify", &h->skip_verify, errors) < 0;
    bad |= conf_strv(s, "headers", &h->headers, errors) < 0;
    for (char **hd = h->headers; hd && *hd; hd++)
        if (!strchr(*hd, ':')) {
            conf_error(errors, s, "headers", "\"%s\" is not \"Name: value\"", *hd);
            bad = 1;
        }
    bad |= parse_status(s, h, errors) < 0;
    if (bad) {
        http_free(h);
        return NULL;
    }
    return h;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    http_run *r = arg;
    size_t len = size * n, keep = BODY_MAX - r->len;
    if (keep > len)
        keep = len;
    if (keep) {
        char *b = realloc(r->body, r->len + keep + 1);
        if (b) {
            memcpy(b + r->len, data, keep);
            r->body = b;
            r->len += keep;
            b[r->len] = 0;
        }
    }
    return len;
}

static void run_free(http_run *r)
{
    curlev_easy_put(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
}

static void on_done(CURL *easy, CURLcode result, void *ctx)
{
    check *c = ctx;
    const http_conf *h = check_get_conf(c)->kconf;
    http_run *r = *check_run_state(c);
    char note[512];
    check_status st = CHECK_CRITICAL;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (result == CURLE_OPERATION_TIMEDOUT) /* the backstop won a race with health's deadline */
        snprintf(note, sizeof note, "timed out after %lldms", (long long)check_get_conf(c)->timeout_ms);
    else if (result != CURLE_OK)
        snprintf(note, sizeof note, "%s: %s", h->url, curl_easy_strerror(result));
    else if (code < h->status_lo || code > h->status_hi)
        snprintf(note, sizeof note, "%s: HTTP %ld, expected %d-%d", h->url, code, h->status_lo,
                 h->status_hi);
    else if (h->body_contains && (!r->body || !strstr(r->body, h->body_contains)))
        snprintf(note, sizeof note, "%s: HTTP %ld, body lacks \"%s\"", h->url, code, h->body_contains);
    else {
        snprintf(note, sizeof note, "%s: HTTP %ld", h->url, code);
        st = CHECK_PASSING;
    }
    run_free(r);
    check_done(c, st, note);
}

static void http_run_probe(check *c)
{
    const check_conf *cc = check_get_conf(c);
    const http_conf *h = cc->kconf;
    http_run *r = calloc(1, sizeof *r);
    r->easy = curlev_easy_get();
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, h->url);
    if (h->method)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, h->method);
    if (h->method && !strcmp(h->method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    for (char **hd = h->headers; hd && *hd; hd++)
        r->headers = curl_slist_append(r->headers, *hd);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "zkdisc-agent/" ZKDISC_AGENT_VERSION);
    /* A backstop only: health.c's deadline reports the timeout first. */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cc->timeout_ms + 1000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->skip_verify ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->skip_verify ? 0L : 2L);
    /* One connection per probe: a health check must see a fresh connect. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    *check_run_state(c) = r;
    if (curlev_add(e, on_done, c) != 0) {
        run_free(r);
        check_done(c, CHECK_CRITICAL, "cannot start the request");
    }
}

static void http_cancel(check *c)
{
    http_run *r = *check_run_state(c);
    if (!r)
        return;
    curlev_remove(r->easy);
    run_free(r);
}

static const char *const http_keys[] = {"url", "method", "headers", "expect_status",
                                        "body_contains", "tls_skip_verify", NULL};

const check_kind check_http = {
    .name = "http", .parse = http_parse, .keys = http_keys, .free_conf = http_free,
    .run = http_run_probe, .cancel = http_cancel,
};
