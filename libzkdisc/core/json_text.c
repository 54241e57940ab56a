/* SPDX-License-Identifier: Apache-2.0 */
/* JSON text with every real in its shortest exact form: what zkdisc writes
 * (config documents, instance records) reads back to the same doubles and
 * says them the way a person wrote them ("0.1"). */
#include "json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zkd__format_double(double d, char *out, size_t len)
{
    char e[40];
    int p;
    for (p = 1; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    snprintf(e, sizeof e, "%.*e", p - 1, d); /* "-1.2345e+05" */
    const char *s = e;
    int neg = *s == '-';
    if (neg)
        s++;
    char digits[24];
    size_t nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    digits[nd] = '\0';
    int exp = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') /* "1.000e+02" at p == 1 cannot happen, but be safe */
        digits[--nd] = '\0';

    char buf[64];
    size_t o = 0;
    if (neg)
        buf[o++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            buf[o++] = '0';
            buf[o++] = '.';
            for (int i = 0; i < -exp - 1; i++)
                buf[o++] = '0';
            for (size_t i = 0; i < nd; i++)
                buf[o++] = digits[i];
        } else {
            for (int i = 0; i <= exp; i++)
                buf[o++] = (size_t)i < nd ? digits[i] : '0';
            buf[o++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t i = (size_t)exp + 1; i < nd; i++)
                    buf[o++] = digits[i];
            else
                buf[o++] = '0';
        }
        buf[o] = '\0';
    } else {
        buf[o++] = digits[0];
        if (nd > 1) {
            buf[o++] = '.';
            for (size_t i = 1; i < nd; i++)
                buf[o++] = digits[i];
        }
        snprintf(buf + o, sizeof buf - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(out, len, "%s", buf);
}

/* jansson writes reals with 17 digits; rewrite each in its shortest exact
 * form. Reals are the number tokens with '.', 'e' or 'E' outside strings. */
char *zkd__json_dump(const json_t *v, size_t flags)
{
    char *in = json_dumps(v, flags | JSON_ENCODE_ANY);
    if (!in)
        return NULL;
    size_t n = strlen(in);
    char *out = malloc(n + 1);
    if (!out) {
        free(in);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char ch = in[i];
        if (ch == '"') {
            out[o++] = in[i++];
            while (i < n && in[i] != '"') {
                if (in[i] == '\\' && i + 1 < n)
                    out[o++] = in[i++];
                out[o++] = in[i++];
            }
            if (i < n)
                out[o++] = in[i++];
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t start = i;
            int real = 0;
            while (i < n && strchr("+-0123456789.eE", in[i])) {
                real |= in[i] == '.' || in[i] == 'e' || in[i] == 'E';
                i++;
            }
            if (real) {
                char num[40];
                zkd__format_double(strtod(in + start, NULL), num, sizeof num);
                size_t k = strlen(num);
                if (k > i - start) { /* never longer than jansson's 17 digits, but be safe */
                    char *grown = realloc(out, o + k + (n - i) + 1);
                    if (!grown) {
                        free(out);
                        free(in);
                        return NULL;
                    }
                    out = grown;
                }
                memcpy(out + o, num, k);
                o += k;
            } else {
                memcpy(out + o, in + start, i - start);
                o += i - start;
            }
        } else {
            out[o++] = in[i++];
        }
    }
    out[o] = '\0';
    free(in);
    return out;
}
