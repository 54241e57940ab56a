/* SPDX-License-Identifier: Apache-2.0 */
/* The persistent tree behind snapshots (ptree.h): random puts and deletes
 * checked against a sorted array after every step, old versions unchanged
 * by later edits, and an edit building one node per level. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/zkdisc.h>

#include "ptree.h"
#include "testutil.h"

enum { IDS = 3000 };

static zkd_instance *make(int id, int port)
{
    char node[32], json[256];
    snprintf(node, sizeof node, "n-%05d", id);
    snprintf(json, sizeof json,
             "{\"name\":\"t\",\"id\":\"%s\",\"address\":\"10.0.0.1\",\"port\":%d,"
             "\"registrationTimeUTC\":1}",
             node, port);
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("t", node, json, strlen(json), &i, NULL), 0);
    return i;
}

/* The reference: ports by id, 0 when absent. */
static int ref[IDS];

static int same(const zkd__pnode *t)
{
    size_t n = 0;
    for (int k = 0; k < IDS; k++)
        n += ref[k] != 0;
    if (zkd__ptree_count(t) != n)
        return 0;
    const zkd_instance **flat = malloc((n ? n : 1) * sizeof *flat);
    zkd__ptree_fill(t, flat);
    size_t at = 0;
    int ok = 1;
    for (int k = 0; ok && k < IDS; k++) {
        char id[32];
        snprintf(id, sizeof id, "n-%05d", k);
        const zkd_instance *f = zkd__ptree_find(t, id);
        if (!ref[k]) {
            ok = !f;
            continue;
        }
        ok = f && zkd_instance_port(f) == ref[k] && flat[at] == f && zkd__ptree_at(t, at) == f;
        at++;
    }
    free(flat);
    return ok;
}

static void test_random_edits(void)
{
    srand(7);
    memset(ref, 0, sizeof ref);
    zkd__pnode *t = NULL, *kept = NULL;
    int kept_ref[IDS];
    for (int step = 0; step < 20000; step++) {
        int k = rand() % IDS;
        if (rand() % 3 == 0) {
            zkd_instance *key = make(k, 1);
            int rc = zkd__ptree_del(&t, key);
            CU_ASSERT_EQUAL(rc, ref[k] ? 0 : ZKD_ENOTFOUND);
            ref[k] = 0;
            zkd_instance_unref(key);
        } else {
            zkd_instance *i = make(k, 1 + step);
            CU_ASSERT_EQUAL(zkd__ptree_put(&t, i), 0);
            zkd_instance_unref(i);
            ref[k] = 1 + step;
        }
        if (step == 5000) { /* a version to hold on to */
            kept = zkd__ptree_ref(t);
            memcpy(kept_ref, ref, sizeof ref);
        }
        if (step % 1000 == 0)
            CU_ASSERT_FATAL(same(t));
    }
    CU_ASSERT(same(t));
    int now[IDS];
    memcpy(now, ref, sizeof ref);
    memcpy(ref, kept_ref, sizeof ref);
    CU_ASSERT(same(kept)); /* untouched by the 15,000 edits after it */
    memcpy(ref, now, sizeof ref);
    zkd__ptree_unref(kept);
    zkd__ptree_unref(t);
}

static void test_build_then_edit(void)
{
    enum { N = 20000 };
    zkd_instance **items = malloc(N * sizeof *items);
    for (int k = 0; k < N; k++)
        items[k] = make(k % IDS + (k / IDS) * IDS, 80);
    /* ids n-00000..n-19999: sorted as built */
    zkd__pnode *t;
    CU_ASSERT_EQUAL_FATAL(zkd__ptree_build((const zkd_instance *const *)items, N, &t), 0);
    CU_ASSERT_EQUAL(zkd__ptree_count(t), N);
    for (int k = 0; k < N; k += 997)
        CU_ASSERT_PTR_EQUAL(zkd__ptree_at(t, (size_t)k), items[k]);
    size_t before = zkd__ptree_nodes_built();
    zkd_instance *changed = make(12345, 81);
    CU_ASSERT_EQUAL(zkd__ptree_put(&t, changed), 0);
    /* 20,000 is three levels: one new node on each. */
    CU_ASSERT_EQUAL(zkd__ptree_nodes_built() - before, 3);
    CU_ASSERT_EQUAL(zkd_instance_port(zkd__ptree_find(t, "n-12345")), 81);
    CU_ASSERT_EQUAL(zkd__ptree_count(t), N);
    zkd_instance_unref(changed);
    for (int k = 0; k < N; k++)
        zkd_instance_unref(items[k]);
    free(items);
    zkd__ptree_unref(t);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"random puts and deletes match a sorted array; old versions stay", test_random_edits},
        {"a tree built whole, then one edit builds one node per level", test_build_then_edit},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"ptree", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
