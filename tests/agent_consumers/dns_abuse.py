#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What an abuser does to a DNS server on 127.0.0.1:PORT, for cli_agent_dns_limits.

  dns_abuse.py random PORT N DOMAIN     N queries for random SERVICE.service.DOMAIN
                                        names over UDP (a window of 200 in
                                        flight); prints "sent N answered M" and
                                        one "RCODE count" line per rcode
  dns_abuse.py pipeline PORT N NAME     N SRV queries for NAME pipelined on one
                                        TCP connection whose receive buffer is
                                        small and never read; prints "sent",
                                        then holds the connection until killed
  dns_abuse.py conns PORT N             opens N TCP connections at once; prints
                                        how many the server closed within 2 s
"""
import random, select, socket, string, struct, sys, time

CODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def flood(port, n, domain):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setblocking(False)
    rcodes, sent, answered, inflight = {}, 0, 0, 0
    deadline = time.monotonic() + 60
    while (sent < n or inflight) and time.monotonic() < deadline:
        while sent < n and inflight < 200:
            name = "".join(random.choice(string.ascii_lowercase) for _ in range(12))
            s.sendto(query(sent & 0xFFFF, name + ".service." + domain, 1), ("127.0.0.1", port))
            sent += 1
            inflight += 1
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            inflight = 0  # lost: carry on
            continue
        while True:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                break
            answered += 1
            inflight -= 1
            code = CODES.get(data[3] & 0xF, str(data[3] & 0xF))
            rcodes[code] = rcodes.get(code, 0) + 1
    print("sent", sent, "answered", answered)
    for k, v in sorted(rcodes.items()):
        print(k, v)


def pipeline(port, n, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    data = b""
    for i in range(n):
        q = query(i, name, 33)
        data += struct.pack(">H", len(q)) + q
    s.sendall(data)
    print("sent", flush=True)
    while True:
        time.sleep(60)  # hold it, unread, until the test kills us


def conns(port, n):
    socks = []
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.connect(("127.0.0.1", port))
        c.setblocking(False)
        socks.append(c)
    closed, deadline = set(), time.monotonic() + 2
    while time.monotonic() < deadline:
        r, _, _ = select.select([c for c in socks if c not in closed], [], [], 0.2)
        for c in r:
            try:
                if c.recv(1) == b"":
                    closed.add(c)
            except ConnectionError:
                closed.add(c)
    print(len(closed))
    for c in socks:
        c.close()


if __name__ == "__main__":
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "random":
        flood(port, int(sys.argv[3]), sys.argv[4])
    elif cmd == "pipeline":
        pipeline(port, int(sys.argv[3]), sys.argv[4])
    else:
        conns(port, int(sys.argv[3]))
