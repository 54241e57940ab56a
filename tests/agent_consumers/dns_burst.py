#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""dns_burst.py PORT NAME A_COUNT SRV_COUNT [N]: sends N queries (default
150: A, SRV and AAAA in turn, each with its own id) to 127.0.0.1:PORT over
UDP without waiting, so that the responder reads them in batches, then
reads the answers (5 s at most). Prints "burst ok N" when every query got
exactly one answer with its own id and question, NOERROR, and A_COUNT A
records, SRV_COUNT SRV records (each with its target's address in the
additional section), no AAAA record; else what went wrong."""
import socket, struct, sys, time

port, name, want_a, want_srv = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n = int(sys.argv[5]) if len(sys.argv) > 5 else 150
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
types = [1, 33, 28]


def query(qid, qtype):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)


def skip_name(b, at):
    while True:
        l = b[at]
        if l & 0xC0 == 0xC0:
            return at + 2
        if l == 0:
            return at + 1
        at += 1 + l


def records(b):
    """(type, section) of every record after the question."""
    counts = struct.unpack(">HHH", b[6:12])
    at = skip_name(b, 12) + 4
    out = []
    for section, c in enumerate(counts):
        for _ in range(c):
            at = skip_name(b, at)
            t, _, _, rdlen = struct.unpack(">HHIH", b[at:at + 10])
            at += 10 + rdlen
            out.append((t, section))
    if at != len(b):
        raise ValueError("trailing bytes")
    return out


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.connect(("127.0.0.1", port))
sent = {}
for i in range(n):
    qid = 0x4000 + i
    sent[qid] = types[i % 3]
    s.send(query(qid, sent[qid]))
got, errors = {}, []
deadline = time.time() + 5
s.settimeout(0.2)
while len(got) < n and time.time() < deadline:
    try:
        b = s.recv(4096)
    except socket.timeout:
        continue
    qid, flags = struct.unpack(">HH", b[:4])
    if qid not in sent or qid in got:
        errors.append("unexpected or repeated id %d" % qid)
        continue
    got[qid] = True
    qt = sent[qid]
    if flags & 0xF or not flags & 0x8000 or flags & 0x0200:
        errors.append("id %d: flags %04x" % (qid, flags))
    if b[12:12 + len(qname) + 4] != qname + struct.pack(">HH", qt, 1):
        errors.append("id %d: not its question" % qid)
    try:
        rr = records(b)
    except Exception as e:  # noqa: BLE001 - any parse failure is a finding
        errors.append("id %d: malformed (%s)" % (qid, e))
        continue
    answers = [t for t, sec in rr if sec == 0]
    if qt == 1 and answers != [1] * want_a:
        errors.append("id %d: A answers %s" % (qid, answers))
    if qt == 33 and (answers != [33] * want_srv or [t for t, sec in rr if sec == 2] != [1] * want_srv):
        errors.append("id %d: SRV answers %s" % (qid, rr))
    if qt == 28 and answers:
        errors.append("id %d: AAAA answers %s" % (qid, answers))
if len(got) < n:
    errors.append("%d of %d answered" % (len(got), n))
print("burst ok %d" % n if not errors else "; ".join(errors[:5]))
