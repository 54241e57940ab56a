/* SPDX-License-Identifier: Apache-2.0 */
/* Change-only atomic writes (atomic_file.h): the file on disk is compared
 * a block at a time, so a difference of one byte past the first block, or
 * in the last byte, is still a write; the same bytes are not (the inode
 * stays); another mode is a write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "testutil.h"

enum { LEN = 300 * 1024 + 17 }; /* several 64 KB blocks and a partial one */

static char dir[] = "/tmp/zkd-atomic-XXXXXX";
static char path[sizeof dir + 16];

static int suite_init(void)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/out", dir);
    return 0;
}

static int suite_clean(void)
{
    unlink(path);
    return rmdir(dir);
}

static ino_t inode_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_ino : 0;
}

static int write_it(const char *data, size_t len, mode_t mode)
{
    char err[256];
    int rc = zkd__atomic_file_write(path, data, len, mode, NULL, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err);
    return rc;
}

static void test_change_only(void)
{
    char *data = malloc(LEN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    for (size_t i = 0; i < LEN; i++)
        data[i] = (char)('a' + i % 26);
    CU_ASSERT_EQUAL(write_it(data, LEN, 0644), 1);
    ino_t first = inode_of(path);
    CU_ASSERT_EQUAL(write_it(data, LEN, 0644), 0); /* the same bytes: untouched */
    CU_ASSERT_EQUAL(inode_of(path), first);

    data[200 * 1024 + 3] ^= 1; /* the same size, one byte differs in the fourth block */
    CU_ASSERT_EQUAL(write_it(data, LEN, 0644), 1);
    ino_t second = inode_of(path);
    CU_ASSERT_NOT_EQUAL(second, first);

    data[LEN - 1] ^= 1; /* the last byte */
    CU_ASSERT_EQUAL(write_it(data, LEN, 0644), 1);
    CU_ASSERT_EQUAL(write_it(data, LEN - 1, 0644), 1); /* shorter */
    CU_ASSERT_EQUAL(write_it(data, LEN - 1, 0600), 1); /* another mode */
    CU_ASSERT_EQUAL(write_it(data, LEN - 1, 0600), 0);

    char *back = NULL;
    CU_ASSERT_EQUAL(zkd__atomic_file_read(path, LEN, &back), LEN - 1);
    CU_ASSERT(back && memcmp(back, data, LEN - 1) == 0);
    free(back);
    CU_ASSERT_EQUAL(write_it("", 0, 0600), 1); /* empty */
    CU_ASSERT_EQUAL(write_it("", 0, 0600), 0);
    free(data);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a write only when the bytes or the mode differ, wherever the difference is", test_change_only},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"atomic_file", suite_init, suite_clean, NULL, NULL, tests},
                             CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
