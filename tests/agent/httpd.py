#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test HTTP server for the agent suites (loopback only).

  httpd.py DIR      serves on 127.0.0.1, a free port written to DIR/port
  GET  /health      200 "ok" while DIR/healthy exists, else 503
  GET  /slow        answers after 5 s (longer than the checks' timeout)
  POST /hook        appends the body as one line to DIR/hooks.log, 200
                    (500 while DIR/hook-fail exists, to test retries);
                    every POST also appends {"path", "headers", "body"} as
                    one JSON line to DIR/requests.jsonl
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            ok = os.path.exists(os.path.join(DIR, "healthy"))
            self.answer(200 if ok else 503, b"ok\n" if ok else b"down\n")
        elif self.path == "/slow":
            time.sleep(5)
            self.answer(200, b"ok\n")
        else:
            self.answer(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                "body": body.decode("utf-8", "replace")}) + "\n")
        if self.path != "/hook":
            self.answer(404)
            return
        with open(os.path.join(DIR, "hooks.attempts"), "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        if os.path.exists(os.path.join(DIR, "hook-fail")):
            self.answer(500)
            return
        with open(os.path.join(DIR, "hooks.log"), "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.answer(200)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a check's timeout) is expected here


server = Server(("127.0.0.1", 0), Handler)
tmp = os.path.join(DIR, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, os.path.join(DIR, "port"))
server.serve_forever()
