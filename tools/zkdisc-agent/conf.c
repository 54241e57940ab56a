/* SPDX-License-Identifier: Apache-2.0 */
/* libconfig -> a validated, immutable agent_conf (see conf.h). */
#include "conf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zkdisc/zkdisc.h>

#include "checks/check.h"
#include "webhook.h"
#include "duration.h"

const char *check_status_name(check_status s)
{
    return s == CHECK_PASSING ? "passing" : s == CHECK_WARNING ? "warning" : "critical";
}

/* ---- helpers --------------------------------------------------------------- */

static char *path_of(const config_setting_t *s)
{
    /* "services.[0].checks.[1]" is what a person would look for. */
    char buf[512] = "";
    const config_setting_t *chain[32];
    int n = 0;
    for (const config_setting_t *p = s; p && !config_setting_is_root(p) && n < 32; p = config_setting_parent(p))
        chain[n++] = p;
    size_t len = 0;
    while (n-- > 0) {
        const char *name = config_setting_name(chain[n]);
        int w = name ? snprintf(buf + len, sizeof buf - len, "%s%s", len ? "." : "", name)
                     : snprintf(buf + len, sizeof buf - len, "[%d]", config_setting_index(chain[n]));
        if (w < 0 || (size_t)w >= sizeof buf - len)
            break;
        len += (size_t)w;
    }
    return strdup(buf);
}

void conf_error(struct evbuffer *errors, const config_setting_t *s, const char *key, const char *fmt,
                ...)
{
    const config_setting_t *at = key ? config_setting_get_member(s, key) : NULL;
    if (!at)
        at = s;
    const char *file = config_setting_source_file(at);
    char *where = path_of(s);
    evbuffer_add_printf(errors, "%s:%u: %s%s%s: ", file ? file : "(config)",
                        config_setting_source_line(at), where, *where && key ? "." : "",
                        key ? key : "");
    free(where);
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(errors, fmt, ap);
    va_end(ap);
    evbuffer_add(errors, "\n", 1);
}

int conf_string(const config_setting_t *g, const char *key, char **out, struct evbuffer *errors)
{
    const config_setting_t *m = config_setting_get_member(g, key);
    if (!m)
        return 1;
    if (config_setting_type(m) != CONFIG_TYPE_STRING) {
        conf_error(errors, g, key, "must be a string");
        return -1;
    }
    free(*out);
    *out = strdup(config_setting_get_string(m));
    return 0;
}

int conf_int(const config_setting_t *g, const char *key, int min, int max, int *out,
             struct evbuffer *errors)
{
    const config_setting_t *m = config_setting_get_member(g, key);
    if (!m)
        return 1;
    int t = config_setting_type(m);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        conf_error(errors, g, key, "must be an integer");
        return -1;
    }
    long long v = config_setting_get_int64(m);
    if (v < min || v > max) {
        conf_error(errors, g, key, "%lld is out of range (%d to %d)", v, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int conf_bool(const config_setting_t *g, const char *key, int *out, struct evbuffer *errors)
{
    const config_setting_t *m = config_setting_get_member(g, key);
    if (!m)
        return 1;
    if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
        conf_error(errors, g, key, "must be true or false");
        return -1;
    }
    *out = config_setting_get_bool(m);
    return 0;
}

int64_t parse_duration_ms(const char *s)
{
    return duration_parse_ms(s, 1000);
}

int conf_duration(const config_setting_t *g, const char *key, int64_t *ms, struct evbuffer *errors)
{
    const config_setting_t *m = config_setting_get_member(g, key);
    if (!m)
        return 1;
    int t = config_setting_type(m);
    int64_t v = -1;
    if (t == CONFIG_TYPE_STRING)
        v = parse_duration_ms(config_setting_get_string(m));
    else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        v = config_setting_get_int64(m) >= 0 ? config_setting_get_int64(m) * 1000 : -1;
    if (v < 0) {
        conf_error(errors, g, key, "must be a duration such as \"500ms\", \"2s\" or \"1m\"");
        return -1;
    }
    *ms = v;
    return 0;
}

int conf_size(const config_setting_t *g, const char *key, uint64_t percent_of, uint64_t *out,
              struct evbuffer *errors)
{
    const config_setting_t *m = config_setting_get_member(g, key);
    if (!m)
        return 1;
    int t = config_setting_type(m);
    if ((t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) && config_setting_get_int64(m) >= 0) {
        *out = (uint64_t)config_setting_get_int64(m);
        return 0;
    }
    if (t == CONFIG_TYPE_STRING) {
        const char *s = config_setting_get_string(m);
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end != s && !errno && v >= 0) {
            double mult = -1;
            if (!*end)
                mult = 1;
            else if (!strcmp(end, "%") && percent_of > 0 && v <= 100) {
                *out = (uint64_t)(v / 100.0 * (double)percent_of);
                return 0;
            } else if (!end[1] || !strcmp(end + 1, "B") || !strcmp(end + 1, "iB")) {
                switch (toupper((unsigned char)*end)) {
                case 'K': mult = 1024.0; break;
                case 'M': mult = 1024.0 * 1024; break;
                case 'G': mult = 1024.0 * 1024 * 1024; break;
                case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
                }
            }
            if (mult > 0) {
                *out = (uint64_t)(v * mult);
                return 0;
            }
        }
    }
    conf_error(errors, g, key, "must be a size such as 1048576, \"512M\", \"2G\"%s",
               percent_of ? " or \"10%\"" : "");
    return -1;
}

void strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int conf_strv(const config_setting_t *g, const char *key, char ***out, struct evbuffer *errors)
{
    const config_setting_t *m = config_setting_get_member(g, key);
    if (!m)
        return 1;
    if (!config_setting_is_list(m) && !config_setting_is_array(m)) {
        conf_error(errors, g, key, "must be a list of strings, such as [\"a\", \"b\"]");
        return -1;
    }
    int n = config_setting_length(m);
    char **v = calloc((size_t)n + 1, sizeof *v);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            conf_error(errors, g, key, "element %d must be a string", i);
            strv_free(v);
            return -1;
        }
        v[i] = strdup(config_setting_get_string(e));
    }
    strv_free(*out);
    *out = v;
    return 0;
}

int conf_known_keys(const config_setting_t *g, const char *const *known, struct evbuffer *errors)
{
    int bad = 0;
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = !strcmp(*k, name);
        if (!ok) {
            conf_error(errors, g, name, "unknown key");
            bad = -1;
        }
    }
    return bad;
}

/* The definition as canonical text: equal text means an unchanged definition. */
static void setting_text(const config_setting_t *s, struct evbuffer *out)
{
    const char *name = config_setting_name(s);
    if (name)
        evbuffer_add_printf(out, "%s=", name);
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
    case CONFIG_TYPE_LIST:
    case CONFIG_TYPE_ARRAY:
        evbuffer_add(out, "{", 1);
        for (int i = 0; i < config_setting_length(s); i++) {
            setting_text(config_setting_get_elem(s, (unsigned)i), out);
            evbuffer_add(out, ";", 1);
        }
        evbuffer_add(out, "}", 1);
        break;
    case CONFIG_TYPE_STRING:
        evbuffer_add_printf(out, "\"%s\"", config_setting_get_string(s));
        break;
    case CONFIG_TYPE_FLOAT:
        evbuffer_add_printf(out, "%.17g", config_setting_get_float(s));
        break;
    case CONFIG_TYPE_BOOL:
        evbuffer_add_printf(out, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    default:
        evbuffer_add_printf(out, "%lld", config_setting_get_int64(s));
    }
}

static char *fingerprint(const config_setting_t *s)
{
    struct evbuffer *b = evbuffer_new();
    setting_text(s, b);
    size_t n = evbuffer_get_length(b);
    char *text = malloc(n + 1);
    evbuffer_remove(b, text, n);
    text[n] = 0;
    evbuffer_free(b);
    return text;
}

/* ---- checks ---------------------------------------------------------------- */

static const char *const check_common_keys[] = {"type", "name", "interval", "timeout", "rise",
                                                "fall", "initial", NULL};

static int parse_check(const config_setting_t *s, check_conf *cc, struct evbuffer *errors)
{
    if (!config_setting_is_group(s)) {
        conf_error(errors, s, NULL, "a check must be a group { type = ...; }");
        return -1;
    }
    char *type = NULL;
    int bad = 0;
    if (conf_string(s, "type", &type, errors) != 0) {
        if (!config_setting_get_member(s, "type"))
            conf_error(errors, s, "type", "missing (http, tcp, exec, memory, disk or ttl)");
        return -1;
    }
    cc->kind = check_kind_find(type);
    if (!cc->kind) {
        conf_error(errors, s, "type", "unknown check type \"%s\" (http, tcp, exec, memory, disk or ttl)", type);
        free(type);
        return -1;
    }
    free(type);
    cc->name = strdup(cc->kind->name);
    cc->interval_ms = 10000;
    cc->timeout_ms = -1;
    cc->rise = cc->kind->passive ? 1 : 2;
    cc->fall = cc->kind->passive ? 1 : 3;
    cc->initial = CHECK_CRITICAL;
    bad |= conf_string(s, "name", &cc->name, errors) < 0;
    bad |= conf_duration(s, "interval", &cc->interval_ms, errors) < 0;
    if (!bad && cc->interval_ms < 10) {
        conf_error(errors, s, "interval", "must be at least 10ms");
        bad = 1;
    }
    bad |= conf_duration(s, "timeout", &cc->timeout_ms, errors) < 0;
    if (cc->timeout_ms == 0) {
        conf_error(errors, s, "timeout", "must be more than 0");
        bad = 1;
    }
    if (cc->timeout_ms < 0)
        cc->timeout_ms = cc->interval_ms < 5000 ? cc->interval_ms : 5000;
    bad |= conf_int(s, "rise", 1, 64, &cc->rise, errors) < 0;
    bad |= conf_int(s, "fall", 1, 64, &cc->fall, errors) < 0;
    char *initial = NULL;
    if (conf_string(s, "initial", &initial, errors) == 0) {
        if (!strcmp(initial, "passing"))
            cc->initial = CHECK_PASSING;
        else if (!strcmp(initial, "warning"))
            cc->initial = CHECK_WARNING;
        else if (strcmp(initial, "critical")) {
            conf_error(errors, s, "initial", "must be \"passing\", \"warning\" or \"critical\"");
            bad = 1;
        }
    }
    free(initial);
    const char *keys[64];
    size_t n = 0;
    for (const char *const *k = check_common_keys; *k; k++)
        keys[n++] = *k;
    for (const char *const *k = cc->kind->keys; k && *k && n < 63; k++)
        keys[n++] = *k;
    keys[n] = NULL;
    bad |= conf_known_keys(s, keys, errors) < 0;
    cc->kconf = cc->kind->parse(s, errors);
    bad |= !cc->kconf;
    cc->fingerprint = fingerprint(s);
    return bad ? -1 : 0;
}

static void check_conf_clear(check_conf *cc)
{
    free(cc->name);
    if (cc->kconf)
        cc->kind->free_conf(cc->kconf);
    free(cc->fingerprint);
}

/* ---- services -------------------------------------------------------------- */

static const char *const service_keys[] = {"name", "id", "address", "port", "ssl_port", "weight",
                                           "zone", "metadata", "on_critical", "checks", NULL};

static int valid_name(const char *s)
{
    return zkd_validate_name("name", s, NULL) == 0;
}

static char *default_id(const char *name)
{
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '-';
    char buf[300];
    snprintf(buf, sizeof buf, "%s-%s", name, host);
    buf[128] = 0;
    return strdup(buf);
}

static int parse_service(const config_setting_t *s, service_conf *sc, struct evbuffer *errors)
{
    if (!config_setting_is_group(s)) {
        conf_error(errors, s, NULL, "a service must be a group { name = ...; }");
        return -1;
    }
    int bad = conf_known_keys(s, service_keys, errors) < 0;
    sc->port = sc->ssl_port = -1;
    if (conf_string(s, "name", &sc->name, errors) != 0) {
        if (!config_setting_get_member(s, "name"))
            conf_error(errors, s, "name", "missing");
        bad = 1;
    } else if (!valid_name(sc->name)) {
        conf_error(errors, s, "name", "\"%s\" is not a valid name (1-128 of [A-Za-z0-9._-])", sc->name);
        bad = 1;
    }
    if (conf_string(s, "id", &sc->id, errors) == 0 && !valid_name(sc->id)) {
        conf_error(errors, s, "id", "\"%s\" is not a valid id (1-128 of [A-Za-z0-9._-])", sc->id);
        bad = 1;
    }
    if (!sc->id && sc->name)
        sc->id = default_id(sc->name);
    bad |= conf_string(s, "address", &sc->address, errors) < 0;
    bad |= conf_string(s, "zone", &sc->zone, errors) < 0;
    bad |= conf_int(s, "port", 0, 65535, &sc->port, errors) < 0;
    bad |= conf_int(s, "ssl_port", 0, 65535, &sc->ssl_port, errors) < 0;
    bad |= conf_int(s, "weight", 0, 1000000, &sc->weight, errors) < 0;
    char *oc = NULL;
    if (conf_string(s, "on_critical", &oc, errors) == 0) {
        if (!strcmp(oc, "drain"))
            sc->on_critical = ON_CRITICAL_DRAIN;
        else if (strcmp(oc, "deregister")) {
            conf_error(errors, s, "on_critical", "must be \"deregister\" or \"drain\"");
            bad = 1;
        }
    }
    free(oc);
    const config_setting_t *meta = config_setting_get_member(s, "metadata");
    if (meta) {
        if (!config_setting_is_group(meta)) {
            conf_error(errors, s, "metadata", "must be a group of strings { key = \"value\"; }");
            bad = 1;
        } else {
            int n = config_setting_length(meta);
            sc->meta = calloc((size_t)n + 1, sizeof *sc->meta);
            for (int i = 0, j = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(meta, (unsigned)i);
                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                    conf_error(errors, meta, config_setting_name(e), "metadata values must be strings");
                    bad = 1;
                    continue;
                }
                if (asprintf(&sc->meta[j++], "%s=%s", config_setting_name(e),
                             config_setting_get_string(e)) < 0)
                    sc->meta[--j] = NULL;
            }
        }
    }
    const config_setting_t *checks = config_setting_get_member(s, "checks");
    if (checks && !config_setting_is_list(checks)) {
        conf_error(errors, s, "checks", "must be a list ( { type = ...; }, ... )");
        bad = 1;
    } else if (checks) {
        sc->nchecks = (size_t)config_setting_length(checks);
        sc->checks = calloc(sc->nchecks ? sc->nchecks : 1, sizeof *sc->checks);
        for (size_t i = 0; i < sc->nchecks; i++) {
            const config_setting_t *c = config_setting_get_elem(checks, (unsigned)i);
            if (parse_check(c, &sc->checks[i], errors) < 0) {
                bad = 1;
                continue;
            }
            for (size_t j = 0; j < i; j++)
                if (sc->checks[j].name && !strcmp(sc->checks[j].name, sc->checks[i].name)) {
                    conf_error(errors, c, "name", "duplicate check name \"%s\" (set `name`)",
                               sc->checks[i].name);
                    bad = 1;
                }
        }
    }
    sc->fingerprint = fingerprint(s);
    return bad ? -1 : 0;
}

static void service_conf_clear(service_conf *sc)
{
    free(sc->name);
    free(sc->id);
    free(sc->address);
    free(sc->zone);
    strv_free(sc->meta);
    for (size_t i = 0; i < sc->nchecks; i++)
        check_conf_clear(&sc->checks[i]);
    free(sc->checks);
    free(sc->fingerprint);
}

/* ---- alerts ---------------------------------------------------------------- */

static const char *const alert_keys[] = {"name", "on", "exec", "webhook", "after", "retries",
                                         "max_per_minute", "headers", "body", NULL};
static const char *const alert_events[] = {
    "*", "check_critical", "check_recovered", "service_deregistered", "maintenance",
    "zookeeper_unreachable", "session_expired", "service_below_min", "service_recovered",
    "output_stale", "config_apply_failed",
    "reload_failed", "command_failed", NULL};

static int parse_alert(const config_setting_t *s, size_t index, alert_conf *ac,
                       struct evbuffer *errors)
{
    if (!config_setting_is_group(s)) {
        conf_error(errors, s, NULL, "an alert hook must be a group { on = [...]; exec = [...]; }");
        return -1;
    }
    int bad = conf_known_keys(s, alert_keys, errors) < 0;
    if (asprintf(&ac->name, "alerts[%zu]", index) < 0)
        ac->name = NULL;
    ac->after_ms = 30000;
    ac->retries = 3;
    ac->max_per_minute = 30;
    bad |= conf_string(s, "name", &ac->name, errors) < 0;
    const config_setting_t *on = config_setting_get_member(s, "on");
    if (on && config_setting_type(on) == CONFIG_TYPE_STRING) {
        ac->on = calloc(2, sizeof *ac->on);
        ac->on[0] = strdup(config_setting_get_string(on));
    } else if (conf_strv(s, "on", &ac->on, errors) != 0) {
        if (!on)
            conf_error(errors, s, "on", "missing (a list of events, or \"*\")");
        bad = 1;
    }
    for (char **e = ac->on; e && *e; e++) {
        int ok = 0;
        for (const char *const *k = alert_events; *k && !ok; k++)
            ok = !strcmp(*k, *e);
        if (!ok) {
            conf_error(errors, s, "on", "unknown event \"%s\"", *e);
            bad = 1;
        }
    }
    bad |= conf_strv(s, "exec", &ac->exec, errors) < 0;
    bad |= conf_string(s, "webhook", &ac->webhook, errors) < 0;
    if (!bad && !!ac->exec == !!ac->webhook) {
        conf_error(errors, s, NULL, "a hook needs exactly one of `exec` (argv) or `webhook` (URL)");
        bad = 1;
    }
    if (ac->exec && !ac->exec[0]) {
        conf_error(errors, s, "exec", "must name a program");
        bad = 1;
    }
    if (ac->webhook && strncmp(ac->webhook, "http://", 7) && strncmp(ac->webhook, "https://", 8)) {
        conf_error(errors, s, "webhook", "must be an http:// or https:// URL");
        bad = 1;
    }
    int64_t after = ac->after_ms;
    bad |= conf_duration(s, "after", &after, errors) < 0;
    ac->after_ms = after;
    bad |= conf_int(s, "retries", 0, 20, &ac->retries, errors) < 0;
    bad |= conf_int(s, "max_per_minute", 1, 100000, &ac->max_per_minute, errors) < 0;
    bad |= webhook_conf_parse(s, ac, errors) < 0;
    return bad ? -1 : 0;
}

static void alert_conf_clear(alert_conf *ac)
{
    free(ac->name);
    strv_free(ac->on);
    strv_free(ac->exec);
    free(ac->webhook);
    strv_free(ac->headers);
    free(ac->body);
}

/* ---- top level ------------------------------------------------------------- */

static const char *const top_keys[] = {"zookeeper", "agent", "services", "alerts", "watch",
                                       "dns", "config_files", "templates", NULL};
static const char *const zk_keys[] = {"connect", "root", "session_timeout", "auth", "auth_file",
                                      NULL};
static const char *const agent_keys[] = {"api",       "api_allow_remote", "api_token_file",
                                         "state_dir", "log_format",       "drain_delay",
                                         "leave_on_terminate", NULL};

static int parse_zookeeper(const config_setting_t *g, agent_conf *c, struct evbuffer *errors)
{
    int bad = conf_known_keys(g, zk_keys, errors) < 0;
    bad |= conf_string(g, "connect", &c->zk_connect, errors) < 0;
    bad |= conf_string(g, "root", &c->zk_root, errors) < 0;
    bad |= conf_string(g, "auth", &c->zk_auth, errors) < 0;
    bad |= conf_string(g, "auth_file", &c->zk_auth_file, errors) < 0;
    if (c->zk_auth && c->zk_auth_file) {
        conf_error(errors, g, "auth_file", "give auth or auth_file, not both");
        bad = 1;
    }
    bad |= conf_duration(g, "session_timeout", &c->session_timeout_ms, errors) < 0;
    if (c->zk_root && c->zk_root[0] != '/') {
        conf_error(errors, g, "root", "must be an absolute path such as \"/zkdisc\"");
        bad = 1;
    }
    return bad ? -1 : 0;
}

static int is_loopback(const char *host)
{
    return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

static int parse_agent(const config_setting_t *g, agent_conf *c, struct evbuffer *errors)
{
    int bad = conf_known_keys(g, agent_keys, errors) < 0;
    char *api = NULL, *fmt = NULL;
    bad |= conf_bool(g, "api_allow_remote", &c->api_allow_remote, errors) < 0;
    if (conf_string(g, "api", &api, errors) == 0) {
        char *colon = strrchr(api, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == api || !end || *end || port < 0 || port > 65535) {
            conf_error(errors, g, "api", "must be \"HOST:PORT\" such as \"127.0.0.1:8586\"");
            bad = 1;
        } else {
            *colon = 0;
            const char *h = api;
            if (h[0] == '[' && colon[-1] == ']') {
                colon[-1] = 0;
                h++;
            }
            free(c->api_host);
            c->api_host = strdup(h);
            c->api_port = (int)port;
            if (!c->api_allow_remote && !is_loopback(c->api_host)) {
                conf_error(errors, g, "api",
                           "%s is not a loopback address; set api_allow_remote = true to listen there",
                           c->api_host);
                bad = 1;
            }
        }
    } else if (config_setting_get_member(g, "api")) {
        bad = 1;
    }
    free(api);
    bad |= conf_string(g, "state_dir", &c->state_dir, errors) < 0;
    bad |= conf_string(g, "api_token_file", &c->api_token_file, errors) < 0;
    if (conf_string(g, "log_format", &fmt, errors) == 0) {
        if (!strcmp(fmt, "json"))
            c->log_json = 1;
        else if (strcmp(fmt, "text")) {
            conf_error(errors, g, "log_format", "must be \"text\" or \"json\"");
            bad = 1;
        }
    }
    free(fmt);
    bad |= conf_duration(g, "drain_delay", &c->drain_delay_ms, errors) < 0;
    bad |= conf_bool(g, "leave_on_terminate", &c->leave_on_terminate, errors) < 0;
    return bad ? -1 : 0;
}

/* Appends the `services` and `alerts` of one parsed file. */
static int parse_lists(const config_t *cfg, agent_conf *c, struct evbuffer *errors)
{
    int bad = 0;
    const config_setting_t *root = config_root_setting(cfg);
    const config_setting_t *sv = config_setting_get_member(root, "services");
    if (sv && !config_setting_is_list(sv)) {
        conf_error(errors, root, "services", "must be a list ( { name = ...; }, ... )");
        bad = 1;
    } else if (sv) {
        size_t n = (size_t)config_setting_length(sv);
        c->services = realloc(c->services, (c->nservices + n + 1) * sizeof *c->services);
        for (size_t i = 0; i < n; i++) {
            const config_setting_t *s = config_setting_get_elem(sv, (unsigned)i);
            service_conf *sc = &c->services[c->nservices++];
            memset(sc, 0, sizeof *sc);
            bad |= parse_service(s, sc, errors) < 0;
            for (size_t j = 0; sc->id && j + 1 < c->nservices; j++)
                if (c->services[j].id && !strcmp(c->services[j].id, sc->id)) {
                    conf_error(errors, s, "id", "duplicate service id \"%s\"", sc->id);
                    bad = 1;
                }
        }
    }
    const config_setting_t *al = config_setting_get_member(root, "alerts");
    if (al && !config_setting_is_list(al)) {
        conf_error(errors, root, "alerts", "must be a list ( { on = ...; exec = ...; }, ... )");
        bad = 1;
    } else if (al) {
        size_t n = (size_t)config_setting_length(al);
        c->alerts = realloc(c->alerts, (c->nalerts + n + 1) * sizeof *c->alerts);
        for (size_t i = 0; i < n; i++) {
            alert_conf *ac = &c->alerts[c->nalerts];
            memset(ac, 0, sizeof *ac);
            bad |= parse_alert(config_setting_get_elem(al, (unsigned)i), c->nalerts++, ac, errors) < 0;
        }
    }
    return bad ? -1 : 0;
}

static int read_file(config_t *cfg, const char *path, struct evbuffer *errors)
{
    config_init(cfg);
    char *dir = strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        config_set_include_dir(cfg, *dir ? dir : "/");
    }
    free(dir);
    if (config_read_file(cfg, path) == CONFIG_TRUE)
        return 0;
    if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
        evbuffer_add_printf(errors, "%s: cannot read: %s\n", path, strerror(errno));
    else
        evbuffer_add_printf(errors, "%s:%d: %s\n", config_error_file(cfg) ? config_error_file(cfg) : path,
                            config_error_line(cfg), config_error_text(cfg));
    config_destroy(cfg);
    return -1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int conf_dot_d(const char *path, agent_conf *c, struct evbuffer *errors)
{
    char *dir = strdup(path), *slash = strrchr(dir, '/');
    char *d = NULL;
    if (asprintf(&d, "%s/conf.d", slash ? (*slash = 0, *dir ? dir : "/") : ".") < 0)
        d = NULL;
    free(dir);
    struct dirent **names = NULL;
    int n = d ? scandir(d, &names, NULL, by_name) : -1;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 5 && !strcmp(names[i]->d_name + len - 5, ".conf") && names[i]->d_name[0] != '.') {
            char *f = NULL;
            config_t cfg;
            if (asprintf(&f, "%s/%s", d, names[i]->d_name) >= 0 && read_file(&cfg, f, errors) == 0) {
                const config_setting_t *root = config_root_setting(&cfg);
                for (int k = 0; k < config_setting_length(root); k++) {
                    const char *key = config_setting_name(config_setting_get_elem(root, (unsigned)k));
                    if (strcmp(key, "services") && strcmp(key, "alerts")) {
                        conf_error(errors, root, key, "a conf.d file holds only `services` and `alerts`");
                        bad = 1;
                    }
                }
                bad |= parse_lists(&cfg, c, errors) < 0;
                config_destroy(&cfg);
            } else {
                bad = 1;
            }
            free(f);
        }
        free(names[i]);
    }
    free(names);
    free(d);
    return bad ? -1 : 0;
}

agent_conf *conf_load(const char *path, struct evbuffer *errors)
{
    config_t cfg;
    if (read_file(&cfg, path, errors) < 0)
        return NULL;
    agent_conf *c = calloc(1, sizeof *c);
    c->path = strdup(path);
    c->session_timeout_ms = 10000;
    c->api_host = strdup("127.0.0.1");
    c->api_port = 8586;
    c->leave_on_terminate = 1;
    const config_setting_t *root = config_root_setting(&cfg);
    int bad = conf_known_keys(root, top_keys, errors) < 0;
    const config_setting_t *g;
    if ((g = config_setting_get_member(root, "zookeeper")))
        bad |= config_setting_is_group(g) ? parse_zookeeper(g, c, errors) < 0
                                          : (conf_error(errors, root, "zookeeper", "must be a group"), 1);
    if ((g = config_setting_get_member(root, "agent")))
        bad |= config_setting_is_group(g) ? parse_agent(g, c, errors) < 0
                                          : (conf_error(errors, root, "agent", "must be a group"), 1);
    bad |= parse_lists(&cfg, c, errors) < 0;
    bad |= conf_dot_d(path, c, errors) < 0;
#ifdef ZKDISC_AGENT_STATE_DIR /* a packaged agent: its unit's StateDirectory */
    if (!c->state_dir)
        c->state_dir = strdup(ZKDISC_AGENT_STATE_DIR);
#endif
    c->consumers = consumers_conf_parse(&cfg, errors);
    bad |= !c->consumers;
    config_destroy(&cfg);
    if (bad) {
        conf_free(c);
        return NULL;
    }
    return c;
}

void conf_free(agent_conf *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->zk_connect);
    free(c->zk_root);
    free(c->zk_auth);
    free(c->zk_auth_file);
    free(c->api_host);
    free(c->api_token_file);
    free(c->state_dir);
    for (size_t i = 0; i < c->nservices; i++)
        service_conf_clear(&c->services[i]);
    free(c->services);
    for (size_t i = 0; i < c->nalerts; i++)
        alert_conf_clear(&c->alerts[i]);
    free(c->alerts);
    consumers_conf_free(c->consumers);
    free(c);
}

const service_conf *conf_service(const agent_conf *c, const char *id)
{
    for (size_t i = 0; c && i < c->nservices; i++)
        if (!strcmp(c->services[i].id, id))
            return &c->services[i];
    return NULL;
}
