/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's display-width helpers (tools/zkdisc/textwidth.c, compiled in
 * here: the CLI is no library): CJK takes two columns, marks and colour
 * none, a cut never splits a character nor passes the width asked, and a
 * table fits a narrow terminal by shrinking, then dropping columns. */
#include <stdlib.h>
#include <string.h>

#include "../tools/zkdisc/textwidth.c"
#include "testutil.h"

int term_width(void) /* the only thing textwidth.c takes from term.c */
{
    return 40;
}

/* Whether s is valid UTF-8. */
static int utf8_ok(const char *s)
{
    size_t n = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p += n)
        if (!sgr_len(p) && zkd__utf8_at(p, &n) < 0)
            return 0;
        else if (sgr_len(p))
            n = sgr_len(p);
    return 1;
}

static void test_width(void)
{
    CU_ASSERT_EQUAL(tw_width("abc"), 3);
    CU_ASSERT_EQUAL(tw_width("中文"), 4);
    CU_ASSERT_EQUAL(tw_width("ünï"), 3);
    CU_ASSERT_EQUAL(tw_width("e\xcc\x81"), 1); /* e + combining acute */
    CU_ASSERT_EQUAL(tw_width("\033[1;32mup\033[0m"), 2);
    CU_ASSERT_EQUAL(tw_width("😀"), 2);
    CU_ASSERT_EQUAL(tw_width("\xff"), 1);
}

static void test_cut(void)
{
    char out[64];
    CU_ASSERT_EQUAL(tw_cut("中文中文", 5, out, sizeof out), 5);
    CU_ASSERT_STRING_EQUAL(out, "中文…");
    CU_ASSERT_EQUAL(tw_cut("中文中文", 4, out, sizeof out), 3); /* no half character */
    CU_ASSERT_STRING_EQUAL(out, "中…");
    CU_ASSERT_EQUAL(tw_cut("short", 10, out, sizeof out), 5);
    CU_ASSERT_STRING_EQUAL(out, "short");
    tw_cut("\033[31mdown-and-out\033[0m", 5, out, sizeof out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\033[0m")); /* no colour left on */
}

/* Random strings of wide, narrow, combining, colour and broken pieces, cut
 * at random widths into random buffers: never wider than asked, and valid
 * UTF-8 whenever the input was. */
static void test_cut_random(void)
{
    static const char *pieces[] = {"a", "é", "中", "😀", "\033[1;32m", "\033[0m", "\xcc\x81", "…", " "};
    srand(7);
    for (int it = 0; it < 20000; it++) {
        char s[256] = "", out[64];
        for (int k = rand() % 20; k > 0; k--)
            strcat(s, pieces[rand() % 9]);
        int cols = rand() % 12;
        size_t outlen = 1 + (size_t)(rand() % 63);
        int used = tw_cut(s, cols, out, outlen);
        if (cols > 0)
            CU_ASSERT_TRUE(used <= cols);
        CU_ASSERT_EQUAL(tw_width(out), used);
        CU_ASSERT_TRUE(utf8_ok(out));
    }
}

static void test_table(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tw_table *t = tw_table_new(4, (const char *const[]){"ID", "ENDPOINT", "ZONE", "WEIGHT"}, "lLlD");
    tw_table_add(t, (const char *const[]){"c1", "127.0.0.1:80", "東京第一データセンター東京", "100"});
    tw_table_print(t, f, 24, 1);
    fclose(f);
    /* 24 columns: WEIGHT dropped, ZONE cut, the endpoint whole */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "c1 127.0.0.1:80 "));
    CU_ASSERT_PTR_NULL(strstr(text, "WEIGHT"));
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        CU_ASSERT_TRUE(tw_width(line) <= 24);
    free(text);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"width", test_width}, {"cut", test_cut}, {"cut at random", test_cut_random},
        {"table", test_table}, CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"textwidth", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
