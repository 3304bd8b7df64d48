#!/usr/bin/python3
"""Peers for the kiln serve test, on 127.0.0.1 only; each prints its port first.

serve-peer.py hang:      accepts connections and never answers (a mirror that stalls a build)
serve-peer.py hook DIR:  a webhook receiver: each POST's body and headers go to DIR/N.body and
                         DIR/N.headers; answers 500 to the first POST when DIR/fail-first exists"""
import http.server, os, socket, sys, threading, time

mode = sys.argv[1]
if mode == "hang":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)
elif mode == "hook":
    out = sys.argv[2]
    count = [0]

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            count[0] += 1
            fail = count[0] == 1 and os.path.exists(os.path.join(out, "fail-first"))
            if not fail:
                with open(os.path.join(out, f"{count[0]}.headers"), "w") as f:
                    f.write(str(self.headers))
                with open(os.path.join(out, f"{count[0]}.body"), "wb") as f:
                    f.write(body)
            self.send_response(500 if fail else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
