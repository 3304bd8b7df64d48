#!/usr/bin/env python3
"""Test fixture: a tiny Debian archive, signed at test time, served over HTTP on 127.0.0.1.

build DIR --gnupghome G [--variant V]   make DIR/debian/{dists,pool} for suite trixie
serve DIR                              serve DIR on 127.0.0.1 (free port); print "PORT" then serve;
                                        paths listed in DIR/truncate are cut short mid-body
keys G                                 make two throwaway signing keys in G (good, other);
                                        write G/good.gpg and G/other.gpg public keyrings

Variants: good, bad-signature, wrong-packages-hash, wrong-deb-hash, truncated-deb, missing-deb,
kernel-abi-mismatch, missing-udeb, wrong-codename, and the mirror out of sync with its Release:
  old-style        no Acquire-By-Hash, no No-Support-for-Architecture-all: the netboot package only
                   in binary-all, as older archives have it
  stale-plain      every plain index name holds other bytes; the by-hash copies are right
  stale-all        binary-all is stale under every name and has no by-hash copy; binary-amd64 is right
  stale-no-byhash  the udeb index is stale under its plain names and has no by-hash copy
  changed          a later Release (new Date, a changed udeb index), built over an existing DIR: the
                   old by-hash copies stay, as on a real mirror
The good archive says Acquire-By-Hash: yes and No-Support-for-Architecture-all: Packages, lists
the netboot package in binary-amd64 (and binary-all), and has by-hash copies of every index.
"""
import gzip, hashlib, http.server, io, lzma, os, socketserver, struct, subprocess, sys, tarfile

KVER = "6.12.94+deb13-amd64"
NETBOOT = "debian-installer-13-netboot-amd64"
VERSION = "20250803+deb13u6"
IMG = "usr/lib/debian-installer/images/13/amd64/text/debian-installer/amd64"


def gpg(home, *args, **kw):
    return subprocess.run(["gpg", "--homedir", home, "--batch", "--quiet", "--pinentry-mode", "loopback",
                           "--passphrase", ""] + list(args), check=True, **kw)


def keys(home):
    os.makedirs(home, mode=0o700, exist_ok=True)
    for name in ("good", "other"):
        gpg(home, "--quick-gen-key", f"kiln test {name} <{name}@kiln.invalid>", "ed25519", "sign", "1d")
        gpg(home, "--yes", "--export", "-o", f"{home}/{name}.gpg", f"{name}@kiln.invalid")
    gpg(home, "--yes", "--armor", "--export", "-o", f"{home}/good.asc", "good@kiln.invalid")


def bzimage(version):
    """Enough of an x86 boot sector for the version string: 'HdrS' at 0x202, its offset at 0x20e."""
    data = bytearray(0x400)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x20e, 0x100)  # string at 0x300
    v = f"{version} (kiln@test) #1 SMP fixture".encode()
    data[0x300:0x300 + len(v)] = v
    return bytes(data)


def newc(entries):
    out = io.BytesIO()
    ino = 1
    for name, mode, body in entries + [("TRAILER!!!", 0, b"")]:
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{x:08x}" for x in (ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(nb), 0))
        out.write(hdr.encode() + nb)
        out.write(b"\0" * ((4 - out.tell() % 4) % 4))
        out.write(body)
        out.write(b"\0" * ((4 - out.tell() % 4) % 4))
        ino += 1
    return out.getvalue()


def initrd(status):
    # merged /usr, as trixie's installer has it: lib and bin are symlinks into usr
    return gzip.compress(newc([("usr", 0o40755, b""), ("usr/lib", 0o40755, b""), ("usr/bin", 0o40755, b""),
                               ("lib", 0o120777, b"usr/lib"), ("bin", 0o120777, b"usr/bin"),
                               ("var", 0o40755, b""), ("var/lib", 0o40755, b""), ("var/lib/dpkg", 0o40755, b""),
                               ("var/lib/dpkg/status", 0o100644, status.encode()),
                               ("init", 0o100755, b"#!/bin/sh\necho fixture\n")]), mtime=0)


def deb(path, files, name, version):
    def tar_xz(members):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as t:
            for n, body in members:
                ti = tarfile.TarInfo("./" + n)
                ti.size, ti.mode, ti.mtime = len(body), 0o644, 0
                t.addfile(ti, io.BytesIO(body))
        return buf.getvalue()
    control = tar_xz([("control", f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
                                  f"Maintainer: kiln tests\nDescription: fixture\n".encode())])
    data = tar_xz(files)
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for n, body in (("debian-binary", b"2.0\n"), ("control.tar.xz", control), ("data.tar.xz", data)):
        out.write(f"{n + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode())
        out.write(body)
        if len(body) % 2:
            out.write(b"\n")
    open(path, "wb").write(out.getvalue())


def stanza(**f):
    return "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in f.items())


def build(root, home, variant):
    top = os.path.join(root, "debian")
    dists = os.path.join(top, "dists", "trixie")
    pool = os.path.join(top, "pool", "main")
    for d in ("main/binary-all", "main/binary-amd64", "main/debian-installer/binary-amd64"):
        os.makedirs(os.path.join(dists, d), exist_ok=True)
    os.makedirs(os.path.join(pool, "d"), exist_ok=True)
    os.makedirs(os.path.join(pool, "l"), exist_ok=True)

    status = stanza(Package="busybox-udeb", Status="install ok installed", Version="1.37.0-6") + "\n" + \
        stanza(Package="libc6-udeb", Status="install ok installed", Version="2.41-12")
    debfile = f"pool/main/d/{NETBOOT}_{VERSION}_all.deb"
    deb(os.path.join(top, debfile), [(f"{IMG}/linux", bzimage(KVER)), (f"{IMG}/initrd.gz", initrd(status))],
        NETBOOT, VERSION)
    debdata = open(os.path.join(top, debfile), "rb").read()
    deb_sha = hashlib.sha256(debdata).hexdigest()
    if variant == "wrong-deb-hash":
        deb_sha = hashlib.sha256(b"something else").hexdigest()
    if variant == "missing-deb":
        os.unlink(os.path.join(top, debfile))
    if variant == "truncated-deb":
        open(os.path.join(root, "truncate"), "w").write("/debian/" + debfile + "\n")
    all_pkgs = stanza(Package="hello", Version="1.0", Architecture="all", Filename="pool/main/h/hello_1.0_all.deb",
                      Size=10, SHA256="0" * 64) + "\n" + \
        stanza(Package=NETBOOT, Version=VERSION, Architecture="all", Filename=debfile, Size=len(debdata),
               SHA256=deb_sha, Priority="optional")

    udebs = []
    kver = "6.12.107+deb13-amd64" if variant == "kernel-abi-mismatch" else KVER
    for name, prio in ((f"kernel-image-{kver}-di", "standard"), (f"ext4-modules-{kver}-di", "standard"),
                       (f"scsi-modules-{kver}-di", "standard"), ("partman-ext3", "standard"),
                       ("e2fsprogs-udeb", "optional"), ("busybox-udeb", "required"), ("fancy-extra", "optional")):
        f = f"pool/main/l/{name}_1_amd64.udeb"
        body = f"udeb {name}".encode()
        if not (variant == "missing-udeb" and name == "e2fsprogs-udeb"):
            open(os.path.join(top, f), "wb").write(body)
        extra = {"Depends": "e2fsprogs-udeb, libc6-udeb (>= 2.41)"} if name == "partman-ext3" else {}
        version = "1.37.0-6" if name == "busybox-udeb" else "1"
        udebs.append(stanza(Package=name, Version=version, Priority=prio, Filename=f, Size=len(body),
                            SHA256=hashlib.sha256(body).hexdigest(), **extra))
    if variant == "changed":
        udebs.append(stanza(Package="new-udeb", Version="2", Priority="optional",
                            Filename="pool/main/l/new-udeb_2_amd64.udeb", Size=1, SHA256="1" * 64))
    udeb_index = "\n".join(udebs)
    modern = variant != "old-style"
    amd64_pkgs = stanza(Package="base-files", Version="13.9", Architecture="amd64",
                        Filename="pool/main/b/base-files_13.9_amd64.deb", Size=10, SHA256="2" * 64)
    if modern:  # binary-ARCH lists the Architecture: all packages too
        amd64_pkgs += "\n" + all_pkgs

    stale = {"stale-plain": ("main/binary-all/Packages", "main/binary-amd64/Packages",
                             "main/debian-installer/binary-amd64/Packages"),
             "stale-all": ("main/binary-all/Packages",),
             "stale-no-byhash": ("main/debian-installer/binary-amd64/Packages",)}.get(variant, ())
    no_byhash = {"stale-all": ("main/binary-all/Packages",),
                 "stale-no-byhash": ("main/debian-installer/binary-amd64/Packages",)}.get(variant, ())
    files = {}
    for rel, text in (("main/binary-all/Packages", all_pkgs), ("main/binary-amd64/Packages", amd64_pkgs),
                      ("main/debian-installer/binary-amd64/Packages", udeb_index)):
        raw = text.encode()
        for suffix, data in (("", raw), (".xz", lzma.compress(raw)), (".gz", gzip.compress(raw, mtime=0))):
            files[rel + suffix] = data
            # what the plain name holds: the signed bytes, or (mid-sync) a newer index
            served = data
            if rel in stale:
                newer = (text + "\n" + stanza(Package="newer", Version="9")).encode()
                served = {"": newer, ".xz": lzma.compress(newer), ".gz": gzip.compress(newer, mtime=0)}[suffix]
            open(os.path.join(dists, rel + suffix), "wb").write(served)
            if modern and rel not in no_byhash:
                bh = os.path.join(dists, os.path.dirname(rel), "by-hash", "SHA256")
                os.makedirs(bh, exist_ok=True)
                open(os.path.join(bh, hashlib.sha256(data).hexdigest()), "wb").write(data)
    # The component's own Release, which choose-mirror reads (no by-hash copy, as on Debian's mirrors).
    comp = b"Archive: stable\nOrigin: Debian\nLabel: Debian\nVersion: 13.9\nComponent: main\nArchitecture: amd64\n"
    open(os.path.join(dists, "main/binary-amd64/Release"), "wb").write(comp)
    files["main/binary-amd64/Release"] = comp
    lines = []
    for rel, data in sorted(files.items()):
        h = hashlib.sha256(data).hexdigest()
        if variant == "wrong-packages-hash" and rel.startswith("main/binary-amd64/Packages"):
            h = hashlib.sha256(b"tampered" + rel.encode()).hexdigest()
        lines.append(f" {h} {len(data):16d} {rel}")
    codename = "bookworm" if variant == "wrong-codename" else "trixie"
    date = "Sun, 13 Sep 2026 07:55:41 UTC" if variant == "changed" else "Sat, 12 Sep 2026 07:55:41 UTC"
    fields = "Acquire-By-Hash: yes\nNo-Support-for-Architecture-all: Packages\n" if modern else ""
    release = (f"Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 13.9\nCodename: {codename}\n"
               f"Date: {date}\n{fields}Architectures: all amd64\nComponents: main\n"
               "Description: kiln test archive\nSHA256:\n" + "\n".join(lines) + "\n")
    open(os.path.join(dists, "Release"), "w").write(release)
    signer = "other@kiln.invalid" if variant == "bad-signature" else "good@kiln.invalid"
    gpg(home, "--yes", "--local-user", signer, "--clearsign", "-o", os.path.join(dists, "InRelease"),
        os.path.join(dists, "Release"))
    gpg(home, "--yes", "--local-user", signer, "--detach-sign", "--armor", "-o", os.path.join(dists, "Release.gpg"),
        os.path.join(dists, "Release"))


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        with open(self.server.log, "a") as log:
            log.write(self.path + "\n")
        if self.path in self.server.truncate:
            path = self.translate_path(self.path)
            data = open(path, "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        super().do_GET()


def serve(root):
    truncate = set()
    if os.path.exists(os.path.join(root, "truncate")):
        truncate = set(open(os.path.join(root, "truncate")).read().split())
    log = os.path.abspath(os.path.join(root, "requests.log"))
    os.chdir(root)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    s = Server(("127.0.0.1", 0), Handler)
    s.truncate = truncate
    s.log = log
    print(s.server_address[1], flush=True)
    s.serve_forever()


if __name__ == "__main__":
    cmd = sys.argv[1]
    # gpg starts an agent for the home it signs with, which outlives this script (and the test's
    # folder) unless stopped: stopped here, so a test leaves no process behind.
    if cmd == "keys":
        keys(sys.argv[2])
        subprocess.run(["gpgconf", "--homedir", sys.argv[2], "--kill", "gpg-agent"], check=False)
    elif cmd == "build":
        args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        build(sys.argv[2], args["--gnupghome"], args.get("--variant", "good"))
        subprocess.run(["gpgconf", "--homedir", args["--gnupghome"], "--kill", "gpg-agent"], check=False)
    elif cmd == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(__doc__)
