/* SPDX-License-Identifier: Apache-2.0 */
/* Instance records: Curator round trip, ServerSet and Nerve readers, and the
 * malformed records that must be refused (never crash). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/zkdisc.h>

#include "record.h"
#include "testutil.h"

static const char spring_record[] =
    "{\"name\":\"cloud-provider-payment\",\"id\":\"585ddd0b-7d30-4225-afda-758f05b75c8f\","
    "\"address\":\"192.168.0.106\",\"port\":8004,\"sslPort\":null,\"payload\":{\"@class\":"
    "\"org.springframework.cloud.zookeeper.discovery.ZookeeperInstance\",\"id\":\"application-1\","
    "\"name\":\"cloud-provider-payment\",\"metadata\":{}},\"registrationTimeUTC\":1698197224917,"
    "\"serviceType\":\"DYNAMIC\",\"uriSpec\":{\"parts\":[{\"value\":\"scheme\",\"variable\":true},"
    "{\"value\":\"://\",\"variable\":false},{\"value\":\"address\",\"variable\":true},{\"value\":"
    "\":\",\"variable\":false},{\"value\":\"port\",\"variable\":true}]}}";

static void test_curator_written_by_spring(void)
{
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("cloud-provider-payment", "585ddd0b-7d30-4225-afda-758f05b75c8f",
                                             spring_record, strlen(spring_record), &i, NULL), 0);
    CU_ASSERT_EQUAL(zkd_instance_format(i), ZKD_FORMAT_CURATOR);
    CU_ASSERT_STRING_EQUAL(zkd_instance_service(i), "cloud-provider-payment");
    CU_ASSERT_STRING_EQUAL(zkd_instance_id(i), "585ddd0b-7d30-4225-afda-758f05b75c8f");
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(i), "192.168.0.106");
    CU_ASSERT_EQUAL(zkd_instance_port(i), 8004);
    CU_ASSERT_EQUAL(zkd_instance_ssl_port(i), -1);
    CU_ASSERT_EQUAL(zkd_instance_registration_time(i), 1698197224917LL);
    CU_ASSERT_EQUAL(zkd_instance_enabled(i), 1);
    CU_ASSERT_EQUAL(zkd_instance_weight(i), ZKD_DEFAULT_WEIGHT);
    /* Written back, it is the same record, byte for byte. */
    char *again = zkd_instance_to_json(i);
    CU_ASSERT_STRING_EQUAL(again, spring_record);
    zkd_free(again);
    zkd_instance_unref(i);
}

static void test_spec_round_trip(void)
{
    const char *meta[] = {"team=payments", "tier=gold", NULL};
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "payments";
    spec.id = "i-1";
    spec.address = "10.0.0.5";
    spec.port = 8080;
    spec.ssl_port = 8443;
    spec.payload = "{\"custom\":[1,2,3]}";
    spec.weight = 250;
    spec.zone = "eu-1";
    spec.version = "1.4.2";
    spec.meta = meta;
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd__record_from_spec(&spec, NULL, &i, NULL), 0);
    char *json = zkd_instance_to_json(i);
    zkd_instance *back = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("payments", "i-1", json, strlen(json), &back, NULL), 0);
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(back), "10.0.0.5");
    CU_ASSERT_EQUAL(zkd_instance_port(back), 8080);
    CU_ASSERT_EQUAL(zkd_instance_ssl_port(back), 8443);
    CU_ASSERT_EQUAL(zkd_instance_weight(back), 250);
    CU_ASSERT_STRING_EQUAL(zkd_instance_zone(back), "eu-1");
    CU_ASSERT_STRING_EQUAL(zkd_instance_version(back), "1.4.2");
    CU_ASSERT_STRING_EQUAL(zkd_instance_meta(back, "team"), "payments");
    CU_ASSERT_STRING_EQUAL(zkd_instance_meta(back, "tier"), "gold");
    CU_ASSERT_PTR_NULL(zkd_instance_meta(back, "nope"));
    CU_ASSERT_PTR_NOT_NULL(strstr(zkd_instance_payload(back), "\"custom\":[1,2,3]"));
    /* Curator's field order, no "enabled" while enabled. */
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "{\"name\":\"payments\",\"id\":\"i-1\",\"address\":"));
    CU_ASSERT_PTR_NULL(strstr(json, "enabled"));
    zkd_free(json);

    zkd_instance *drained = zkd__record_with_enabled(back, 0);
    json = zkd_instance_to_json(drained);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"enabled\":false"));
    zkd_free(json);
    zkd_instance_unref(drained);
    zkd_instance_unref(back);
    zkd_instance_unref(i);
}

static void test_spec_defaults_and_errors(void)
{
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "svc";
    spec.address = "10.1.1.1";
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd__record_from_spec(&spec, NULL, &i, NULL), 0);
    CU_ASSERT_EQUAL(strlen(zkd_instance_id(i)), 36); /* a UUID */
    CU_ASSERT_EQUAL(zkd_instance_id(i)[14], '4');
    CU_ASSERT_EQUAL(zkd_instance_port(i), -1);
    CU_ASSERT(zkd_instance_registration_time(i) > 1700000000000LL);
    zkd_instance_unref(i);

    zkd_error err;
    spec.service = "bad/name";
    CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_EINVAL);
    spec.service = "svc";
    spec.port = 70000;
    CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_EINVAL);
    spec.port = 1;
    spec.payload = "[1,2]";
    spec.weight = 5;
    CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_EINVAL);
    spec.payload = "{not json";
    CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_EINVAL);
    const char *badmeta[] = {"novalue", NULL};
    spec.payload = NULL;
    spec.meta = badmeta;
    CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_EINVAL);

    char addr[64];
    int rc = zkd_default_address(addr, sizeof addr, &err);
    CU_ASSERT(rc == 0 || rc == ZKD_ENOTFOUND);
    if (rc == 0)
        CU_ASSERT_STRING_NOT_EQUAL(addr, "127.0.0.1");
}

static void test_serverset(void)
{
    const char *rec = "{\"serviceEndpoint\":{\"host\":\"10.0.0.5\",\"port\":31337},"
                      "\"additionalEndpoints\":{\"http\":{\"host\":\"10.0.0.5\",\"port\":31338}},"
                      "\"status\":\"ALIVE\",\"shard\":0}";
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("web", "member_0000000007", rec, strlen(rec), &i, NULL), 0);
    CU_ASSERT_EQUAL(zkd_instance_format(i), ZKD_FORMAT_SERVERSET);
    CU_ASSERT_STRING_EQUAL(zkd_instance_id(i), "member_0000000007");
    CU_ASSERT_STRING_EQUAL(zkd_instance_service(i), "web");
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(i), "10.0.0.5");
    CU_ASSERT_EQUAL(zkd_instance_port(i), 31337);
    CU_ASSERT_PTR_NOT_NULL(strstr(zkd_instance_payload(i), "31338"));
    zkd_instance_unref(i);
    const char *dead = "{\"serviceEndpoint\":{\"host\":\"10.0.0.6\",\"port\":1},\"status\":\"DEAD\"}";
    CU_ASSERT_EQUAL(zkd_instance_parse("web", "member_1", dead, strlen(dead), &i, NULL), ZKD_ENOTFOUND);
}

static void test_nerve(void)
{
    const char *rec = "{\"host\":\"10.0.0.5\",\"port\":8080,\"name\":\"i-1\",\"weight\":10,"
                      "\"labels\":{\"zone\":\"us-east-1a\",\"canary\":\"yes\"}}";
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("api", "i-1_0000000003", rec, strlen(rec), &i, NULL), 0);
    CU_ASSERT_EQUAL(zkd_instance_format(i), ZKD_FORMAT_NERVE);
    CU_ASSERT_STRING_EQUAL(zkd_instance_id(i), "i-1_0000000003");
    CU_ASSERT_STRING_EQUAL(zkd_instance_address(i), "10.0.0.5");
    CU_ASSERT_EQUAL(zkd_instance_port(i), 8080);
    CU_ASSERT_EQUAL(zkd_instance_weight(i), 10);
    CU_ASSERT_STRING_EQUAL(zkd_instance_zone(i), "us-east-1a");
    CU_ASSERT_STRING_EQUAL(zkd_instance_meta(i, "canary"), "yes");
    /* JSON readers see what the table shows: Nerve's fields beyond the
     * endpoint stay in the payload. */
    CU_ASSERT_STRING_EQUAL(zkd_instance_payload(i),
                           "{\"name\":\"i-1\",\"weight\":10,\"labels\":{\"zone\":\"us-east-1a\",\"canary\":\"yes\"}}");
    zkd_instance_unref(i);
}

/* Curator's DYNAMIC_SEQUENTIAL: the znode is not named after the id. */
static void test_znode_name(void)
{
    const char *rec = "{\"name\":\"seqsvc\",\"id\":\"q1\",\"address\":\"10.1.0.4\",\"port\":8004,"
                      "\"serviceType\":\"DYNAMIC_SEQUENTIAL\"}";
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("seqsvc", "q10000000000", rec, strlen(rec), &i, NULL), 0);
    CU_ASSERT_STRING_EQUAL(zkd_instance_id(i), "q1");
    CU_ASSERT_STRING_EQUAL(zkd_instance_znode(i), "q10000000000");
    zkd_instance_unref(i);
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("seqsvc", NULL, rec, strlen(rec), &i, NULL), 0);
    CU_ASSERT_STRING_EQUAL(zkd_instance_znode(i), "q1"); /* not read from the tree */
    zkd_instance_unref(i);
    const char *noid = "{\"address\":\"10.1.0.4\"}";
    CU_ASSERT_EQUAL(zkd_instance_parse("s", NULL, noid, strlen(noid), &i, NULL), ZKD_EBADDATA);
    /* Drained and written back, it still knows its znode. */
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("seqsvc", "q10000000000", rec, strlen(rec), &i, NULL), 0);
    zkd_instance *drained = zkd__record_with_enabled(i, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(drained);
    CU_ASSERT_STRING_EQUAL(zkd_instance_znode(drained), "q10000000000");
    zkd_instance_unref(drained);
    zkd_instance_unref(i);
}

static void expect_refused(const char *service, const char *node, const char *rec, const char *a,
                           const char *b)
{
    zkd_instance *i = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_instance_parse(service, node, rec, strlen(rec), &i, &err), ZKD_EBADDATA);
    CU_ASSERT_PTR_NULL(i);
    /* The message names both: what the record claims and where it lives. */
    if (!strstr(err.message, a) || !strstr(err.message, b))
        fprintf(stderr, "message \"%s\" lacks \"%s\" or \"%s\"\n", err.message, a, b);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, a));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, b));
    CU_ASSERT_PTR_NULL(strchr(err.message, '\n'));
    zkd_instance_unref(i);
}

/* A record is bound to its place in the tree: another instance's id, or
 * another service's name, make it malformed. */
static void test_identity_bound_to_znode(void)
{
    expect_refused("web", "zz-x", "{\"name\":\"web\",\"id\":\"web-1\",\"address\":\"10.6.6.6\",\"port\":80}",
                   "\"web-1\"", "\"zz-x\"");
    expect_refused("web", "web-1", "{\"name\":\"payments\",\"id\":\"web-1\",\"address\":\"10.6.6.6\"}",
                   "\"payments\"", "\"web\"");
    /* The sequence suffix: only for DYNAMIC_SEQUENTIAL, only 10 digits. */
    const char *seq = "{\"id\":\"web-1\",\"address\":\"10.6.6.6\",\"serviceType\":\"DYNAMIC_SEQUENTIAL\"}";
    expect_refused("web", "web-1000000001", seq, "\"web-1\"", "\"web-1000000001\"");
    expect_refused("web", "web-1000000000x", seq, "\"web-1\"", "\"web-1000000000x\"");
    expect_refused("web", "web-1000000000a", seq, "\"web-1\"", "\"web-1000000000a\"");
    expect_refused("web", "web-10000000000",
                   "{\"id\":\"web-1\",\"address\":\"10.6.6.6\",\"serviceType\":\"DYNAMIC\"}",
                   "\"web-1\"", "\"web-10000000000\"");
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("web", "web-10000000042", seq, strlen(seq), &i, NULL), 0);
    CU_ASSERT_STRING_EQUAL(zkd_instance_id(i), "web-1");
    zkd_instance_unref(i);
    /* Not strings, or a writer's text with a newline: refused, one line. */
    expect_refused("web", "a", "{\"id\":7,\"address\":\"h\"}", "id", "string");
    expect_refused("web", "a", "{\"name\":[],\"address\":\"h\"}", "name", "string");
    expect_refused("web", "a", "{\"id\":\"a\\nb\",\"address\":\"h\"}", "\"a\\nb\"", "\"a\"");
    /* Absent or null: the path says which. */
    const char *bare = "{\"name\":null,\"id\":null,\"address\":\"h\"}";
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("web", "w 1", bare, strlen(bare), &i, NULL), 0);
    CU_ASSERT_STRING_EQUAL(zkd_instance_service(i), "web");
    CU_ASSERT_STRING_EQUAL(zkd_instance_id(i), "w 1");
    zkd_instance_unref(i);
    /* Foreign ids Curator allows are fine where the znode carries them. */
    const char *foreign = "{\"name\":\"web\",\"id\":\"\u00fc-id\",\"address\":\"h\"}";
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("web", "\xc3\xbc-id", foreign, strlen(foreign), &i, NULL), 0);
    zkd_instance_unref(i);
}

/* Curator reads "enabled": null into a primitive boolean: false. */
static void test_enabled_null(void)
{
    const char *recs[] = {"{\"id\":\"a\",\"address\":\"h\",\"enabled\":null}",
                          "{\"id\":\"a\",\"address\":\"h\",\"enabled\":false}",
                          "{\"id\":\"a\",\"address\":\"h\",\"enabled\":true}",
                          "{\"id\":\"a\",\"address\":\"h\"}"};
    int want[] = {0, 0, 1, 1};
    for (size_t k = 0; k < 4; k++) {
        zkd_instance *i = NULL;
        CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("s", "a", recs[k], strlen(recs[k]), &i, NULL), 0);
        CU_ASSERT_EQUAL(zkd_instance_enabled(i), want[k]);
        zkd_instance_unref(i);
    }
}

/* Numbers are written in their shortest exact form: 0.1 stays 0.1 (jansson
 * alone writes 0.10000000000000001, which Curator reads as another
 * BigDecimal). */
static void test_numbers_shortest(void)
{
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "fid2";
    spec.id = "x";
    spec.address = "10.0.0.1";
    spec.port = 7100;
    spec.payload = "{\"dbl\":0.1,\"big\":1e300,\"third\":0.3333333333333333,\"n\":[2.5,-0.0001]}";
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd__record_from_spec(&spec, NULL, &i, NULL), 0);
    const char *want = "{\"dbl\":0.1,\"big\":1e+300,\"third\":0.3333333333333333,\"n\":[2.5,-0.0001]}";
    CU_ASSERT_STRING_EQUAL(zkd_instance_payload(i), want);
    char *json = zkd_instance_to_json(i);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, want));
    CU_ASSERT_PTR_NULL(strstr(json, "0000000"));
    zkd_free(json);
    /* A record read from the tree and written back (a drain) too. */
    const char *rec = "{\"name\":\"fid2\",\"id\":\"x\",\"address\":\"h\",\"payload\":{\"dbl\":0.1},"
                      "\"uriSpec\":{\"w\":0.7}}";
    zkd_instance *r = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("fid2", "x", rec, strlen(rec), &r, NULL), 0);
    zkd_instance *drained = zkd__record_with_enabled(r, 0);
    json = zkd_instance_to_json(drained);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"payload\":{\"dbl\":0.1}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"uriSpec\":{\"w\":0.7}"));
    zkd_free(json);
    zkd_instance_unref(drained);
    zkd_instance_unref(r);
    zkd_instance_unref(i);
}

static void expect_endpoint(const char *rec, int ssl, const char *want)
{
    zkd_instance *i = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_instance_parse("s", "a", rec, strlen(rec), &i, NULL), 0);
    char buf[128];
    zkd_instance_endpoint(i, ssl, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, want);
    zkd_instance_unref(i);
}

static void test_endpoint(void)
{
    const char *scheme = ",\"uriSpec\":{\"parts\":[{\"value\":\"scheme\",\"variable\":true},"
                         "{\"value\":\"://\",\"variable\":false}]}}";
    char rec[512];
    snprintf(rec, sizeof rec, "{\"id\":\"a\",\"address\":\"10.1.0.3\",\"port\":null,\"sslPort\":8443%s", scheme);
    expect_endpoint(rec, 0, "https://10.1.0.3:8443");
    expect_endpoint("{\"id\":\"a\",\"address\":\"10.1.0.3\",\"sslPort\":8443}", 0, "10.1.0.3:8443");
    expect_endpoint("{\"id\":\"a\",\"address\":\"h\",\"port\":80,\"sslPort\":443}", 0, "h:80");
    expect_endpoint("{\"id\":\"a\",\"address\":\"h\",\"port\":80,\"sslPort\":443}", 1, "h:443");
    expect_endpoint("{\"id\":\"a\",\"address\":\"h\",\"port\":80}", 1, "h:80");
    expect_endpoint("{\"id\":\"a\",\"address\":\"h\"}", 0, "h");
    expect_endpoint("{\"id\":\"a\",\"address\":\"::1\",\"port\":80}", 0, "[::1]:80");
}

/* What register refuses: payloads that are not objects, extras of the
 * wrong type, records over the size readers accept. */
static void test_spec_payload_checks(void)
{
    zkd_instance_spec spec;
    zkd_instance_spec_init(&spec);
    spec.service = "svc";
    spec.address = "10.1.1.1";
    spec.port = 80;
    zkd_instance *i = NULL;
    zkd_error err;
    const char *bad[] = {"[1]", "3", "\"s\"", "{\"weight\":\"heavy\"}", "{\"weight\":-1}",
                         "{\"weight\":1.5}", "{\"zone\":1}", "{\"version\":[]}",
                         "{\"metadata\":[]}", "{\"metadata\":{\"a\":1}}", "{\"a\":1,\"a\":2}"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        spec.payload = bad[k];
        CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_EINVAL);
    }
    spec.payload = "{\"weight\":7,\"zone\":\"z\",\"metadata\":{\"a\":\"b\"},\"other\":[1]}";
    CU_ASSERT_EQUAL_FATAL(zkd__record_from_spec(&spec, NULL, &i, &err), 0);
    CU_ASSERT_EQUAL(zkd_instance_weight(i), 7);
    zkd_instance_unref(i);
    spec.payload = NULL;
    spec.weight = 1000001;
    CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_EINVAL);
    spec.weight = 0;
    char *big = malloc(70 * 1024);
    memset(big, 'x', 70 * 1024);
    memcpy(big, "{\"x\":\"", 6);
    strcpy(big + 70 * 1024 - 3, "\"}");
    spec.payload = big;
    CU_ASSERT_EQUAL(zkd__record_from_spec(&spec, NULL, &i, &err), ZKD_ETOOBIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "65536"));
    free(big);
}

static void test_malformed(void)
{
    static const char binary[] = {0x00, (char)0xff, 0x13, 0x37, 0x7f};
    char *big = malloc(900 * 1024 + 1);
    memset(big, ' ', 900 * 1024);
    memcpy(big, "{\"address\":\"1.2.3.4\",\"x\":\"", 26);
    big[900 * 1024 - 2] = '"';
    big[900 * 1024 - 1] = '}';
    struct { const char *data; size_t len; } bad[] = {
        {"", 0},
        {binary, sizeof binary},
        {"[1,2]", 5},
        {"{\"name\":\"svc\",\"id\":\"x\",\"address\":\"1.2", 36},
        {"42", 2},
        {"{\"name\":\"svc\"}", 14},
        {"{\"address\":\"1.2.3.4\",\"port\":\"eighty\"}", 37},
        {"{\"address\":\"1.2.3.4\",\"port\":99999}", 34},
        {"{\"address\":7}", 13},
        {"{\"address\":\"1.2.3.4\",\"enabled\":\"no\"}", 36},
        {"{\"serviceEndpoint\":{\"host\":\"h\"}}", 32},
        {"{\"host\":\"h\",\"port\":-1}", 22},
        {big, 900 * 1024},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        zkd_instance *i = NULL;
        zkd_error err;
        int rc = zkd_instance_parse("svc", "node", bad[k].data, bad[k].len, &i, &err);
        CU_ASSERT_EQUAL(rc, ZKD_EBADDATA);
        CU_ASSERT_PTR_NULL(i);
        CU_ASSERT(strlen(err.message) > 0);
        if (rc != ZKD_EBADDATA)
            fprintf(stderr, "record %zu accepted\n", k);
    }
    free(big);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"a Curator record written by Spring Cloud", test_curator_written_by_spring},
        {"spec to record to JSON and back", test_spec_round_trip},
        {"spec defaults and refusals", test_spec_defaults_and_errors},
        {"ServerSet members", test_serverset},
        {"Nerve records", test_nerve},
        {"malformed records are refused", test_malformed},
        {"znode names next to record ids", test_znode_name},
        {"identity bound to the znode and the service", test_identity_bound_to_znode},
        {"\"enabled\": null is disabled, as Curator reads it", test_enabled_null},
        {"numbers written in their shortest exact form", test_numbers_shortest},
        {"endpoints: sslPort, scheme, IPv6", test_endpoint},
        {"register's payload checks and size limit", test_spec_payload_checks},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"codec", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
