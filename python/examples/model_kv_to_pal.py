#!/usr/bin/env python3
"""A model's keys and values in a paged cache, one decode step through the kernel, recorded and
opened in pal-viz.

    PYTHONPATH=build/python python3 python/examples/model_kv_to_pal.py            # synthetic model
    PYTHONPATH=build/python python3 python/examples/model_kv_to_pal.py --kv my_kv.npz --open

Without --kv, a small synthetic decoder (random weights, no download) runs a causal prefill over
two token sequences: embeddings, then per layer RMSNorm, q/k/v projections with grouped KV heads,
rotary position embeddings, causal attention and an output projection with a residual. Its keys and
values of the chosen layer go into a paged cache exactly as a serving engine stores them, and the
last token of each sequence is the decode query.

--kv FILE.npz takes a real model's instead: arrays `query` [num_seqs, num_heads, head_size] and,
per sequence i, `keys_i` / `values_i` [seq_len, num_kv_heads, head_size] (the current token
included, as vLLM writes it into the cache before attending), all float16, float32, or bf16 bits
as uint16 (with --bf16).
"""
import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import pal


# ---- a synthetic decoder ---------------------------------------------------------------------

def rms_norm(x):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + 1e-6)


def rotary(x, positions):
    """Rotary position embedding (the rotate-half form) over the last dimension of [tokens, heads, d]."""
    half = x.shape[-1] // 2
    inverse_frequency = 10000.0 ** (-np.arange(half) / half)
    angles = positions[:, None, None] * inverse_frequency[None, None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)


def synthetic_model_kv(seq_lens, num_layers, layer, num_heads, num_kv_heads, head_size, seed):
    """Per sequence: the chosen layer's K and V for every token, and its last token's q."""
    rng = np.random.default_rng(seed)
    hidden = num_heads * head_size
    vocab = 256
    embedding = rng.standard_normal((vocab, hidden)) * 0.5
    weights = [{name: rng.standard_normal(shape) / np.sqrt(shape[0]) for name, shape in
                (("q", (hidden, num_heads * head_size)), ("k", (hidden, num_kv_heads * head_size)),
                 ("v", (hidden, num_kv_heads * head_size)), ("o", (num_heads * head_size, hidden)))}
               for _ in range(num_layers)]
    group = num_heads // num_kv_heads
    queries, keys, values = [], [], []
    for seq_len in seq_lens:
        x = embedding[rng.integers(0, vocab, seq_len)]
        positions = np.arange(seq_len, dtype=np.float64)
        for index, w in enumerate(weights):
            h = rms_norm(x)
            q = rotary((h @ w["q"]).reshape(seq_len, num_heads, head_size), positions)
            k = rotary((h @ w["k"]).reshape(seq_len, num_kv_heads, head_size), positions)
            v = (h @ w["v"]).reshape(seq_len, num_kv_heads, head_size)
            if index == layer:
                queries.append(q[-1])
                keys.append(k)
                values.append(v)
                break
            # Causal attention of every token (the prefill), to feed the next layer.
            k_per_head, v_per_head = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
            logits = np.einsum("qhd,khd->hqk", q, k_per_head) / np.sqrt(head_size)
            logits += np.triu(np.full((seq_len, seq_len), -np.inf), 1)
            p = np.exp(logits - logits.max(axis=-1, keepdims=True))
            p /= p.sum(axis=-1, keepdims=True)
            x = x + np.einsum("hqk,khd->qhd", p, v_per_head).reshape(seq_len, hidden) @ w["o"]
    return np.stack(queries), keys, values


def dense_decode(query, keys, values, scale):
    """The decode step without pages, in float64: what the kernel's output should be close to."""
    num_heads, group = query.shape[1], query.shape[1] // keys[0].shape[1]
    out = np.zeros(query.shape)
    for seq, (k, v) in enumerate(zip(keys, values)):
        for head in range(num_heads):
            logits = k[:, head // group].astype(np.float64) @ query[seq, head].astype(np.float64) * scale
            p = np.exp(logits - logits.max())
            out[seq, head] = (p / p.sum()) @ v[:, head // group].astype(np.float64)
    return out


# ---- the run ---------------------------------------------------------------------------------

def pal_viz_path():
    """pal-viz next to the build tree's package (build/python/pal -> build/bin), or on the PATH."""
    beside = Path(pal.__file__).resolve().parents[2] / "bin" / "pal-viz"
    return str(beside) if beside.exists() else (shutil.which("pal-viz") or "pal-viz")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kv", help="a model's query, keys and values (.npz, see above); default: synthetic model")
    parser.add_argument("--bf16", action="store_true", help="--kv holds bf16 bit patterns as uint16")
    parser.add_argument("--seq-lens", default="23,70", help="synthetic model: tokens per sequence")
    parser.add_argument("--layers", type=int, default=2, help="synthetic model: layers (the last one is recorded)")
    parser.add_argument("--heads", default="4,2", help="synthetic model: query heads, KV heads")
    parser.add_argument("--head-size", type=int, default=64)
    parser.add_argument("--block-size", type=int, default=16)
    parser.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16", help="synthetic model: cache dtype")
    parser.add_argument("--backend", default="auto", help="emulator, gpu or auto")
    parser.add_argument("--output", default="model_kv.safetensors", help="the dump pal-viz opens")
    parser.add_argument("--open", action="store_true", help="open the dump in pal-viz when a display is available")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.kv:
        data = np.load(args.kv)
        query = data["query"]
        keys = [data[f"keys_{i}"] for i in range(query.shape[0])]
        values = [data[f"values_{i}"] for i in range(query.shape[0])]
        dtype = "bf16" if args.bf16 else None
        source = args.kv
    else:
        seq_lens = [int(n) for n in args.seq_lens.split(",")]
        num_heads, num_kv_heads = (int(n) for n in args.heads.split(","))
        numpy_dtype = np.float16 if args.dtype == "fp16" else np.float32
        query, keys, values = synthetic_model_kv(seq_lens, args.layers, args.layers - 1, num_heads, num_kv_heads,
                                                 args.head_size, args.seed)
        query = query.astype(numpy_dtype)
        keys = [k.astype(numpy_dtype) for k in keys]
        values = [v.astype(numpy_dtype) for v in values]
        dtype = None
        source = (f"synthetic {args.layers}-layer decoder (random weights), layer {args.layers - 1}, "
                  f"sequences of {seq_lens} tokens")

    # The cache a serving engine would hold: blocks allocated out of order from a shared pool.
    key_cache, value_cache, block_tables, seq_lens_array = pal.build_paged_cache(
        keys, values, args.block_size, shuffle=True, seed=args.seed)
    run = pal.paged_attention(query, key_cache, value_cache, block_tables, seq_lens_array,
                              backend=args.backend, record=True, dtype=dtype)
    print(f"K/V from   : {source}")
    print(f"cache      : key_cache {list(key_cache.shape)}, value_cache {list(value_cache.shape)}, "
          f"block_tables {block_tables.tolist()}")
    print(f"ran        : {run.backend} ({run.device}), kernel {run.version}\n")
    print(run.report_table)

    if dtype != "bf16":
        scale = 1.0 / np.sqrt(query.shape[2])
        error = np.abs(run.output.astype(np.float64) - dense_decode(query, keys, values, scale)).max()
        print(f"largest |kernel - dense float64 attention| over the output: {error:.3g}")

    pal.write_dump(args.output, run)
    viz = pal_viz_path()
    command = f"{viz} --dump {args.output}"
    print(f"\nwrote {args.output}; open it with:\n  {command}")
    if args.open:
        if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
            return subprocess.call([viz, "--dump", args.output])
        print("no display (DISPLAY / WAYLAND_DISPLAY unset): not opening pal-viz", file=sys.stderr)
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
