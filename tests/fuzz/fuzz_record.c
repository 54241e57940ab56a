/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the instance record decoder (codec.c). Any bytes may
 * sit in a znode. Parsing must never crash or leak; a record that parses
 * must write back as Curator JSON that parses again and writes back the
 * same (a record never changes when it is drained and rewritten), and its
 * endpoint must format. Run by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/instance.h>
#include <zkdisc/node.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zkd_instance *i = NULL;
    zkd_error err;
    /* As read from the tree (the record must fit svc/node-1), and as a
     * record taken on its own word (so records whose ids are not "node-1"
     * still reach the rest of the decoder). */
    if (zkd_instance_parse("svc", "node-1", (const char *)data, size, &i, &err) != 0 &&
        zkd_instance_parse(NULL, NULL, (const char *)data, size, &i, &err) != 0)
        return 0;
    char ep[512];
    zkd_instance_endpoint(i, 0, ep, sizeof ep);
    zkd_instance_endpoint(i, 1, ep, sizeof ep);
    char *once = zkd_instance_to_json(i);
    if (!once)
        abort();
    zkd_instance *again = NULL;
    if (strlen(once) <= ZKD_INSTANCE_MAX_BYTES) {
        /* Written back, it still fits where it was read from. */
        if (zkd_instance_parse(zkd_instance_service(i), zkd_instance_znode(i), once, strlen(once),
                               &again, &err) != 0) {
            fprintf(stderr, "written record does not parse: %s\n%s\n", err.message, once);
            abort();
        }
        char *twice = zkd_instance_to_json(again);
        if (!twice || strcmp(once, twice)) {
            fprintf(stderr, "record changed on a rewrite:\n%s\n%s\n", once, twice ? twice : "(null)");
            abort();
        }
        zkd_free(twice);
        zkd_instance_unref(again);
    }
    zkd_free(once);
    zkd_instance_unref(i);
    return 0;
}
