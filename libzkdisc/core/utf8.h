/* SPDX-License-Identifier: Apache-2.0 */
/* One UTF-8 decoder for the library's name checks (names.c) and the CLI's
 * column widths (tools/zkdisc/textwidth.c, which includes this header from
 * the source tree: the library's symbols are hidden, so it is inline). */
#ifndef ZKD_UTF8_H
#define ZKD_UTF8_H

#include <stddef.h>

/* The code point of the UTF-8 sequence at s, its length in *n; -1 with
 * *n = 1 when the bytes are not UTF-8 (a stray byte, a short sequence, an
 * overlong form, a surrogate, beyond U+10FFFF). s is NUL-terminated: a
 * sequence cut short stops at the NUL. */
static inline long zkd__utf8_at(const unsigned char *s, size_t *n)
{
    static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
    int len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
            : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    *n = 1;
    if (!len)
        return -1;
    long cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *n = (size_t)len;
    return cp;
}

#endif
