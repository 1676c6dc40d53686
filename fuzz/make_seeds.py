#!/usr/bin/env python3
"""Rebuilds the seed corpora in fuzz/corpus/<target>/ from the protocol captures.

usage: python3 fuzz/make_seeds.py [CAPTURES_DIR]   (default: ../shared/protocol-captures
       beside the repository, else /work/shared/protocol-captures)

Each capture line (see the captures' README) gives a frame's length, serialize type, header
(JSON text, or hex for ROCKETMQ binary) and the first 300 bytes of its body. From them:
  frame_decode/   whole frames as on the wire (length, header mark, header, body); a frame
                  whose body was cut at 300 bytes gets a length that fits what we have, plus
                  a "-partial" copy that keeps the real length (the decoder must wait);
                  "-stream" files are every frame of a capture and direction back to back
  json_header/    the JSON headers
  binary_header/  the binary headers, and "synth-" ones: the captured JSON requests
                  re-encoded as ROCKETMQ binary (with a remark, so that path is seeded)
  json_body/      the bodies, and "synth-" ones in fastjson's dialect (bare numeric keys)
Existing seed files are overwritten, others left alone. Output is deterministic.
"""
import ast
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(
    r"(?P<t>\d+\.\d+) (?P<dir>C->S|S->C) len=(?P<len>\d+) serType=(?P<st>\d) hdrLen=(?P<hl>\d+) "
    r"header=(?P<h>.*?) bodyLen=(?P<bl>\d+) body\[:300\]=(?P<b>b'.*?'|b\".*?\")\n",
    re.S,
)
LANG = {"JAVA": 0, "CPP": 1, "DOTNET": 2, "PYTHON": 3, "GO": 9, "RUST": 12}


def captures_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    for d in (os.path.join(HERE, "..", "..", "shared", "protocol-captures"), "/work/shared/protocol-captures"):
        if os.path.isdir(d):
            return d
    sys.exit("protocol captures not found; pass their directory")


def frame(ser_type, header, body, length=None):
    if length is None:
        length = 4 + len(header) + len(body)
    return struct.pack(">II", length, (ser_type << 24) | len(header)) + header + body


def binary_header(h):
    """ROCKETMQ binary header of a JSON header dict (RocketMQSerializable's layout)."""
    remark = (h.get("remark") or "").encode()
    ext = b""
    for k, v in (h.get("extFields") or {}).items():
        k, v = k.encode(), str(v).encode()
        ext += struct.pack(">h", len(k)) + k + struct.pack(">i", len(v)) + v
    out = struct.pack(">hBhii", h["code"], LANG.get(h.get("language"), 7), h.get("version", 0),
                      h.get("opaque", 0), h.get("flag", 0))
    out += struct.pack(">i", len(remark)) + remark
    out += struct.pack(">i", len(ext)) + ext
    return out


def bare_keys(body):
    """fastjson writes Map<Long, String> keys bare: {"0":"a"} -> {0:"a"}."""
    return re.sub(rb'([{,])"(-?\d+)":', rb"\1\2:", body)


def write(target, name, data, written):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written.append(f"{target}/{name} ({len(data)} B)")


def main():
    src = captures_dir()
    written = []
    for fname in sorted(os.listdir(src)):
        if not fname.endswith(".txt"):
            continue
        cap = fname[:-4]
        with open(os.path.join(src, fname), encoding="utf-8") as f:
            text = f.read()
        streams = {}
        for i, m in enumerate(LINE.finditer(text)):
            st, hl, bl = int(m["st"]), int(m["hl"]), int(m["bl"])
            header = bytes.fromhex(m["h"]) if st == 1 else m["h"].encode()
            body = ast.literal_eval(m["b"])
            assert len(header) == hl, (fname, i, len(header), hl)
            assert int(m["len"]) == 4 + hl + bl, (fname, i)
            direction = "c2s" if m["dir"] == "C->S" else "s2c"
            name = f"{cap}-{i}-{direction}"
            whole = frame(st, header, body)
            write("frame_decode", name, whole, written)
            streams.setdefault(direction, []).append(whole)
            if len(body) < bl:
                write("frame_decode", name + "-partial", frame(st, header, body, int(m["len"])), written)
            if st == 0:
                write("json_header", name, header, written)
                h = json.loads(header)
                if direction == "c2s":
                    h2 = dict(h, remark=h.get("remark") or "synthesized remark")
                    bh = binary_header(h2)
                    write("binary_header", f"synth-{name}", bh, written)
                    write("frame_decode", f"synth-{name}-bin", frame(1, bh, body), written)
            else:
                write("binary_header", name, header, written)
            if body:
                write("json_body", name, body, written)
                if len(body) == bl:
                    fj = bare_keys(body)
                    if fj != body:
                        write("json_body", f"synth-{name}-fastjson", fj, written)
        for direction, frames in streams.items():
            if len(frames) > 1:
                write("frame_decode", f"{cap}-{direction}-stream", b"".join(frames), written)
    print("\n".join(written))


if __name__ == "__main__":
    main()
