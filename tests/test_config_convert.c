/* SPDX-License-Identifier: Apache-2.0 */
/* Config documents without a server: the hashes against FIPS 180-4 vectors,
 * exact numbers, libconfig <-> JSON (every type, 64-bit ints, errors naming
 * the line), rendering, and the typed getters. */
#include <jansson.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_impl.h"
#include "sha.h"
#include "testutil.h"

static char *data_path(const char *name)
{
    /* __FILE__ is absolute in CMake builds: tests/data/config sits beside it. */
    const char *slash = strrchr(__FILE__, '/');
    size_t dir = slash ? (size_t)(slash - __FILE__) : 1;
    size_t n = dir + strlen(name) + 32;
    char *p = malloc(n);
    snprintf(p, n, "%.*s/data/config/%s", (int)dir, slash ? __FILE__ : ".", name);
    return p;
}

static char *slurp(const char *name, size_t *len)
{
    char *path = data_path(name);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    CU_ASSERT_EQUAL_FATAL(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    free(path);
    *len = (size_t)n;
    return buf;
}

/* ---- hashes -------------------------------------------------------------------- */

static void hex_of(void (*h)(const void *, size_t, unsigned char *), size_t hlen,
                   const char *msg, size_t len, char *out)
{
    unsigned char d[32];
    h(msg, len, d);
    zkd__hex(d, hlen, out);
}

static void test_sha_vectors(void)
{
    char hex[65];
    hex_of(zkd__sha256, 32, "abc", 3, hex);
    CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of(zkd__sha1, 20, "abc", 3, hex);
    CU_ASSERT_STRING_EQUAL(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(zkd__sha256, 32, two, strlen(two), hex);
    CU_ASSERT_STRING_EQUAL(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hex_of(zkd__sha256, 32, "", 0, hex);
    CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    hex_of(zkd__sha256, 32, million, 1000000, hex);
    CU_ASSERT_STRING_EQUAL(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    hex_of(zkd__sha1, 20, million, 1000000, hex);
    CU_ASSERT_STRING_EQUAL(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(million);
    /* every tail length around the padding boundary, against a second route:
     * the one-block and two-block paddings must agree with a direct hash */
    hex_of(zkd__sha256, 32, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55, hex);
    CU_ASSERT_STRING_EQUAL(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    hex_of(zkd__sha256, 32, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56, hex);
    CU_ASSERT_STRING_EQUAL(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

static void test_digest_id(void)
{
    char id[128];
    CU_ASSERT_EQUAL(zkd_config_digest_id("super:admin", id, sizeof id, NULL), 0);
    /* ZooKeeper's documented example (DigestAuthenticationProvider) */
    CU_ASSERT_STRING_EQUAL(id, "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=");
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_config_digest_id("nocolon", id, sizeof id, &err), ZKD_EINVAL);
    CU_ASSERT_EQUAL(zkd_config_digest_id(":pw", id, sizeof id, &err), ZKD_EINVAL);
    CU_ASSERT_PTR_NULL(strstr(err.message, "pw"));
    CU_ASSERT_EQUAL(zkd_config_digest_id("alice:secret", id, 8, &err), ZKD_ETOOBIG);
}

/* ---- exact numbers --------------------------------------------------------------- */

static void test_shortest_doubles(void)
{
    struct { double d; const char *text; } cases[] = {
        {0.1, "0.1"}, {100.0, "100.0"}, {0.0, "0.0"}, {-0.0, "-0.0"}, {1e300, "1e+300"},
        {1.5e-300, "1.5e-300"}, {2.5, "2.5"}, {0.001, "0.001"}, {1e-5, "1e-05"},
        {123456789012345.0, "123456789012345.0"}, {1e16, "1e+16"},
        {0.30000000000000004, "0.30000000000000004"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[40];
        zkd__format_double(cases[i].d, buf, sizeof buf);
        if (strcmp(buf, cases[i].text))
            fprintf(stderr, "%.17g -> %s, wanted %s\n", cases[i].d, buf, cases[i].text);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].text);
        CU_ASSERT_EQUAL(strtod(buf, NULL), cases[i].d);
    }
    /* and inside documents, through jansson */
    json_t *doc = json_pack("{s:f,s:[f,f],s:I}", "r", 0.1, "a", 1.0, -2.75, "i",
                            (json_int_t)9007199254740993LL);
    char *text = zkd__json_dump(doc, JSON_COMPACT);
    CU_ASSERT_STRING_EQUAL(text, "{\"r\":0.1,\"a\":[1.0,-2.75],\"i\":9007199254740993}");
    json_t *back = json_loads(text, 0, NULL);
    CU_ASSERT_TRUE(json_equal(doc, back));
    free(text);
    json_decref(back);
    json_decref(doc);
}

/* ---- libconfig ------------------------------------------------------------------- */

static json_t *parse_file(const char *name, zkd_config_format fmt, int *rc, zkd_error *err)
{
    size_t len;
    char *text = slurp(name, &len);
    char *json = NULL;
    *rc = zkd_config_parse(text, len, fmt, name, &json, err);
    free(text);
    json_t *doc = json ? json_loads(json, 0, NULL) : NULL;
    free(json);
    return doc;
}

static void test_libconfig_every_type(void)
{
    int rc;
    zkd_error err;
    json_t *doc = parse_file("every-type.cfg", ZKD_CONFIG_LIBCONFIG, &rc, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    /* every scalar keeps its type and exact value */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "name")), "orders");
    CU_ASSERT_TRUE(json_is_true(json_object_get(doc, "enabled")));
    CU_ASSERT_TRUE(json_is_false(json_object_get(doc, "debug")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "port")), 8080);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "negative")), -2147483648LL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "hex")), 31);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "big")), 9223372036854775807LL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "small")), -9223372036854775807LL - 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "not_a_double")), 9007199254740993LL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "wide")), 3000000000LL);
    CU_ASSERT_TRUE(json_is_real(json_object_get(doc, "ratio")));
    CU_ASSERT_EQUAL(json_real_value(json_object_get(doc, "ratio")), 0.1);
    CU_ASSERT_EQUAL(json_real_value(json_object_get(doc, "tiny")), 1.5e-300);
    CU_ASSERT_EQUAL(json_real_value(json_object_get(doc, "huge")), 1e300);
    CU_ASSERT_TRUE(json_is_real(json_object_get(doc, "whole")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "text")),
                           "tab\there, quote \" and backslash \\ and UTF-8 \xc3\xa9");
    /* groups become objects, arrays and lists arrays */
    json_t *db = json_object_get(doc, "db");
    CU_ASSERT_TRUE(json_is_object(db));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(db, "pool"), "size")), 20);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(db, "replicas")), 3);
    json_t *ids = json_object_get(doc, "ids");
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(ids, 1)), 5000000000LL);
    json_t *mixed = json_object_get(doc, "mixed");
    CU_ASSERT_EQUAL(json_array_size(mixed), 7);
    CU_ASSERT_TRUE(json_is_object(json_array_get(mixed, 4)));
    CU_ASSERT_TRUE(json_is_array(json_array_get(mixed, 6)));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "empty_list")), 0);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "empty_array")), 0);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "servers")), 2);
    /* key order is the file's */
    const char *first = json_object_iter_key(json_object_iter(doc));
    CU_ASSERT_STRING_EQUAL(first, "name");

    /* back to libconfig: libconfig itself reads it, with the 64-bit types */
    char *json = json_dumps(doc, JSON_COMPACT);
    char *cfgtext = NULL;
    rc = zkd_config_render(json, strlen(json), ZKD_CONFIG_LIBCONFIG, &cfgtext, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    config_t cfg;
    config_init(&cfg);
    int ok = config_read_string(&cfg, cfgtext);
    if (!ok)
        fprintf(stderr, "line %d: %s\n%s\n", config_error_line(&cfg), config_error_text(&cfg),
                cfgtext);
    CU_ASSERT_TRUE_FATAL(ok);
    config_setting_t *big = config_lookup(&cfg, "big");
    CU_ASSERT_EQUAL(config_setting_type(big), CONFIG_TYPE_INT64);
    CU_ASSERT_EQUAL(config_setting_get_int64(big), 9223372036854775807LL);
    CU_ASSERT_EQUAL(config_setting_type(config_lookup(&cfg, "port")), CONFIG_TYPE_INT);
    CU_ASSERT_EQUAL(config_setting_type(config_lookup(&cfg, "ratio")), CONFIG_TYPE_FLOAT);
    CU_ASSERT_EQUAL(config_setting_type(config_lookup(&cfg, "whole")), CONFIG_TYPE_FLOAT);
    CU_ASSERT_EQUAL(config_setting_type(config_lookup(&cfg, "db")), CONFIG_TYPE_GROUP);
    CU_ASSERT_EQUAL(config_setting_type(config_lookup(&cfg, "ports")), CONFIG_TYPE_ARRAY);
    CU_ASSERT_EQUAL(config_setting_type(config_lookup(&cfg, "mixed")), CONFIG_TYPE_LIST);
    CU_ASSERT_EQUAL(config_setting_type(config_lookup(&cfg, "flags")), CONFIG_TYPE_ARRAY);
    config_setting_t *idset = config_lookup(&cfg, "ids");
    CU_ASSERT_EQUAL(config_setting_get_int64_elem(idset, 1), 5000000000LL);
    config_destroy(&cfg);

    /* and the round trip gives the same document, value for value */
    char *again = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_config_parse(cfgtext, strlen(cfgtext), ZKD_CONFIG_LIBCONFIG,
                                           "rendered", &again, &err), 0);
    json_t *doc2 = json_loads(again, 0, NULL);
    CU_ASSERT_TRUE(json_equal(doc, doc2));
    json_decref(doc2);
    free(again);
    free(cfgtext);
    free(json);
    json_decref(doc);
}

static void test_libconfig_errors(void)
{
    int rc;
    zkd_error err;
    json_t *doc = parse_file("bad-syntax.cfg", ZKD_CONFIG_LIBCONFIG, &rc, &err);
    CU_ASSERT_PTR_NULL(doc);
    CU_ASSERT_EQUAL(rc, ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bad-syntax.cfg:4:"));

    doc = parse_file("wraps.cfg", ZKD_CONFIG_LIBCONFIG, &rc, &err);
    CU_ASSERT_PTR_NULL(doc);
    CU_ASSERT_EQUAL(rc, ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "wraps.cfg:3:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "3000000000L"));

    /* the edges of 32 bits, and digits inside strings, comments and names */
    const char *fine = "a = 2147483647; b = -2147483648; c = 0x7FFFFFFF; d = \"99999999999\";\n"
                       "# 99999999999\n/* 99999999999 */ e99999999999 = 1; f = 1.5e300;\n";
    char *json = NULL;
    rc = zkd_config_parse(fine, strlen(fine), ZKD_CONFIG_LIBCONFIG, "fine", &json, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    CU_ASSERT_EQUAL(rc, 0);
    free(json);
    const char *over[] = {"a = 2147483648;", "b = -2147483649;", "c = 0x80000000;"};
    for (size_t i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(zkd_config_parse(over[i], strlen(over[i]), ZKD_CONFIG_LIBCONFIG, "x",
                                         &json, &err), ZKD_EBADDATA);
}

/* Issue 11: what libconfig 1.5 would change silently is refused with the line. */
static void expect_refused(const char *text, const char *want)
{
    char *json = NULL;
    zkd_error err;
    int rc = zkd_config_parse(text, strlen(text), ZKD_CONFIG_LIBCONFIG, "in.cfg", &json, &err);
    CU_ASSERT_EQUAL(rc, ZKD_EBADDATA);
    if (rc == 0)
        fprintf(stderr, "accepted: %s -> %s\n", text, json);
    else if (!strstr(err.message, want))
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.message, want);
    CU_ASSERT_PTR_NOT_NULL(rc ? strstr(err.message, want) : NULL);
    free(json);
}

static void expect_value(const char *text, const char *want_json)
{
    char *json = NULL;
    zkd_error err;
    int rc = zkd_config_parse(text, strlen(text), ZKD_CONFIG_LIBCONFIG, "in.cfg", &json, &err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        fprintf(stderr, "%s: %s\n", text, err.message);
    else
        CU_ASSERT_STRING_EQUAL(json, want_json);
    free(json);
}

static void test_libconfig_silent_changes(void)
{
    expect_refused("a = 1;\nb = 99999999999999999999L;", "in.cfg:2: the integer 99999999999999999999L");
    expect_refused("a = 0x7FFFFFFFFFFFFFFFFFL;", "in.cfg:1:");
    expect_refused("a = 0x8000000000000000L;", "64 bits");
    expect_refused("a = 9223372036854775808L;", "64 bits");
    expect_refused("a = -9223372036854775809L;", "64 bits");
    expect_refused("x = 1;\n\na = 1e999;", "in.cfg:3:");
    expect_refused("a = -1e999;", "in.cfg:1:");
    expect_refused("@include \"/etc/passwd\"\n", "in.cfg:1: @include is not allowed");
    expect_value("a = 9223372036854775807L; b = -9223372036854775808L; c = 0x7FFFFFFFFFFFFFFFL;",
                 "{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":9223372036854775807}");
    expect_value("a = 000000000000000000000001L; s = \"@include\";", "{\"a\":1,\"s\":\"@include\"}");
}

/* @include only when the caller allows it, relative to the source's directory. */
static void test_libconfig_include(void)
{
    char dir[] = "/tmp/zkd-include-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char inc[64], src[64];
    snprintf(inc, sizeof inc, "%s/part.cfg", dir);
    snprintf(src, sizeof src, "%s/main.cfg", dir);
    FILE *f = fopen(inc, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("b = 2;\n", f);
    fclose(f);
    const char *text = "a = 1;\n@include \"part.cfg\"\n";
    char *json = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd_config_parse(text, strlen(text), ZKD_CONFIG_LIBCONFIG, src, &json, &err),
                    ZKD_EBADDATA);
    int rc = zkd_config_parse(text, strlen(text),
                              (zkd_config_format)(ZKD_CONFIG_LIBCONFIG | ZKD_CONFIG_ALLOW_INCLUDE),
                              src, &json, &err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc == 0)
        CU_ASSERT_STRING_EQUAL(json, "{\"a\":1,\"b\":2}");
    free(json);
    remove(inc);
    rmdir(dir);
}

/* Keys libconfig reads as booleans cannot be names: refused, named.
 * Reported from fuzzing in issue 11; fuzz_config's seed keys.json hits it. */
static void test_render_keyword_keys(void)
{
    const char *docs[] = {"{\"true\":1}", "{\"g\":{\"FALSE\":1}}", "{\"TrUe\":[1]}"};
    const char *paths[] = {"true", "g.FALSE", "TrUe"};
    for (size_t i = 0; i < 3; i++) {
        char *out = NULL;
        zkd_error err;
        CU_ASSERT_EQUAL(zkd_config_render(docs[i], strlen(docs[i]), ZKD_CONFIG_LIBCONFIG, &out,
                                          &err), ZKD_EBADDATA);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, paths[i]));
        free(out);
    }
    const char *fine = "{\"truex\":true,\"xfalse\":false}";
    char *out = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_config_render(fine, strlen(fine), ZKD_CONFIG_LIBCONFIG, &out, NULL), 0);
    char *back = NULL;
    CU_ASSERT_EQUAL(zkd_config_parse(out, strlen(out), ZKD_CONFIG_LIBCONFIG, "r", &back, NULL), 0);
    CU_ASSERT_STRING_EQUAL(back ? back : "", fine);
    free(back);
    free(out);
}

static void test_json_errors(void)
{
    int rc;
    zkd_error err;
    CU_ASSERT_PTR_NULL(parse_file("malformed.json", ZKD_CONFIG_JSON, &rc, &err));
    CU_ASSERT_EQUAL(rc, ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "malformed.json:1:"));
    CU_ASSERT_PTR_NULL(parse_file("not-object.json", ZKD_CONFIG_JSON, &rc, &err));
    CU_ASSERT_EQUAL(rc, ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "must be a JSON object"));
    char *json = NULL;
    CU_ASSERT_EQUAL(zkd_config_parse("{\"a\":1,\"a\":2}", 13, ZKD_CONFIG_JSON, "dup", &json, &err),
                    ZKD_EBADDATA);
    CU_ASSERT_EQUAL(zkd_config_parse("{\"a\":99999999999999999999}", 26, ZKD_CONFIG_JSON, "big",
                                     &json, &err), ZKD_EBADDATA);
    json_t *doc = parse_file("sample.json", ZKD_CONFIG_JSON, &rc, &err);
    CU_ASSERT_EQUAL(rc, 0);
    json_decref(doc);
}

static void test_render(void)
{
    zkd_error err;
    char *out = NULL;
    const char *doc = "{\"a\":{\"b\":[1,2.5,\"x\"]},\"n\":null}";
    CU_ASSERT_EQUAL(zkd_config_render(doc, strlen(doc), ZKD_CONFIG_LIBCONFIG, &out, &err),
                    ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "n is null"));
    const char *badkey = "{\"db\":{\"with space\":1}}";
    CU_ASSERT_EQUAL(zkd_config_render(badkey, strlen(badkey), ZKD_CONFIG_LIBCONFIG, &out, &err),
                    ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "db.with space"));
    const char *ok = "{\"r\":0.10000000000000001,\"list\":[1,\"a\"],\"s\":\"q\\\"\"}";
    CU_ASSERT_EQUAL_FATAL(zkd_config_render(ok, strlen(ok), ZKD_CONFIG_JSON_COMPACT, &out, &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "{\"r\":0.1,\"list\":[1,\"a\"],\"s\":\"q\\\"\"}");
    free(out);
    CU_ASSERT_EQUAL_FATAL(zkd_config_render(ok, strlen(ok), ZKD_CONFIG_LIBCONFIG, &out, &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "r = 0.1;\nlist = (\n  1,\n  \"a\"\n);\ns = \"q\\\"\";\n");
    free(out);
    CU_ASSERT_EQUAL_FATAL(zkd_config_render("[1,2]", 5, ZKD_CONFIG_JSON, &out, &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "[\n  1,\n  2\n]\n");
    free(out);
    CU_ASSERT_EQUAL(zkd_config_render("[1,2]", 5, ZKD_CONFIG_LIBCONFIG, &out, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(zkd_config_render("{", 1, ZKD_CONFIG_JSON, &out, &err), ZKD_EBADDATA);
}

/* ---- typed getters ---------------------------------------------------------------- */

static zkd_config_version *make_version(const char *doc_json)
{
    json_t *doc = json_loads(doc_json, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    size_t len;
    char *env = zkd__config_envelope(doc, 7, 1700000000000LL, "alice", "msg", &len);
    json_decref(doc);
    zkd_config_version *v = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL_FATAL(zkd__config_version_parse("orders", env, len, "test", &v, &err), 0);
    free(env);
    return v;
}

static void test_getters(void)
{
    zkd_config_version *v = make_version(
        "{\"db\":{\"pool\":{\"size\":20,\"timeout\":2.5},\"host\":\"db1\",\"tls\":true},"
        "\"big\":9223372036854775807,\"servers\":[{\"host\":\"a\"},{\"host\":\"b\"}],"
        "\"huge\":9007199254740993,\"nothing\":null}");
    zkd_error err;
    int64_t i = 0;
    double d = 0;
    int b = 0;
    const char *s = NULL;
    char *obj = NULL;
    CU_ASSERT_EQUAL(zkd_config_version_number(v), 7);
    CU_ASSERT_STRING_EQUAL(zkd_config_version_author(v), "alice");
    CU_ASSERT_EQUAL(strncmp(zkd_config_version_checksum(v), "sha256:", 7), 0);
    CU_ASSERT_EQUAL(zkd_config_version_size(v), strlen(zkd_config_version_json(v)));

    CU_ASSERT_EQUAL(zkd_config_int(v, "db.pool.size", &i, &err), 0);
    CU_ASSERT_EQUAL(i, 20);
    CU_ASSERT_EQUAL(zkd_config_int(v, "big", &i, &err), 0);
    CU_ASSERT_EQUAL(i, 9223372036854775807LL);
    CU_ASSERT_EQUAL(zkd_config_double(v, "db.pool.timeout", &d, &err), 0);
    CU_ASSERT_EQUAL(d, 2.5);
    CU_ASSERT_EQUAL(zkd_config_double(v, "db.pool.size", &d, &err), 0); /* exact int */
    CU_ASSERT_EQUAL(d, 20.0);
    d = -1;
    CU_ASSERT_EQUAL(zkd_config_double(v, "huge", &d, &err), ZKD_EBADDATA); /* would round */
    CU_ASSERT_EQUAL(d, -1);
    CU_ASSERT_EQUAL(zkd_config_bool(v, "db.tls", &b, &err), 0);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(zkd_config_string(v, "db.host", &s, &err), 0);
    CU_ASSERT_STRING_EQUAL(s, "db1");
    CU_ASSERT_EQUAL(zkd_config_string(v, "servers.1.host", &s, &err), 0);
    CU_ASSERT_STRING_EQUAL(s, "b");
    CU_ASSERT_EQUAL(zkd_config_object(v, "db.pool", &obj, &err), 0);
    CU_ASSERT_STRING_EQUAL(obj, "{\"size\":20,\"timeout\":2.5}");
    free(obj);

    /* mismatches and missing keys are reported, never guessed */
    i = 99;
    CU_ASSERT_EQUAL(zkd_config_int(v, "db.pool.timeout", &i, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(i, 99);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "db.pool.timeout is a double, not an integer"));
    CU_ASSERT_EQUAL(zkd_config_string(v, "db.pool.size", &s, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(zkd_config_bool(v, "db.host", &b, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(zkd_config_object(v, "servers", &obj, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(zkd_config_int(v, "nothing", &i, &err), ZKD_EBADDATA);
    CU_ASSERT_EQUAL(zkd_config_int(v, "db.pool.max", &i, &err), ZKD_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "db.pool.max"));
    CU_ASSERT_EQUAL(zkd_config_int(v, "db.pool.size.x", &i, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_config_string(v, "servers.2.host", &s, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_config_int(v, "db..size", &i, &err), ZKD_ENOTFOUND);
    CU_ASSERT_EQUAL(zkd_config_type_of(v, "db"), ZKD_CONFIG_OBJECT);
    CU_ASSERT_EQUAL(zkd_config_type_of(v, "servers"), ZKD_CONFIG_ARRAY);
    CU_ASSERT_EQUAL(zkd_config_type_of(v, "nothing"), ZKD_CONFIG_NULL);
    CU_ASSERT_EQUAL(zkd_config_type_of(v, "nope"), ZKD_CONFIG_MISSING);
    zkd_config_version_unref(v);
}

/* A tampered envelope is refused: the checksum covers the document. */
static void test_checksum_guards(void)
{
    json_t *doc = json_loads("{\"a\":1,\"b\":{\"c\":[1,2]}}", 0, NULL);
    json_t *reordered = json_loads("{\"b\":{\"c\":[1,2]},\"a\":1}", 0, NULL);
    char s1[80], s2[80];
    CU_ASSERT_EQUAL(zkd__config_checksum(doc, s1, sizeof s1), 0);
    CU_ASSERT_EQUAL(zkd__config_checksum(reordered, s2, sizeof s2), 0);
    CU_ASSERT_STRING_EQUAL(s1, s2);
    size_t len;
    char *env = zkd__config_envelope(doc, 1, 1, "a", "", &len);
    char *p = strstr(env, "\"a\":1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p[4] = '2';
    zkd_config_version *v = NULL;
    zkd_error err;
    CU_ASSERT_EQUAL(zkd__config_version_parse("x", env, len, "node", &v, &err), ZKD_EBADDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "checksum"));
    free(env);
    json_decref(doc);
    json_decref(reordered);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"SHA-1 and SHA-256 test vectors", test_sha_vectors},
        {"digest ACL ids", test_digest_id},
        {"reals in their shortest exact form", test_shortest_doubles},
        {"libconfig round trip of every type, 64-bit ints exact", test_libconfig_every_type},
        {"libconfig errors name the line", test_libconfig_errors},
        {"libconfig: nothing changes silently (64 bits, 1e999, @include)",
         test_libconfig_silent_changes},
        {"libconfig: @include only when allowed", test_libconfig_include},
        {"libconfig: true/false keys refused", test_render_keyword_keys},
        {"JSON errors; the top level must be an object", test_json_errors},
        {"rendering JSON and libconfig", test_render},
        {"typed getters by dotted path", test_getters},
        {"checksums: canonical, and checked on read", test_checksum_guards},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {{"config_convert", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    return tu_run(suites);
}
