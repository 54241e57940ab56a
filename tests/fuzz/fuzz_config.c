/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the config converter (config_convert.c). The input is
 * read as libconfig text and as JSON. Whatever parses must render as
 * libconfig that parses back to the same document, or be refused with a
 * message; nothing may crash, leak or change a value silently. Run by
 * tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/config.h>
#include <zkdisc/node.h>

/* json (compact) -> libconfig -> json must give json back. */
static void round_trip(const char *json)
{
    char *cfg = NULL, *back = NULL;
    zkd_error err;
    if (zkd_config_render(json, strlen(json), ZKD_CONFIG_LIBCONFIG, &cfg, &err) != 0) {
        if (!err.message[0])
            abort(); /* a refusal always says why */
        return;
    }
    if (zkd_config_parse(cfg, strlen(cfg), ZKD_CONFIG_LIBCONFIG, "rendered", &back, &err) != 0) {
        fprintf(stderr, "rendered libconfig does not parse: %s\n--- json\n%s\n--- libconfig\n%s\n",
                err.message, json, cfg);
        abort();
    }
    if (strcmp(json, back)) {
        fprintf(stderr, "round trip changed the document:\n%s\n%s\n", json, back);
        abort();
    }
    zkd_free(cfg);
    zkd_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const zkd_config_format formats[] = {ZKD_CONFIG_LIBCONFIG, ZKD_CONFIG_JSON};
    for (size_t f = 0; f < 2; f++) {
        char *json = NULL;
        zkd_error err;
        if (zkd_config_parse((const char *)data, size, formats[f], "fuzz", &json, &err) == 0) {
            round_trip(json);
            zkd_free(json);
        } else if (!err.message[0]) {
            abort();
        }
    }
    return 0;
}
