#!/usr/bin/env python3
"""Test fixture for make check-e2e: a signed Release that matches the files the installer reads.

This machine's mirror is out of sync with its own signed Release in places (MIRROR_NOTES.md):
some small files the installer reads, such as main/binary-amd64/Release (choose-mirror checks
the architecture there), have neither a matching plain copy nor a by-hash copy. kiln rightly
never serves such a file, so the real installer could not run here. This fixture stands in
front of UPSTREAM (the mirror-view fixture, or a mirror): it takes UPSTREAM's Release, and for
each file under the folders the installer reads whose plain copy does not match and that has
no by-hash copy, it writes the plain copy's hash instead; then it signs the result with a
throwaway key. Everything else passes through, with the client's User-Agent.

release-view.py --upstream URL --suite SUITE [--arch ARCH] --listen HOST:PORT --workdir DIR
prints "fixed PATH" for each line it changed, then "keyring: DIR/keyring.gpg", then serves.
"""
import argparse, hashlib, http.server, os, re, shutil, socketserver, subprocess, sys, tempfile
import urllib.error, urllib.request


def get(url, method="GET"):
    req = urllib.request.Request(url, method=method, headers={"User-Agent": "release-view"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read() if method == "GET" else b""
    except urllib.error.HTTPError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--suite", required=True)
    ap.add_argument("--arch", default="amd64")
    ap.add_argument("--listen", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    up = a.upstream.rstrip("/")
    dist = f"dists/{a.suite}"
    os.makedirs(os.path.join(a.workdir, dist), exist_ok=True)
    release = get(f"{up}/{dist}/Release").decode()
    dirs = (f"main/binary-{a.arch}/", f"main/debian-installer/binary-{a.arch}/", "main/binary-all/")
    listed = {}
    for m in re.finditer(r"^ ([0-9a-f]{64})\s+(\d+) (\S+)$", release, flags=re.M):
        if m.group(3).startswith(dirs) and "/by-hash/" not in m.group(3):
            listed[m.group(3)] = m.group(1)
    actual = {}
    for path, sha in sorted(listed.items()):
        data = get(f"{up}/{dist}/{path}")
        if data is None or hashlib.sha256(data).hexdigest() == sha:
            continue
        if get(f"{up}/{dist}/{os.path.dirname(path)}/by-hash/SHA256/{sha}", "HEAD") is not None:
            continue  # the signed copy is there by hash: kiln and apt take that one
        actual[path] = data
        print(f"fixed {path}", flush=True)

    def fix(m):
        h, path = m.group(1), m.group(3)
        if path not in actual:
            return m.group(0)
        algo = hashlib.md5 if len(h) == 32 else hashlib.sha256
        return f" {algo(actual[path]).hexdigest()} {len(actual[path]):16d} {path}"
    release = re.sub(r"^ ([0-9a-f]+)\s+(\d+) (\S+)$", fix, release, flags=re.M)
    rel_path = os.path.join(a.workdir, dist, "Release")
    open(rel_path, "w").write(release)
    home = tempfile.mkdtemp(prefix="gnupg-", dir=a.workdir)
    gpg = ["gpg", "--homedir", home, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "release-view fixture <release-view@invalid>", "ed25519", "sign", "1d"], check=True)
    subprocess.run(gpg + ["--yes", "--clearsign", "-o", os.path.join(a.workdir, dist, "InRelease"), rel_path], check=True)
    subprocess.run(gpg + ["--yes", "-abs", "-o", rel_path + ".gpg", rel_path], check=True)
    subprocess.run(gpg + ["--yes", "--export", "-o", os.path.join(a.workdir, "keyring.gpg")], check=True)
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False)  # no agent left behind
    print(f"keyring: {os.path.join(a.workdir, 'keyring.gpg')}", flush=True)
    local = {f"{dist}/{n}" for n in ("Release", "Release.gpg", "InRelease")}
    prefix = "/" + up.split("/", 3)[3] + "/" if up.count("/") >= 3 else "/"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):
            sys.stderr.write("release-view: " + (fmt % args) + "\n")

        def do_HEAD(self):
            self.serve(False)

        def do_GET(self):
            self.serve(True)

        def serve(self, body):
            path = self.path.split("?")[0]
            if not path.startswith(prefix):
                return self.send_error(403)
            rel = path[len(prefix):]
            if rel in local:
                f = os.path.join(a.workdir, rel)
                self.send_response(200)
                self.send_header("Content-Length", str(os.path.getsize(f)))
                self.end_headers()
                if body:
                    with open(f, "rb") as fh:
                        shutil.copyfileobj(fh, self.wfile)
                return
            try:
                r = urllib.request.urlopen(urllib.request.Request(
                    up + "/" + rel, method="GET" if body else "HEAD",
                    headers={"User-Agent": self.headers.get("User-Agent", "release-view")}), timeout=60)
            except urllib.error.HTTPError as e:
                return self.send_error(e.code)
            self.send_response(200)
            if r.headers.get("Content-Length"):
                self.send_header("Content-Length", r.headers["Content-Length"])
            self.end_headers()
            if body:
                shutil.copyfileobj(r, self.wfile)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    host, port = a.listen.rsplit(":", 1)
    Server((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
