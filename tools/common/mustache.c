/* SPDX-License-Identifier: Apache-2.0 */
/* Mustache: a template parsed once into a tree of nodes, rendered over a
 * stack of jansson contexts (see mustache.h). */
#include "mustache.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

typedef struct node node;
typedef struct nodes {
    node *v;
    size_t n, cap;
} nodes;

struct node {
    int kind;
    char *s;      /* text, name, or partial name */
    size_t len;   /* bytes of s */
    char *indent; /* N_PARTIAL standing alone on its line: the whitespace before it */
    nodes kids;   /* N_SECTION, N_INVERTED */
};

struct zkd_mustache {
    nodes top;
};

#define DELIM_MAX 16
#define PARTIAL_DEPTH 64
#define SECTION_DEPTH 100
/* A render stops past this many nodes visited or bytes written: a partial
 * that includes itself twice doubles at each level. */
#define VISIT_MAX 20000000u
#define OUTPUT_MAX (64u << 20)

typedef struct parser {
    const char *t;
    size_t len, pos;
    char open[DELIM_MAX], close[DELIM_MAX];
    size_t olen, clen;
    char *err;
    size_t errlen;
    int depth; /* sections open */
} parser;

static void fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int line_of(const parser *p, size_t at)
{
    int line = 1;
    for (size_t i = 0; i < at && i < p->len; i++)
        line += p->t[i] == '\n';
    return line;
}

static node *push(nodes *l, int kind)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        node *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            abort();
        l->v = v;
        l->cap = cap;
    }
    node *n = &l->v[l->n++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    return n;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void add_text(nodes *l, const char *s, size_t n)
{
    if (!n)
        return;
    node *x = push(l, N_TEXT);
    x->s = dupn(s, n);
    x->len = n;
}

static void nodes_free(nodes *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].s);
        free(l->v[i].indent);
        nodes_free(&l->v[i].kids);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || m > n)
        return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

/* Trims blanks (and newlines, inside a tag) from both ends of [*s, *s+*n). */
static void trim(const char **s, size_t *n)
{
    while (*n && (is_blank(**s) || **s == '\n' || **s == '\r')) {
        (*s)++;
        (*n)--;
    }
    while (*n && (is_blank((*s)[*n - 1]) || (*s)[*n - 1] == '\n' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* A tag at [start, end) stands alone when only blanks share its line:
 * then *ls is where the line starts and *next is past its line ending. */
static int standalone(const parser *p, size_t start, size_t end, size_t *ls, size_t *next)
{
    size_t b = start;
    while (b > 0 && is_blank(p->t[b - 1]))
        b--;
    if (b > 0 && p->t[b - 1] != '\n')
        return 0;
    size_t e = end;
    while (e < p->len && is_blank(p->t[e]))
        e++;
    if (e < p->len && p->t[e] == '\r' && e + 1 < p->len && p->t[e + 1] == '\n')
        e += 2;
    else if (e < p->len && p->t[e] == '\n')
        e++;
    else if (e < p->len)
        return 0;
    *ls = b;
    *next = e;
    return 1;
}

static int set_delims(parser *p, const char *s, size_t n, size_t at)
{
    trim(&s, &n);
    size_t a = 0;
    while (a < n && !is_blank(s[a]))
        a++;
    const char *c = s + a;
    size_t cn = n - a;
    trim(&c, &cn);
    for (size_t i = 0; i < cn; i++)
        if (is_blank(c[i]) || c[i] == '=')
            cn = 0;
    if (a == 0 || a >= DELIM_MAX || cn == 0 || cn >= DELIM_MAX || memchr(s, '=', a)) {
        fail(p->err, p->errlen, "line %d: a set delimiter tag needs two delimiters without '=' or blanks",
             line_of(p, at));
        return -1;
    }
    memcpy(p->open, s, a);
    p->olen = a;
    memcpy(p->close, c, cn);
    p->clen = cn;
    return 0;
}

/* Parses nodes into `l` until the end of the text or, inside a section,
 * its closing tag {{/name}}. */
static int parse(parser *p, nodes *l, const char *name, size_t name_len, size_t opened)
{
    for (;;) {
        const char *q = find(p->t + p->pos, p->len - p->pos, p->open, p->olen);
        if (!q) {
            add_text(l, p->t + p->pos, p->len - p->pos);
            p->pos = p->len;
            if (name) {
                fail(p->err, p->errlen, "line %d: section \"%.*s\" is never closed", line_of(p, opened),
                     (int)name_len, name);
                return -1;
            }
            return 0;
        }
        size_t start = (size_t)(q - p->t), body = start + p->olen;
        char type = body < p->len ? p->t[body] : 0;
        if (strchr("#^/!>&{=", type) && type)
            body++;
        else
            type = 0;
        /* {{{name}}} ends in "}" + close, {{=a b=}} in "=" + close. */
        char endm[DELIM_MAX + 1];
        size_t elen = 0;
        if (type == '{' || type == '=')
            endm[elen++] = type == '{' ? '}' : '=';
        memcpy(endm + elen, p->close, p->clen);
        elen += p->clen;
        const char *e = find(p->t + body, p->len - body, endm, elen);
        if (!e) {
            fail(p->err, p->errlen, "line %d: tag \"%.*s\" is never closed", line_of(p, start), (int)p->olen,
                 p->open);
            return -1;
        }
        size_t cend = (size_t)(e - p->t), end = cend + elen;
        const char *s = p->t + body;
        size_t sn = cend - body;
        size_t ls = start, next = end;
        int alone = type && strchr("#^/!>=", type) && standalone(p, start, end, &ls, &next);
        add_text(l, p->t + p->pos, ls - p->pos);
        p->pos = next;
        if (type == '!')
            continue;
        if (type == '=') {
            if (set_delims(p, s, sn, start) < 0)
                return -1;
            continue;
        }
        trim(&s, &sn);
        if (sn == 0) {
            fail(p->err, p->errlen, "line %d: empty tag", line_of(p, start));
            return -1;
        }
        if (type == '/') {
            if (!name || sn != name_len || memcmp(s, name, sn) != 0) {
                fail(p->err, p->errlen, "line %d: \"%.*s\" closes %s%.*s%s", line_of(p, start), (int)sn, s,
                     name ? "section \"" : "no open section", name ? (int)name_len : 0, name ? name : "",
                     name ? "\"" : "");
                return -1;
            }
            return 0;
        }
        int kind = type == '#' ? N_SECTION
                 : type == '^' ? N_INVERTED
                 : type == '>' ? N_PARTIAL
                 : type == '&' || type == '{' ? N_RAW
                 : N_VAR;
        node *x = push(l, kind);
        x->s = dupn(s, sn);
        x->len = sn;
        if (kind == N_PARTIAL && alone && ls < start)
            x->indent = dupn(p->t + ls, start - ls);
        if (kind == N_SECTION || kind == N_INVERTED) {
            if (p->depth >= SECTION_DEPTH) {
                fail(p->err, p->errlen, "line %d: sections nest more than %d deep", line_of(p, start),
                     SECTION_DEPTH);
                return -1;
            }
            nodes kids = {0};
            p->depth++;
            int rc = parse(p, &kids, s, sn, start);
            p->depth--;
            x->kids = kids;
            if (rc < 0)
                return -1;
        }
    }
}

int zkd_mustache_compile(const char *text, size_t len, zkd_mustache **out, char *err, size_t errlen)
{
    parser p = {.t = text, .len = len, .open = "{{", .close = "}}", .olen = 2, .clen = 2, .err = err,
                .errlen = errlen};
    zkd_mustache *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    if (parse(&p, &t->top, NULL, 0, 0) < 0) {
        zkd_mustache_free(t);
        *out = NULL;
        return -1;
    }
    *out = t;
    return 0;
}

void zkd_mustache_free(zkd_mustache *t)
{
    if (!t)
        return;
    nodes_free(&t->top);
    free(t);
}

/* ---- rendering ---- */

typedef struct buf {
    char *s;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *v = realloc(b->s, cap);
        if (!v)
            abort();
        b->s = v;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

typedef struct renderer {
    buf out;
    json_t **stack;
    size_t depth, cap;
    zkd_mustache_escape esc;
    zkd_mustache_loader load;
    void *load_arg;
    int partials; /* how deep partials nest now */
    unsigned visits;
    char *err;
    size_t errlen;
} renderer;

static void ctx_push(renderer *r, json_t *v)
{
    if (r->depth == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        json_t **s = realloc(r->stack, cap * sizeof *s);
        if (!s)
            abort();
        r->stack = s;
        r->cap = cap;
    }
    r->stack[r->depth++] = v;
}

/* The value of a (dotted) name: the first part is looked up from the
 * innermost context outwards, the rest only inside what it found. */
static json_t *lookup(const renderer *r, const char *name, size_t len)
{
    if (len == 1 && name[0] == '.')
        return r->depth ? r->stack[r->depth - 1] : NULL;
    const char *dot = memchr(name, '.', len);
    size_t first = dot ? (size_t)(dot - name) : len;
    json_t *v = NULL;
    for (size_t i = r->depth; i-- > 0;) {
        if (json_is_object(r->stack[i]) && (v = json_object_getn(r->stack[i], name, first)))
            break;
    }
    while (v && dot) {
        const char *part = dot + 1;
        dot = memchr(part, '.', (size_t)(name + len - part));
        size_t n = dot ? (size_t)(dot - part) : (size_t)(name + len - part);
        v = json_is_object(v) ? json_object_getn(v, part, n) : NULL;
    }
    return v;
}

static int falsy(const json_t *v)
{
    return !v || json_is_null(v) || json_is_false(v) || (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_string(v) && json_string_length(v) == 0);
}

static void put_escaped(buf *b, const char *s, size_t n, zkd_mustache_escape esc)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char tmp[8];
        if (esc == ZKD_MUSTACHE_HTML) {
            rep = c == '&' ? "&amp;" : c == '"' ? "&quot;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
        } else if (esc == ZKD_MUSTACHE_JSON) {
            if (c == '"')
                rep = "\\\"";
            else if (c == '\\')
                rep = "\\\\";
            else if (c == '\n')
                rep = "\\n";
            else if (c == '\r')
                rep = "\\r";
            else if (c == '\t')
                rep = "\\t";
            else if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                rep = tmp;
            }
        }
        if (rep) {
            put(b, s + run, i - run);
            put(b, rep, strlen(rep));
            run = i + 1;
        }
    }
    put(b, s + run, n - run);
}

/* A real as short as prints back to the same double (1.21, not 1.2099999...). */
static void put_real(buf *b, double d)
{
    char s[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, d);
        if (strtod(s, NULL) == d)
            break;
    }
    put(b, s, strlen(s));
}

static void interpolate(renderer *r, const json_t *v, int raw)
{
    zkd_mustache_escape esc = raw ? ZKD_MUSTACHE_NONE : r->esc;
    char num[32];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        put_escaped(&r->out, json_string_value(v), json_string_length(v), esc);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(&r->out, num, strlen(num));
        break;
    case JSON_REAL:
        put_real(&r->out, json_real_value(v));
        break;
    case JSON_TRUE:
        put(&r->out, "true", 4);
        break;
    case JSON_FALSE:
        put(&r->out, "false", 5);
        break;
    case JSON_NULL:
        break;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s)
            put_escaped(&r->out, s, strlen(s), esc);
        free(s);
        break;
    }
    }
}

static int render_nodes(renderer *r, const nodes *l);

/* A partial's text with `indent` before each of its lines. */
static char *indented(const char *s, const char *indent)
{
    size_t il = strlen(indent), lines = 1;
    for (const char *c = s; *c; c++)
        lines += *c == '\n';
    char *o = malloc(strlen(s) + lines * il + 1), *w = o;
    if (!o)
        abort();
    int bol = 1;
    for (const char *c = s; *c; c++) {
        if (bol) {
            memcpy(w, indent, il);
            w += il;
        }
        *w++ = *c;
        bol = *c == '\n';
    }
    *w = 0;
    return o;
}

static int render_partial(renderer *r, const node *x)
{
    char *text = r->load ? r->load(x->s, r->load_arg) : NULL;
    if (!text)
        return 0;
    if (r->partials >= PARTIAL_DEPTH) {
        free(text);
        fail(r->err, r->errlen, "partial \"%s\": partials nest more than %d deep", x->s, PARTIAL_DEPTH);
        return -1;
    }
    if (x->indent) {
        char *t = indented(text, x->indent);
        free(text);
        text = t;
    }
    zkd_mustache *t = NULL;
    char why[256];
    int rc = zkd_mustache_compile(text, strlen(text), &t, why, sizeof why);
    free(text);
    if (rc < 0) {
        fail(r->err, r->errlen, "partial \"%s\": %s", x->s, why);
        return -1;
    }
    r->partials++;
    rc = render_nodes(r, &t->top);
    r->partials--;
    zkd_mustache_free(t);
    return rc;
}

static int render_section(renderer *r, const node *x)
{
    json_t *v = lookup(r, x->s, x->len);
    if (x->kind == N_INVERTED)
        return falsy(v) ? render_nodes(r, &x->kids) : 0;
    if (falsy(v))
        return 0;
    if (!json_is_array(v)) {
        ctx_push(r, v);
        int rc = render_nodes(r, &x->kids);
        r->depth--;
        return rc;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        ctx_push(r, json_array_get(v, i));
        int rc = render_nodes(r, &x->kids);
        r->depth--;
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int render_nodes(renderer *r, const nodes *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const node *x = &l->v[i];
        int rc = 0;
        if (++r->visits > VISIT_MAX || r->out.n > OUTPUT_MAX) {
            fail(r->err, r->errlen, "the render grows past %u steps or %u bytes (a partial that includes "
                 "itself?)", VISIT_MAX, OUTPUT_MAX);
            return -1;
        }
        switch (x->kind) {
        case N_TEXT:
            put(&r->out, x->s, x->len);
            break;
        case N_VAR:
        case N_RAW:
            interpolate(r, lookup(r, x->s, x->len), x->kind == N_RAW);
            break;
        case N_SECTION:
        case N_INVERTED:
            rc = render_section(r, x);
            break;
        case N_PARTIAL:
            rc = render_partial(r, x);
            break;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int zkd_mustache_render(const zkd_mustache *t, json_t *data, zkd_mustache_escape esc,
                        zkd_mustache_loader load, void *load_arg, char **out, size_t *outlen, char *err,
                        size_t errlen)
{
    renderer r = {.esc = esc, .load = load, .load_arg = load_arg, .err = err, .errlen = errlen};
    ctx_push(&r, data);
    put(&r.out, "", 0);
    int rc = render_nodes(&r, &t->top);
    free(r.stack);
    if (rc < 0) {
        free(r.out.s);
        *out = NULL;
        if (outlen)
            *outlen = 0;
        return -1;
    }
    *out = r.out.s;
    if (outlen)
        *outlen = r.out.n;
    return 0;
}

char *zkd_mustache_load_dir(const char *name, void *dir)
{
    if (!name || !*name || name[0] == '/' || strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 ||
        strstr(name, "/../") || (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
        return NULL;
    static const char *const suffix[] = {".mustache", ""};
    for (size_t k = 0; k < 2; k++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s%s", (const char *)dir, name, suffix[k]) >= (int)sizeof path)
            return NULL;
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        buf b = {0};
        char chunk[4096];
        size_t n;
        put(&b, "", 0);
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n < (16u << 20))
            put(&b, chunk, n);
        fclose(f);
        return b.s;
    }
    return NULL;
}

int zkd_mustache_escape_parse(const char *s, zkd_mustache_escape *out)
{
    if (!s)
        return -1;
    if (strcmp(s, "html") == 0)
        *out = ZKD_MUSTACHE_HTML;
    else if (strcmp(s, "none") == 0)
        *out = ZKD_MUSTACHE_NONE;
    else if (strcmp(s, "json") == 0)
        *out = ZKD_MUSTACHE_JSON;
    else
        return -1;
    return 0;
}
