#!/usr/bin/env python3
"""Test HTTP server on 127.0.0.1 (free port, printed first): serves DIR, and logs each request's
method, path and User-Agent to DIR/../requests.log. Also a raw TCP echo server on a second port
(printed second), to stand in for an HTTPS repository behind CONNECT. A file NAME.redirect makes
NAME answer 302 to the URL it holds; a path ending in /endless streams a body without end; one
ending in /hang never answers (for 300 s)."""
import http.server, os, socket, socketserver, sys, threading, time

root = sys.argv[1]
log = os.path.join(os.path.dirname(os.path.abspath(root)), "requests.log")


class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def note(self):
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path} {self.headers.get('User-Agent', '-')}\n")

    def special(self):
        target = self.translate_path(self.path) + ".redirect"
        if os.path.isfile(target):
            self.send_response(302)
            self.send_header("Location", open(target).read().strip())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        if self.path.endswith("/hang"):
            time.sleep(300)
            return True
        if self.path.endswith("/endless"):
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
            return True
        return False

    def do_GET(self):
        self.note()
        if not self.special():
            super().do_GET()

    def do_HEAD(self):
        self.note()
        if not self.special():
            super().do_HEAD()


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def echo():
    e = socket.socket()
    e.bind(("127.0.0.1", 0))
    e.listen(8)
    print(e.getsockname()[1], flush=True)
    while True:
        c, _ = e.accept()
        threading.Thread(target=lambda c=c: [c.sendall(d) for d in iter(lambda: c.recv(4096), b"")], daemon=True).start()


os.chdir(root)
s = S(("127.0.0.1", 0), lambda *a, **k: H(*a, directory=root, **k))
print(s.server_address[1], flush=True)
threading.Thread(target=echo, daemon=True).start()
s.serve_forever()
