/* SPDX-License-Identifier: Apache-2.0 */
/* Text in terminal columns (textwidth.h). Our own table rather than
 * wcwidth(3): that one depends on the locale (in "C" it knows no CJK) and
 * scripts run the CLI under every locale. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/utf8.h"
#include "term.h"
#include "textwidth.h"

static int headers = 1;

void tw_set_headers(int on)
{
    headers = on;
}

int tw_headers(void)
{
    return headers;
}

int tw_table_width(void)
{
    return getenv("COLUMNS") || isatty(STDOUT_FILENO) ? term_width() : INT_MAX / 4;
}

typedef struct range {
    uint32_t lo, hi;
} range;

/* East Asian Wide and Fullwidth (Unicode 15, coalesced) and emoji. */
static const range wide[] = {
    {0x1100, 0x115f},   {0x231a, 0x231b},   {0x2329, 0x232a},   {0x23e9, 0x23ec},
    {0x23f0, 0x23f0},   {0x23f3, 0x23f3},   {0x25fd, 0x25fe},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267f, 0x267f},   {0x2693, 0x2693},   {0x26a1, 0x26a1},
    {0x26aa, 0x26ab},   {0x26bd, 0x26be},   {0x26c4, 0x26c5},   {0x26ce, 0x26ce},
    {0x26d4, 0x26d4},   {0x26ea, 0x26ea},   {0x26f2, 0x26f3},   {0x26f5, 0x26f5},
    {0x26fa, 0x26fa},   {0x26fd, 0x26fd},   {0x2705, 0x2705},   {0x270a, 0x270b},
    {0x2728, 0x2728},   {0x274c, 0x274c},   {0x274e, 0x274e},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27b0, 0x27b0},   {0x27bf, 0x27bf},
    {0x2b1b, 0x2b1c},   {0x2b50, 0x2b50},   {0x2b55, 0x2b55},   {0x2e80, 0x303e},
    {0x3041, 0x33ff},   {0x3400, 0x4dbf},   {0x4e00, 0x9fff},   {0xa000, 0xa4cf},
    {0xa960, 0xa97f},   {0xac00, 0xd7a3},   {0xf900, 0xfaff},   {0xfe10, 0xfe19},
    {0xfe30, 0xfe6f},   {0xff00, 0xff60},   {0xffe0, 0xffe6},   {0x16fe0, 0x16fe4},
    {0x17000, 0x18cff}, {0x1b000, 0x1b2ff}, {0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf},
    {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f251}, {0x1f300, 0x1f64f},
    {0x1f680, 0x1f6ff}, {0x1f7e0, 0x1f7eb}, {0x1f90c, 0x1f9ff}, {0x1fa70, 0x1faff},
    {0x20000, 0x2fffd}, {0x30000, 0x3fffd},
};

/* Combining marks, zero-width spaces and joiners, variation selectors. */
static const range zero[] = {
    {0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a},
    {0x064b, 0x065f}, {0x0e31, 0x0e31}, {0x0e34, 0x0e3a}, {0x0e47, 0x0e4e},
    {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x200b, 0x200f}, {0x2028, 0x202e},
    {0x2060, 0x2064}, {0x20d0, 0x20ff}, {0x302a, 0x302f}, {0x3099, 0x309a},
    {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f}, {0xfeff, 0xfeff}, {0xe0100, 0xe01ef},
};

static int in(const range *r, size_t n, long cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uint32_t)cp > r[mid].hi)
            lo = mid + 1;
        else if ((uint32_t)cp < r[mid].lo)
            hi = mid;
        else
            return 1;
    }
    return 0;
}

static int cp_width(long cp)
{
    if (cp < 0)
        return 1;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
        return 0;
    if (cp < 0x300)
        return 1;
    if (in(zero, sizeof zero / sizeof *zero, cp))
        return 0;
    return in(wide, sizeof wide / sizeof *wide, cp) ? 2 : 1;
}

/* The length of an SGR colour sequence at p ("\033[1;32m"), else 0: it
 * takes no column. */
static size_t sgr_len(const unsigned char *p)
{
    if (p[0] != 0x1b || p[1] != '[')
        return 0;
    size_t n = 2;
    while (p[n] && (p[n] < 0x40 || p[n] > 0x7e))
        n++;
    return p[n] ? n + 1 : 0;
}

/* The columns of the character (or colour sequence) at p; *n its bytes. */
static int next(const unsigned char *p, size_t *n)
{
    if ((*n = sgr_len(p)))
        return 0;
    return cp_width(zkd__utf8_at(p, n));
}

int tw_width(const char *s)
{
    int w = 0;
    size_t n;
    for (const unsigned char *p = (const unsigned char *)s; *p; p += n)
        w += next(p, &n);
    return w;
}

int tw_cut(const char *s, int cols, char *out, size_t outlen)
{
    static const char ellipsis[] = "…\033[0m"; /* 1 column, and no colour left on */
    size_t elen = strchr(s, 0x1b) ? sizeof ellipsis - 1 : strlen("…");
    int total = tw_width(s);
    int room = total <= cols ? cols : cols - 1;
    int used = 0, used_cut = 0;
    size_t o = 0, o_cut = 0, n; /* o_cut: the end that leaves a column for "…" */
    const unsigned char *p = (const unsigned char *)s;
    for (; *p; p += n) {
        int w = next(p, &n);
        if (used + w > room || o + n + sizeof ellipsis > outlen)
            break;
        memcpy(out + o, p, n);
        o += n;
        used += w;
        if (used < cols) {
            o_cut = o;
            used_cut = used;
        }
    }
    if (*p) { /* cut: by the columns or by the buffer */
        o = o_cut;
        used = used_cut;
        if (cols > 0 && o + sizeof ellipsis <= outlen) {
            memcpy(out + o, ellipsis, elen);
            o += elen;
            used++;
        }
    }
    if (outlen)
        out[o < outlen ? o : outlen - 1] = '\0';
    return used;
}

void tw_cell(FILE *out, const char *s, int cols, int last)
{
    char buf[1024];
    int used = tw_cut(s, cols, buf, sizeof buf);
    fputs(buf, out);
    if (!last)
        fprintf(out, "%*s", cols > used ? cols - used : 0, "");
}

void tw_cell_right(FILE *out, const char *s, int cols)
{
    char buf[1024];
    int used = tw_cut(s, cols, buf, sizeof buf);
    fprintf(out, "%*s%s", cols > used ? cols - used : 0, "", buf);
}

struct tw_table {
    int ncols;
    char *align;
    char **cells; /* rows * ncols, the header first */
    size_t rows, cap;
};

tw_table *tw_table_new(int ncols, const char *const *heads, const char *align)
{
    tw_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->align = strdup(align);
    tw_table_add(t, heads);
    return t;
}

void tw_table_add(tw_table *t, const char *const *cells)
{
    if (!t)
        return;
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
        if (!c)
            return;
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->rows * (size_t)t->ncols + (size_t)i] = strdup(cells[i] ? cells[i] : "");
    t->rows++;
}

static int may_shrink(char a, int all)
{
    return all || a == 'l' || a == 'r' || a == 'd';
}

/* Narrows the widest column that may shrink (not below 4) until the row
 * fits; columns with w[i] < 0 are hidden. 1 when it fits. */
static int shrink(int *w, int n, int width, int gap, const char *align, int all)
{
    for (;;) {
        int total = -gap, widest = -1;
        for (int i = 0; i < n; i++) {
            if (w[i] < 0)
                continue;
            total += w[i] + gap;
            if (may_shrink(align[i], all) && w[i] > 4 && (widest < 0 || w[i] > w[widest]))
                widest = i;
        }
        if (total <= width)
            return 1;
        if (widest < 0)
            return 0;
        w[widest]--;
    }
}

/* Fits the row into `width`: the shrinkable columns give way first; when
 * that is not enough, the droppable ones ('d', 'D') go, rightmost first;
 * on a terminal narrower still, every column shrinks. */
static void fit(const int *natural, int *w, int n, int width, int gap, const char *align)
{
    for (int i = 0; i < n; i++)
        w[i] = natural[i];
    for (;;) {
        if (shrink(w, n, width, gap, align, 0))
            return;
        int drop = -1;
        for (int i = 0; i < n; i++)
            if (w[i] >= 0 && (align[i] == 'd' || align[i] == 'D'))
                drop = i;
        if (drop < 0)
            break;
        for (int i = 0; i < n; i++)
            w[i] = w[i] < 0 || i == drop ? -1 : natural[i];
    }
    shrink(w, n, width, gap, align, 1);
}

void tw_table_print(tw_table *t, FILE *out, int width, int gap)
{
    if (!t)
        return;
    int n = t->ncols;
    int *natural = calloc((size_t)n * 2, sizeof *natural), *w = natural + n;
    for (size_t r = 0; natural && r < t->rows; r++)
        for (int i = 0; i < n; i++) {
            int cw = tw_width(t->cells[r * (size_t)n + (size_t)i]);
            if ((r > 0 || headers) && cw > natural[i])
                natural[i] = cw;
        }
    if (natural)
        fit(natural, w, n, width, gap, t->align);
    int last = n - 1;
    while (natural && last > 0 && w[last] < 0)
        last--;
    for (size_t r = headers ? 0 : 1; natural && r < t->rows; r++) {
        for (int i = 0, first = 1; i < n; i++) {
            const char *c = t->cells[r * (size_t)n + (size_t)i];
            if (w[i] < 0 || (i == last && !*c))
                continue; /* no trailing blanks for an empty last cell */
            if (!first)
                fprintf(out, "%*s", gap, "");
            first = 0;
            if (strchr("rRD", t->align[i]))
                tw_cell_right(out, c, w[i]);
            else
                tw_cell(out, c, w[i], i == last);
        }
        fputc('\n', out);
    }
    for (size_t k = 0; k < t->rows * (size_t)n; k++)
        free(t->cells[k]);
    free(t->cells);
    free(t->align);
    free(natural);
    free(t);
}
