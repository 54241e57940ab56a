/* SPDX-License-Identifier: Apache-2.0 */
/* The Mustache engine (tools/common/mustache.c) against the cases of the
 * specification's required modules (github.com/mustache/spec, specs/
 * interpolation, sections, inverted, comments, partials, delimiters), one
 * CUnit test per case, plus what zkdisc adds: escape modes, JSON for
 * objects, falsy empty strings, errors, partials from a directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mustache.h"
#include "testutil.h"

static char *from_object(const char *name, void *arg)
{
    json_t *s = json_object_get(arg, name);
    return json_is_string(s) ? strdup(json_string_value(s)) : NULL;
}

/* Renders `tmpl` over the JSON `data` with partials from the JSON object
 * `partials` (or none) and checks the result. */
static void check(const char *what, const char *data, const char *tmpl, const char *partials,
                  zkd_mustache_escape esc, const char *want)
{
    json_error_t jerr;
    json_t *d = json_loads(data, JSON_DECODE_ANY, &jerr);
    json_t *p = partials ? json_loads(partials, 0, &jerr) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    zkd_mustache *t = NULL;
    char err[256] = "", *out = NULL;
    size_t n = 0;
    int rc = zkd_mustache_compile(tmpl, strlen(tmpl), &t, err, sizeof err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc == 0) {
        rc = zkd_mustache_render(t, d, esc, p ? from_object : NULL, p, &out, &n, err, sizeof err);
        CU_ASSERT_EQUAL(rc, 0);
    }
    if (rc == 0) {
        CU_ASSERT_EQUAL(n, strlen(want));
        CU_ASSERT_STRING_EQUAL(out, want);
        if (strcmp(out, want) != 0)
            fprintf(stderr, "\n%s: got [%s] want [%s]\n", what, out, want);
    } else {
        fprintf(stderr, "\n%s: %s\n", what, err);
    }
    free(out);
    zkd_mustache_free(t);
    json_decref(d);
    json_decref(p);
}

/* X(id, data, template, partials, expected) per spec case. */
#define INTERPOLATION(X)                                                                                  \
    X(no_interpolation, "{}", "Hello from {Mustache}!\n", NULL, "Hello from {Mustache}!\n")                \
    X(basic_interpolation, "{\"subject\":\"world\"}", "Hello, {{subject}}!\n", NULL, "Hello, world!\n")    \
    X(no_reinterpolation, "{\"template\":\"{{planet}}\",\"planet\":\"Earth\"}", "{{template}}: {{planet}}", \
      NULL, "{{planet}}: Earth")                                                                          \
    X(html_escaping, "{\"forbidden\":\"& \\\" < >\"}", "escaped: {{forbidden}}\n", NULL,                  \
      "escaped: &amp; &quot; &lt; &gt;\n")                                                                \
    X(triple_mustache, "{\"forbidden\":\"& \\\" < >\"}", "raw: {{{forbidden}}}\n", NULL, "raw: & \" < >\n") \
    X(ampersand, "{\"forbidden\":\"& \\\" < >\"}", "raw: {{&forbidden}}\n", NULL, "raw: & \" < >\n")      \
    X(basic_integer, "{\"mph\":85}", "\"{{mph}} miles an hour!\"", NULL, "\"85 miles an hour!\"")          \
    X(triple_integer, "{\"mph\":85}", "\"{{{mph}}} miles an hour!\"", NULL, "\"85 miles an hour!\"")       \
    X(ampersand_integer, "{\"mph\":85}", "\"{{&mph}} miles an hour!\"", NULL, "\"85 miles an hour!\"")     \
    X(basic_decimal, "{\"power\":1.21}", "\"{{power}} jiggawatts!\"", NULL, "\"1.21 jiggawatts!\"")        \
    X(triple_decimal, "{\"power\":1.21}", "\"{{{power}}} jiggawatts!\"", NULL, "\"1.21 jiggawatts!\"")     \
    X(ampersand_decimal, "{\"power\":1.21}", "\"{{&power}} jiggawatts!\"", NULL, "\"1.21 jiggawatts!\"")   \
    X(basic_null, "{\"cannot\":null}", "I ({{cannot}}) be seen!", NULL, "I () be seen!")                  \
    X(triple_null, "{\"cannot\":null}", "I ({{{cannot}}}) be seen!", NULL, "I () be seen!")               \
    X(ampersand_null, "{\"cannot\":null}", "I ({{&cannot}}) be seen!", NULL, "I () be seen!")             \
    X(basic_context_miss, "{}", "I ({{cannot}}) be seen!", NULL, "I () be seen!")                         \
    X(triple_context_miss, "{}", "I ({{{cannot}}}) be seen!", NULL, "I () be seen!")                      \
    X(ampersand_context_miss, "{}", "I ({{&cannot}}) be seen!", NULL, "I () be seen!")                    \
    X(dotted_basic, "{\"person\":{\"name\":\"Joe\"}}", "\"{{person.name}}\" == \"{{#person}}{{name}}{{/person}}\"", \
      NULL, "\"Joe\" == \"Joe\"")                                                                         \
    X(dotted_triple, "{\"person\":{\"name\":\"Joe\"}}",                                                  \
      "\"{{{person.name}}}\" == \"{{#person}}{{{name}}}{{/person}}\"", NULL, "\"Joe\" == \"Joe\"")          \
    X(dotted_ampersand, "{\"person\":{\"name\":\"Joe\"}}",                                               \
      "\"{{&person.name}}\" == \"{{#person}}{{&name}}{{/person}}\"", NULL, "\"Joe\" == \"Joe\"")            \
    X(dotted_arbitrary_depth, "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"name\":\"Phil\"}}}}}}",                  \
      "\"{{a.b.c.d.e.name}}\" == \"Phil\"", NULL, "\"Phil\" == \"Phil\"")                                  \
    X(dotted_broken_chains, "{\"a\":{}}", "\"{{a.b.c}}\" == \"\"", NULL, "\"\" == \"\"")                    \
    X(dotted_broken_chain_resolution, "{\"a\":{\"b\":{}},\"c\":{\"name\":\"Jim\"}}",                       \
      "\"{{a.b.c.name}}\" == \"\"", NULL, "\"\" == \"\"")                                                  \
    X(dotted_initial_resolution,                                                                          \
      "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"name\":\"Phil\"}}}}},\"b\":{\"c\":{\"d\":{\"e\":{\"name\":\"Wrong\"}}}}}", \
      "\"{{#a}}{{b.c.d.e.name}}{{/a}}\" == \"Phil\"", NULL, "\"Phil\" == \"Phil\"")                        \
    X(dotted_context_precedence, "{\"a\":{\"b\":{}},\"b\":{\"c\":\"ERROR\"}}", "{{#a}}{{b.c}}{{/a}}", NULL, "") \
    X(dotted_never_single_keys, "{\"a.b\":\"c\"}", "{{a.b}}", NULL, "")                                   \
    X(dotted_no_masking, "{\"a.b\":\"c\",\"a\":{\"b\":\"d\"}}", "{{a.b}}", NULL, "d")                      \
    X(implicit_basic, "\"world\"", "Hello, {{.}}!\n", NULL, "Hello, world!\n")                            \
    X(implicit_html_escaping, "\"& \\\" < >\"", "escaped: {{.}}\n", NULL, "escaped: &amp; &quot; &lt; &gt;\n") \
    X(implicit_triple, "\"& \\\" < >\"", "raw: {{{.}}}\n", NULL, "raw: & \" < >\n")                       \
    X(implicit_ampersand, "\"& \\\" < >\"", "raw: {{&.}}\n", NULL, "raw: & \" < >\n")                     \
    X(implicit_integer, "85", "\"{{.}} miles an hour!\"", NULL, "\"85 miles an hour!\"")                  \
    X(surrounding_whitespace, "{\"string\":\"---\"}", "| {{string}} |", NULL, "| --- |")                  \
    X(triple_surrounding_whitespace, "{\"string\":\"---\"}", "| {{{string}}} |", NULL, "| --- |")         \
    X(ampersand_surrounding_whitespace, "{\"string\":\"---\"}", "| {{&string}} |", NULL, "| --- |")       \
    X(interpolation_standalone, "{\"string\":\"---\"}", "  {{string}}\n", NULL, "  ---\n")                \
    X(triple_standalone, "{\"string\":\"---\"}", "  {{{string}}}\n", NULL, "  ---\n")                     \
    X(ampersand_standalone, "{\"string\":\"---\"}", "  {{&string}}\n", NULL, "  ---\n")                   \
    X(interpolation_padding, "{\"string\":\"---\"}", "|{{ string }}|", NULL, "|---|")                     \
    X(triple_padding, "{\"string\":\"---\"}", "|{{{ string }}}|", NULL, "|---|")                          \
    X(ampersand_padding, "{\"string\":\"---\"}", "|{{& string }}|", NULL, "|---|")

#define DEEP_TEMPLATE                                                                                     \
    "{{#a}}\n{{one}}\n{{#b}}\n{{one}}{{two}}{{one}}\n{{#c}}\n{{one}}{{two}}{{three}}{{two}}{{one}}\n"      \
    "{{#d}}\n{{one}}{{two}}{{three}}{{four}}{{three}}{{two}}{{one}}\n{{#five}}\n"                         \
    "{{one}}{{two}}{{three}}{{four}}{{five}}{{four}}{{three}}{{two}}{{one}}\n"                            \
    "{{one}}{{two}}{{three}}{{four}}{{.}}6{{.}}{{four}}{{three}}{{two}}{{one}}\n"                         \
    "{{one}}{{two}}{{three}}{{four}}{{five}}{{four}}{{three}}{{two}}{{one}}\n{{/five}}\n"                 \
    "{{one}}{{two}}{{three}}{{four}}{{three}}{{two}}{{one}}\n{{/d}}\n"                                    \
    "{{one}}{{two}}{{three}}{{two}}{{one}}\n{{/c}}\n{{one}}{{two}}{{one}}\n{{/b}}\n{{one}}\n{{/a}}\n"
#define DEEP_WANT "1\n121\n12321\n1234321\n123454321\n12345654321\n123454321\n1234321\n12321\n121\n1\n"

#define SECTIONS(X)                                                                                       \
    X(sec_truthy, "{\"boolean\":true}", "\"{{#boolean}}rendered{{/boolean}}\"", NULL, "\"rendered\"")     \
    X(sec_falsey, "{\"boolean\":false}", "\"{{#boolean}}not rendered{{/boolean}}\"", NULL, "\"\"")        \
    X(sec_null_is_falsey, "{\"null\":null}", "\"{{#null}}not rendered{{/null}}\"", NULL, "\"\"")          \
    X(sec_context, "{\"context\":{\"name\":\"Joe\"}}", "\"{{#context}}Hi {{name}}.{{/context}}\"", NULL,  \
      "\"Hi Joe.\"")                                                                                      \
    X(sec_parent_contexts, "{\"a\":\"foo\",\"b\":\"wrong\",\"sec\":{\"b\":\"bar\"},\"c\":{\"d\":\"baz\"}}", \
      "\"{{#sec}}{{a}}, {{b}}, {{c.d}}{{/sec}}\"", NULL, "\"foo, bar, baz\"")                             \
    X(sec_variable_test, "{\"foo\":\"bar\"}", "\"{{#foo}}{{.}} is {{foo}}{{/foo}}\"", NULL, "\"bar is bar\"") \
    X(sec_list_contexts,                                                                                  \
      "{\"tops\":[{\"tname\":{\"upper\":\"A\",\"lower\":\"a\"},\"middles\":[{\"mname\":\"1\","            \
      "\"bottoms\":[{\"bname\":\"x\"},{\"bname\":\"y\"}]}]}]}",                                           \
      "{{#tops}}{{#middles}}{{tname.lower}}{{mname}}.{{#bottoms}}{{tname.upper}}{{mname}}{{bname}}."      \
      "{{/bottoms}}{{/middles}}{{/tops}}",                                                                \
      NULL, "a1.A1x.A1y.")                                                                                \
    X(sec_deeply_nested, "{\"a\":{\"one\":1},\"b\":{\"two\":2},\"c\":{\"three\":3,\"d\":{\"four\":4,\"five\":5}}}", \
      DEEP_TEMPLATE, NULL, DEEP_WANT)                                                                     \
    X(sec_list, "{\"list\":[{\"item\":1},{\"item\":2},{\"item\":3}]}", "\"{{#list}}{{item}}{{/list}}\"", NULL, \
      "\"123\"")                                                                                          \
    X(sec_empty_list, "{\"list\":[]}", "\"{{#list}}Yay lists!{{/list}}\"", NULL, "\"\"")                  \
    X(sec_doubled, "{\"bool\":true,\"two\":\"second\"}",                                                 \
      "{{#bool}}\n* first\n{{/bool}}\n* {{two}}\n{{#bool}}\n* third\n{{/bool}}\n", NULL,                   \
      "* first\n* second\n* third\n")                                                                     \
    X(sec_nested_truthy, "{\"bool\":true}", "| A {{#bool}}B {{#bool}}C{{/bool}} D{{/bool}} E |", NULL,    \
      "| A B C D E |")                                                                                    \
    X(sec_nested_falsey, "{\"bool\":false}", "| A {{#bool}}B {{#bool}}C{{/bool}} D{{/bool}} E |", NULL,   \
      "| A  E |")                                                                                         \
    X(sec_context_misses, "{}", "[{{#missing}}Found key 'missing'!{{/missing}}]", NULL, "[]")             \
    X(sec_implicit_string, "{\"list\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "\"{{#list}}({{.}}){{/list}}\"", \
      NULL, "\"(a)(b)(c)(d)(e)\"")                                                                        \
    X(sec_implicit_integer, "{\"list\":[1,2,3,4,5]}", "\"{{#list}}({{.}}){{/list}}\"", NULL,               \
      "\"(1)(2)(3)(4)(5)\"")                                                                              \
    X(sec_implicit_decimal, "{\"list\":[1.1,2.2,3.3,4.4,5.5]}", "\"{{#list}}({{.}}){{/list}}\"", NULL,     \
      "\"(1.1)(2.2)(3.3)(4.4)(5.5)\"")                                                                    \
    X(sec_implicit_array, "{\"list\":[[1,2,3],[\"a\",\"b\",\"c\"]]}",                                     \
      "\"{{#list}}({{#.}}{{.}}{{/.}}){{/list}}\"", NULL, "\"(123)(abc)\"")                                \
    X(sec_implicit_html_escaping, "{\"list\":[\"&\",\"\\\"\",\"<\",\">\"]}", "\"{{#list}}({{.}}){{/list}}\"", \
      NULL, "\"(&amp;)(&quot;)(&lt;)(&gt;)\"")                                                            \
    X(sec_implicit_triple, "{\"list\":[\"&\",\"\\\"\",\"<\",\">\"]}", "\"{{#list}}({{{.}}}){{/list}}\"",  \
      NULL, "\"(&)(\")(<)(>)\"")                                                                          \
    X(sec_implicit_ampersand, "{\"list\":[\"&\",\"\\\"\",\"<\",\">\"]}", "\"{{#list}}({{&.}}){{/list}}\"", \
      NULL, "\"(&)(\")(<)(>)\"")                                                                          \
    X(sec_implicit_root, "[{\"value\":\"a\"},{\"value\":\"b\"}]", "\"{{#.}}({{value}}){{/.}}\"", NULL,     \
      "\"(a)(b)\"")                                                                                       \
    X(sec_dotted_truthy, "{\"a\":{\"b\":{\"c\":true}}}", "\"{{#a.b.c}}Here{{/a.b.c}}\" == \"Here\"", NULL, \
      "\"Here\" == \"Here\"")                                                                             \
    X(sec_dotted_falsey, "{\"a\":{\"b\":{\"c\":false}}}", "\"{{#a.b.c}}Here{{/a.b.c}}\" == \"\"", NULL,   \
      "\"\" == \"\"")                                                                                     \
    X(sec_dotted_broken_chains, "{\"a\":{}}", "\"{{#a.b.c}}Here{{/a.b.c}}\" == \"\"", NULL, "\"\" == \"\"") \
    X(sec_surrounding_whitespace, "{\"boolean\":true}", " | {{#boolean}}\t|\t{{/boolean}} | \n", NULL,    \
      " | \t|\t | \n")                                                                                    \
    X(sec_internal_whitespace, "{\"boolean\":true}",                                                     \
      " | {{#boolean}} {{! Important Whitespace }}\n {{/boolean}} | \n", NULL, " |  \n  | \n")             \
    X(sec_indented_inline, "{\"boolean\":true}", " {{#boolean}}YES{{/boolean}}\n {{#boolean}}GOOD{{/boolean}}\n", \
      NULL, " YES\n GOOD\n")                                                                              \
    X(sec_standalone_lines, "{\"boolean\":true}", "| This Is\n{{#boolean}}\n|\n{{/boolean}}\n| A Line\n",  \
      NULL, "| This Is\n|\n| A Line\n")                                                                   \
    X(sec_indented_standalone_lines, "{\"boolean\":true}",                                               \
      "| This Is\n  {{#boolean}}\n|\n  {{/boolean}}\n| A Line\n", NULL, "| This Is\n|\n| A Line\n")        \
    X(sec_standalone_line_endings, "{\"boolean\":true}", "|\r\n{{#boolean}}\r\n{{/boolean}}\r\n|", NULL,  \
      "|\r\n|")                                                                                           \
    X(sec_standalone_without_previous_line, "{\"boolean\":true}", "  {{#boolean}}\n#{{/boolean}}\n/",     \
      NULL, "#\n/")                                                                                       \
    X(sec_standalone_without_newline, "{\"boolean\":true}", "#{{#boolean}}\n/\n  {{/boolean}}", NULL,     \
      "#\n/\n")                                                                                           \
    X(sec_padding, "{\"boolean\":true}", "|{{# boolean }}={{/ boolean }}|", NULL, "|=|")

#define INVERTED(X)                                                                                       \
    X(inv_falsey, "{\"boolean\":false}", "\"{{^boolean}}rendered{{/boolean}}\"", NULL, "\"rendered\"")    \
    X(inv_truthy, "{\"boolean\":true}", "\"{{^boolean}}not rendered{{/boolean}}\"", NULL, "\"\"")         \
    X(inv_null_is_falsey, "{\"null\":null}", "\"{{^null}}rendered{{/null}}\"", NULL, "\"rendered\"")      \
    X(inv_context, "{\"context\":{\"name\":\"Joe\"}}", "\"{{^context}}Hi {{name}}.{{/context}}\"", NULL,  \
      "\"\"")                                                                                             \
    X(inv_list, "{\"list\":[{\"n\":1},{\"n\":2},{\"n\":3}]}", "\"{{^list}}{{n}}{{/list}}\"", NULL, "\"\"") \
    X(inv_empty_list, "{\"list\":[]}", "\"{{^list}}Yay lists!{{/list}}\"", NULL, "\"Yay lists!\"")        \
    X(inv_doubled, "{\"bool\":false,\"two\":\"second\"}",                                                \
      "{{^bool}}\n* first\n{{/bool}}\n* {{two}}\n{{^bool}}\n* third\n{{/bool}}\n", NULL,                   \
      "* first\n* second\n* third\n")                                                                     \
    X(inv_nested_falsey, "{\"bool\":false}", "| A {{^bool}}B {{^bool}}C{{/bool}} D{{/bool}} E |", NULL,   \
      "| A B C D E |")                                                                                    \
    X(inv_nested_truthy, "{\"bool\":true}", "| A {{^bool}}B {{^bool}}C{{/bool}} D{{/bool}} E |", NULL,    \
      "| A  E |")                                                                                         \
    X(inv_context_misses, "{}", "[{{^missing}}Cannot find key 'missing'!{{/missing}}]", NULL,             \
      "[Cannot find key 'missing'!]")                                                                     \
    X(inv_dotted_truthy, "{\"a\":{\"b\":{\"c\":true}}}", "\"{{^a.b.c}}Not Here{{/a.b.c}}\" == \"\"", NULL, \
      "\"\" == \"\"")                                                                                     \
    X(inv_dotted_falsey, "{\"a\":{\"b\":{\"c\":false}}}",                                                \
      "\"{{^a.b.c}}Not Here{{/a.b.c}}\" == \"Not Here\"", NULL, "\"Not Here\" == \"Not Here\"")           \
    X(inv_dotted_broken_chains, "{\"a\":{}}", "\"{{^a.b.c}}Not Here{{/a.b.c}}\" == \"Not Here\"", NULL,   \
      "\"Not Here\" == \"Not Here\"")                                                                     \
    X(inv_surrounding_whitespace, "{\"boolean\":false}", " | {{^boolean}}\t|\t{{/boolean}} | \n", NULL,   \
      " | \t|\t | \n")                                                                                    \
    X(inv_internal_whitespace, "{\"boolean\":false}",                                                    \
      " | {{^boolean}} {{! Important Whitespace }}\n {{/boolean}} | \n", NULL, " |  \n  | \n")             \
    X(inv_indented_inline, "{\"boolean\":false}", " {{^boolean}}NO{{/boolean}}\n {{^boolean}}WAY{{/boolean}}\n", \
      NULL, " NO\n WAY\n")                                                                                \
    X(inv_standalone_lines, "{\"boolean\":false}", "| This Is\n{{^boolean}}\n|\n{{/boolean}}\n| A Line\n", \
      NULL, "| This Is\n|\n| A Line\n")                                                                   \
    X(inv_standalone_indented_lines, "{\"boolean\":false}",                                              \
      "| This Is\n  {{^boolean}}\n|\n  {{/boolean}}\n| A Line\n", NULL, "| This Is\n|\n| A Line\n")        \
    X(inv_standalone_line_endings, "{\"boolean\":false}", "|\r\n{{^boolean}}\r\n{{/boolean}}\r\n|", NULL, \
      "|\r\n|")                                                                                           \
    X(inv_standalone_without_previous_line, "{\"boolean\":false}", "  {{^boolean}}\n^{{/boolean}}\n/",    \
      NULL, "^\n/")                                                                                       \
    X(inv_standalone_without_newline, "{\"boolean\":false}", "^{{^boolean}}\n/\n  {{/boolean}}", NULL,    \
      "^\n/\n")                                                                                           \
    X(inv_padding, "{\"boolean\":false}", "|{{^ boolean }}={{/ boolean }}|", NULL, "|=|")

#define COMMENTS(X)                                                                                       \
    X(com_inline, "{}", "12345{{! Comment Block! }}67890", NULL, "1234567890")                            \
    X(com_multiline, "{}", "12345{{!\n  This is a\n  multi-line comment...\n}}67890\n", NULL, "1234567890\n") \
    X(com_standalone, "{}", "Begin.\n{{! Comment Block! }}\nEnd.\n", NULL, "Begin.\nEnd.\n")              \
    X(com_indented_standalone, "{}", "Begin.\n  {{! Indented Comment Block! }}\nEnd.\n", NULL,           \
      "Begin.\nEnd.\n")                                                                                   \
    X(com_standalone_line_endings, "{}", "|\r\n{{! Standalone Comment }}\r\n|", NULL, "|\r\n|")           \
    X(com_standalone_without_previous_line, "{}", "  {{! I'm Still Standalone }}\n!", NULL, "!")          \
    X(com_standalone_without_newline, "{}", "!\n  {{! I'm Still Standalone }}", NULL, "!\n")              \
    X(com_multiline_standalone, "{}", "Begin.\n{{!\nSomething's going on here...\n}}\nEnd.\n", NULL,      \
      "Begin.\nEnd.\n")                                                                                   \
    X(com_indented_multiline_standalone, "{}", "Begin.\n  {{!\n    Something's going on here...\n  }}\nEnd.\n", \
      NULL, "Begin.\nEnd.\n")                                                                             \
    X(com_indented_inline, "{}", "  12 {{! 34 }}\n", NULL, "  12 \n")                                     \
    X(com_surrounding_whitespace, "{}", "12345 {{! Comment Block! }} 67890", NULL, "12345  67890")        \
    X(com_variable_name_collision, "{\"! comment\":1,\"! comment \":2,\"!comment\":3,\"comment\":4}",     \
      "comments never show: >{{! comment }}<", NULL, "comments never show: ><")

#define PARTIALS(X)                                                                                       \
    X(par_basic, "{}", "\"{{>text}}\"", "{\"text\":\"from partial\"}", "\"from partial\"")                \
    X(par_failed_lookup, "{}", "\"{{>text}}\"", "{}", "\"\"")                                             \
    X(par_context, "{\"text\":\"content\"}", "\"{{>partial}}\"", "{\"partial\":\"*{{text}}*\"}", "\"*content*\"") \
    X(par_recursion, "{\"content\":\"X\",\"nodes\":[{\"content\":\"Y\",\"nodes\":[]}]}", "{{>node}}",     \
      "{\"node\":\"{{content}}<{{#nodes}}{{>node}}{{/nodes}}>\"}", "X<Y<>>")                              \
    X(par_nested, "{\"a\":\"hello\",\"b\":\"world\"}", "{{>outer}}",                                      \
      "{\"outer\":\"*{{a}} {{>inner}}*\",\"inner\":\"{{b}}!\"}", "*hello world!*")                        \
    X(par_surrounding_whitespace, "{}", "| {{>partial}} |", "{\"partial\":\"\\t|\\t\"}", "| \t|\t |")     \
    X(par_inline_indentation, "{\"data\":\"|\"}", "  {{data}}  {{> partial}}\n", "{\"partial\":\">\\n>\"}", \
      "  |  >\n>\n")                                                                                      \
    X(par_standalone_line_endings, "{}", "|\r\n{{>partial}}\r\n|", "{\"partial\":\">\"}", "|\r\n>|")      \
    X(par_standalone_without_previous_line, "{}", "  {{>partial}}\n>", "{\"partial\":\">\\n>\"}",         \
      "  >\n  >>")                                                                                        \
    X(par_standalone_without_newline, "{}", ">\n  {{>partial}}", "{\"partial\":\">\\n>\"}", ">\n  >\n  >") \
    X(par_standalone_indentation, "{\"content\":\"<\\n->\"}", "\\\n {{>partial}}\n/\n",                   \
      "{\"partial\":\"|\\n{{{content}}}\\n|\\n\"}", "\\\n |\n <\n->\n |\n/\n")                             \
    X(par_padding_whitespace, "{\"boolean\":true}", "|{{> partial }}|", "{\"partial\":\"[]\"}", "|[]|")

#define DELIMITERS(X)                                                                                     \
    X(del_pair_behavior, "{\"text\":\"Hey!\"}", "{{=<% %>=}}(<%text%>)", NULL, "(Hey!)")                  \
    X(del_special_characters, "{\"text\":\"It worked!\"}", "({{=[ ]=}}[text])", NULL, "(It worked!)")     \
    X(del_sections, "{\"section\":true,\"data\":\"I got interpolated.\"}",                                \
      "[\n{{#section}}\n  {{data}}\n  |data|\n{{/section}}\n\n{{= | | =}}\n|#section|\n  {{data}}\n"      \
      "  |data|\n|/section|\n]\n",                                                                        \
      NULL, "[\n  I got interpolated.\n  |data|\n\n  {{data}}\n  I got interpolated.\n]\n")               \
    X(del_inverted_sections, "{\"section\":false,\"data\":\"I got interpolated.\"}",                      \
      "[\n{{^section}}\n  {{data}}\n  |data|\n{{/section}}\n\n{{= | | =}}\n|^section|\n  {{data}}\n"      \
      "  |data|\n|/section|\n]\n",                                                                        \
      NULL, "[\n  I got interpolated.\n  |data|\n\n  {{data}}\n  I got interpolated.\n]\n")               \
    X(del_partial_inheritance, "{\"value\":\"yes\"}", "[ {{>include}} ]\n{{= | | =}}\n[ |>include| ]\n",  \
      "{\"include\":\".{{value}}.\"}", "[ .yes. ]\n[ .yes. ]\n")                                          \
    X(del_post_partial, "{\"value\":\"yes\"}", "[ {{>include}} ]\n[ .{{value}}.  .|value|. ]\n",          \
      "{\"include\":\".{{value}}. {{= | | =}} .|value|.\"}", "[ .yes.  .yes. ]\n[ .yes.  .|value|. ]\n")  \
    X(del_surrounding_whitespace, "{}", "| {{=@ @=}} |", NULL, "|  |")                                    \
    X(del_outlying_whitespace, "{}", " | {{=@ @=}}\n", NULL, " | \n")                                     \
    X(del_standalone_tag, "{}", "Begin.\n{{=@ @=}}\nEnd.\n", NULL, "Begin.\nEnd.\n")                      \
    X(del_indented_standalone_tag, "{}", "Begin.\n  {{=@ @=}}\nEnd.\n", NULL, "Begin.\nEnd.\n")           \
    X(del_standalone_line_endings, "{}", "|\r\n{{= @ @ =}}\r\n|", NULL, "|\r\n|")                         \
    X(del_standalone_without_previous_line, "{}", "  {{=@ @=}}\n=", NULL, "=")                            \
    X(del_standalone_without_newline, "{}", "=\n  {{=@ @=}}", NULL, "=\n")                                \
    X(del_pair_with_padding, "{}", "|{{= @   @ =}}|", NULL, "||")

#define DEFINE(id, data, tmpl, partials, want)                                                            \
    static void test_##id(void) { check(#id, data, tmpl, partials, ZKD_MUSTACHE_HTML, want); }
#define ENTRY(id, data, tmpl, partials, want) {#id, test_##id},

INTERPOLATION(DEFINE)
SECTIONS(DEFINE)
INVERTED(DEFINE)
COMMENTS(DEFINE)
PARTIALS(DEFINE)
DELIMITERS(DEFINE)

/* ---- beyond the spec ---- */

static void test_escape_modes(void)
{
    const char *d = "{\"s\":\"a\\\"b\\\\c\\n<&>\\u0001\"}";
    check("none", d, "{{s}}", NULL, ZKD_MUSTACHE_NONE, "a\"b\\c\n<&>\x01");
    check("json", d, "\"{{s}}\"", NULL, ZKD_MUSTACHE_JSON, "\"a\\\"b\\\\c\\n<&>\\u0001\"");
    check("json raw", d, "{{{s}}}", NULL, ZKD_MUSTACHE_JSON, "a\"b\\c\n<&>\x01");
    zkd_mustache_escape e;
    CU_ASSERT_EQUAL(zkd_mustache_escape_parse("json", &e), 0);
    CU_ASSERT_EQUAL(e, ZKD_MUSTACHE_JSON);
    CU_ASSERT_EQUAL(zkd_mustache_escape_parse("xml", &e), -1);
}

static void test_values(void)
{
    check("object as json", "{\"m\":{\"a\":[1,\"x\"]}}", "{{{m}}}", NULL, ZKD_MUSTACHE_NONE, "{\"a\":[1,\"x\"]}");
    check("object json-escaped", "{\"m\":{\"a\":1}}", "\"{{m}}\"", NULL, ZKD_MUSTACHE_JSON, "\"{\\\"a\\\":1}\"");
    check("booleans", "{\"t\":true,\"f\":false}", "{{t}} {{f}}", NULL, ZKD_MUSTACHE_NONE, "true false");
    check("empty string falsy", "{\"s\":\"\"}", "{{#s}}yes{{/s}}{{^s}}no{{/s}}", NULL, ZKD_MUSTACHE_NONE, "no");
    check("zero truthy", "{\"n\":0}", "{{#n}}yes{{/n}}", NULL, ZKD_MUSTACHE_NONE, "yes");
    check("first/last", "{\"l\":[{\"v\":1,\"last\":false},{\"v\":2,\"last\":true}]}",
          "[{{#l}}{{v}}{{^last}},{{/last}}{{/l}}]", NULL, ZKD_MUSTACHE_NONE, "[1,2]");
}

static void compile_fails(const char *tmpl, const char *says)
{
    zkd_mustache *t = NULL;
    char err[256] = "";
    CU_ASSERT_EQUAL(zkd_mustache_compile(tmpl, strlen(tmpl), &t, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, says));
    if (!strstr(err, says))
        fprintf(stderr, "\n[%s]: %s\n", tmpl, err);
}

static void test_errors(void)
{
    compile_fails("a\n{{#x}}b", "line 2: section \"x\" is never closed");
    compile_fails("{{#x}}{{/y}}", "\"y\" closes section \"x\"");
    compile_fails("{{/y}}", "closes no open section");
    compile_fails("x {{name", "line 1: tag \"{{\" is never closed");
    compile_fails("{{=a=}}", "set delimiter");
    compile_fails("{{ }}", "empty tag");
    /* A partial that includes itself forever stops at a depth. */
    zkd_mustache *t = NULL;
    char err[256] = "", *out = NULL;
    CU_ASSERT_EQUAL_FATAL(zkd_mustache_compile("{{>p}}", 6, &t, err, sizeof err), 0);
    json_t *p = json_pack("{s:s}", "p", "x{{>p}}"), *d = json_object();
    CU_ASSERT_EQUAL(zkd_mustache_render(t, d, ZKD_MUSTACHE_HTML, from_object, p, &out, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "deep"));
    zkd_mustache_free(t);
    json_decref(p);
    json_decref(d);
}

static void test_load_dir(void)
{
    char dir[] = "/tmp/zkd-mustache-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/server.mustache", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("server {{.}}\n", f);
    fclose(f);
    char *s = zkd_mustache_load_dir("server", dir);
    CU_ASSERT_STRING_EQUAL(s, "server {{.}}\n");
    free(s);
    CU_ASSERT_PTR_NULL(zkd_mustache_load_dir("../etc/passwd", dir));
    CU_ASSERT_PTR_NULL(zkd_mustache_load_dir("/etc/passwd", dir));
    CU_ASSERT_PTR_NULL(zkd_mustache_load_dir("missing", dir));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    CU_TestInfo interpolation[] = {INTERPOLATION(ENTRY) CU_TEST_INFO_NULL};
    CU_TestInfo sections[] = {SECTIONS(ENTRY) CU_TEST_INFO_NULL};
    CU_TestInfo inverted[] = {INVERTED(ENTRY) CU_TEST_INFO_NULL};
    CU_TestInfo comments[] = {COMMENTS(ENTRY) CU_TEST_INFO_NULL};
    CU_TestInfo partials[] = {PARTIALS(ENTRY) CU_TEST_INFO_NULL};
    CU_TestInfo delimiters[] = {DELIMITERS(ENTRY) CU_TEST_INFO_NULL};
    CU_TestInfo extras[] = {
        {"escape modes", test_escape_modes}, {"values", test_values}, {"errors", test_errors},
        {"partials from a directory", test_load_dir}, CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {
        {"interpolation", NULL, NULL, NULL, NULL, interpolation},
        {"sections", NULL, NULL, NULL, NULL, sections},
        {"inverted", NULL, NULL, NULL, NULL, inverted},
        {"comments", NULL, NULL, NULL, NULL, comments},
        {"partials", NULL, NULL, NULL, NULL, partials},
        {"delimiters", NULL, NULL, NULL, NULL, delimiters},
        {"zkdisc", NULL, NULL, NULL, NULL, extras},
        CU_SUITE_INFO_NULL,
    };
    return tu_run(suites);
}
