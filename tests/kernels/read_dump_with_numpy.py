"""Reads a pal-run dump with nothing but the standard library and numpy, as a user would without
the `safetensors` package, and checks that the kernel's stages match the reference's. An fp8 cache
(F8_E4M3 / F8_E5M2 tensors) is decoded here, from the formats' definitions, and the output is
recomputed from the file alone: dequantised caches (code value times k_scale / v_scale from the
scenario in __metadata__), the block table, the block-sparse rule, a softmax, in float64.

usage: read_dump_with_numpy.py DUMP.safetensors
Exit status 0 when the file parses and every compared stage agrees, 1 otherwise.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def decode_fp8(codes, dtype):
    """fp8 codes (uint8) as float64 values: E4M3 (bias 7, no infinity, s.1111.111 NaN) or E5M2 (the
    top byte of an fp16)."""
    codes = codes.astype(np.uint16)
    if dtype == "F8_E5M2":
        return (codes << 8).view(np.float16).astype(np.float64)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exponent = ((codes >> 3) & 0xF).astype(np.int32)
    mantissa = (codes & 0x7).astype(np.float64)
    normal = (1.0 + mantissa / 8.0) * np.exp2(exponent - 7.0)
    subnormal = mantissa / 8.0 * np.exp2(-6.0)
    values = sign * np.where(exponent == 0, subnormal, normal)
    return np.where((codes & 0x7F) == 0x7F, np.nan, values)


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
        elif info["dtype"] in ("F8_E4M3", "F8_E5M2"):  # numpy has no fp8: decode the codes
            array = decode_fp8(np.frombuffer(raw, dtype=np.uint8), info["dtype"])
        else:
            array = np.frombuffer(raw, dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        tensors[name] = array.reshape(info["shape"])
    return tensors, metadata


def attends(scenario, seq_len, head, kv_head, num_heads, num_kv_heads, block_idx, block_size):
    """The block-sparse rule (upstream's, per kv_block), from the scenario's fields alone."""
    stride = scenario.get("blocksparse_vert_stride", 0)
    if stride <= 1:
        return True
    sparse_block = scenario["blocksparse_block_size"]
    step = scenario["blocksparse_head_sliding_step"]
    tp_rank = scenario["tp_rank"]
    query_block = (seq_len - 1) // sparse_block
    if step >= 0:
        offset = (tp_rank * num_heads + head) * step + 1
    else:
        offset = (tp_rank * num_kv_heads + kv_head) * (-step) + 1
    k = block_idx * block_size // sparse_block
    return (k + offset) % stride == 0 or k > query_block - scenario["blocksparse_local_blocks"]


def recompute_output(tensors, scenario):
    """Attention of every (seq, head) from the dump's inputs, in float64."""
    query = tensors["query"].astype(np.float64)
    num_seqs, num_heads, head_size = query.shape
    fp8 = scenario.get("kv_cache_dtype", "auto") != "auto"
    k_scale = scenario.get("k_scale", 1.0) if fp8 else 1.0
    v_scale = scenario.get("v_scale", 1.0) if fp8 else 1.0
    key_cache = tensors["key_cache"].astype(np.float64) * k_scale  # [blocks, kv_heads, head/x, bs, x]
    value_cache = tensors["value_cache"].astype(np.float64) * v_scale  # [blocks, kv_heads, head, bs]
    num_blocks, num_kv_heads, _, block_size, _ = key_cache.shape
    keys = key_cache.transpose(0, 1, 3, 2, 4).reshape(num_blocks, num_kv_heads, block_size, head_size)
    values = value_cache.transpose(0, 1, 3, 2)  # [blocks, kv_heads, bs, head]
    scale = scenario.get("scale")
    scale = 1.0 / np.sqrt(head_size) if scale is None else scale
    slopes = tensors.get("alibi_slopes")
    out = np.zeros_like(query)
    for seq in range(num_seqs):
        seq_len = int(tensors["seq_lens"][seq])
        table = tensors["block_tables"][seq]
        for head in range(num_heads):
            kv_head = head // (num_heads // num_kv_heads)
            logits, rows = [], []
            for token in range(seq_len):
                block = token // block_size
                if not attends(scenario, seq_len, head, kv_head, num_heads, num_kv_heads, block, block_size):
                    continue
                physical = table[block]
                logit = scale * np.dot(query[seq, head], keys[physical, kv_head, token % block_size])
                if slopes is not None and slopes.size:
                    logit += slopes[head] * (token - seq_len + 1)
                logits.append(logit)
                rows.append(values[physical, kv_head, token % block_size])
            p = np.exp(np.array(logits) - max(logits))
            out[seq, head] = (p / p.sum()) @ np.array(rows)
    return out


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
    recomputed = recompute_output(tensors, scenario)
    recompute_err = np.max(np.abs(out - recomputed))
    print(f"output vs numpy's own recomputation from the file ({scenario.get('kv_cache_dtype', 'auto')} cache): "
          f"max abs error {recompute_err:.3g}")
    ok &= recompute_err < 2e-3
    for stage in ("query_load", "qk_logits", "qk_max", "exp_values", "exp_sum", "softmax"):
        k = tensors["kernel." + stage].astype(np.float64)
        r = tensors["reference." + stage].astype(np.float64)
        # Block sparsity's -FLT_MAX logits are compared for equality only, not as a magnitude.
        both = ~np.isnan(r) & (np.abs(r) < 3e38)
        if not np.array_equal(k[~both & ~np.isnan(r)], r[~both & ~np.isnan(r)]):
            print(f"kernel.{stage}: skipped tokens' -FLT_MAX logits differ from the reference's")
            ok = False
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
