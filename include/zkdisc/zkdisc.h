/* zkdisc: ZooKeeper-backed service discovery and configuration.
 * The one header applications include. */
#ifndef ZKDISC_ZKDISC_H
#define ZKDISC_ZKDISC_H

#include <zkdisc/export.h>
#include <zkdisc/error.h>
#include <zkdisc/names.h>
#include <zkdisc/client.h>
#include <zkdisc/node.h>
#include <zkdisc/counters.h>

#endif
