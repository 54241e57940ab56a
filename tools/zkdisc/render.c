/* SPDX-License-Identifier: Apache-2.0 */
/* Presentation of node data and Stat for the CLI. */
#include "render.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zkdisc/config.h>

/* The length of one well-formed UTF-8 sequence at s, or 0. Strict, as
 * jansson is: no overlong forms, no surrogates, nothing past U+10FFFF;
 * whatever passes here can be stored in a JSON string (export relies on it). */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int render_is_text(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
        if (s[i] == 0x7f)
            return 0;
        size_t n = utf8_seq_len(s + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

void render_hexdump(FILE *out, const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    for (size_t off = 0; off < len; off += 16) {
        fprintf(out, "%08zx  ", off);
        for (size_t i = 0; i < 16; i++) {
            if (off + i < len)
                fprintf(out, "%02x ", s[off + i]);
            else
                fputs("   ", out);
            if (i == 7)
                fputc(' ', out);
        }
        fputs(" |", out);
        for (size_t i = 0; i < 16 && off + i < len; i++)
            fputc(s[off + i] >= 0x20 && s[off + i] < 0x7f ? s[off + i] : '.', out);
        fputs("|\n", out);
    }
}

void render_data(FILE *out, const char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    json_error_t jerr;
    json_t *doc = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
    char *text = NULL; /* reals in their shortest exact form, as stored: 0.1 */
    if (doc && (json_is_object(doc) || json_is_array(doc)) &&
        zkd_config_render(buf, len, ZKD_CONFIG_JSON, &text, NULL) == 0) {
        fputs(text, out);
        zkd_free(text);
    } else if (doc && (json_is_object(doc) || json_is_array(doc))) {
        json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
    } else if (render_is_text(buf, len)) {
        fwrite(buf, 1, len, out);
        if (buf[len - 1] != '\n')
            fputc('\n', out);
    } else {
        render_hexdump(out, buf, len);
    }
    json_decref(doc);
}

char *render_base64(const char *buf, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *)buf;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        *o++ = tbl[(v >> 18) & 63];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        *o++ = i + 2 < len ? tbl[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

void render_time(char *out, size_t outlen, int64_t ms)
{
    int64_t frac = ms % 1000;
    if (frac < 0) /* before 1970: the second below, plus a positive fraction */
        frac += 1000;
    time_t secs = (time_t)((ms - frac) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0) { /* too small a buffer: an empty string, never a cut one */
        if (outlen)
            out[0] = '\0';
        return;
    }
    snprintf(out + n, outlen - n, ".%03dZ", (int)frac);
}

void render_time_now(char *out, size_t outlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    render_time(out, outlen, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int json_pretty = -1; /* -1: indented only on a terminal */

void render_json_pretty(int on)
{
    json_pretty = on;
}

/* Whether v holds a real anywhere: only reals need the library's renderer. */
static int has_real(json_t *v)
{
    const char *key;
    json_t *e;
    size_t i;
    if (json_is_real(v))
        return 1;
    if (json_is_object(v)) {
        json_object_foreach(v, key, e)
            if (has_real(e))
                return 1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e)
            if (has_real(e))
                return 1;
    }
    return 0;
}

/* The library's JSON renderer writes reals in their shortest exact form
 * (0.1, not 0.10000000000000001); jansson's own dump is the fallback, and
 * the whole way when there is no real: the renderer re-parses the text and
 * dumps it again, the same bytes at twice the cost (a third of a 10,000
 * instance listing's CPU). */
/* Locks stdout for the whole document: `instances --watch` prints from two
 * threads. */
static void dump_json(json_t *v, int pretty)
{
    flockfile(stdout);
    int real = has_real(v);
    char *raw = real ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
    char *text = NULL;
    if (raw && zkd_config_render(raw, strlen(raw), pretty ? ZKD_CONFIG_JSON : ZKD_CONFIG_JSON_COMPACT,
                                 &text, NULL) == 0) {
        fputs(text, stdout);
        if (!pretty)
            fputc('\n', stdout);
    } else {
        json_dumpf(v, stdout, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    zkd_free(text);
    free(raw);
    json_decref(v);
    funlockfile(stdout);
}

int render_json_is_pretty(void)
{
    if (json_pretty < 0)
        json_pretty = isatty(STDOUT_FILENO);
    return json_pretty;
}

void render_json(json_t *v)
{
    dump_json(v, render_json_is_pretty());
}

void render_json_line(json_t *v)
{
    dump_json(v, 0);
    fflush(stdout);
}

static json_t *hex_json(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "0x%" PRIx64, (uint64_t)v);
    return json_string(buf);
}

json_t *render_stat_json(const zkd_stat *st)
{
    char ct[RENDER_TIME_LEN], mt[RENDER_TIME_LEN];
    render_time(ct, sizeof ct, st->ctime);
    render_time(mt, sizeof mt, st->mtime);
    return json_pack("{s:o,s:o,s:o,s:s,s:I,s:s,s:I,s:i,s:i,s:i,s:o,s:i,s:i}",
                     "czxid", hex_json(st->czxid), "mzxid", hex_json(st->mzxid),
                     "pzxid", hex_json(st->pzxid), "ctime", ct, "ctimeMs", (json_int_t)st->ctime,
                     "mtime", mt, "mtimeMs", (json_int_t)st->mtime,
                     "version", st->version, "cversion", st->cversion, "aversion", st->aversion,
                     "ephemeralOwner", hex_json(st->ephemeral_owner), "dataLength",
                     st->data_length, "numChildren", st->num_children);
}

void render_stat_text(FILE *out, const zkd_stat *st)
{
    char ct[RENDER_TIME_LEN], mt[RENDER_TIME_LEN];
    render_time(ct, sizeof ct, st->ctime);
    render_time(mt, sizeof mt, st->mtime);
    fprintf(out, "czxid           0x%" PRIx64 "\n", (uint64_t)st->czxid);
    fprintf(out, "mzxid           0x%" PRIx64 "\n", (uint64_t)st->mzxid);
    fprintf(out, "pzxid           0x%" PRIx64 "\n", (uint64_t)st->pzxid);
    fprintf(out, "ctime           %s\n", ct);
    fprintf(out, "mtime           %s\n", mt);
    fprintf(out, "version         %d\n", st->version);
    fprintf(out, "cversion        %d\n", st->cversion);
    fprintf(out, "aversion        %d\n", st->aversion);
    if (st->ephemeral_owner)
        fprintf(out, "ephemeralOwner  0x%" PRIx64 " (ephemeral)\n", (uint64_t)st->ephemeral_owner);
    else
        fprintf(out, "ephemeralOwner  0x0 (persistent)\n");
    fprintf(out, "dataLength      %d\n", st->data_length);
    fprintf(out, "numChildren     %d\n", st->num_children);
}

json_t *render_node_json(const char *path, const char *data, size_t len, const zkd_stat *st)
{
    json_t *o = json_pack("{s:s}", "path", path);
    json_t *text = NULL;
    if (!data) {
        json_object_set_new(o, "data", json_null());
    } else if (render_is_text(data, len) && (text = json_stringn(data, len))) {
        json_object_set_new(o, "encoding", json_string("utf-8"));
        json_object_set_new(o, "data", text);
    } else { /* binary, or text jansson will not hold: base64 loses nothing */
        char *b64 = render_base64(data, len);
        json_object_set_new(o, "encoding", json_string("base64"));
        json_object_set_new(o, "data", json_string(b64 ? b64 : ""));
        free(b64);
    }
    if (st)
        json_object_set_new(o, "stat", render_stat_json(st));
    return o;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

char *render_unbase64(const char *text, size_t *len_out)
{
    size_t n = strlen(text);
    char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        return NULL;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        if (*p == '=') {
            pad++;
            continue;
        }
        int v = b64_value(*p);
        if (v < 0 || pad) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6 || pad > 2) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    *len_out = o;
    return out;
}
