/* SPDX-License-Identifier: Apache-2.0 */
/* Files that consumers read while we write them: the library's one atomic
 * writer (libzkdisc/core/atomic_file.c, compiled into the agent), under the
 * agent's names. */
#ifndef ZKDISC_AGENT_ATOMIC_FILE_H
#define ZKDISC_AGENT_ATOMIC_FILE_H

#include "core/atomic_file.h"

typedef zkd__file_owner atomic_file_owner;
#define atomic_file_write zkd__atomic_file_write
#define atomic_file_read zkd__atomic_file_read

#endif
