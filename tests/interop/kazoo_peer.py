#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes what other ZooKeeper discovery systems leave in a tree, with kazoo
(for tests/cli/test_interop.sh): Twitter ServerSet members (ALIVE and DEAD),
an Airbnb Nerve member, malformed children of five kinds, long names,
two sequential znodes that carry one record id, and a record that claims
another znode's id. Members are persistent here (the
real writers make them ephemeral), so the tree stays when this exits.

usage: kazoo_peer.py CONNECT BASE      (BASE like /zkdisc/services)
"""
import json
import sys

from kazoo.client import KazooClient


def main():
    connect, base = sys.argv[1], sys.argv[2]
    zk = KazooClient(hosts=connect)
    zk.start(timeout=15)

    def put(path, data, **kw):
        zk.create(base + path, data if isinstance(data, bytes) else json.dumps(data).encode(),
                  makepath=True, **kw)

    member = {"serviceEndpoint": {"host": "10.0.0.5", "port": 31337},
              "additionalEndpoints": {"http": {"host": "10.0.0.5", "port": 31338}},
              "status": "ALIVE", "shard": 0}
    put("/ss/member_", member, sequence=True)
    put("/ss/member_", dict(member, status="DEAD"), sequence=True)
    put("/ss/member_", b'{"serviceEndpoint":{"host":"10.0.0.7"}}', sequence=True)

    put("/nerve/i-1_", {"host": "10.0.0.9", "port": 8080, "name": "i-1", "weight": 10,
                        "labels": {"zone": "us-east-1a", "az": "a"}}, sequence=True)

    # One live instance and the malformed kinds DESIGN.md section 4 names.
    put("/junk/ok", {"name": "junk", "id": "ok", "address": "10.0.1.1", "port": 1})
    put("/junk/empty", b"")
    put("/junk/binary", b"\x00\xff\xfe binary")
    put("/junk/truncated", b'{"name":"junk","id":"t","addr')
    put("/junk/array", b"[1,2,3]")
    put("/junk/oversized", json.dumps({"name": "junk", "id": "big", "address": "x", "port": 1,
                                       "payload": "z" * 70000}).encode())

    for zone, host in (("us-east-1a", "ip-10-20-30-40.eu-west-1.compute.internal"),
                       ("us-east-1b", "ip-10-20-30-41.eu-west-1.compute.internal")):
        put("/longnames/" + zone, {"name": "longnames", "id": zone, "address": host, "port": 8080,
                                   "payload": {"zone": zone}})

    # Two registrations of one id, DYNAMIC_SEQUENTIAL: znodes same0000000000
    # and same0000000001 (a record id that is not its znode's name is
    # malformed otherwise).
    for _ in range(2):
        put("/dup/same", {"name": "dup", "id": "same", "address": "10.0.2.1", "port": 2,
                          "serviceType": "DYNAMIC_SEQUENTIAL"}, sequence=True)
    # A rogue record claiming the real instance's id: skipped and counted.
    put("/spoof/real", {"name": "spoof", "id": "real", "address": "10.0.3.1", "port": 3})
    put("/spoof/zz-x", {"name": "spoof", "id": "real", "address": "10.6.6.6", "port": 3})
    print("written")
    zk.stop()


if __name__ == "__main__":
    main()
