"""Minimal safetensors reader and writer on numpy alone (for bench/peers/).

The format (huggingface/safetensors; include/modnorm/safetensors.hpp): an 8-byte little-endian
header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets"}, ...,
"__metadata__": {str: str}}, then the raw little-endian row-major data. Written here by hand so
that both sides of the comparison read it with nothing but numpy: the virtual environment
(numpy 2, jax, optax) and Debian's python3 (numpy 1.24, python3-torch) alike.
"""

import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32}  # I32: token ids
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save(path, tensors, metadata=None):
    """Writes a dict (or list of pairs) name -> numpy array (float32 or float64)."""
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    header = {}
    blobs = []
    offset = 0
    for name, array in items:
        a = np.ascontiguousarray(array)
        if a.dtype not in _NAMES:
            raise ValueError(f"st.save: {name}: dtype {a.dtype} is not float32 or float64")
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def load(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    body = memoryview(raw)[8 + n:]
    out = {}
    for name, entry in header.items():
        if entry["dtype"] not in _DTYPES:
            raise ValueError(f"st.load: {path}: {name}: unsupported dtype {entry['dtype']}")
        begin, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(entry["shape"]).copy()
    return out, metadata
