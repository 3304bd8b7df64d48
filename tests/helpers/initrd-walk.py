#!/usr/bin/env python3
"""Read an initrd as the kernel does: every gzip member in turn, every newc cpio archive in each,
past each TRAILER!!! (libarchive and GNU cpio stop at the first). Prints, per entry:
MEMBER MODE(octal) SIZE SHA256 PATH. With --cat PATH, writes that file's content (the last one) to stdout.
"""
import hashlib, sys, zlib


def members(data):
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(data)
        out += d.flush()
        yield out
        data = d.unused_data
        data = data.lstrip(b"\0")


def entries(blob):
    off = 0
    while off + 110 <= len(blob):
        if blob[off:off + 6] not in (b"070701", b"070702"):
            off += 1
            continue
        h = blob[off:off + 110]
        mode, size, namesize = int(h[14:22], 16), int(h[54:62], 16), int(h[94:102], 16)
        name = blob[off + 110:off + 110 + namesize - 1].decode()
        off = (off + 110 + namesize + 3) & ~3
        body = blob[off:off + size]
        off = (off + size + 3) & ~3
        if name != "TRAILER!!!":
            yield name, mode, body


def main():
    data = open(sys.argv[1], "rb").read()
    want = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--cat" else None
    found = None
    for i, m in enumerate(members(data)):
        for name, mode, body in entries(m):
            if want is None:
                print(i, f"{mode:o}", len(body), hashlib.sha256(body).hexdigest(), name)
            elif name == want:
                found = body
    if want is not None:
        if found is None:
            sys.exit(f"initrd-walk: no '{want}'")
        sys.stdout.buffer.write(found)


main()
