#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench_scale.py ZK SERVICE N populate
   bench_scale.py ZK SERVICE N measure AGENT_PID JSON_FILE CHANGES

populate: creates N instance nodes (Curator JSON, 10.x.y.z:80) of SERVICE,
pipelined. measure: changes one instance's port CHANGES times, each time
waiting for the agent's json file to carry the new port; prints one JSON
object: the agent's CPU per change (utime + stime from /proc, ms) and the
time from the write to the file (ms, p50 and max)."""
import json, os, sys, time
from kazoo.client import KazooClient

zk_hosts, svc, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = "/zkdisc/services/" + svc
zk = KazooClient(hosts=zk_hosts, timeout=30)
zk.start()

def record(i, port):
    return json.dumps({"name": svc, "id": "i%d" % i, "address": "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255),
                       "port": port, "sslPort": None, "payload": None, "registrationTimeUTC": 0,
                       "serviceType": "STATIC", "uriSpec": None}).encode()

if mode == "populate":
    zk.ensure_path(base)
    for lo in range(0, n, 2000):
        fs = [zk.create_async("%s/i%d" % (base, i), record(i, 80)) for i in range(lo, min(n, lo + 2000))]
        for f in fs:
            f.get()
    sys.exit(0)

pid, path, changes = int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
hz = os.sysconf("SC_CLK_TCK")

def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def has_port(port):
    try:
        return ('"port": %d,' % port) in open(path).read()
    except OSError:
        return False

lat = []
c0 = cpu()
for r in range(changes):
    port = 20000 + r
    ino = os.stat(path).st_ino
    t0 = time.monotonic()
    zk.set("%s/i%d" % (base, n // 2), record(n // 2, port))
    deadline = t0 + 120
    while True:
        try:
            st = os.stat(path).st_ino
        except OSError:
            st = ino
        if st != ino and has_port(port):
            break
        if time.monotonic() > deadline:
            sys.exit("the change did not reach %s within 120 s" % path)
        time.sleep(0.001)
    lat.append((time.monotonic() - t0) * 1000)
ticks = cpu() - c0
lat.sort()
print(json.dumps({"n": n, "changes": changes, "cpu_ms_per_change": round(ticks * 1000.0 / hz / changes, 2),
                  "file_ms_p50": round(lat[len(lat) // 2], 1), "file_ms_max": round(lat[-1], 1)}))
