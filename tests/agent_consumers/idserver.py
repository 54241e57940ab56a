#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""idserver.py PORT ID [COUNTFILE]: an HTTP server on 127.0.0.1:PORT whose
every answer is ID (a backend for the haproxy and nginx tests); with
COUNTFILE, each request appends a line to it (requests that reached this
backend, counted). Exits on SIGTERM."""
import http.server, signal, sys

port, ident = int(sys.argv[1]), sys.argv[2].encode()
countfile = sys.argv[3] if len(sys.argv) > 3 else None

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if countfile:
            with open(countfile, "a") as f:
                f.write(self.path + "\n")
        self.send_response(200)
        self.send_header("Content-Length", str(len(ident)))
        self.end_headers()
        self.wfile.write(ident)
    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    def handle_error(self, request, client_address):
        pass  # a client that hangs up is not news

signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
Server(("127.0.0.1", port), Handler).serve_forever()
