/* SPDX-License-Identifier: Apache-2.0 */
/* Name and path validation against tables of good and bad input. */
#include <string.h>
#include <zkdisc/zkdisc.h>

#include "testutil.h"

static void test_good_names(void)
{
    static const char *good[] = {"a", "payments", "user-svc", "svc_v2", "1.4.2", "A.b-C_d",
                                 "...", "-", "_", "x..y", "585ddd0b-7d30-4225-afda-758f05b75c8f"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        zkd_error err;
        int rc = zkd_validate_name("service", good[i], &err);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc)
            fprintf(stderr, "refused good name \"%s\": %s\n", good[i], err.message);
    }
    char longest[ZKD_NAME_MAX + 1];
    memset(longest, 'n', ZKD_NAME_MAX);
    longest[ZKD_NAME_MAX] = '\0';
    CU_ASSERT_EQUAL(zkd_validate_name("app", longest, NULL), 0);
}

static void test_bad_names(void)
{
    static const struct {
        const char *name;
        const char *says; /* part of the message */
    } bad[] = {
        {"", "empty"},          {".", "not allowed"},     {"..", "not allowed"},
        {"a/b", "'/'"},         {"a b", "' '"},           {"caf\xc3\xa9", "0xc3"},
        {"tab\there", "0x09"},  {"semi;colon", "';'"},    {"star*", "'*'"},
        {"zookeeper:1", "':'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        zkd_error err;
        zkd_error_clear(&err);
        int rc = zkd_validate_name("service", bad[i].name, &err);
        CU_ASSERT_EQUAL(rc, ZKD_EINVAL);
        CU_ASSERT_EQUAL(err.code, ZKD_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i].says));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "service"));
    }
    char toolong[ZKD_NAME_MAX + 2];
    memset(toolong, 'n', ZKD_NAME_MAX + 1);
    toolong[ZKD_NAME_MAX + 1] = '\0';
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_validate_name("instance id", toolong, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "129 characters"));
    CU_ASSERT_EQUAL(zkd_validate_name("app", NULL, NULL), ZKD_EINVAL);
}

static void test_paths(void)
{
    static const char *good[] = {"/", "/zkdisc", "/zkdisc/services/a-b", "/a/b/c", "/with space",
                                 "/unicode/\xc3\xa9", "/\xe4\xb8\xad\xe6\x96\x87/\xef\xbd\x81"};
    static const char *bad[] = {"", "zkdisc", "/zkdisc/", "//a", "/a//b", "/a/./b", "/a/..",
                                "/ctl\x01", "/a1/b2/e\xf0\x9f\x98\x80", "/bad\xc3", "/bad\xc0\xaf",
                                "/priv\xee\x80\x80", "/c1\xc2\x85"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CU_ASSERT_EQUAL(zkd_validate_path(good[i], NULL), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CU_ASSERT_EQUAL(zkd_validate_path(bad[i], NULL), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_validate_path(NULL, NULL), ZKD_EINVAL);
    /* the message names the component and the character */
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_validate_path("/a1/b2/e\xf0\x9f\x98\x80", &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "component 3"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "U+1F600"));
}

static void test_strerror(void)
{
    for (int code = ZKD_EAUTHFAILED; code <= 0; code++)
        CU_ASSERT_STRING_NOT_EQUAL(zkd_strerror(code), "unknown error");
    CU_ASSERT_STRING_EQUAL(zkd_strerror(-999), "unknown error");
}

static void test_bad_options(void)
{
    zkd_options o;
    zkd_client *c = NULL;
    zkd_error err;
    zkd_options_init(&o);
    o.root = "relative";
    CU_ASSERT_EQUAL(zkd_connect(&o, &c, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "relative"));
    zkd_options_init(&o);
    o.connect = "";
    CU_ASSERT_EQUAL(zkd_connect(&o, &c, &err), ZKD_EINVAL);
    zkd_options_init(&o);
    o.auth = "no-colon";
    CU_ASSERT_EQUAL(zkd_connect(&o, &c, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NULL(c);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"good names", test_good_names}, {"bad names", test_bad_names},
        {"paths", test_paths},           {"strerror covers every code", test_strerror},
        {"bad options", test_bad_options}, CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"names", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
