/* SPDX-License-Identifier: Apache-2.0 */
/* Sub-commands: check-config reads the file only; pass|warn|fail, maint and
 * status talk to the running agent's API (address from -c FILE's agent.api,
 * --api HOST:PORT, or the default 127.0.0.1:8586; the API token from
 * --token-file FILE, else the file -c FILE names, see api_token_path).
 * Exit: 0 done, 1 the agent refused (its message on stderr), 2 usage or a
 * bad config, 3 the agent could not be reached. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_consumers.h"
#include "runtime.h"

typedef struct ctl {
    char api[300];
    const char *conf;
    int json;
    const char *reason;
    char token[API_TOKEN_MAX]; /* "" when none was found */
} ctl;

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    evbuffer_add(arg, data, size * n);
    return size * n;
}

/* One request; *body gets the answer (malloc'd). The HTTP status, or -1. */
static long request(const ctl *c, const char *method, const char *path, const char *data, char **body)
{
    CURL *e = curl_easy_init();
    char url[1200];
    snprintf(url, sizeof url, "http://%s%s", c->api, path);
    struct evbuffer *out = evbuffer_new();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (data)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    struct curl_slist *headers = NULL;
    char auth[API_TOKEN_MAX + 32];
    if (c->token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(e);
    curl_slist_free_all(headers);
    long code = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    else
        fprintf(stderr, "zkdisc-agent: %s: %s\n", url, curl_easy_strerror(rc));
    size_t n = evbuffer_get_length(out);
    *body = calloc(1, n + 1);
    evbuffer_remove(out, *body, n);
    evbuffer_free(out);
    curl_easy_cleanup(e);
    return code;
}

static int finish(long code, char *body, int print)
{
    int rc = code < 0 ? 3 : code == 200 ? 0 : 1;
    if (code > 0 && code != 200) {
        json_t *j = json_loads(body, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "error"));
        fprintf(stderr, "zkdisc-agent: %s\n", msg ? msg : body);
        if (code == 401)
            fprintf(stderr, "zkdisc-agent: give -c FILE (the agent's configuration) or --token-file FILE\n");
        json_decref(j);
    } else if (print && code == 200) {
        fputs(body, stdout);
    }
    free(body);
    return rc;
}

static char *escape(const char *s)
{
    CURL *e = curl_easy_init();
    char *x = curl_easy_escape(e, s, 0), *out = strdup(x);
    curl_free(x);
    curl_easy_cleanup(e);
    return out;
}

/* What a change did, as the zkdisc CLI says it (mutation_report.h there):
 * a line, or with -o json {"action", ..., "changed"}. */
static void report(const ctl *c, json_t *o, const char *text)
{
    if (c->json) {
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        printf("%s\n", text);
    }
    json_decref(o);
}

static int cmd_check(const ctl *c, const char *status, int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: zkdisc-agent %s SERVICE CHECK [NOTE]\n", status);
        return 2;
    }
    char *s = escape(argv[0]), *k = escape(argv[1]), path[1024], *body;
    snprintf(path, sizeof path, "/v1/check/%s/%s/%s", s, k, status);
    free(s);
    free(k);
    long code = request(c, "PUT", path, argc == 3 ? argv[2] : "", &body);
    if (code == 200) {
        json_t *b = json_loads(body, 0, NULL);
        const char *st = json_string_value(json_object_get(b, "status"));
        char text[600];
        snprintf(text, sizeof text, "check %s/%s: %s", argv[0], argv[1], st ? st : status);
        report(c, json_pack("{ss ss ss ss sb}", "action", status, "service", argv[0], "check",
                            argv[1], "status", st ? st : status, "changed", 1), text);
        json_decref(b);
    }
    return finish(code, body, 0);
}

/* "maintenance on for web", "web already in maintenance", from the API's
 * answer (its "changed"; an older agent without it counts as a change). */
static void report_maint(const ctl *c, const char *service, int on, const char *body)
{
    json_t *b = json_loads(body, 0, NULL);
    int changed = !json_is_false(json_object_get(b, "changed"));
    json_decref(b);
    char text[600];
    if (changed)
        snprintf(text, sizeof text, "maintenance %s for %s", on ? "on" : "off", service);
    else
        snprintf(text, sizeof text, "%s already %s maintenance", service, on ? "in" : "out of");
    report(c, json_pack("{ss ss sb sb}", "action", "maint", "service", service, "maintenance", on,
                        "changed", changed), text);
}

static int cmd_maint(const ctl *c, int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off"))) {
        fprintf(stderr, "usage: zkdisc-agent maint SERVICE on|off [--reason TEXT]\n");
        return 2;
    }
    char *s = escape(argv[0]), path[600], *body;
    snprintf(path, sizeof path, "/v1/maint/%s", s);
    free(s);
    json_t *j = json_pack("{sbss}", "enable", !strcmp(argv[1], "on"), "reason", c->reason ? c->reason : "");
    char *data = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    long code = request(c, "PUT", path, data, &body);
    free(data);
    if (code == 200)
        report_maint(c, argv[0], !strcmp(argv[1], "on"), body);
    return finish(code, body, 0);
}

static int cmd_status(const ctl *c)
{
    char *body;
    long code = request(c, "GET", "/v1/services", NULL, &body);
    if (code != 200 || c->json)
        return finish(code, body, 1);
    json_t *a = json_loads(body, 0, NULL);
    free(body);
    printf("%-24s %-12s %-6s %-10s %s\n", "SERVICE", "STATE", "MAINT", "CHECK", "STATUS / NOTE");
    size_t i, k;
    json_t *s, *ch;
    json_array_foreach(a, i, s) {
        json_t *checks = json_object_get(s, "checks");
        int maint = json_is_true(json_object_get(json_object_get(s, "maintenance"), "enabled"));
        printf("%-24s %-12s %-6s", json_string_value(json_object_get(s, "id")),
               json_string_value(json_object_get(s, "state")), maint ? "on" : "off");
        if (!json_array_size(checks))
            printf("\n");
        json_array_foreach(checks, k, ch) {
            if (k)
                printf("%-24s %-12s %-6s", "", "", "");
            printf(" %-10s %s: %.80s\n", json_string_value(json_object_get(ch, "name")),
                   json_string_value(json_object_get(ch, "status")),
                   json_string_value(json_object_get(ch, "note")));
        }
    }
    json_decref(a);
    return 0;
}

static int check_config(const char *path)
{
    if (!path) {
        fprintf(stderr, "usage: zkdisc-agent check-config -c FILE\n");
        return 2;
    }
    struct evbuffer *errors = evbuffer_new();
    agent_conf *c = conf_load(path, errors);
    evbuffer_write(errors, 2);
    evbuffer_free(errors);
    if (!c)
        return 2;
    size_t checks = 0;
    for (size_t i = 0; i < c->nservices; i++)
        checks += c->services[i].nchecks;
    const consumers_conf *cc = c->consumers;
    int outputs = 0;
    for (int i = 0; cc && i < cc->nwatches; i++)
        outputs += cc->watches[i].nouts;
    char dns[300] = "no dns";
    if (cc && cc->dns.enabled)
        snprintf(dns, sizeof dns, "dns on %s:%d", cc->dns.listen_host, cc->dns.listen_port);
    printf("%s: ok (%zu services, %zu checks, %zu alert hooks, %d watches, %d outputs, %d config_files, %s)\n",
           path, c->nservices, checks, c->nalerts, cc ? cc->nwatches : 0, outputs, cc ? cc->nfiles : 0, dns);
    conf_free(c);
    return 0;
}

/* The sub-command's index in argv (options may come before it, as in
 * `zkdisc-agent --api HOST:PORT status`), or 0 when there is none. */
static int command_at(int argc, char **argv)
{
    static const char *const with_value[] = {"-c", "--config", "--api", "-o", "--output", "--reason", "--token-file"};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return i + 1 < argc ? i + 1 : 0;
        if (argv[i][0] != '-')
            return i;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            if (!strcmp(argv[i], with_value[k])) {
                i++;
                break;
            }
    }
    return 0;
}

int ctl_dispatch(int argc, char **argv)
{
    int at = command_at(argc, argv);
    if (!at)
        return -1;
    /* ctl_main wants the command first; getopt takes options on either side. */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n = 0;
    args[n++] = argv[at];
    for (int i = 1; i < argc; i++)
        if (i != at && !(i == at - 1 && !strcmp(argv[i], "--")))
            args[n++] = argv[i];
    int rc = ctl_main(n, args);
    free(args);
    return rc;
}

/* The token the agent wants for changes: --token-file, else the one its
 * configuration names. Not finding it is said only when the agent asks. */
static void find_token(ctl *c, const char *file, const agent_conf *conf)
{
    char path[4096], err[4200];
    if (file)
        snprintf(path, sizeof path, "%s", file);
    else if (conf)
        api_token_path(conf, path, sizeof path);
    else
        return;
    if (api_token_read(path, c->token, sizeof c->token, err, sizeof err) != 0) {
        c->token[0] = 0;
        if (file || errno != ENOENT)
            fprintf(stderr, "zkdisc-agent: %s\n", err);
    }
}

int ctl_main(int argc, char **argv)
{
    ctl c = {.api = "127.0.0.1:8586"};
    const char *api = NULL, *token_file = NULL;
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"api", required_argument, NULL, 'a'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {"token-file", required_argument, NULL, 't'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    /* "+": options after the first operand stay operands (a NOTE may start with '-'). */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': c.conf = optarg; break;
        case 'a': api = optarg; break;
        case 'o': c.json = !strcmp(optarg, "json"); break;
        case 'r': c.reason = optarg; break;
        case 't': token_file = optarg; break;
        default: return 2;
        }
    }
    const char *cmd = argv[0];
    char **rest = argv + optind;
    int nrest = argc - optind;
    if (!strcmp(cmd, "check-config"))
        return check_config(c.conf);
    agent_conf *conf = NULL;
    if (c.conf) {
        struct evbuffer *errors = evbuffer_new();
        conf = conf_load(c.conf, errors);
        evbuffer_write(errors, 2);
        evbuffer_free(errors);
        if (!conf)
            return 2;
        snprintf(c.api, sizeof c.api, strchr(conf->api_host, ':') ? "[%s]:%d" : "%s:%d", conf->api_host,
                 conf->api_port);
    }
    if (api)
        snprintf(c.api, sizeof c.api, "%s", api);
    find_token(&c, token_file, conf);
    conf_free(conf);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (!strcmp(cmd, "pass") || !strcmp(cmd, "warn") || !strcmp(cmd, "fail"))
        rc = cmd_check(&c, cmd, nrest, rest);
    else if (!strcmp(cmd, "maint"))
        rc = cmd_maint(&c, nrest, rest);
    else if (!strcmp(cmd, "status"))
        rc = nrest ? (fprintf(stderr, "usage: zkdisc-agent status [-o json]\n"), 2) : cmd_status(&c);
    else {
        fprintf(stderr, "zkdisc-agent: unknown command \"%s\" (pass, warn, fail, maint, status, check-config)\n", cmd);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
