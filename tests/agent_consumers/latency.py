#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""latency.py URL DNSHOST:PORT NAME SECONDS: for SECONDS, GETs URL and asks
DNSHOST:PORT for NAME (A, over UDP) every 10 ms each, one at a time, and
prints {"api_n", "api_failed", "api_p99_ms", "api_max_ms", "dns_n", ...}.
A request with no answer within 1 s counts as failed."""
import http.client, json, random, socket, struct, sys, threading, time, urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
dhost, dport = sys.argv[2].rsplit(":", 1)
name, secs = sys.argv[3], float(sys.argv[4])
end = time.monotonic() + secs
res = {}

def summary(kind, times, failed):
    times.sort()
    res[kind + "_n"] = len(times) + failed
    res[kind + "_failed"] = failed
    res[kind + "_p99_ms"] = round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 2) if times else -1
    res[kind + "_max_ms"] = round(times[-1] * 1000, 2) if times else -1

def api():
    times, failed = [], 0
    while time.monotonic() < end:
        t = time.monotonic()
        try:
            c = http.client.HTTPConnection(url.hostname, url.port, timeout=1)
            c.request("GET", url.path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 200:
                raise RuntimeError(r.status)
            times.append(time.monotonic() - t)
        except Exception:
            failed += 1
        time.sleep(0.01)
    summary("api", times, failed)

def dns():
    times, failed = [], 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    while time.monotonic() < end:
        qid = random.randrange(65536)
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
        t = time.monotonic()
        try:
            s.sendto(q, (dhost, int(dport)))
            while True:
                a, _ = s.recvfrom(4096)
                if struct.unpack(">H", a[:2])[0] == qid:
                    break
            if a[3] & 0x0F != 0:
                raise RuntimeError("rcode %d" % (a[3] & 0x0F))
            times.append(time.monotonic() - t)
        except Exception:
            failed += 1
        time.sleep(0.01)
    summary("dns", times, failed)

threads = [threading.Thread(target=api), threading.Thread(target=dns)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print(json.dumps(res))
