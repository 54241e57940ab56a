/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing of the agent config's `watch`, `dns` and `config_files` groups
 * into an immutable consumers_conf. Every problem is reported with the
 * file and line of the setting, and nothing half-parsed is ever returned. */
#include "conf_consumers.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zkdisc/zkdisc.h>

#include "mustache.h"

typedef struct parser {
    struct evbuffer *errors;
    int nerr;
} parser;

static void bad(parser *p, const config_setting_t *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "watch.[0].outputs.[1]", the way conf.c names the services' keys. */
static void key_path(const config_setting_t *s, char *buf, size_t len)
{
    const config_setting_t *chain[32];
    int n = 0;
    for (; s && !config_setting_is_root(s) && n < 32; s = config_setting_parent(s))
        chain[n++] = s;
    size_t at = 0;
    buf[0] = '\0';
    while (n-- > 0 && at < len) {
        const char *name = config_setting_name(chain[n]);
        int w = name ? snprintf(buf + at, len - at, "%s%s", at ? "." : "", name)
                     : snprintf(buf + at, len - at, "%s[%d]", at ? "." : "", config_setting_index(chain[n]));
        at += w > 0 ? (size_t)w : 0;
    }
}

/* s is the setting named key, a list element of a setting named key, or
 * the group key is missing from; the message names the full key path
 * ("watch.[0].outputs.[1].path"). */
static void bad(parser *p, const config_setting_t *s, const char *key, const char *fmt, ...)
{
    const char *file = config_setting_source_file(s);
    char msg[512], where[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = config_setting_name(s);
    const config_setting_t *up = config_setting_parent(s);
    const char *up_name = up ? config_setting_name(up) : NULL;
    int named = (name && key && !strcmp(name, key)) || (!name && up_name && key && !strcmp(up_name, key));
    key_path(s, where, sizeof where);
    evbuffer_add_printf(p->errors, "%s:%u: %s%s%s: %s\n", file ? file : "<config>",
                        config_setting_source_line(s), where, named || !*where ? "" : ".",
                        named ? "" : key, msg);
    p->nerr++;
}

long conf_duration_ms(const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || v < 0)
        return -1;
    static const struct { const char *unit; double ms; } units[] = {
        {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].unit) && v * units[i].ms < 1e9)
            return (long)(v * units[i].ms);
    return -1;
}

/* The members of `group` must all be among the NULL-terminated `known`. */
static void only_keys(parser *p, const config_setting_t *group, const char *where,
                      const char *const *known)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(m);
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = !strcmp(*k, name);
        if (!ok)
            bad(p, m, name, "unknown key in %s", where);
    }
}

static char *get_string(parser *p, const config_setting_t *g, const char *key, int required)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s) {
        if (required)
            bad(p, g, key, "missing (a string)");
        return NULL;
    }
    const char *v = config_setting_get_string(s);
    if (!v || !*v) {
        bad(p, s, key, "must be a non-empty string");
        return NULL;
    }
    return strdup(v);
}

static int get_int(parser *p, const config_setting_t *g, const char *key, int def, int lo, int hi)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s)
        return def;
    int t = config_setting_type(s);
    long long v = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 ? config_setting_get_int64(s) : lo - 1LL;
    if (v < lo || v > hi) {
        bad(p, s, key, "must be an integer from %d to %d", lo, hi);
        return def;
    }
    return (int)v;
}

static int get_bool(parser *p, const config_setting_t *g, const char *key, int def)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s)
        return def;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        bad(p, s, key, "must be true or false");
        return def;
    }
    return config_setting_get_bool(s);
}

/* A duration as a string ("500ms", "2s") or a number of seconds. */
static int get_duration(parser *p, const config_setting_t *g, const char *key, int def_ms)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s)
        return def_ms;
    long ms = -1;
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_STRING)
        ms = conf_duration_ms(config_setting_get_string(s));
    else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        ms = config_setting_get_int64(s) >= 0 && config_setting_get_int64(s) < 1000000
                 ? (long)config_setting_get_int64(s) * 1000 : -1;
    else if (t == CONFIG_TYPE_FLOAT)
        ms = config_setting_get_float(s) >= 0 && config_setting_get_float(s) < 1e6
                 ? (long)(config_setting_get_float(s) * 1000) : -1;
    if (ms < 0) {
        bad(p, s, key, "must be a duration such as \"500ms\", \"2s\", \"1m\"");
        return def_ms;
    }
    return (int)ms;
}

/* A list or array of strings -> a NULL-terminated argv. */
static char **get_argv(parser *p, const config_setting_t *g, const char *key, int required)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s) {
        if (required)
            bad(p, g, key, "missing (a list of strings: the program and its arguments)");
        return NULL;
    }
    int n = config_setting_is_aggregate(s) ? config_setting_length(s) : 0;
    if (n == 0 || config_setting_is_group(s)) {
        bad(p, s, key, "must be a non-empty list of strings, e.g. [\"/usr/bin/prog\", \"arg\"]");
        return NULL;
    }
    char **argv = calloc((size_t)n + 1, sizeof *argv);
    for (int i = 0; i < n; i++) {
        const char *v = config_setting_get_string_elem(s, i);
        if (!v) {
            bad(p, s, key, "element %d is not a string", i);
            v = "";
        }
        argv[i] = strdup(v);
    }
    return argv;
}

static void free_argv(char **argv)
{
    for (char **a = argv; a && *a; a++)
        free(*a);
    free(argv);
}

static mode_t get_mode(parser *p, const config_setting_t *g, mode_t def)
{
    const config_setting_t *s = config_setting_get_member(g, "mode");
    if (!s)
        return def;
    const char *v = config_setting_get_string(s);
    char *end = NULL;
    long m = v ? strtol(v, &end, 8) : -1;
    if (!v || !*v || *end || m < 0 || m > 07777) {
        bad(p, s, "mode", "must be an octal string such as \"0640\"");
        return def;
    }
    return (mode_t)m;
}

/* "user" or "user:group" (names or numbers). */
static zkd__file_owner get_owner(parser *p, const config_setting_t *g)
{
    zkd__file_owner o = {(uid_t)-1, (gid_t)-1};
    const config_setting_t *s = config_setting_get_member(g, "owner");
    if (!s)
        return o;
    const char *v = config_setting_get_string(s);
    if (!v || !*v) {
        bad(p, s, "owner", "must be \"user\" or \"user:group\"");
        return o;
    }
    char user[256], *group;
    snprintf(user, sizeof user, "%s", v);
    if ((group = strchr(user, ':')))
        *group++ = '\0';
    if (*user) {
        struct passwd *pw = getpwnam(user);
        char *end;
        long id = strtol(user, &end, 10);
        if (pw)
            o.uid = pw->pw_uid;
        else if (!*end && id >= 0)
            o.uid = (uid_t)id;
        else
            bad(p, s, "owner", "no such user \"%s\"", user);
    }
    if (group && *group) {
        struct group *gr = getgrnam(group);
        char *end;
        long id = strtol(group, &end, 10);
        if (gr)
            o.gid = gr->gr_gid;
        else if (!*end && id >= 0)
            o.gid = (gid_t)id;
        else
            bad(p, s, "owner", "no such group \"%s\"", group);
    }
    return o;
}

/* The directory a file goes to must exist and be writable (check-config
 * says so now rather than the first write failing later). */
static void writable_dir(parser *p, const config_setting_t *g, const char *key, const char *path)
{
    if (!path)
        return;
    if (path[0] != '/') {
        bad(p, g, key, "must be an absolute path");
        return;
    }
    char *copy = strdup(path);
    const char *dir = dirname(copy);
    if (access(dir, W_OK | X_OK) != 0)
        bad(p, config_setting_get_member(g, key), key, "directory %s is not writable: %s", dir,
            strerror(errno));
    free(copy);
}

static char **get_lines(parser *p, const config_setting_t *g, const char *key)
{
    return config_setting_get_member(g, key) ? get_argv(p, g, key, 0) : NULL;
}

/* `check`: the validator's argv; [] for none; a default when there is a
 * reload, so a file its own program refuses is never loaded. */
static char **get_check(parser *p, const config_setting_t *g, const out_conf *o)
{
    const config_setting_t *s = config_setting_get_member(g, "check");
    if (s && config_setting_is_aggregate(s) && !config_setting_is_group(s) && !config_setting_length(s))
        return calloc(1, sizeof(char *));
    if (s || !o->reload || !o->path)
        return get_argv(p, g, "check", 0);
    const char *hap[] = {"haproxy", "-c", "-q", "-f", "/etc/haproxy/haproxy.cfg", "-f", o->path, NULL};
    const char *ngx[] = {"nginx", "-t", "-q", NULL};
    const char **def = o->type == OUT_HAPROXY ? hap : ngx;
    size_t n = 0;
    while (def[n])
        n++;
    char **argv = calloc(n + 1, sizeof *argv);
    for (size_t i = 0; i < n; i++)
        argv[i] = strdup(def[i]);
    return argv;
}

static void parse_output(parser *p, const config_setting_t *g, const watch_conf *w, out_conf *o)
{
    static const char *types[] = {"json", "command", "haproxy", "nginx"};
    static const char *const known[] = {"type", "path", "mode", "owner", "stale_after", "command",
                                        "min_interval", "timeout", "backend", "upstream", "config",
                                        "socket", "slots", "reload", "min_reload_interval",
                                        "options", "check", NULL};
    only_keys(p, g, "an output", known);
    char *type = get_string(p, g, "type", 1);
    o->type = (out_type)-1;
    for (int i = 0; type && i < 4; i++)
        if (!strcmp(type, types[i]))
            o->type = (out_type)i;
    if (type && (int)o->type < 0)
        bad(p, config_setting_get_member(g, "type"), "type",
            "\"%s\" is not json, command, haproxy or nginx", type);
    free(type);
    o->mode = get_mode(p, g, 0644);
    o->owner = get_owner(p, g);
    o->stale_after_ms = get_duration(p, g, "stale_after", 0);
    o->min_interval_ms = get_duration(p, g, "min_interval", 1000);
    o->timeout_ms = get_duration(p, g, "timeout", 10000);
    o->min_reload_interval_ms = get_duration(p, g, "min_reload_interval", 5000);
    o->slots = get_int(p, g, "slots", 10, 1, 10000);
    o->options = get_lines(p, g, "options");
    switch (o->type) {
    case OUT_JSON:
        o->path = get_string(p, g, "path", 1);
        writable_dir(p, g, "path", o->path);
        break;
    case OUT_COMMAND:
        o->argv = get_argv(p, g, "command", 1);
        break;
    case OUT_HAPROXY:
        o->path = get_string(p, g, "config", 1);
        writable_dir(p, g, "config", o->path);
        o->socket = get_string(p, g, "socket", 0);
        o->backend = get_string(p, g, "backend", 0);
        o->reload = get_argv(p, g, "reload", 0);
        o->check = get_check(p, g, o);
        break;
    case OUT_NGINX:
        o->path = get_string(p, g, "path", 1);
        writable_dir(p, g, "path", o->path);
        o->backend = get_string(p, g, "upstream", 0);
        o->reload = get_argv(p, g, "reload", 0);
        o->check = get_check(p, g, o);
        break;
    }
    if (!o->backend)
        o->backend = strdup(w->service ? w->service : "backend");
    for (const char *c = o->backend; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._-", *c)) {
            bad(p, g, "backend", "\"%s\": only letters, digits, '.', '_' and '-'", o->backend);
            break;
        }
}

/* One default server: { address; port; id; weight; zone; } as a Curator
 * record, checked the way readers will read it. */
static json_t *default_server(parser *p, const config_setting_t *e, const char *service)
{
    static const char *const known[] = {"id", "address", "port", "weight", "zone", NULL};
    if (!config_setting_is_group(e)) {
        bad(p, e, "default_servers", "each must be a group: { address = \"10.0.0.5\"; port = 80; }");
        return NULL;
    }
    only_keys(p, e, "a default server", known);
    char *addr = get_string(p, e, "address", 1);
    int port = get_int(p, e, "port", 0, 1, 65535);
    if (!config_setting_get_member(e, "port"))
        bad(p, e, "port", "is required");
    char *id = get_string(p, e, "id", 0);
    int weight = get_int(p, e, "weight", 100, 0, 1000000);
    char *zone = get_string(p, e, "zone", 0);
    char made[300];
    snprintf(made, sizeof made, "%s-%d", addr ? addr : "", port);
    for (char *c = made; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c))
            *c = '-';
    json_t *payload = json_pack("{s:i}", "weight", weight);
    if (zone)
        json_object_set_new(payload, "zone", json_string(zone));
    json_t *r = json_pack("{s:s,s:s,s:s?,s:i,s:o}", "name", service, "id", id ? id : made, "address",
                          addr, "port", port, "payload", payload);
    char *text = json_dumps(r, JSON_COMPACT);
    zkd_instance *inst = NULL;
    zkd_error zerr;
    if (addr && (zkd_validate_name("instance id", id ? id : made, &zerr) ||
                 zkd_instance_parse(service, id ? id : made, text, strlen(text), &inst, &zerr)))
        bad(p, e, "default_servers", "%s", zerr.message);
    zkd_instance_unref(inst);
    free(text);
    free(addr);
    free(id);
    free(zone);
    return r;
}

/* Where the instances come from: ZooKeeper (the default), a static `file`,
 * and `default_servers` served until ZooKeeper first answers. */
static void parse_sources(parser *p, const config_setting_t *g, watch_conf *w)
{
    w->file = get_string(p, g, "file", 0);
    if (w->file && w->file[0] != '/')
        bad(p, config_setting_get_member(g, "file"), "file", "must be an absolute path");
    else if (w->file && access(w->file, R_OK) != 0)
        bad(p, config_setting_get_member(g, "file"), "file", "cannot read %s: %s", w->file,
            strerror(errno));
    const config_setting_t *d = config_setting_get_member(g, "default_servers");
    if (!d)
        return;
    if (w->file) {
        bad(p, d, "default_servers", "a watch with a static file needs no default servers");
        return;
    }
    if (!config_setting_is_list(d)) {
        bad(p, d, "default_servers", "must be a list: ( { address = \"10.0.0.5\"; port = 80; } )");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < config_setting_length(d); i++) {
        json_t *r = default_server(p, config_setting_get_elem(d, (unsigned)i), w->service ? w->service : "");
        if (r)
            json_array_append_new(list, r);
    }
    w->defaults_json = json_dumps(list, JSON_COMPACT);
    json_decref(list);
}

static void parse_watch(parser *p, const config_setting_t *g, watch_conf *w)
{
    static const char *const known[] = {"service", "zone", "metadata", "min_instances",
                                        "allow_empty", "outputs", "file", "default_servers", NULL};
    only_keys(p, g, "a watch", known);
    zkd_error zerr;
    w->service = get_string(p, g, "service", 1);
    if (w->service && zkd_validate_name("service", w->service, &zerr))
        bad(p, config_setting_get_member(g, "service"), "service", "%s", zerr.message);
    w->zone = get_string(p, g, "zone", 0);
    parse_sources(p, g, w);
    w->min_instances = get_int(p, g, "min_instances", 0, 0, 1000000);
    w->allow_empty = get_bool(p, g, "allow_empty", 0);
    const config_setting_t *m = config_setting_get_member(g, "metadata");
    if (m && !config_setting_is_group(m))
        bad(p, m, "metadata", "must be a group of strings, e.g. { version = \"2\"; }");
    else if (m) {
        w->nmeta = config_setting_length(m);
        w->meta_keys = calloc((size_t)w->nmeta + 1, sizeof *w->meta_keys);
        w->meta_vals = calloc((size_t)w->nmeta + 1, sizeof *w->meta_vals);
        for (int i = 0; i < w->nmeta; i++) {
            const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
            const char *v = config_setting_get_string(e);
            if (!v)
                bad(p, e, config_setting_name(e), "metadata values must be strings");
            w->meta_keys[i] = strdup(config_setting_name(e));
            w->meta_vals[i] = strdup(v ? v : "");
        }
    }
    const config_setting_t *outs = config_setting_get_member(g, "outputs");
    if (!outs)
        return;
    if (!config_setting_is_list(outs)) {
        bad(p, outs, "outputs", "must be a list of groups: ( { type = \"json\"; ... } )");
        return;
    }
    w->nouts = config_setting_length(outs);
    w->outs = calloc((size_t)w->nouts + 1, sizeof *w->outs);
    for (int i = 0; i < w->nouts; i++) {
        const config_setting_t *o = config_setting_get_elem(outs, (unsigned)i);
        if (!config_setting_is_group(o)) {
            bad(p, o, "outputs", "element %d is not a group", i);
            w->outs[i].type = OUT_JSON;
            continue;
        }
        parse_output(p, o, w, &w->outs[i]);
    }
}

static void parse_dns(parser *p, const config_setting_t *g, dns_conf *d)
{
    static const char *const known[] = {"listen", "domain", "ttl", "all_services", "idle_close",
                                        "negative_ttl", "allow_remote", NULL};
    if (!config_setting_is_group(g)) {
        bad(p, g, "dns", "must be a group: dns = { listen = \"127.0.0.1:8600\"; }");
        return;
    }
    only_keys(p, g, "dns", known);
    d->enabled = 1;
    char *listen = get_string(p, g, "listen", 0);
    const char *l = listen ? listen : "127.0.0.1:8600";
    const char *colon = strrchr(l, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == l || *end || port < 0 || port > 65535)
        bad(p, config_setting_get_member(g, "listen"), "listen", "must be \"ADDRESS:PORT\"");
    else {
        d->listen_host = strndup(l, (size_t)(colon - l));
        d->listen_port = (int)port;
    }
    free(listen);
    /* Off loopback an open DNS port answers anyone: opt in, as for the API. */
    d->allow_remote = get_bool(p, g, "allow_remote", 0);
    const char *h = d->listen_host;
    if (h && !d->allow_remote && strcmp(h, "localhost") && strncmp(h, "127.", 4) && strcmp(h, "::1") &&
        strcmp(h, "[::1]"))
        bad(p, config_setting_get_member(g, "listen"), "listen",
            "%s is not a loopback address; set dns.allow_remote = true to listen there", h);
    char *domain = get_string(p, g, "domain", 0);
    d->domain = strdup(domain ? domain : "zkdisc");
    free(domain);
    size_t n = strlen(d->domain);
    while (n && d->domain[n - 1] == '.')
        d->domain[--n] = '\0';
    for (char *c = d->domain; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (!n)
        bad(p, config_setting_get_member(g, "domain"), "domain", "must not be empty");
    d->ttl = get_int(p, g, "ttl", 5, 0, 86400);
    d->all_services = get_bool(p, g, "all_services", 0);
    d->idle_close_ms = get_duration(p, g, "idle_close", 300000);
    d->negative_ttl = get_int(p, g, "negative_ttl", d->ttl, 0, 86400);
}

static void parse_file(parser *p, const config_setting_t *g, cfile_conf *f)
{
    static const char *const known[] = {"app", "path", "format", "mode", "owner", "on_change",
                                        "timeout", NULL};
    only_keys(p, g, "a config_files entry", known);
    zkd_error zerr;
    f->app = get_string(p, g, "app", 1);
    if (f->app && zkd_validate_name("app", f->app, &zerr))
        bad(p, config_setting_get_member(g, "app"), "app", "%s", zerr.message);
    f->path = get_string(p, g, "path", 1);
    writable_dir(p, g, "path", f->path);
    char *fmt = get_string(p, g, "format", 0);
    static const char *formats[] = {"json", "libconfig", "env"};
    f->format = CFILE_JSON;
    int found = !fmt;
    for (int i = 0; fmt && i < 3; i++)
        if (!strcmp(fmt, formats[i])) {
            f->format = (cfile_format)i;
            found = 1;
        }
    if (!found)
        bad(p, config_setting_get_member(g, "format"), "format",
            "\"%s\" is not json, libconfig or env", fmt);
    free(fmt);
    f->mode = get_mode(p, g, 0644);
    f->owner = get_owner(p, g);
    f->on_change = get_argv(p, g, "on_change", 0);
    f->timeout_ms = get_duration(p, g, "timeout", 30000);
}

/* A libconfig setting as JSON (groups as objects, lists and arrays as arrays). */
static json_t *setting_json(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return json_integer(config_setting_get_int64(s));
    case CONFIG_TYPE_FLOAT:
        return json_real(config_setting_get_float(s));
    case CONFIG_TYPE_STRING:
        return json_string(config_setting_get_string(s));
    case CONFIG_TYPE_BOOL:
        return json_boolean(config_setting_get_bool(s));
    case CONFIG_TYPE_GROUP: {
        json_t *o = json_object();
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            json_object_set_new(o, config_setting_name(e), setting_json(e));
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        for (int i = 0; i < config_setting_length(s); i++)
            json_array_append_new(a, setting_json(config_setting_get_elem(s, (unsigned)i)));
        return a;
    }
    }
}

/* A check_cmd argument naming the file under check. */
static int names_path(const char *arg)
{
    return strstr(arg, "{{path}}") || strstr(arg, "%s");
}

static void parse_template(parser *p, const config_setting_t *g, tmpl_conf *t)
{
    static const char *const known[] = {"source", "destination", "escape", "mode", "owner", "check_cmd",
                                        "on_change", "config", "min_interval", "timeout", "vars", NULL};
    only_keys(p, g, "a templates entry", known);
    t->source = get_string(p, g, "source", 1);
    t->destination = get_string(p, g, "destination", 1);
    writable_dir(p, g, "destination", t->destination);
    char *text = NULL, err[256];
    zkd_mustache *m = NULL;
    if (t->source && zkd__atomic_file_read(t->source, 16 << 20, &text) < 0)
        bad(p, config_setting_get_member(g, "source"), "source", "cannot read %s: %s", t->source,
            strerror(errno));
    else if (text && zkd_mustache_compile(text, strlen(text), &m, err, sizeof err) < 0)
        bad(p, config_setting_get_member(g, "source"), "source", "%s: %s", t->source, err);
    zkd_mustache_free(m);
    free(text);
    char *esc = get_string(p, g, "escape", 0);
    zkd_mustache_escape e = ZKD_MUSTACHE_NONE;
    if (esc && zkd_mustache_escape_parse(esc, &e) < 0)
        bad(p, config_setting_get_member(g, "escape"), "escape", "\"%s\" is not none, html or json", esc);
    t->escape = (int)e;
    free(esc);
    t->mode = get_mode(p, g, 0644);
    t->owner = get_owner(p, g);
    t->check_cmd = get_argv(p, g, "check_cmd", 0);
    int named = 0;
    for (char **a = t->check_cmd; a && *a; a++)
        named |= names_path(*a);
    if (t->check_cmd && !named)
        bad(p, config_setting_get_member(g, "check_cmd"), "check_cmd",
            "must name the file to check with {{path}} or %%s, e.g. [\"haproxy\", \"-c\", \"-f\", \"{{path}}\"]");
    t->on_change = get_argv(p, g, "on_change", 0);
    t->apps = get_lines(p, g, "config");
    zkd_error zerr;
    for (char **a = t->apps; a && *a; a++)
        if (zkd_validate_name("app", *a, &zerr))
            bad(p, config_setting_get_member(g, "config"), "config", "%s", zerr.message);
    t->min_interval_ms = get_duration(p, g, "min_interval", 1000);
    t->timeout_ms = get_duration(p, g, "timeout", 30000);
    const config_setting_t *v = config_setting_get_member(g, "vars");
    if (v && !config_setting_is_group(v))
        bad(p, v, "vars", "must be a group, e.g. vars = { services = { web = { port = 8080; }; }; }");
    t->vars = v && config_setting_is_group(v) ? setting_json(v) : json_object();
}

static const config_setting_t *list_at(parser *p, const config_t *cfg, const char *key)
{
    const config_setting_t *s = config_lookup(cfg, key);
    if (s && !config_setting_is_list(s)) {
        bad(p, s, key, "must be a list of groups: %s = ( { ... } );", key);
        return NULL;
    }
    return s;
}

consumers_conf *consumers_conf_parse(const config_t *cfg, struct evbuffer *errors)
{
    parser p = {errors, 0};
    consumers_conf *cc = calloc(1, sizeof *cc);
    const config_setting_t *ws = list_at(&p, cfg, "watch");
    cc->nwatches = ws ? config_setting_length(ws) : 0;
    cc->watches = calloc((size_t)cc->nwatches + 1, sizeof *cc->watches);
    for (int i = 0; i < cc->nwatches; i++) {
        const config_setting_t *g = config_setting_get_elem(ws, (unsigned)i);
        if (config_setting_is_group(g))
            parse_watch(&p, g, &cc->watches[i]);
        else
            bad(&p, g, "watch", "element %d is not a group", i);
        for (int j = 0; j < i && cc->watches[i].service; j++)
            if (cc->watches[j].service && !strcmp(cc->watches[j].service, cc->watches[i].service))
                bad(&p, g, "service", "\"%s\" is watched twice (give one watch several outputs)",
                    cc->watches[i].service);
    }
    const config_setting_t *d = config_lookup(cfg, "dns");
    if (d)
        parse_dns(&p, d, &cc->dns);
    const config_setting_t *fs = list_at(&p, cfg, "config_files");
    cc->nfiles = fs ? config_setting_length(fs) : 0;
    cc->files = calloc((size_t)cc->nfiles + 1, sizeof *cc->files);
    for (int i = 0; i < cc->nfiles; i++) {
        const config_setting_t *g = config_setting_get_elem(fs, (unsigned)i);
        if (config_setting_is_group(g))
            parse_file(&p, g, &cc->files[i]);
        else
            bad(&p, g, "config_files", "element %d is not a group", i);
        for (int j = 0; j < i && cc->files[i].path; j++)
            if (cc->files[j].path && !strcmp(cc->files[j].path, cc->files[i].path))
                bad(&p, g, "path", "%s is written by two config_files entries", cc->files[i].path);
    }
    const config_setting_t *ts = list_at(&p, cfg, "templates");
    cc->ntemplates = ts ? config_setting_length(ts) : 0;
    cc->templates = calloc((size_t)cc->ntemplates + 1, sizeof *cc->templates);
    for (int i = 0; i < cc->ntemplates; i++) {
        const config_setting_t *g = config_setting_get_elem(ts, (unsigned)i);
        if (config_setting_is_group(g))
            parse_template(&p, g, &cc->templates[i]);
        else
            bad(&p, g, "templates", "element %d is not a group", i);
        for (int j = 0; j < i && cc->templates[i].destination; j++)
            if (cc->templates[j].destination && !strcmp(cc->templates[j].destination, cc->templates[i].destination))
                bad(&p, g, "destination", "%s is written by two templates", cc->templates[i].destination);
    }
    if (p.nerr) {
        consumers_conf_free(cc);
        return NULL;
    }
    return cc;
}

void consumers_conf_free(consumers_conf *cc)
{
    if (!cc)
        return;
    for (int i = 0; i < cc->nwatches; i++) {
        watch_conf *w = &cc->watches[i];
        for (int j = 0; j < w->nouts; j++) {
            out_conf *o = &w->outs[j];
            free(o->path);
            free(o->backend);
            free(o->socket);
            free_argv(o->argv);
            free_argv(o->reload);
            free_argv(o->check);
            free_argv(o->options);
        }
        for (int j = 0; j < w->nmeta; j++) {
            free(w->meta_keys[j]);
            free(w->meta_vals[j]);
        }
        free(w->meta_keys);
        free(w->meta_vals);
        free(w->outs);
        free(w->service);
        free(w->zone);
        free(w->file);
        free(w->defaults_json);
    }
    free(cc->watches);
    free(cc->dns.listen_host);
    free(cc->dns.domain);
    for (int i = 0; i < cc->nfiles; i++) {
        free(cc->files[i].app);
        free(cc->files[i].path);
        free_argv(cc->files[i].on_change);
    }
    free(cc->files);
    for (int i = 0; i < cc->ntemplates; i++) {
        tmpl_conf *t = &cc->templates[i];
        free(t->source);
        free(t->destination);
        free_argv(t->check_cmd);
        free_argv(t->on_change);
        free_argv(t->apps);
        json_decref(t->vars);
    }
    free(cc->templates);
    free(cc);
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int argv_eq(char *const *a, char *const *b)
{
    if (!a || !b)
        return a == b;
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b))
            return 0;
    return !*a && !*b;
}

static int out_conf_equal(const out_conf *a, const out_conf *b)
{
    return a->type == b->type && str_eq(a->path, b->path) && a->mode == b->mode &&
           a->owner.uid == b->owner.uid && a->owner.gid == b->owner.gid &&
           a->stale_after_ms == b->stale_after_ms && argv_eq(a->argv, b->argv) &&
           a->min_interval_ms == b->min_interval_ms && a->timeout_ms == b->timeout_ms &&
           str_eq(a->backend, b->backend) && str_eq(a->socket, b->socket) && a->slots == b->slots &&
           argv_eq(a->reload, b->reload) && a->min_reload_interval_ms == b->min_reload_interval_ms &&
           argv_eq(a->options, b->options) && argv_eq(a->check, b->check);
}

int watch_conf_equal(const watch_conf *a, const watch_conf *b)
{
    if (!str_eq(a->service, b->service) || !str_eq(a->zone, b->zone) || a->nmeta != b->nmeta ||
        a->min_instances != b->min_instances || a->allow_empty != b->allow_empty ||
        a->nouts != b->nouts || !str_eq(a->file, b->file) ||
        !str_eq(a->defaults_json, b->defaults_json))
        return 0;
    for (int i = 0; i < a->nmeta; i++)
        if (!str_eq(a->meta_keys[i], b->meta_keys[i]) || !str_eq(a->meta_vals[i], b->meta_vals[i]))
            return 0;
    for (int i = 0; i < a->nouts; i++)
        if (!out_conf_equal(&a->outs[i], &b->outs[i]))
            return 0;
    return 1;
}
