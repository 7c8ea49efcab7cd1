#!/usr/bin/env python3
"""Writes the first 2048 training and 1000 test examples of Debian's Fashion-MNIST
(/usr/share/datasets/fashion-mnist) to DEST as plain IDX files, for the command-line tests: every
`modnorm train` run evaluates the whole test set, and 10000 test images would be most of their
time. Same format, same loader, same code paths; the tests' --limit stays below 2048.
Usage: fashion_subset.py DEST"""

import gzip
import os
import struct
import sys

SOURCE = "/usr/share/datasets/fashion-mnist"
COUNTS = {"train-images-idx3-ubyte": 2048, "train-labels-idx1-ubyte": 2048,
          "t10k-images-idx3-ubyte": 1000, "t10k-labels-idx1-ubyte": 1000}


def main(dest):
    os.makedirs(dest, exist_ok=True)
    for name, count in COUNTS.items():
        with gzip.open(os.path.join(SOURCE, name + ".gz")) as f:
            data = f.read()
        ndims = data[3]  # IDX: 0, 0, type, ndims, then ndims big-endian uint32 sizes
        dims = struct.unpack(">%dI" % ndims, data[4:4 + 4 * ndims])
        item = 1
        for d in dims[1:]:
            item *= d
        start = 4 + 4 * ndims
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data[:4] + struct.pack(">%dI" % ndims, count, *dims[1:]))
            f.write(data[start:start + count * item])


if __name__ == "__main__":
    main(sys.argv[1])
