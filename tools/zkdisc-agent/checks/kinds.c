/* SPDX-License-Identifier: Apache-2.0 */
/* The table of check kinds. */
#include <string.h>

#include "checks/check.h"

const check_kind *check_kind_find(const char *name)
{
    static const check_kind *const kinds[] = {&check_http,   &check_tcp,  &check_exec,
                                              &check_memory, &check_disk, &check_ttl};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i]->name, name))
            return kinds[i];
    return NULL;
}
