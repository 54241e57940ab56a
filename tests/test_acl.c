/* SPDX-License-Identifier: Apache-2.0 */
/* Access control through the library: credentials from a file (modes,
 * content, messages that never quote it), and a locked service: the
 * registry of an allowed identity (given by auth_file) creates instances
 * writable only by it and the admins, also when it re-creates them after a
 * session expiry; clients with no credentials or another identity cannot
 * register, drain, rewrite or remove; the admin can; a live container
 * service is not locked in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "zkh.h"

static zkh *zk;
static char dir[] = "/tmp/zkd-acl-XXXXXX";

static int suite_init(void)
{
    if (!mkdtemp(dir))
        return 1;
    zk = zkh_start(1);
    return zk ? 0 : 1;
}

static int suite_clean(void)
{
    zkh_stop(zk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}

/* Writes `text` into dir/name with `mode`; returns the path (static buffer per call site). */
static const char *auth_file(const char *name, const char *text, mode_t mode, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", dir, name);
    FILE *f = fopen(buf, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    CU_ASSERT_EQUAL(chmod(buf, mode), 0);
    return buf;
}

static zkd_client *connect_with(const char *file)
{
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.session_timeout_ms = 6000;
    o.auth_file = file;
    zkd_client *c = NULL;
    zkd_error err;
    int rc = zkd_connect(&o, &c, &err);
    if (rc)
        fprintf(stderr, "connect failed: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return c;
}

static void test_auth_file(void)
{
    char p[256];
    char *out = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_auth_file_read(auth_file("ok", "alice:s3cret\nignored\n", 0600, p, sizeof p),
                                       &out, &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "alice:s3cret");
    free(out);
    CU_ASSERT_EQUAL(zkd_auth_file_read(auth_file("ro", "alice:s3cret", 0400, p, sizeof p), &out, &err), 0);
    free(out);
    mode_t bad[] = {0644, 0640, 0604, 0660, 0602};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT_EQUAL(zkd_auth_file_read(auth_file("open", "alice:s3cret\n", bad[i], p, sizeof p),
                                           &out, &err), ZKD_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "group or others may access it"));
        CU_ASSERT_PTR_NULL(strstr(err.message, "s3cret"));
    }
    CU_ASSERT_EQUAL(zkd_auth_file_read(auth_file("nocolon", "s3cret\n", 0600, p, sizeof p), &out, &err),
                    ZKD_EINVAL);
    CU_ASSERT_PTR_NULL(strstr(err.message, "s3cret"));
    CU_ASSERT_EQUAL(zkd_auth_file_read("/nonexistent/auth", &out, &err), ZKD_EIO);
    CU_ASSERT_EQUAL(zkd_auth_file_read(dir, &out, &err), ZKD_EINVAL);

    /* through zkd_connect: refused before any session, and not with auth */
    zkd_options o;
    zkd_options_init(&o);
    o.connect = zkh_connect_string(zk);
    o.auth_file = auth_file("open", "alice:s3cret\n", 0644, p, sizeof p);
    zkd_client *c = NULL;
    CU_ASSERT_EQUAL(zkd_connect(&o, &c, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NULL(strstr(err.message, "s3cret"));
    o.auth = "alice:s3cret";
    CU_ASSERT_EQUAL(zkd_connect(&o, &c, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NULL(c);
}

/* The entry of `acl` for scheme/id, its perms; -1 when absent. */
static int perms_of(const zkd_acl_entry *acl, size_t n, const char *scheme, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(acl[i].scheme, scheme) && !strcmp(acl[i].id, id))
            return acl[i].perms;
    return -1;
}

static void expect_instance_acl(zkd_client *admin, const char *path, const char *alice_id,
                                const char *ops_id)
{
    zkd_acl_entry *acl;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkd_node_get_acl(admin, path, &acl, &n, NULL, NULL), 0);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(perms_of(acl, n, "world", "anyone"), ZKD_PERM_READ);
    CU_ASSERT_EQUAL(perms_of(acl, n, "digest", alice_id), ZKD_PERM_ALL);
    CU_ASSERT_EQUAL(perms_of(acl, n, "digest", ops_id), ZKD_PERM_ALL);
    zkd_acl_free(acl, n);
}

static void test_locked_service(void)
{
    char pa[256], po[256], pb[256];
    const char *fa = auth_file("alice", "alice:pw-a\n", 0600, pa, sizeof pa);
    const char *fo = auth_file("ops", "ops:adm-pw\n", 0600, po, sizeof po);
    const char *fb = auth_file("bob", "bob:pw-b\n", 0600, pb, sizeof pb);
    zkd_client *ops = connect_with(fo), *alice = connect_with(fa), *bob = connect_with(fb);
    zkd_client *anon = connect_with(NULL);
    char *alice_id, *ops_id;
    CU_ASSERT_EQUAL_FATAL(zkd_digest_identity("alice:pw-a", &alice_id, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_digest_identity("ops:adm-pw", &ops_id, NULL), 0);

    const char *allow[] = {"alice:pw-a"}, *admins[] = {"ops:adm-pw"};
    size_t open = 99;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_service_lock(ops, "pay", allow, 1, admins, 1, &open, &err), 0);
    CU_ASSERT_EQUAL(open, 0);

    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "pay";
    spec.id = "pay-1";
    spec.address = "10.0.0.1";
    spec.port = 80;
    spec.watch_node = 1; /* the admin's drain below is kept across the expiry */
    zkd_registration *r = NULL, *rogue = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_register(alice, &spec, &r, &err), 0);
    const char *path = "/zkdisc/services/pay/pay-1";
    expect_instance_acl(ops, path, alice_id, ops_id);

    /* rogues: nothing registers, nothing changes */
    zkd_stat before, after;
    char *data_before, *data_after;
    CU_ASSERT_EQUAL_FATAL(zkd_node_get(ops, path, &data_before, NULL, &before, NULL), 0);
    zkd_client *rogues[] = {bob, anon};
    for (int i = 0; i < 2; i++) {
        spec.id = "rogue";
        CU_ASSERT_EQUAL(zkd_register(rogues[i], &spec, &rogue, &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_instance_set_enabled(rogues[i], "pay", "pay-1", 0, &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_node_set(rogues[i], path, "{}", 2, -1, NULL, &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_instance_remove(rogues[i], "pay", "pay-1", &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_service_unlock(rogues[i], "pay", &err), ZKD_ENOAUTH);
        CU_ASSERT_EQUAL(zkd_service_lock(rogues[i], "pay", (const char *[]){"bob:pw-b"}, 1,
                                         (const char *[]){"bob:pw-b"}, 1, NULL, &err),
                        ZKD_ENOAUTH);
    }
    CU_ASSERT_EQUAL_FATAL(zkd_node_get(ops, path, &data_after, NULL, &after, NULL), 0);
    CU_ASSERT_STRING_EQUAL(data_before, data_after);
    CU_ASSERT_EQUAL(before.mzxid, after.mzxid);
    CU_ASSERT_EQUAL(before.aversion, after.aversion);
    zkd_free(data_before);
    zkd_free(data_after);
    zkd_strings kids;
    CU_ASSERT_EQUAL_FATAL(zkd_node_children(ops, "/zkdisc/services/pay", &kids, NULL, NULL), 0);
    CU_ASSERT_EQUAL(kids.count, 1);
    zkd_strings_free(&kids);

    /* others see the hashes redacted; the admin sees them */
    zkd_acl_entry *acl;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkd_node_get_acl(anon, "/zkdisc/services/pay", &acl, &n, NULL, NULL), 0);
    CU_ASSERT_EQUAL(perms_of(acl, n, "digest", "ops:x"), ZKD_PERM_ALL);
    zkd_acl_free(acl, n);

    /* the admin drains */
    CU_ASSERT_EQUAL(zkd_instance_set_enabled(ops, "pay", "pay-1", 0, &err), 0);
    CU_ASSERT_EQUAL(tu_enabled_in_tree(ops, path), 0);

    /* the admin re-locks in place, an instance live: another registrant */
    const char *allow2[] = {"alice:pw-a", "carol:pw-c"};
    CU_ASSERT_EQUAL(zkd_service_lock(ops, "pay", allow2, 2, admins, 1, &open, &err), 0);
    CU_ASSERT_EQUAL(open, 0);
    char *carol_id;
    CU_ASSERT_EQUAL_FATAL(zkd_digest_identity("carol:pw-c", &carol_id, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_node_get_acl(ops, "/zkdisc/services/pay", &acl, &n, NULL, NULL), 0);
    CU_ASSERT_EQUAL(perms_of(acl, n, "digest", carol_id), ZKD_PERM_CREATE | ZKD_PERM_DELETE);
    CU_ASSERT_EQUAL(perms_of(acl, n, "world", "anyone"), ZKD_PERM_READ);
    zkd_acl_free(acl, n);
    free(carol_id);
    CU_ASSERT_EQUAL(zkd_node_stat(ops, path, NULL, NULL), 0); /* the instance stayed */

    /* after an expiry the registry re-creates the node with the same ACL */
    int64_t old = zkd_client_session_id(alice);
    CU_ASSERT_EQUAL_FATAL(tu_expire(alice, zkh_connect_string(zk), 15000), 0);
    zkd_stat st;
    int64_t deadline = tu_now_ms() + 15000;
    while (tu_now_ms() < deadline &&
           !(zkd_node_stat(ops, path, &st, NULL) == 0 && st.ephemeral_owner != old))
        usleep(20000);
    CU_ASSERT_EQUAL(st.ephemeral_owner, zkd_client_session_id(alice));
    expect_instance_acl(ops, path, alice_id, ops_id);
    CU_ASSERT_EQUAL(tu_enabled_in_tree(ops, path), 0); /* the drain is kept */

    /* its own deregistration works (DELETE on the service) */
    CU_ASSERT_EQUAL(zkd_registration_close(r, &err), 0);
    CU_ASSERT_EQUAL(zkd_node_stat(ops, path, NULL, NULL), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_node_stat(ops, "/zkdisc/services/pay", NULL, NULL), 0);

    /* unlocked: open to everyone again */
    CU_ASSERT_EQUAL(zkd_service_unlock(ops, "pay", &err), 0);
    CU_ASSERT_EQUAL_FATAL(zkd_node_get_acl(anon, "/zkdisc/services/pay", &acl, &n, NULL, NULL), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(perms_of(acl, n, "world", "anyone"), ZKD_PERM_ALL);
    zkd_acl_free(acl, n);
    spec.id = "after-unlock";
    CU_ASSERT_EQUAL(zkd_register(anon, &spec, &rogue, &err), 0);
    zkd_registration_close(rogue, NULL);

    free(alice_id);
    free(ops_id);
    zkd_close(ops);
    zkd_close(alice);
    zkd_close(bob);
    zkd_close(anon);
}

static void test_live_container_not_locked(void)
{
    zkd_client *c = connect_with(NULL);
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "live";
    spec.id = "l-1";
    spec.port = 80;
    spec.address = "10.0.0.2";
    zkd_registration *r;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd_register(c, &spec, &r, &err), 0);
    const char *allow[] = {"alice:pw-a"};
    CU_ASSERT_EQUAL(zkd_service_lock(c, "live", allow, 1, NULL, 0, NULL, &err), ZKD_ECONFLICT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "container"));
    zkd_acl_entry *acl;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkd_node_get_acl(c, "/zkdisc/services/live", &acl, &n, NULL, NULL), 0);
    CU_ASSERT_EQUAL(perms_of(acl, n, "world", "anyone"), ZKD_PERM_ALL); /* unchanged */
    zkd_acl_free(acl, n);
    zkd_registration_close(r, NULL);
    zkd_close(c);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"credentials from a file", test_auth_file},
        {"a locked service against rogue clients", test_locked_service},
        {"a live container service is not locked", test_live_container_not_locked},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"acl", suite_init, suite_clean, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
