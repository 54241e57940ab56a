/* SPDX-License-Identifier: Apache-2.0 */
/* Config documents and versions: exact JSON text, the envelope, checksums,
 * the immutable version object and its typed getters. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zkdisc/node.h>

#include "request.h"
#include "config_impl.h"
#include "errors.h"
#include "paths.h"
#include "sha.h"


int zkd__config_checksum(const json_t *doc, char *out, size_t len)
{
    char *canon = zkd__json_dump(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon)
        return ZKD_ENOMEM;
    unsigned char h[ZKD_SHA256_LEN];
    zkd__sha256(canon, strlen(canon), h);
    free(canon);
    char hex[2 * ZKD_SHA256_LEN + 1];
    zkd__hex(h, sizeof h, hex);
    snprintf(out, len, "sha256:%s", hex);
    return 0;
}

int zkd__config_load_doc(const char *json, size_t len, const char *source, json_t **out,
                         zkd_error *err)
{
    if (!source)
        source = "<input>";
    json_error_t jerr;
    json_t *doc = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!doc) {
        if (!json)
            return zkd__fail(err, ZKD_EINVAL, "no document given");
        return zkd__fail(err, ZKD_EBADDATA, "%s:%d:%d: %s", source, jerr.line, jerr.column,
                         jerr.text);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return zkd__fail(err, ZKD_EBADDATA,
                         "%s: the top level of a configuration must be a JSON object", source);
    }
    *out = doc;
    return 0;
}

/* ---- envelopes ------------------------------------------------------------------ */

char *zkd__config_envelope(const json_t *doc, int64_t version, int64_t time_ms,
                           const char *author, const char *message, size_t *len_out)
{
    char sum[80];
    char *compact = zkd__json_dump(doc, JSON_COMPACT);
    if (!compact || zkd__config_checksum(doc, sum, sizeof sum) != 0) {
        free(compact);
        return NULL;
    }
    json_t *env = json_pack("{s:I,s:I,s:s,s:s,s:s,s:I,s:O}", "version", (json_int_t)version,
                            "time", (json_int_t)time_ms, "author", author ? author : "",
                            "message", message ? message : "", "checksum", sum, "size",
                            (json_int_t)strlen(compact), "document", doc);
    free(compact);
    if (!env)
        return NULL;
    char *text = zkd__json_dump(env, JSON_COMPACT);
    json_decref(env);
    if (text && len_out)
        *len_out = strlen(text);
    return text;
}

static void version_free(zkd_config_version *v)
{
    free(v->app);
    free(v->author);
    free(v->message);
    free(v->checksum);
    free(v->doc_json);
    json_decref(v->doc);
    free(v);
}

int zkd__config_version_from(const char *app, const json_t *env, const char *what,
                             zkd_config_version **out, zkd_error *err)
{
    json_int_t version = 0, time_ms = 0, size = 0;
    const char *author = NULL, *message = NULL, *checksum = NULL;
    json_t *doc = NULL;
    json_error_t jerr;
    if (!json_is_object(env) ||
        json_unpack_ex((json_t *)env, &jerr, 0, "{s:I,s:I,s:s,s:s,s:s,s:I,s:o}", "version",
                       &version, "time", &time_ms, "author", &author, "message", &message,
                       "checksum", &checksum, "size", &size, "document", &doc) != 0 ||
        version < 1 || !json_is_object(doc))
        return zkd__fail(err, ZKD_EBADDATA, "%s is not a zkdisc configuration envelope", what);
    char sum[80];
    if (zkd__config_checksum(doc, sum, sizeof sum) != 0)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    if (strcmp(sum, checksum) != 0)
        return zkd__fail(err, ZKD_EBADDATA,
                         "%s: the document does not match its checksum (version %" PRId64 ")",
                         what, (int64_t)version);
    zkd_config_version *v = calloc(1, sizeof *v);
    if (!v)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    atomic_init(&v->refs, 1);
    v->app = strdup(app);
    v->version = version;
    v->time_ms = time_ms;
    v->author = strdup(author);
    v->message = strdup(message);
    v->checksum = strdup(checksum);
    v->doc = json_incref(doc);
    v->doc_json = zkd__json_dump(doc, JSON_COMPACT);
    v->size = v->doc_json ? strlen(v->doc_json) : 0;
    if (!v->app || !v->author || !v->message || !v->checksum || !v->doc_json) {
        version_free(v);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    *out = v;
    return 0;
}

int zkd__config_version_parse(const char *app, const char *data, size_t len, const char *what,
                              zkd_config_version **out, zkd_error *err)
{
    json_error_t jerr;
    json_t *env = data ? json_loadb(data, len, 0, &jerr) : NULL;
    if (!env)
        return zkd__fail(err, ZKD_EBADDATA, "%s is not a zkdisc configuration envelope", what);
    int rc = zkd__config_version_from(app, env, what, out, err);
    json_decref(env);
    return rc;
}

json_t *zkd__config_version_envelope(const zkd_config_version *v)
{
    return json_pack("{s:I,s:I,s:s,s:s,s:s,s:I,s:O}", "version", (json_int_t)v->version, "time",
                     (json_int_t)v->time_ms, "author", v->author, "message", v->message,
                     "checksum", v->checksum, "size", (json_int_t)v->size, "document", v->doc);
}

zkd_config_version *zkd__config_version_restale(const zkd_config_version *v, int stale)
{
    zkd_config_version *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    atomic_init(&n->refs, 1);
    n->app = strdup(v->app);
    n->version = v->version;
    n->time_ms = v->time_ms;
    n->author = strdup(v->author);
    n->message = strdup(v->message);
    n->checksum = strdup(v->checksum);
    n->size = v->size;
    n->doc = json_incref(v->doc);
    n->doc_json = strdup(v->doc_json);
    n->stale = stale;
    n->czxid = v->czxid;
    if (!n->app || !n->author || !n->message || !n->checksum || !n->doc_json) {
        version_free(n);
        return NULL;
    }
    return n;
}

/* ---- the public version object ------------------------------------------------ */

zkd_config_version *zkd_config_version_ref(zkd_config_version *v)
{
    if (v)
        atomic_fetch_add(&v->refs, 1);
    return v;
}

void zkd_config_version_unref(zkd_config_version *v)
{
    if (v && atomic_fetch_sub(&v->refs, 1) == 1)
        version_free(v);
}

const char *zkd_config_version_app(const zkd_config_version *v) { return v->app; }
int64_t zkd_config_version_number(const zkd_config_version *v) { return v->version; }
int64_t zkd_config_version_time(const zkd_config_version *v) { return v->time_ms; }
const char *zkd_config_version_author(const zkd_config_version *v) { return v->author; }
const char *zkd_config_version_message(const zkd_config_version *v) { return v->message; }
const char *zkd_config_version_checksum(const zkd_config_version *v) { return v->checksum; }
size_t zkd_config_version_size(const zkd_config_version *v) { return v->size; }
const char *zkd_config_version_json(const zkd_config_version *v) { return v->doc_json; }
int zkd_config_version_stale(const zkd_config_version *v) { return v->stale; }

/* ---- typed getters -------------------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 9)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* The value at a dotted path, borrowed; NULL when missing. */
static json_t *lookup(const json_t *doc, const char *key)
{
    json_t *cur = (json_t *)doc;
    if (!key || !*key)
        return cur;
    const char *s = key;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0)
            return NULL;
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, s, n);
        } else if (json_is_array(cur) && all_digits(s, n)) {
            cur = json_array_get(cur, (size_t)strtoul(s, NULL, 10));
        } else {
            return NULL;
        }
        if (!cur)
            return NULL;
        if (!dot)
            return cur;
        s = dot + 1;
    }
}

static zkd_config_type type_of(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return ZKD_CONFIG_OBJECT;
    case JSON_ARRAY: return ZKD_CONFIG_ARRAY;
    case JSON_STRING: return ZKD_CONFIG_STRING;
    case JSON_INTEGER: return ZKD_CONFIG_INT;
    case JSON_REAL: return ZKD_CONFIG_DOUBLE;
    case JSON_TRUE:
    case JSON_FALSE: return ZKD_CONFIG_BOOL;
    case JSON_NULL: return ZKD_CONFIG_NULL;
    }
    return ZKD_CONFIG_MISSING;
}

static const char *type_name(zkd_config_type t)
{
    static const char *names[] = {"missing", "an object", "an array", "a string",
                                  "an integer", "a double", "a boolean", "null"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

zkd_config_type zkd_config_type_of(const zkd_config_version *v, const char *key)
{
    json_t *j = v ? lookup(v->doc, key) : NULL;
    return j ? type_of(j) : ZKD_CONFIG_MISSING;
}

/* Finds `key` and checks its type; a message on failure. */
static int typed(const zkd_config_version *v, const char *key, zkd_config_type want,
                 json_t **out, zkd_error *err)
{
    if (!v || !key)
        return zkd__fail(err, ZKD_EINVAL, "no version or key given");
    json_t *j = lookup(v->doc, key);
    if (!j)
        return zkd__fail(err, ZKD_ENOTFOUND, "%s: no key \"%s\" in version %" PRId64, v->app,
                         key, v->version);
    zkd_config_type t = type_of(j);
    int ok = t == want ||
             (want == ZKD_CONFIG_DOUBLE && t == ZKD_CONFIG_INT &&
              llabs((long long)json_integer_value(j)) <= (1LL << 53));
    if (!ok)
        return zkd__fail(err, ZKD_EBADDATA, "%s: %s is %s, not %s", v->app, key, type_name(t),
                         type_name(want));
    *out = j;
    return 0;
}

int zkd_config_int(const zkd_config_version *v, const char *key, int64_t *out, zkd_error *err)
{
    json_t *j = NULL;
    int rc = typed(v, key, ZKD_CONFIG_INT, &j, err);
    if (!rc)
        *out = (int64_t)json_integer_value(j);
    return rc;
}

int zkd_config_double(const zkd_config_version *v, const char *key, double *out, zkd_error *err)
{
    json_t *j = NULL;
    int rc = typed(v, key, ZKD_CONFIG_DOUBLE, &j, err);
    if (!rc)
        *out = json_number_value(j);
    return rc;
}

int zkd_config_bool(const zkd_config_version *v, const char *key, int *out, zkd_error *err)
{
    json_t *j = NULL;
    int rc = typed(v, key, ZKD_CONFIG_BOOL, &j, err);
    if (!rc)
        *out = json_is_true(j);
    return rc;
}

int zkd_config_string(const zkd_config_version *v, const char *key, const char **out,
                      zkd_error *err)
{
    json_t *j = NULL;
    int rc = typed(v, key, ZKD_CONFIG_STRING, &j, err);
    if (!rc)
        *out = json_string_value(j);
    return rc;
}

int zkd_config_object(const zkd_config_version *v, const char *key, char **json_out,
                      zkd_error *err)
{
    json_t *j = NULL;
    int rc = typed(v, key, ZKD_CONFIG_OBJECT, &j, err);
    if (rc)
        return rc;
    char *text = zkd__json_dump(j, JSON_COMPACT);
    if (!text)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    *json_out = text;
    return 0;
}

int zkd_config_value(const zkd_config_version *v, const char *key, char **json_out,
                     zkd_error *err)
{
    if (!v)
        return zkd__fail(err, ZKD_EINVAL, "no version given");
    json_t *j = lookup(v->doc, key);
    if (!j)
        return zkd__fail(err, ZKD_ENOTFOUND, "%s: no key \"%s\" in version %" PRId64, v->app,
                         key, v->version);
    char *text = zkd__json_dump(j, JSON_COMPACT);
    if (!text)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    *json_out = text;
    return 0;
}

/* ---- names, paths, parents ------------------------------------------------------ */

char *zkd__config_versions_path(zkd_client *c, const char *app)
{
    char *p = zkd__config_path(c, app);
    char *v = p ? zkd__path_join(p, "versions") : NULL;
    free(p);
    return v;
}

char *zkd__config_version_path(zkd_client *c, const char *app, int64_t version)
{
    char name[24];
    snprintf(name, sizeof name, "%010" PRId64, version);
    char *p = zkd__config_versions_path(c, app);
    char *v = p ? zkd__path_join(p, name) : NULL;
    free(p);
    return v;
}

int64_t zkd__config_version_name(const char *name)
{
    if (strlen(name) != 10)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v > 0 ? v : -1;
}

void zkd__config_default_author(char *buf, size_t len)
{
    const char *user = getenv("USER");
    if (!user || !*user)
        user = getenv("LOGNAME");
    struct passwd pw, *res = NULL;
    char pwbuf[1024];
    if ((!user || !*user) && getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
        user = res->pw_name;
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !*host)
        snprintf(host, sizeof host, "unknown-host");
    host[sizeof host - 1] = '\0';
    snprintf(buf, len, "%s@%s", user && *user ? user : "unknown", host);
}

int zkd__config_make_parents(zkd_client *c, zkd_error *err)
{
    char *config = zkd__config_root_path(c);
    if (!config)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    /* Every ancestor of <root>/config, then itself: "/a", "/a/b", ... */
    int rc = 0;
    for (char *slash = strchr(config + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash)
            *slash = '\0';
        rc = zkd__call(c, &(zkd_op){.kind = ZKD_OP_CREATE, .path = config}, NULL, err);
        if (rc == ZKD_EEXISTS || rc == ZKD_ENOAUTH) /* there already (maybe closed to us) */
            rc = 0;
        if (slash)
            *slash = '/';
        if (rc || !slash)
            break;
    }
    if (!rc)
        zkd_error_clear(err);
    free(config);
    return rc;
}
