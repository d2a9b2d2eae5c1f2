"""Every bad argument is a Python exception, never a crash: the validation errors carry the message
pal-run prints for the same tensors in a file (exit code 2), the element-type errors are TypeErrors."""
import numpy as np
import pytest

import pal
from conftest import write_safetensors

INPUT_NAMES = ("query", "key_cache", "value_cache", "block_tables", "seq_lens")


@pytest.fixture
def fp16(generated):
    tensors, metadata, _, _ = generated["fp16"]
    return {name: tensors[name].copy() for name in INPUT_NAMES}, float(metadata["scale"])


def call(inputs, **kwargs):
    kwargs.setdefault("backend", "emulator")
    return pal.paged_attention(*[inputs[name] for name in INPUT_NAMES], **kwargs)


def pal_runs_message(pal_run, tmp_path, inputs, scale):
    """What pal-run says about the same tensors in a file (without scenario metadata, so that it
    derives the scenario from the shapes as pal.paged_attention does)."""
    path = tmp_path / "bad.safetensors"
    write_safetensors(path, inputs, metadata={"scale": repr(scale)})
    result = pal_run("--inputs", path, "--backend", "emulator", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


# Each case breaks one thing; the Python message must appear, word for word, in pal-run's.
def block_table_outside_the_pool(inputs):
    inputs["block_tables"][1, 0] = inputs["key_cache"].shape[0] + 3


def negative_block_table_entry(inputs):
    inputs["block_tables"][0, 0] = -5


def negative_seq_len(inputs):
    inputs["seq_lens"][0] = -1


def seq_len_longer_than_the_block_table(inputs):
    inputs["seq_lens"][0] = inputs["block_tables"].shape[1] * inputs["key_cache"].shape[3] + 1


def key_cache_with_the_wrong_x(inputs):
    k = inputs["key_cache"]
    inputs["key_cache"] = np.ascontiguousarray(k.reshape(k.shape[0], k.shape[1], k.shape[2] * 2, k.shape[3], 4))


def value_cache_with_another_block_count(inputs):
    inputs["value_cache"] = np.ascontiguousarray(inputs["value_cache"][:-1])


def heads_not_a_multiple_of_kv_heads(inputs):
    inputs["query"] = np.ascontiguousarray(inputs["query"][:, :3])


def unsupported_head_size(inputs):
    q, k, v = inputs["query"], inputs["key_cache"], inputs["value_cache"]
    inputs["query"] = np.ascontiguousarray(q[:, :, :48])
    inputs["key_cache"] = np.ascontiguousarray(k[:, :, :6])
    inputs["value_cache"] = np.ascontiguousarray(v[:, :, :48])


def a_nan_in_the_query(inputs):
    inputs["query"][0, 1, 2] = np.nan


def a_query_of_rank_two(inputs):
    inputs["query"] = np.ascontiguousarray(inputs["query"][0])


CASES = [block_table_outside_the_pool, negative_block_table_entry, negative_seq_len,
         seq_len_longer_than_the_block_table, key_cache_with_the_wrong_x, value_cache_with_another_block_count,
         heads_not_a_multiple_of_kv_heads, unsupported_head_size, a_nan_in_the_query]


@pytest.mark.parametrize("breaks", CASES, ids=[case.__name__ for case in CASES])
def test_a_bad_input_raises_the_message_pal_run_prints_for_it(fp16, pal_run, tmp_path, breaks):
    inputs, scale = fp16
    breaks(inputs)
    with pytest.raises(pal.InputError) as error:
        call(inputs, scale=scale)
    assert isinstance(error.value, ValueError)
    message = str(error.value)
    assert message
    assert message in pal_runs_message(pal_run, tmp_path, inputs, scale)


def test_a_query_of_the_wrong_rank_is_a_value_error_naming_the_layout(fp16):
    inputs, _ = fp16
    a_query_of_rank_two(inputs)
    with pytest.raises(ValueError, match=r"query has shape \[4, 64\]; expected \[num_seqs, num_heads, head_size\]"):
        call(inputs)


@pytest.mark.parametrize("kwargs,match", [
    ({"version": "v3"}, "version 'v3' is not valid; valid: v1, v2, auto"),
    ({"backend": "tpu"}, "backend 'tpu' is not valid; valid: gpu, emulator, auto"),
    ({"kv_cache_dtype": "int4"}, "kv_cache_dtype 'int4' is not valid"),
    ({"scale": -1.0}, "scale"),
    ({"scale": float("nan")}, "scale"),
    ({"blocksparse_vert_stride": 2, "blocksparse_local_blocks": 1, "blocksparse_block_size": 24},
     "blocksparse_block_size"),
    ({"blocksparse_vert_stride": 2, "blocksparse_local_blocks": 0}, "blocksparse_local_blocks"),
    ({"dtype": "fp64"}, "dtype 'fp64' is not a known dtype"),
])
def test_a_bad_scalar_argument_raises_a_value_error_naming_it(fp16, kwargs, match):
    inputs, _ = fp16
    with pytest.raises(ValueError, match=match):
        call(inputs, **kwargs)


@pytest.mark.parametrize("change,match", [
    (lambda i: i.update(query=i["query"].astype(np.float64)), "query holds float64 elements; expected F32, F16"),
    (lambda i: i.update(query=i["query"].view(np.uint16)), "pass dtype='bf16'"),
    (lambda i: i.update(key_cache=i["key_cache"].astype(np.float32)),
     "key_cache holds F32 elements but query holds F16"),
    (lambda i: i.update(block_tables=i["block_tables"].astype(np.float32)), "block_tables holds float32 elements"),
    (lambda i: i.update(seq_lens=["five", "seven"]), "seq_lens holds <U5 elements"),
    (lambda i: i.update(query=object()), "query"),
])
def test_a_wrong_element_type_raises_a_type_error_naming_the_tensor(fp16, change, match):
    inputs, _ = fp16
    change(inputs)
    with pytest.raises(TypeError, match=match):
        call(inputs)


def test_an_int64_index_that_does_not_fit_int32_is_refused(fp16):
    inputs, _ = fp16
    inputs["block_tables"] = inputs["block_tables"].astype(np.int64)
    inputs["block_tables"][0, 0] = 2**40
    with pytest.raises(ValueError, match="does not fit in int32"):
        call(inputs)


def test_fp8_caches_must_hold_uint8_codes(fp16):
    inputs, _ = fp16
    with pytest.raises(TypeError, match=r"an fp8 cache \(kv_cache_dtype='fp8'\) holds its codes as uint8"):
        call(inputs, kv_cache_dtype="fp8")


def test_an_fp8_configuration_the_build_did_not_compile_is_refused_with_the_option_to_set(fp16):
    # fp16 queries at head 64 with an fp8 cache: the reduced emulator set (every build's default)
    # compiles fp8 kernels at head 128 only; a full build runs it.
    inputs, _ = fp16
    shape_k = list(inputs["key_cache"].shape)
    shape_k[2], shape_k[4] = shape_k[2] // 2, 16  # x = 16 for 1-byte codes
    rng = np.random.default_rng(0)
    inputs["key_cache"] = rng.integers(0, 0x70, size=shape_k, dtype=np.uint8)
    inputs["value_cache"] = rng.integers(0, 0x70, size=inputs["value_cache"].shape, dtype=np.uint8)
    try:
        out = call(inputs, kv_cache_dtype="fp8_e4m3", k_scale=0.5, v_scale=0.25)
    except pal.InputError as error:
        assert "did not compile the emulated kernel" in str(error)
        assert "PAL_EMULATOR_INSTANTIATIONS=full" in str(error)
    else:
        assert np.isfinite(out.astype(np.float32)).all()


def test_a_non_cpu_torch_tensor_is_refused_with_what_to_pass(fp16):
    torch = pytest.importorskip("torch", reason="python3-torch is not installed")
    inputs, _ = fp16
    inputs["query"] = torch.from_numpy(inputs["query"]).to("meta")  # any device but the CPU
    with pytest.raises(ValueError, match=r"query is on device 'meta'; pal reads host memory: pass query.cpu\(\)"):
        call(inputs)


def test_a_gpu_run_without_a_gpu_says_so(fp16):
    available, why_not = pal.gpu_available()
    if available:
        pytest.skip("a GPU is present: backend='gpu' runs")
    inputs, _ = fp16
    with pytest.raises(ValueError, match="--backend gpu"):
        call(inputs, backend="gpu")
