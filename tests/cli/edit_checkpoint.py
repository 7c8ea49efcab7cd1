"""Writes a copy of a safetensors checkpoint with its header or data edited, for the CLI tests.

Usage: edit_checkpoint.py SOURCE TARGET CODE

CODE is Python run with `h` the JSON header, `m` its __metadata__ and `put(name, values)`
writing little-endian F32/F64 values over the start of a tensor's data. The format: an 8-byte
little-endian header length, the JSON header (padded with spaces to a multiple of 8), the data.
"""
import json
import struct
import sys

source, target, code = sys.argv[1:4]
data = open(source, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
h = json.loads(data[8:8 + n])
m = h["__metadata__"]
body = bytearray(data[8 + n:])


def put(name, values):
    entry = h[name]
    packed = struct.pack("<%d%s" % (len(values), {"F32": "f", "F64": "d"}[entry["dtype"]]), *values)
    begin = entry["data_offsets"][0]
    assert begin + len(packed) <= entry["data_offsets"][1], name
    body[begin:begin + len(packed)] = packed


exec(code)
header = json.dumps(h).encode()
header += b" " * (-(8 + len(header)) % 8)
open(target, "wb").write(struct.pack("<Q", len(header)) + header + bytes(body))
