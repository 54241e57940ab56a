/* SPDX-License-Identifier: Apache-2.0 */
/* Terminal helpers for the CLI (term.h). */
#include "term.h"

#include "render.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int term_color(void)
{
    /* atomic: `watch` prints from the main thread and from callbacks */
    static _Atomic int cached = -1;
    if (cached < 0)
        cached = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
    return cached;
}

const char *term_sgr(const char *code)
{
    static char buf[8][24];
    static int next;
    if (!term_color())
        return "";
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "\033[%sm", code);
    return b;
}

const char *term_reset(void)
{
    return term_color() ? "\033[0m" : "";
}

int term_width(void)
{
    /* COLUMNS, when someone exported it, wins even on a pipe: "COLUMNS=40
     * zkdisc instances web | less" asks for 40. */
    const char *env = getenv("COLUMNS");
    char *end;
    long cols = env ? strtol(env, &end, 10) : 0;
    if (env && *env && !*end && cols >= 20 && cols <= 10000)
        return (int)cols;
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

int term_interactive(void)
{
    return isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
}

int term_confirm(const char *question)
{
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

static int read_stream(FILE *f, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return -1;
    for (;;) {
        if (n == cap) {
            char *grown = realloc(buf, cap * 2 + 1);
            if (!grown) {
                free(buf);
                errno = ENOMEM;
                return -1;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                errno = e ? e : EIO;
                return -1;
            }
            break;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int term_read_file(const char *path, char **out, size_t *len)
{
    if (!strcmp(path, "-"))
        return read_stream(stdin, out, len);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int rc = read_stream(f, out, len);
    int e = errno;
    fclose(f);
    errno = e;
    return rc;
}

int term_read_value(const char *arg, char **out, size_t *len)
{
    if (!strcmp(arg, "-"))
        return read_stream(stdin, out, len);
    *len = strlen(arg);
    *out = strdup(arg);
    return *out ? 0 : -1;
}

void term_print_json(json_t *v, int compact)
{
    if (compact)
        render_json_line(v);
    else
        render_json(v);
}

void term_timestamp(char *out, size_t outlen)
{
    render_time_now(out, outlen);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void term_progress_start(term_progress *p, const char *what)
{
    const char *force = getenv("ZKDISC_PROGRESS"); /* "0": never, even on a terminal */
    *p = (term_progress){.on = isatty(STDERR_FILENO) && !(force && !strcmp(force, "0")),
                         .what = what, .start_ns = now_ns()};
}

void term_progress_add(term_progress *p, size_t n)
{
    p->count += n;
    if (!p->on)
        return;
    long long now = now_ns();
    if (p->shown_ns && now - p->shown_ns < 200000000LL)
        return;
    p->shown_ns = now;
    double secs = (double)(now - p->start_ns) / 1e9;
    fprintf(stderr, "\r\033[K%s: %zu nodes, %.0f/s", p->what, p->count,
            secs > 0.001 ? (double)p->count / secs : 0.0);
    fflush(stderr);
}

void term_progress_end(term_progress *p)
{
    if (p->on && p->shown_ns) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->on = 0;
}

int term_parse_session(const char *text, long long *out)
{
    char *end;
    errno = 0;
    int hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    unsigned long long v = strtoull(text, &end, hex ? 16 : 10); /* 0x... hex, else decimal */
    if (errno || end == text || *end)
        return -1;
    *out = (long long)v;
    return 0;
}
