/* SPDX-License-Identifier: Apache-2.0 */
/* Symbol visibility: only what is marked ZKD_EXPORT leaves libzkdisc.so. */
#ifndef ZKDISC_EXPORT_H
#define ZKDISC_EXPORT_H

#if defined(ZKD_BUILDING) && defined(__GNUC__)
#define ZKD_EXPORT __attribute__((visibility("default")))
#else
#define ZKD_EXPORT
#endif

#define ZKD_VERSION_MAJOR 0
#define ZKD_VERSION_MINOR 1
#define ZKD_VERSION_PATCH 0
#define ZKD_VERSION_STRING "0.1.0"

#endif
