#!/usr/bin/python3
"""Print the SHA-256 of the tensor data of safetensors files: the bytes after the header, that
is the weights, whatever the header's metadata says (a model file records its training run's
paths and time, which differ from run to run).

Usage: scripts/weights_sha256.py FILE...   (prints "<sha256>  FILE" per file)
"""

import hashlib
import struct
import sys


def weights_sha256(path):
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (header_size,) = struct.unpack("<Q", prefix)
        f.seek(8 + header_size)
        return hashlib.sha256(f.read()).hexdigest()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        try:
            print(f"{weights_sha256(path)}  {path}")
        except (OSError, ValueError) as error:
            sys.exit(f"weights_sha256.py: {error}")


if __name__ == "__main__":
    main()
