"""build_paged_cache writes the kernel's layouts: the x split of K, token-minor V. Checked against
the project's input generator (pal-run's dumps), by round trips, and by what the kernel computes."""
import numpy as np
import pytest

import pal


@pytest.mark.parametrize("name", ["fp16", "bf16", "fp32_alibi", "fp16_v2"])
def test_a_cache_rebuilt_from_the_generators_gathered_kv_is_identical(generated, name):
    tensors = generated[name][0]
    keys, values = pal.gather_kv(tensors["key_cache"], tensors["value_cache"], tensors["block_tables"],
                                 tensors["seq_lens"])
    block_size = tensors["key_cache"].shape[3]
    key_cache, value_cache, table, seq_lens = pal.build_paged_cache(
        keys, values, block_size, block_tables=tensors["block_tables"], num_blocks=tensors["key_cache"].shape[0])
    # Identical bytes, the NaN poison in the slots no sequence uses included.
    assert key_cache.tobytes() == tensors["key_cache"].tobytes()
    assert value_cache.tobytes() == tensors["value_cache"].tobytes()
    assert np.array_equal(seq_lens, tensors["seq_lens"]) and np.array_equal(table, tensors["block_tables"])


def test_the_layouts_place_each_element_where_the_kernel_reads_it():
    rng = np.random.default_rng(3)
    lens, num_kv_heads, head_size, block_size = [5, 19], 2, 32, 8
    keys = [rng.standard_normal((n, num_kv_heads, head_size)).astype(np.float16) for n in lens]
    values = [rng.standard_normal((n, num_kv_heads, head_size)).astype(np.float16) for n in lens]
    key_cache, value_cache, table, _ = pal.build_paged_cache(keys, values, block_size, shuffle=True, seed=7)
    x = 8  # 16 bytes of fp16
    assert key_cache.shape == (sum(-(-n // block_size) for n in lens), num_kv_heads, head_size // x, block_size, x)
    for seq, n in enumerate(lens):
        for token in range(n):
            block, slot = table[seq, token // block_size], token % block_size
            for d in (0, 7, 8, 31):
                assert key_cache[block, 1, d // x, slot, d % x] == keys[seq][token, 1, d]
                assert value_cache[block, 1, d, slot] == values[seq][token, 1, d]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint16, np.uint8])
def test_gather_kv_inverts_build_paged_cache_for_every_element_size(dtype):
    rng = np.random.default_rng(5)
    lens = [1, 16, 17, 40]
    keys = [rng.integers(0, 100, size=(n, 2, 64)).astype(dtype) for n in lens]
    values = [rng.integers(0, 100, size=(n, 2, 64)).astype(dtype) for n in lens]
    key_cache, value_cache, table, seq_lens = pal.build_paged_cache(keys, values, 16, shuffle=True, seed=1)
    assert key_cache.shape[-1] == 16 // np.dtype(dtype).itemsize
    back_keys, back_values = pal.gather_kv(key_cache, value_cache, table, seq_lens)
    for a, b in zip(keys + values, back_keys + back_values):
        assert np.array_equal(a, b)


def test_shuffled_physical_blocks_give_the_same_output_and_match_dense_attention():
    rng = np.random.default_rng(11)
    lens, num_heads, num_kv_heads, head_size, block_size = [3, 33, 70], 4, 2, 64, 16
    keys = [rng.uniform(-0.125, 0.125, (n, num_kv_heads, head_size)).astype(np.float32) for n in lens]
    values = [rng.uniform(-0.125, 0.125, (n, num_kv_heads, head_size)).astype(np.float32) for n in lens]
    query = rng.uniform(-0.125, 0.125, (len(lens), num_heads, head_size)).astype(np.float32)
    in_order = pal.build_paged_cache(keys, values, block_size)
    shuffled = pal.build_paged_cache(keys, values, block_size, shuffle=True, seed=2, num_blocks=20)
    assert not np.array_equal(in_order[2], shuffled[2])
    out = pal.paged_attention(query, *in_order, backend="emulator")
    assert out.tobytes() == pal.paged_attention(query, *shuffled, backend="emulator").tobytes()
    # Dense attention in float64 over the contiguous K/V: the kernel's fp32 result is close to it.
    group = num_heads // num_kv_heads
    for seq, n in enumerate(lens):
        for head in range(num_heads):
            k = keys[seq][:, head // group].astype(np.float64)
            v = values[seq][:, head // group].astype(np.float64)
            logits = k @ query[seq, head].astype(np.float64) / np.sqrt(head_size)
            p = np.exp(logits - logits.max())
            expected = (p / p.sum()) @ v
            assert np.allclose(out[seq, head], expected, atol=1e-5, rtol=1e-4)


def test_torch_kv_gives_torch_caches_with_the_same_bytes():
    torch = pytest.importorskip("torch", reason="python3-torch is not installed")
    rng = np.random.default_rng(4)
    keys = [rng.standard_normal((n, 1, 32)).astype(np.float32) for n in (4, 9)]
    values = [rng.standard_normal((n, 1, 32)).astype(np.float32) for n in (4, 9)]
    as_numpy = pal.build_paged_cache(keys, values, 8)
    as_torch = pal.build_paged_cache([torch.from_numpy(k).bfloat16() for k in keys],
                                     [torch.from_numpy(v).bfloat16() for v in values], 8)
    assert all(isinstance(t, torch.Tensor) for t in as_torch)
    assert as_torch[0].dtype == torch.bfloat16 and as_torch[0].shape[-1] == 8
    assert np.array_equal(as_torch[2].numpy(), as_numpy[2])


@pytest.mark.parametrize("args,kwargs,error,match", [
    (([], [], 16), {}, ValueError, "one array per sequence"),
    (([np.zeros((3, 2))], [np.zeros((3, 2))], 16), {}, ValueError, r"expected \[seq_len, num_kv_heads, head_size\]"),
    (([np.zeros((3, 2, 8), np.float16)], [np.zeros((4, 2, 8), np.float16)], 16), {}, ValueError, "has 4 tokens"),
    (([np.zeros((3, 2, 8), np.float16)], [np.zeros((3, 2, 8), np.float32)], 16), {}, TypeError, "holds float32"),
    (([np.zeros((3, 2, 12), np.float16)], [np.zeros((3, 2, 12), np.float16)], 16), {}, ValueError, "multiple of x"),
    (([np.zeros((40, 2, 8), np.float16)], [np.zeros((40, 2, 8), np.float16)], 16), {"num_blocks": 2}, ValueError,
     "smaller than the 3 kv_blocks"),
    (([np.zeros((40, 2, 8), np.float16)], [np.zeros((40, 2, 8), np.float16)], 16),
     {"block_tables": np.array([[0, 1, 9]]), "num_blocks": 4}, ValueError, r"outside the pool \[0, 4\)"),
])
def test_bad_arguments_to_the_cache_builder_are_refused(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        pal.build_paged_cache(*args, **kwargs)
