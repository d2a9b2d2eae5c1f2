"""Reads a pal-run dump with nothing but the standard library and numpy, as a user would without
the `safetensors` package, and checks that the kernel's stages match the reference's.

usage: read_dump_with_numpy.py DUMP.safetensors
Exit status 0 when the file parses and every compared stage agrees, 1 otherwise.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    data = memoryview(blob)[8 + header_len :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "BF16":  # numpy has no bfloat16: widen the 16 bits into an fp32
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        tensors[name] = array.reshape(info["shape"])
    return tensors, metadata


def main():
    tensors, metadata = read_safetensors(sys.argv[1])
    scenario = json.loads(metadata["scenario"])
    ok = True
    for name in ("query", "key_cache", "value_cache", "block_tables", "seq_lens", "output"):
        if name not in tensors:
            print(f"missing tensor {name}")
            ok = False
    print("scenario:", scenario)
    print("output", tensors["output"].shape, tensors["output"].dtype)
    out = tensors["output"].astype(np.float64)
    ref = tensors["reference.output"].astype(np.float64)
    err = np.max(np.abs(out - ref))
    print(f"output vs reference.output: max abs error {err:.3g}")
    ok &= bool(np.isfinite(out).all()) and err < 1e-2
    for stage in ("query_load", "qk_logits", "qk_max", "exp_values", "exp_sum", "softmax"):
        k = tensors["kernel." + stage].astype(np.float64)
        r = tensors["reference." + stage].astype(np.float64)
        both = ~np.isnan(r)
        stage_err = np.max(np.abs(k[both] - r[both])) if both.any() else 0.0
        print(f"kernel.{stage} vs reference.{stage}: {both.sum()} values, max abs error {stage_err:.3g}")
        ok &= stage_err <= 1e-4 * max(1.0, np.max(np.abs(r[both])) if both.any() else 1.0)
    # Every token slot of a sequence's range says which physical block it came from.
    blocks = tensors["kernel.token_physical_block"]
    print("physical blocks touched by thread block 0:", sorted(set(blocks[0][blocks[0] >= 0].tolist())))
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
