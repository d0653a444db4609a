#!/usr/bin/python3
"""safetensors interop between Python and proxima (tests/nn/test_safetensors.cpp).

Usage (run with /usr/bin/python3 from anywhere):
  safetensors_interop.py                   write tests/golden/python_written.safetensors
  safetensors_interop.py --check FILE      read FILE, print each tensor's dtype, shape, sum, sha256
  safetensors_interop.py --verify FILE     also check FILE holds exactly the golden pattern below
                                           (proxima writes that pattern when the C++ test runs with
                                           PX_SAFETENSORS_EXPORT=FILE)

Uses the `safetensors` package when it is importable; otherwise a small reader and writer
written here from the format specification (json + struct + numpy), independent of proxima:
  u64 little-endian N | N bytes of JSON header padded with spaces | raw little-endian data.
The writer orders the data like the reference writer (by alignment, then name).

The golden pattern is defined by formulas that the C++ test recomputes; keep them in sync.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U8": np.uint8}
METADATA = {"format": "pt", "source": "tests/golden/safetensors_interop.py"}


def golden_tensors():
    """The pattern: every value a function of its row-major index i."""
    def idx(shape):
        return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.float64).reshape(shape)

    return {
        "f32.matrix": (idx((2, 3)) * 0.1 - 0.3).astype(np.float32),            # float(i*0.1-0.3)
        "f32.scalar": np.array(-1.25, dtype=np.float32),                        # 0-d
        "f64.cube": idx((2, 2, 2)) / 3.0 - 1.0,                                 # i/3-1
        "f64.empty": np.zeros((0, 4), dtype=np.float64),                        # no elements
        "i64.vec": (np.arange(5, dtype=np.int64) - 2) * np.int64(1099511627777),  # (i-2)*(2^40+1)
        "u8.image": ((np.arange(12, dtype=np.int64) * 37 + 11) % 256).astype(np.uint8).reshape(3, 4),
        "u8.scalar": np.array(255, dtype=np.uint8),                             # 0-d
    }


def dtype_code(array):
    for code, np_type in DTYPES.items():
        if array.dtype == np.dtype(np_type):
            return code
    raise ValueError(f"unsupported dtype {array.dtype}")


def write_file(path, tensors, metadata):
    try:
        from safetensors.numpy import save_file  # the reference writer, when present
        save_file(tensors, path, metadata=metadata)
        return "safetensors package"
    except ImportError:
        pass
    order = sorted(tensors, key=lambda n: (-tensors[n].dtype.itemsize, n))
    header, offset = {"__metadata__": metadata}, 0
    for name in order:
        nbytes = tensors[name].nbytes
        header[name] = {"dtype": dtype_code(tensors[name]), "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for name in order:
            out.write(np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<")).tobytes())
    return "independent writer"


def read_file(path):
    """Returns ([(name, array)] in data order, metadata), validating like a strict reader."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: truncated ({len(blob)} bytes)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: header length {n} beyond file size {len(blob)}")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{path}: duplicate keys in header")
        return dict(pairs)

    header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    covered, result = 0, []
    for name, info in entries:
        begin, end = info["data_offsets"]
        np_type = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        shape = tuple(info["shape"])
        if begin != covered or end > len(data):
            raise ValueError(f"{path}: tensor {name} offsets [{begin}, {end}) do not follow {covered}")
        if int(np.prod(shape, dtype=np.int64)) * np_type.itemsize != end - begin:
            raise ValueError(f"{path}: tensor {name} shape {shape} does not match its {end - begin} bytes")
        result.append((name, np.frombuffer(data[begin:end], dtype=np_type).reshape(shape)))
        covered = end
    if covered != len(data):
        raise ValueError(f"{path}: data has {len(data)} bytes, tensors cover {covered}")
    return result, metadata


def check(path, verify):
    tensors, metadata = read_file(path)
    print(f"{path}: {len(tensors)} tensors, metadata {json.dumps(metadata, sort_keys=True)}")
    for name, array in tensors:
        digest = hashlib.sha256(array.tobytes()).hexdigest()[:16]
        total = math.fsum(float(v) for v in array.reshape(-1))
        print(f"  {name:<12} {dtype_code(array):<3} {str(list(array.shape)):<10} sum={total!r:<24} sha256={digest}")
    if not verify:
        return 0
    golden, found = golden_tensors(), dict(tensors)
    problems = [f"missing {n}" for n in golden if n not in found]
    problems += [f"unexpected {n}" for n in found if n not in golden]
    for name in golden:
        if name in found:
            a, b = golden[name], found[name]
            if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                problems.append(f"{name} differs: {b.dtype}{list(b.shape)} vs expected {a.dtype}{list(a.shape)}")
    if metadata != METADATA:
        problems.append(f"metadata {metadata} != {METADATA}")
    print("verify:", "OK, matches the golden pattern bit for bit" if not problems else "; ".join(problems))
    return 0 if not problems else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="FILE")
    parser.add_argument("--verify", metavar="FILE")
    args = parser.parse_args()
    if args.check or args.verify:
        return check(args.check or args.verify, verify=bool(args.verify))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python_written.safetensors")
    how = write_file(out, golden_tensors(), METADATA)
    print(f"wrote {out} ({os.path.getsize(out)} bytes) with the {how}")
    return check(out, verify=True)


if __name__ == "__main__":
    sys.exit(main())
