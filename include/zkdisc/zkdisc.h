/* SPDX-License-Identifier: Apache-2.0 */
/* zkdisc: ZooKeeper-backed service discovery and configuration.
 * The one header applications include. */
#ifndef ZKDISC_ZKDISC_H
#define ZKDISC_ZKDISC_H

#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/names.h>
#include <zkdisc/client.h>
#include <zkdisc/node.h>
#include <zkdisc/acl.h>
#include <zkdisc/walk.h>
#include <zkdisc/watch.h>
#include <zkdisc/counters.h>
#include <zkdisc/instance.h>
#include <zkdisc/cache.h>
#include <zkdisc/registry.h>
#include <zkdisc/config.h>
#include <zkdisc/balancer.h>

#endif
