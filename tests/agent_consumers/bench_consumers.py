#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench_consumers.py ZK HAPROXY_SOCKET DNS_PORT N

Latency of the agent's consumers, with the raw client as the baseline in
the same run (kazoo, the Python ZooKeeper client):

  register -> HAProxy: an instance node created with kazoo (Curator JSON)
    until HAProxy's Runtime API reports a server at its port UP; baseline:
    create until a kazoo ChildrenWatch on the service fires.
  removal -> DNS: the node deleted until an A query (UDP, to the agent)
    no longer lists its address; baseline: delete until the watch fires.

Prints one JSON object with p50/p99 in ms of each."""
import json, socket, struct, sys, threading, time
from kazoo.client import KazooClient

zk_hosts, sock_path, dns_port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
svc = "lat"
zk = KazooClient(hosts=zk_hosts)
zk.start()
zk.ensure_path("/zkdisc/services/" + svc)
seen = {"kids": set(), "ev": threading.Event()}

@zk.ChildrenWatch("/zkdisc/services/" + svc)
def on_children(kids):
    seen["kids"] = set(kids)
    seen["ev"].set()

def hap_ports_up():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(b"show stat\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    lines = out.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    st, ad = head.index("status"), head.index("addr")
    up = set()
    for line in lines[1:]:
        f = line.split(",")
        if len(f) > ad and f[0] == svc and f[1].startswith("zkd") and f[st] in ("UP", "no check"):
            up.add(f[ad])
    return up

def dns_a(name):
    q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 1)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    q += b"\0" + struct.pack(">HHIH", 41, 4096, 0, 0)  # EDNS: 4096 bytes
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(q, ("127.0.0.1", dns_port))
    try:
        data, _ = s.recvfrom(65536)
    except socket.timeout:
        data = None  # a loaded machine: ask again
    s.close()
    return data

def record(i, port):
    return json.dumps({"name": svc, "id": "i%d" % i, "address": "127.0.%d.%d" % (i // 200 + 1, i % 200 + 1),
                       "port": port, "sslPort": None, "payload": None, "registrationTimeUTC": 0,
                       "serviceType": "DYNAMIC", "uriSpec": None}).encode()

def wait_for(cond, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.0005)
    return False

def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p / 100))], 2)

hap, watch_add, dns, watch_del = [], [], [], []
for i in range(n):
    path = "/zkdisc/services/%s/i%d" % (svc, i)
    addr = "127.0.%d.%d" % (i // 200 + 1, i % 200 + 1)
    seen["ev"].clear()
    t0 = time.monotonic()
    zk.create(path, record(i, 9000), ephemeral=True)
    wait_for(lambda: "i%d" % i in seen["kids"])
    watch_add.append((time.monotonic() - t0) * 1000)
    if not wait_for(lambda: "%s:9000" % addr in hap_ports_up()):
        print("haproxy never showed", addr, file=sys.stderr)
    hap.append((time.monotonic() - t0) * 1000)
    wait_for(lambda: socket.inet_aton(addr) in (dns_a(svc + ".service.zkdisc") or b""))
    t0 = time.monotonic()
    zk.delete(path)
    wait_for(lambda: "i%d" % i not in seen["kids"])
    watch_del.append((time.monotonic() - t0) * 1000)
    if not wait_for(lambda: socket.inet_aton(addr) not in (dns_a(svc + ".service.zkdisc") or socket.inet_aton(addr))):
        print("dns still lists", addr, file=sys.stderr)
    dns.append((time.monotonic() - t0) * 1000)
    time.sleep(0.02)
zk.stop()
print(json.dumps({"n": n,
                  "register_to_haproxy_ms": {"p50": pct(hap, 50), "p99": pct(hap, 99)},
                  "baseline_create_to_watch_ms": {"p50": pct(watch_add, 50), "p99": pct(watch_add, 99)},
                  "removal_to_dns_ms": {"p50": pct(dns, 50), "p99": pct(dns, 99)},
                  "baseline_delete_to_watch_ms": {"p50": pct(watch_del, 50), "p99": pct(watch_del, 99)}}))
