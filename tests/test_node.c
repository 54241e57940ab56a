/* SPDX-License-Identifier: Apache-2.0 */
/* The node API against a real ZooKeeper: create (flags, parents, ACLs),
 * set and delete with version checks, recursive delete, multi transactions
 * (all or nothing, the failing op named), binary data and names with
 * unusual but valid characters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zkh.h"

static zkh *zk;
static zkd_client *c;

static int suite_init(void)
{
    zk = zkh_start(1);
    if (!zk)
        return 1;
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    return zkd_connect(&o, &c, NULL) == 0 ? 0 : 1;
}

static int suite_clean(void)
{
    zkd_close(c);
    zkh_stop(zk);
    return 0;
}

static void test_create_get_set_delete_versions(void)
{
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_node_create(c, "/n1", "v0", 2, NULL, NULL, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_create(c, "/n1", "v0", 2, NULL, NULL, &err), ZKD_EEXISTS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/n1"));
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_set(c, "/n1", "v1", 2, 0, &st, &err), 0);
    CU_ASSERT_EQUAL(st.version, 1);
    CU_ASSERT_EQUAL(zkd_node_set(c, "/n1", "v2", 2, 0, NULL, &err), ZKD_ECONFLICT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "version"));
    CU_ASSERT_EQUAL(zkd_node_set(c, "/n1", "v2", 2, -1, &st, &err), 0);
    CU_ASSERT_EQUAL(st.version, 2);
    char *data;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(zkd_node_get(c, "/n1", &data, &len, NULL, &err), 0);
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_STRING_EQUAL(data, "v2");
    zkd_free(data);
    CU_ASSERT_EQUAL(zkd_node_set(c, "/missing", "x", 1, -1, NULL, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_node_delete(c, "/n1", 1, &err), ZKD_ECONFLICT);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/n1", NULL, NULL), 0);
    CU_ASSERT_EQUAL(zkd_node_delete(c, "/n1", 2, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/n1", NULL, NULL), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_node_delete(c, "/n1", -1, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_node_delete(c, "/", -1, &err), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_node_create(c, "bad", "x", 1, NULL, NULL, &err), ZKD_EINVAL);
}

static void test_parents_and_flags(void)
{
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/q/r", "x", 1, NULL, NULL, &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "parent"));
    zkd_create_options o = {.parents = 1};
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/q/r", "x", 1, &o, NULL, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/p/q", NULL, NULL), 0);
    /* ancestors that exist are fine */
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/q/s", "x", 1, &o, NULL, &err), 0);

    char *created = NULL;
    o = (zkd_create_options){.flags = ZKD_CREATE_SEQUENTIAL};
    CU_ASSERT_EQUAL_FATAL(zkd_node_create(c, "/p/seq-", NULL, 0, &o, &created, &err), 0);
    CU_ASSERT_EQUAL(strlen(created), strlen("/p/seq-") + 10);
    CU_ASSERT_EQUAL(strncmp(created, "/p/seq-", 7), 0);
    zkd_free(created);

    o = (zkd_create_options){.flags = ZKD_CREATE_EPHEMERAL};
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/eph", "e", 1, &o, NULL, &err), 0);
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/p/eph", &st, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, zkd_client_session_id(c));
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/eph/kid", "e", 1, NULL, NULL, &err), ZKD_EZK); /* the server refuses it: not a usage error */

    o = (zkd_create_options){.flags = ZKD_CREATE_CONTAINER};
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/box", NULL, 0, &o, NULL, &err), 0);
    o.flags = ZKD_CREATE_CONTAINER | ZKD_CREATE_EPHEMERAL;
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/box2", NULL, 0, &o, NULL, &err), ZKD_EINVAL);
    o.flags = 64;
    CU_ASSERT_EQUAL(zkd_node_create(c, "/p/box3", NULL, 0, &o, NULL, &err), ZKD_EINVAL);
}

static void test_acl_denial(void)
{
    zkd_options opts;
    zkd_options_init(&opts);
    opts.connect = zkh_connect_string(zk);
    opts.auth = "alice:secret";
    zkd_client *alice;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_connect(&opts, &alice, &err), 0);
    zkd_acl_entry creator = {ZKD_PERM_ALL, "auth", ""};
    zkd_create_options o = {.acl = &creator, .acl_count = 1};
    CU_ASSERT_EQUAL(zkd_node_create(alice, "/private", "s3cret", 6, &o, NULL, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_get(alice, "/private", NULL, NULL, NULL, &err), 0);
    /* c has no credentials */
    CU_ASSERT_EQUAL(zkd_node_get(c, "/private", NULL, NULL, NULL, &err), ZKD_ENOAUTH);
    CU_ASSERT_EQUAL(zkd_node_set(c, "/private", "x", 1, -1, NULL, &err), ZKD_ENOAUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not authorized"));
    /* a read-only world entry: reads pass, writes are denied */
    zkd_acl_entry ro[2] = {{ZKD_PERM_READ, "world", "anyone"}, {ZKD_PERM_ALL, "auth", ""}};
    o = (zkd_create_options){.acl = ro, .acl_count = 2};
    CU_ASSERT_EQUAL(zkd_node_create(alice, "/readonly", "r", 1, &o, NULL, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_get(c, "/readonly", NULL, NULL, NULL, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_delete(c, "/readonly", -1, &err), 0); /* delete is the parent's ACL */
    CU_ASSERT_EQUAL(zkd_node_create(alice, "/readonly", "r", 1, &o, NULL, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_set(c, "/readonly", "w", 1, -1, NULL, &err), ZKD_ENOAUTH);
    /* a bad entry is refused before sending */
    zkd_acl_entry bad = {0, "world", "anyone"};
    o = (zkd_create_options){.acl = &bad, .acl_count = 1};
    CU_ASSERT_EQUAL(zkd_node_create(alice, "/badacl", "r", 1, &o, NULL, &err), ZKD_EINVAL);
    zkd_close(alice);
}

static void test_binary_and_unusual_names(void)
{
    zkd_error err;
    const char bin[] = {0, 1, 2, (char)0xff, (char)0xfe, 0, 'z'};
    CU_ASSERT_EQUAL(zkd_node_create(c, "/bin", bin, sizeof bin, NULL, NULL, &err), 0);
    char *data;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(zkd_node_get(c, "/bin", &data, &len, NULL, &err), 0);
    CU_ASSERT_EQUAL(len, sizeof bin);
    CU_ASSERT_EQUAL(memcmp(data, bin, sizeof bin), 0);
    zkd_free(data);

    static const char *names[] = {"with space", "ünïcødé-名前", "a:b@c=d&e", "...", "-dash",
                                  "semi;colon", "quote\"s'", "tab\tname", "%41%", "*glob?[x]"};
    size_t n = sizeof names / sizeof *names;
    zkd_create_options parents = {.parents = 1};
    char path[256];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/odd/%s", names[i]);
        int rc = zkd_node_create(c, path, names[i], strlen(names[i]), &parents, NULL, &err);
        if (!strcmp(names[i], "tab\tname")) {
            CU_ASSERT_EQUAL(rc, ZKD_EINVAL); /* control characters are not valid */
            continue;
        }
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL_FATAL(zkd_node_get(c, path, &data, &len, NULL, &err), 0);
        CU_ASSERT_EQUAL(len, strlen(names[i]));
        CU_ASSERT_EQUAL(memcmp(data, names[i], len), 0);
        zkd_free(data);
    }
    zkd_strings kids;
    CU_ASSERT_EQUAL_FATAL(zkd_node_children(c, "/odd", &kids, NULL, &err), 0);
    CU_ASSERT_EQUAL(kids.count, n - 1);
    zkd_strings_free(&kids);
}

static void test_multi_all_or_nothing(void)
{
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_node_create(c, "/m", NULL, 0, NULL, NULL, &err), 0);
    zkd_multi_op ok[] = {
        {.kind = ZKD_MULTI_CREATE, .path = "/m/a", .data = "1", .len = 1},
        {.kind = ZKD_MULTI_CREATE, .path = "/m/a/b", .data = "2", .len = 1},
        {.kind = ZKD_MULTI_SET, .path = "/m", .data = "top", .len = 3, .version = 0},
        {.kind = ZKD_MULTI_CHECK, .path = "/m/a", .version = 0},
    };
    int rcs[4] = {9, 9, 9, 9};
    size_t bad = 99;
    CU_ASSERT_EQUAL(zkd_node_multi(c, ok, 4, rcs, &bad, &err), 0);
    CU_ASSERT_EQUAL(rcs[0] | rcs[1] | rcs[2] | rcs[3], 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/m/a/b", NULL, NULL), 0);

    /* The third op fails: nothing of the first two is applied. */
    zkd_multi_op fails[] = {
        {.kind = ZKD_MULTI_CREATE, .path = "/m/x", .data = "1", .len = 1},
        {.kind = ZKD_MULTI_SET, .path = "/m/a", .data = "n", .len = 1, .version = 0},
        {.kind = ZKD_MULTI_SET, .path = "/m", .data = "z", .len = 1, .version = 0}, /* is 1 */
        {.kind = ZKD_MULTI_DELETE, .path = "/m/a/b", .version = -1},
    };
    CU_ASSERT_EQUAL(zkd_node_multi(c, fails, 4, rcs, &bad, &err), ZKD_ECONFLICT);
    CU_ASSERT_EQUAL(bad, 2);
    CU_ASSERT_EQUAL(rcs[2], ZKD_ECONFLICT);
    CU_ASSERT_EQUAL(rcs[0], 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/m"));
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/m/x", NULL, NULL), ZKD_ENOTFOUND);
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/m/a", &st, NULL), 0);
    CU_ASSERT_EQUAL(st.version, 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/m/a/b", NULL, NULL), 0);

    zkd_multi_op exists[] = {{.kind = ZKD_MULTI_CREATE, .path = "/m/new", .data = "1", .len = 1},
                             {.kind = ZKD_MULTI_CREATE, .path = "/m/a", .data = "1", .len = 1}};
    CU_ASSERT_EQUAL(zkd_node_multi(c, exists, 2, NULL, &bad, &err), ZKD_EEXISTS);
    CU_ASSERT_EQUAL(bad, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/m/a"));
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/m/new", NULL, NULL), ZKD_ENOTFOUND);
    zkd_multi_op noparent[] = {{.kind = ZKD_MULTI_CREATE, .path = "/m/none/kid", .data = "1", .len = 1}};
    CU_ASSERT_EQUAL(zkd_node_multi(c, noparent, 1, NULL, &bad, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_node_multi(c, NULL, 0, NULL, NULL, &err), 0);
    zkd_multi_op badpath[] = {{.kind = ZKD_MULTI_CREATE, .path = "nope"}};
    CU_ASSERT_EQUAL(zkd_node_multi(c, badpath, 1, NULL, NULL, &err), ZKD_EINVAL);
}

static void test_delete_tree(void)
{
    zkd_error err;
    zkd_create_options parents = {.parents = 1};
    char path[128];
    int made = 0;
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < 15; j++) {
            snprintf(path, sizeof path, "/del/t%02d/leaf%02d", i, j);
            made += zkd_node_create(c, path, "x", 1, &parents, NULL, &err) == 0;
        }
    CU_ASSERT_EQUAL_FATAL(made, 300);
    zkd_stat st;
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/del", &st, NULL), 0);
    size_t deleted = 0;
    CU_ASSERT_EQUAL(zkd_node_delete_tree(c, "/del", st.version + 1, &deleted, &err), ZKD_ECONFLICT);
    CU_ASSERT_EQUAL(deleted, 0);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/del/t00/leaf00", NULL, NULL), 0);
    CU_ASSERT_EQUAL(zkd_node_delete_tree(c, "/del", st.version, &deleted, &err), 0);
    CU_ASSERT_EQUAL(deleted, 1 + 20 + 300);
    CU_ASSERT_EQUAL(zkd_node_stat(c, "/del", NULL, NULL), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_node_delete_tree(c, "/del", -1, &deleted, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_node_delete_tree(c, "/", -1, &deleted, &err), ZKD_EINVAL);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"create, get, set, delete with versions", test_create_get_set_delete_versions},
        {"parents, sequential, ephemeral, container", test_parents_and_flags},
        {"ACL denial", test_acl_denial},
        {"binary data and unusual names", test_binary_and_unusual_names},
        {"multi: all or nothing, failing op named", test_multi_all_or_nothing},
        {"delete a tree", test_delete_tree},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"node", suite_init, suite_clean, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
