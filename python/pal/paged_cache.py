"""A paged KV cache from contiguous per-sequence keys and values, and back.

The conversion people get wrong (core/kv_cache_layout.h states it for the kernel; this is the same
layout, written for NumPy):

    key_cache   [num_blocks, num_kv_heads, head_size/x, block_size, x]
                key_cache[b, h, d // x, slot, d % x] = K[token, h, d]
                x = 16 / element size (8 for fp16/bf16, 4 for fp32, 16 for fp8 codes): each 16-byte
                chunk of a key's head_size elements is innermost, so a thread_group's vector load of
                one token's chunk is one 16-byte load.
    value_cache [num_blocks, num_kv_heads, head_size, block_size]
                value_cache[b, h, d, slot] = V[token, h, d]   (token-minor: a V row's tokens are
                contiguous, which is what the value loop's lanes read)

with b = block_tables[seq, token // block_size] and slot = token % block_size.

Slots that hold no token (the tail of each sequence's last kv_block, and every block no table
points at) are filled with NaN (the fp8 formats' NaN code 0x7F for uint8 caches), as the project's
input generator does: a kernel that reads beyond a context then shows it in its output.
"""

import numpy as _np

_FP8_NAN_CODE = 0x7F  # NaN in both E4M3 (0x7F, 0xFF) and E5M2 (0x7D..0x7F)


def key_x(itemsize):
    """x of the key layout: elements per 16-byte chunk."""
    if itemsize not in (1, 2, 4):
        raise ValueError(f"no key layout for {itemsize}-byte elements; caches hold 4 (fp32), 2 (fp16/bf16) or "
                         f"1 (fp8) byte elements")
    return 16 // itemsize


def _numpy(value, name):
    """NumPy view of an array or CPU torch tensor; returns (array, back) where back(ndarray) gives
    the caller's kind again."""
    import sys
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.device.type != "cpu":
            raise ValueError(f"{name} is on device '{value.device}'; pass {name}.cpu()")
        tensor = value.detach()
        if tensor.dtype == torch.bfloat16:
            return (tensor.view(torch.int16).numpy().view(_np.uint16),
                    lambda a: torch.from_numpy(a.view(_np.int16)).view(torch.bfloat16))
        for attr in ("float8_e4m3fn", "float8_e5m2"):
            if hasattr(torch, attr) and tensor.dtype == getattr(torch, attr):
                fp8 = getattr(torch, attr)
                return tensor.view(torch.uint8).numpy(), lambda a, fp8=fp8: torch.from_numpy(a).view(fp8)
        return tensor.numpy(), torch.from_numpy
    return _np.asarray(value), lambda a: a


def _fill_value(dtype):
    if dtype == _np.uint8:
        return _FP8_NAN_CODE
    if dtype == _np.uint16:  # bf16 bit patterns: a quiet NaN
        return 0x7FC0
    return _np.nan


def build_paged_cache(keys, values, block_size, *, block_tables=None, num_blocks=None, shuffle=False, seed=0):
    """Builds (key_cache, value_cache, block_tables, seq_lens) from per-sequence K and V.

    keys, values  one array (or torch tensor) per sequence, [seq_len, num_kv_heads, head_size], all of
                  one dtype: float32, float16, bf16 (torch.bfloat16, or uint16 bit patterns) or
                  uint8 fp8 codes. Returned caches are of the same kind.
    block_size    tokens per kv_block (the kernel takes 8, 16 or 32)
    block_tables  where to put each sequence's kv_blocks: [num_seqs, >= blocks needed] integers
                  (entries past a sequence's blocks are ignored). None: allocate them, in order or,
                  with shuffle=True, in a seeded random order of the pool (as a serving engine's
                  block allocator leaves them), -1 past each sequence's blocks.
    num_blocks    the pool size (None: the blocks the sequences need, or the table's largest entry + 1)

    seq_lens is int32 [num_seqs]; block_tables int32 [num_seqs, max_num_blocks_per_seq].
    """
    if len(keys) != len(values) or len(keys) == 0:
        raise ValueError(f"keys and values must be two lists of the same length >= 1 (one array per sequence); "
                         f"got {len(keys)} and {len(values)}")
    if block_size < 1:
        raise ValueError(f"block_size = {block_size} must be >= 1")
    converted_keys = [_numpy(k, f"keys[{i}]") for i, k in enumerate(keys)]
    converted_values = [_numpy(v, f"values[{i}]") for i, v in enumerate(values)]
    back = converted_keys[0][1]
    k_arrays = [a for a, _ in converted_keys]
    v_arrays = [a for a, _ in converted_values]
    first = k_arrays[0]
    if first.ndim != 3:
        raise ValueError(f"keys[0] has shape {list(first.shape)}; expected [seq_len, num_kv_heads, head_size]")
    _, num_kv_heads, head_size = first.shape
    dtype = first.dtype
    for name, arrays in (("keys", k_arrays), ("values", v_arrays)):
        for i, a in enumerate(arrays):
            if a.ndim != 3 or a.shape[1:] != (num_kv_heads, head_size):
                raise ValueError(f"{name}[{i}] has shape {list(a.shape)}; expected [seq_len, {num_kv_heads}, "
                                 f"{head_size}] like keys[0]")
            if a.dtype != dtype:
                raise TypeError(f"{name}[{i}] holds {a.dtype} elements but keys[0] holds {dtype}")
            if a.shape[0] != k_arrays[i].shape[0]:
                raise ValueError(f"values[{i}] has {a.shape[0]} tokens but keys[{i}] has {k_arrays[i].shape[0]}")
    x = key_x(dtype.itemsize)
    if head_size % x != 0:
        raise ValueError(f"head_size = {head_size} is not a multiple of x = {x} ({dtype.itemsize}-byte elements)")

    seq_lens = _np.array([a.shape[0] for a in k_arrays], dtype=_np.int32)
    blocks_needed = [(int(n) + block_size - 1) // block_size for n in seq_lens]
    width = max(max(blocks_needed), 1)
    if block_tables is None:
        total = sum(blocks_needed)
        pool = total if num_blocks is None else int(num_blocks)
        if pool < total:
            raise ValueError(f"num_blocks = {pool} is smaller than the {total} kv_blocks the sequences need")
        order = _np.random.default_rng(seed).permutation(pool) if shuffle else _np.arange(pool)
        table = _np.full((len(k_arrays), width), -1, dtype=_np.int32)
        next_block = 0
        for seq, needed in enumerate(blocks_needed):
            table[seq, :needed] = order[next_block:next_block + needed]
            next_block += needed
    else:
        table = _np.asarray(_numpy(block_tables, "block_tables")[0])
        if table.ndim != 2 or table.shape[0] != len(k_arrays) or table.shape[1] < width:
            raise ValueError(f"block_tables has shape {list(table.shape)}; expected [{len(k_arrays)}, >= {width}]")
        table = table.astype(_np.int32)
        used = _np.concatenate([table[s, :n] for s, n in enumerate(blocks_needed)])
        pool = int(used.max()) + 1 if num_blocks is None else int(num_blocks)
        if used.min() < 0 or used.max() >= pool:
            raise ValueError(f"block_tables holds a block outside the pool [0, {pool}) among the blocks the "
                             f"sequences use")

    key_cache = _np.full((pool, num_kv_heads, head_size // x, block_size, x), _fill_value(dtype), dtype=dtype)
    value_cache = _np.full((pool, num_kv_heads, head_size, block_size), _fill_value(dtype), dtype=dtype)
    for seq, (k, v) in enumerate(zip(k_arrays, v_arrays)):
        n, needed = int(seq_lens[seq]), blocks_needed[seq]
        if needed == 0:
            continue
        blocks = table[seq, :needed]
        padded_k = _np.full((needed * block_size, num_kv_heads, head_size), _fill_value(dtype), dtype=dtype)
        padded_v = padded_k.copy()
        padded_k[:n], padded_v[:n] = k, v
        # [token, head, d] -> [block, slot, head, d/x, x] -> [block, head, d/x, slot, x]
        key_cache[blocks] = padded_k.reshape(needed, block_size, num_kv_heads, head_size // x, x) \
            .transpose(0, 2, 3, 1, 4)
        # [token, head, d] -> [block, slot, head, d] -> [block, head, d, slot]
        value_cache[blocks] = padded_v.reshape(needed, block_size, num_kv_heads, head_size).transpose(0, 2, 3, 1)
    if _is_torch(keys[0]):
        import torch
        table, seq_lens = torch.from_numpy(table), torch.from_numpy(seq_lens)
    return back(key_cache), back(value_cache), table, seq_lens


def _is_torch(value):
    import sys
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def gather_kv(key_cache, value_cache, block_tables, seq_lens):
    """The inverse of build_paged_cache: per sequence, its K and V as [seq_len, num_kv_heads,
    head_size] NumPy arrays read through the block table (bf16 as uint16 bits, fp8 as uint8 codes)."""
    k_cache = _numpy(key_cache, "key_cache")[0]
    v_cache = _numpy(value_cache, "value_cache")[0]
    table = _numpy(block_tables, "block_tables")[0]
    lens = _numpy(seq_lens, "seq_lens")[0]
    if k_cache.ndim != 5 or v_cache.ndim != 4:
        raise ValueError(f"key_cache {list(k_cache.shape)} / value_cache {list(v_cache.shape)}: expected "
                         f"[num_blocks, num_kv_heads, head_size/x, block_size, x] / "
                         f"[num_blocks, num_kv_heads, head_size, block_size]")
    num_blocks, num_kv_heads, chunks, block_size, x = k_cache.shape
    head_size = chunks * x
    keys, values = [], []
    for seq, n in enumerate(int(n) for n in lens):
        needed = (n + block_size - 1) // block_size
        blocks = table[seq, :needed].astype(_np.int64)
        if needed and (blocks.min() < 0 or blocks.max() >= num_blocks):
            raise ValueError(f"block_tables[{seq}] points outside the pool [0, {num_blocks})")
        k = k_cache[blocks].transpose(0, 3, 1, 2, 4).reshape(needed * block_size, num_kv_heads, head_size)[:n]
        v = v_cache[blocks].transpose(0, 3, 1, 2).reshape(needed * block_size, num_kv_heads, head_size)[:n]
        keys.append(_np.ascontiguousarray(k))
        values.append(_np.ascontiguousarray(v))
    return keys, values
