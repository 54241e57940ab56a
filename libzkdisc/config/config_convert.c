/* SPDX-License-Identifier: Apache-2.0 */
/* Converting documents: libconfig text to JSON and back, and rendering. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zkdisc/node.h>

#include "config_impl.h"
#include "errors.h"

/* ---- what libconfig 1.5 would change silently ----------------------------------
 *
 * libconfig 1.5 reads an integer without the L suffix into an int, wrapping
 * 3000000000 to -1294967296 without a word, and one with the suffix into 64
 * bits the same way (99999999999999999999L becomes INT64_MAX). It also
 * honours @include, reading any local file the text names. Scan the text
 * first (skipping strings and comments) and refuse such a literal, or an
 * @include the caller did not allow, naming its line. */

static int ident_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '*';
}

static int hex_digit(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The literal num (digits, no sign or suffix) fits: in 32 bits without the
 * L suffix, in 64 with it. Hex is a bit pattern of that width in libconfig,
 * so its top bit is refused too: 0xFFFFFFFFL would read back negative. */
static int int_literal_fits(const char *num, size_t len, int hex, int neg, int wide)
{
    size_t digits = hex ? len - 2 : len;
    const char *d = hex ? num + 2 : num;
    while (digits > 1 && *d == '0') { /* leading zeros say nothing */
        d++;
        digits--;
    }
    if (digits > (hex ? 16u : 19u))
        return 0;
    errno = 0;
    unsigned long long mag = strtoull(d, NULL, hex ? 16 : 10);
    if (errno == ERANGE)
        return 0;
    unsigned long long max = wide ? (unsigned long long)INT64_MAX : 2147483647ULL;
    return mag <= max + (unsigned long long)(neg && !hex);
}

static int include_at(const char *t, size_t i, size_t n)
{
    return n - i >= 8 && !strncmp(t + i, "@include", 8);
}

static int check_text(const char *t, size_t n, const char *source, int allow_include,
                      zkd_error *err)
{
    int line = 1;
    for (size_t i = 0; i < n;) {
        char ch = t[i];
        if (ch == '\n') {
            line++;
            i++;
        } else if (ch == '"') { /* a string, with escapes */
            for (i++; i < n && t[i] != '"'; i++) {
                if (t[i] == '\\' && i + 1 < n)
                    i++;
                if (t[i] == '\n')
                    line++;
            }
            i++;
        } else if (ch == '#' || (ch == '/' && i + 1 < n && t[i + 1] == '/')) {
            while (i < n && t[i] != '\n')
                i++;
        } else if (ch == '/' && i + 1 < n && t[i + 1] == '*') {
            for (i += 2; i < n && !(t[i] == '*' && i + 1 < n && t[i + 1] == '/'); i++)
                if (t[i] == '\n')
                    line++;
            i += 2;
        } else if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '*' ||
                   ch == '@') { /* a name, a keyword, @include */
            if (ch == '@' && include_at(t, i, n) && !allow_include)
                return zkd__fail(err, ZKD_EBADDATA,
                                 "%s:%d: @include is not allowed in this text (only files given "
                                 "to the command line may include others)", source, line);
            for (i++; i < n && ident_char(t[i]); i++)
                ;
        } else if (ch >= '0' && ch <= '9') {
            int neg = 0;
            for (size_t j = i; j > 0;) { /* the sign, if any, right before */
                char p = t[--j];
                if (p == '-')
                    neg = 1;
                if (p != '-' && p != '+')
                    break;
            }
            size_t start = i;
            int hex = ch == '0' && i + 1 < n && (t[i + 1] == 'x' || t[i + 1] == 'X');
            int is_float = 0;
            if (hex) {
                for (i += 2; i < n && hex_digit(t[i]); i++)
                    ;
            } else {
                for (; i < n && ((t[i] >= '0' && t[i] <= '9') || t[i] == '.' || t[i] == 'e' ||
                                 t[i] == 'E' ||
                                 ((t[i] == '-' || t[i] == '+') && (t[i - 1] == 'e' || t[i - 1] == 'E')));
                     i++)
                    is_float |= t[i] == '.' || t[i] == 'e' || t[i] == 'E';
            }
            if (is_float)
                continue;
            int wide = i < n && t[i] == 'L';
            char num[64];
            size_t len = i - start < sizeof num - 1 ? i - start : sizeof num - 1;
            memcpy(num, t + start, len);
            num[len] = '\0';
            if (int_literal_fits(num, len, hex, neg, wide))
                continue;
            if (wide)
                return zkd__fail(err, ZKD_EBADDATA,
                                 "%s:%d: the integer %s%sL does not fit in 64 bits (%s)", source,
                                 line, neg ? "-" : "", num,
                                 hex ? "0x7FFFFFFFFFFFFFFFL at most" : "9223372036854775807L at most");
            return zkd__fail(err, ZKD_EBADDATA,
                             "%s:%d: the integer %s%s does not fit in 32 bits; write it "
                             "with the 64-bit suffix: %s%sL",
                             source, line, neg ? "-" : "", num, neg ? "-" : "", num);
        } else {
            i++;
        }
    }
    return 0;
}

/* ---- libconfig to JSON ------------------------------------------------------------ */

static json_t *from_setting(const config_setting_t *s, const char *source, zkd_error *err)
{
    json_t *out = NULL;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
        out = json_object();
        for (int i = 0; out && i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            json_t *v = from_setting(e, source, err);
            if (!v || json_object_set_new(out, config_setting_name(e), v) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        break;
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        out = json_array();
        for (int i = 0; out && i < config_setting_length(s); i++) {
            json_t *v = from_setting(config_setting_get_elem(s, (unsigned)i), source, err);
            if (!v || json_array_append_new(out, v) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        break;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        out = json_integer((json_int_t)config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        if (!isfinite(config_setting_get_float(s))) {
            zkd__fail(err, ZKD_EBADDATA, "%s:%d: a number too large for a double", source,
                      (int)config_setting_source_line(s));
            return NULL;
        }
        out = json_real(config_setting_get_float(s));
        break;
    case CONFIG_TYPE_BOOL:
        out = json_boolean(config_setting_get_bool(s));
        break;
    case CONFIG_TYPE_STRING:
        out = json_string(config_setting_get_string(s));
        if (!out) {
            zkd__fail(err, ZKD_EBADDATA, "%s:%d: a string that is not valid UTF-8", source,
                      (int)config_setting_source_line(s));
            return NULL;
        }
        break;
    default:
        zkd__fail(err, ZKD_EBADDATA, "%s:%d: a setting of unknown type", source,
                  (int)config_setting_source_line(s));
        return NULL;
    }
    if (!out && err && !err->code)
        zkd__fail(err, ZKD_ENOMEM, "out of memory");
    return out;
}

/* Where @include finds files: next to the source file (its directory). */
static char *source_dir(const char *source)
{
    const char *slash = strrchr(source, '/');
    return slash ? strndup(source, (size_t)(slash - source) + 1) : NULL;
}

static int from_libconfig(const char *text, size_t len, const char *source, int allow_include,
                          json_t **out, zkd_error *err)
{
    int rc = check_text(text, len, source, allow_include, err);
    if (rc)
        return rc;
    char *copy = malloc(len + 1);
    if (!copy)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (strlen(copy) != len) {
        free(copy);
        return zkd__fail(err, ZKD_EBADDATA, "%s: a NUL byte in the text", source);
    }
    config_t cfg;
    config_init(&cfg);
    char *dir = allow_include ? source_dir(source) : NULL;
    if (dir)
        config_set_include_dir(&cfg, dir); /* it keeps its own copy */
    free(dir);
    if (!config_read_string(&cfg, copy)) {
        const char *file = config_error_file(&cfg);
        rc = zkd__fail(err, ZKD_EBADDATA, "%s:%d: %s", file ? file : source,
                       config_error_line(&cfg), config_error_text(&cfg));
    } else {
        zkd_error_clear(err);
        if (err)
            err->code = 0;
        json_t *doc = from_setting(config_root_setting(&cfg), source, err);
        if (doc)
            *out = doc;
        else
            rc = err && err->code ? err->code : ZKD_ENOMEM;
    }
    config_destroy(&cfg);
    free(copy);
    return rc;
}

int zkd_config_parse(const char *text, size_t len, zkd_config_format fmt, const char *source,
                     char **json_out, zkd_error *err)
{
    if (!text || !json_out)
        return zkd__fail(err, ZKD_EINVAL, "no text or result given");
    if (!source)
        source = "<input>";
    json_t *doc = NULL;
    int rc;
    int allow_include = ((int)fmt & ZKD_CONFIG_ALLOW_INCLUDE) != 0;
    fmt = (zkd_config_format)((int)fmt & ~ZKD_CONFIG_ALLOW_INCLUDE);
    if (fmt == ZKD_CONFIG_LIBCONFIG)
        rc = from_libconfig(text, len, source, allow_include, &doc, err);
    else if (fmt == ZKD_CONFIG_JSON || fmt == ZKD_CONFIG_JSON_COMPACT)
        rc = zkd__config_load_doc(text, len, source, &doc, err);
    else
        rc = zkd__fail(err, ZKD_EINVAL, "unknown format %d", (int)fmt);
    if (rc)
        return rc;
    char *json = zkd__json_dump(doc, JSON_COMPACT);
    json_decref(doc);
    if (!json)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    *json_out = json;
    return 0;
}

/* ---- JSON to libconfig ------------------------------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *text, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *grown = realloc(b->s, cap);
        if (!grown) {
            b->oom = 1;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->n, text, len);
    b->n += len;
    b->s[b->n] = '\0';
}

static void puts_(sbuf *b, const char *text) { put(b, text, strlen(text)); }

static void putf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

static void indent(sbuf *b, int depth)
{
    for (int i = 0; i < depth; i++)
        puts_(b, "  ");
}

static int valid_name(const char *k)
{
    if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '*'))
        return 0;
    /* libconfig's scanner reads these as booleans, in any case, before it
     * would read a name; a quoted name is not libconfig syntax. */
    if (!strcasecmp(k, "true") || !strcasecmp(k, "false"))
        return 0;
    for (const char *p = k + 1; *p; p++)
        if (!ident_char(*p))
            return 0;
    return 1;
}

static int fits_int32(json_int_t v) { return v >= -2147483648LL && v <= 2147483647LL; }

static void put_string(sbuf *b, const char *s)
{
    puts_(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        case '\f': puts_(b, "\\f"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                putf(b, "\\x%02X", *p);
            else
                put(b, (const char *)p, 1);
        }
    }
    puts_(b, "\"");
}

static void put_scalar(sbuf *b, const json_t *v, int force_l)
{
    char num[40];
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        putf(b, "%" PRId64 "%s", (int64_t)json_integer_value(v),
             force_l || !fits_int32(json_integer_value(v)) ? "L" : "");
        break;
    case JSON_REAL:
        zkd__format_double(json_real_value(v), num, sizeof num);
        puts_(b, num);
        break;
    case JSON_TRUE: puts_(b, "true"); break;
    case JSON_FALSE: puts_(b, "false"); break;
    case JSON_STRING: put_string(b, json_string_value(v)); break;
    default: break;
    }
}

static int is_scalar(const json_t *v)
{
    return json_is_integer(v) || json_is_real(v) || json_is_boolean(v) || json_is_string(v);
}

/* The kind an array's elements share, for libconfig's homogeneous arrays. */
static int scalar_kind(const json_t *v)
{
    return json_is_integer(v) ? 1 : json_is_real(v) ? 2 : json_is_boolean(v) ? 3 : 4;
}

static int to_libconfig(sbuf *b, const json_t *v, int depth, char *path, size_t pathcap,
                        zkd_error *err);

static int put_group_body(sbuf *b, const json_t *obj, int depth, char *path, size_t pathcap,
                          zkd_error *err)
{
    const char *key;
    json_t *val;
    size_t plen = strlen(path);
    json_object_foreach((json_t *)obj, key, val) {
        snprintf(path + plen, pathcap - plen, "%s%s", plen ? "." : "", key);
        if (!valid_name(key))
            return zkd__fail(err, ZKD_EBADDATA,
                             "the key \"%s\" cannot be a libconfig setting name (letters, "
                             "digits, '-', '_' and '*', starting with a letter or '*')",
                             path);
        indent(b, depth);
        puts_(b, key);
        puts_(b, " = ");
        int rc = to_libconfig(b, val, depth, path, pathcap, err);
        if (rc)
            return rc;
        puts_(b, ";\n");
        path[plen] = '\0';
    }
    return 0;
}

static int to_libconfig(sbuf *b, const json_t *v, int depth, char *path, size_t pathcap,
                        zkd_error *err)
{
    if (json_is_null(v))
        return zkd__fail(err, ZKD_EBADDATA, "%s is null, which libconfig cannot express",
                         *path ? path : "the document");
    if (is_scalar(v)) {
        put_scalar(b, v, 0);
        return 0;
    }
    if (json_is_object(v)) {
        puts_(b, "{\n");
        int rc = put_group_body(b, v, depth + 1, path, pathcap, err);
        if (rc)
            return rc;
        indent(b, depth);
        puts_(b, "}");
        return 0;
    }
    /* An array: libconfig's array when its elements are scalars of one kind,
     * else a list. */
    size_t n = json_array_size(v);
    int homogeneous = 1, kind = 0, force_l = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!is_scalar(e) || (kind && scalar_kind(e) != kind)) {
            homogeneous = 0;
            break;
        }
        kind = scalar_kind(e);
        force_l |= json_is_integer(e) && !fits_int32(json_integer_value(e));
    }
    if (homogeneous) {
        puts_(b, n ? "[ " : "[ ]");
        for (size_t i = 0; i < n; i++) {
            if (i)
                puts_(b, ", ");
            put_scalar(b, json_array_get(v, i), force_l);
        }
        if (n)
            puts_(b, " ]");
        return 0;
    }
    puts_(b, "(\n");
    size_t plen = strlen(path);
    for (size_t i = 0; i < n; i++) {
        snprintf(path + plen, pathcap - plen, "%s%zu", plen ? "." : "", i);
        indent(b, depth + 1);
        int rc = to_libconfig(b, json_array_get(v, i), depth + 1, path, pathcap, err);
        if (rc)
            return rc;
        puts_(b, i + 1 < n ? ",\n" : "\n");
        path[plen] = '\0';
    }
    indent(b, depth);
    puts_(b, ")");
    return 0;
}

int zkd_config_render(const char *json, size_t len, zkd_config_format fmt, char **text_out,
                      zkd_error *err)
{
    if (!json || !text_out)
        return zkd__fail(err, ZKD_EINVAL, "no text or result given");
    json_error_t jerr;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!v)
        return zkd__fail(err, ZKD_EBADDATA, "not JSON: %d:%d: %s", jerr.line, jerr.column,
                         jerr.text);
    int rc = 0;
    char *text = NULL;
    if (fmt == ZKD_CONFIG_JSON || fmt == ZKD_CONFIG_JSON_COMPACT) {
        char *dump = zkd__json_dump(v, fmt == ZKD_CONFIG_JSON ? JSON_INDENT(2) : JSON_COMPACT);
        if (dump && fmt == ZKD_CONFIG_JSON) {
            size_t k = strlen(dump);
            text = realloc(dump, k + 2);
            if (text)
                memcpy(text + k, "\n", 2);
            else
                free(dump);
        } else {
            text = dump;
        }
        if (!text)
            rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
    } else if (fmt == ZKD_CONFIG_LIBCONFIG) {
        if (!json_is_object(v)) {
            rc = zkd__fail(err, ZKD_EBADDATA,
                           "only an object (a group of settings) can be written as libconfig");
        } else {
            sbuf b = {0};
            char path[1024] = "";
            rc = put_group_body(&b, v, 0, path, sizeof path, err);
            if (!rc && !b.s)
                puts_(&b, "");
            if (!rc && b.oom)
                rc = zkd__fail(err, ZKD_ENOMEM, "out of memory");
            if (rc)
                free(b.s);
            else
                text = b.s;
        }
    } else {
        rc = zkd__fail(err, ZKD_EINVAL, "unknown format %d", (int)fmt);
    }
    json_decref(v);
    if (!rc)
        *text_out = text;
    return rc;
}
