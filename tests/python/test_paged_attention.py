"""pal.paged_attention on NumPy arrays and PyTorch tensors agrees with pal-run, bit for bit on the
emulator; its errors are pal-run's; record=True gives every stage under the registry's names."""
import json

import numpy as np
import pytest

import pal
from conftest import read_safetensors, write_safetensors

INPUT_NAMES = ("query", "key_cache", "value_cache", "block_tables", "seq_lens")


def inputs_of(dump):
    tensors, metadata, types, _ = dump
    args = [tensors[name] for name in INPUT_NAMES]
    kwargs = {"scale": float(metadata["scale"]), "backend": "emulator"}
    if types["key_cache"].startswith("F8_"):
        # The scenario in the dump's metadata carries the cache format, the scales and the sparsity.
        scenario = json.loads(metadata["scenario"])
        kwargs.update(kv_cache_dtype=scenario["kv_cache_dtype"], k_scale=scenario["k_scale"],
                      v_scale=scenario["v_scale"])
        if scenario["blocksparse_vert_stride"] > 1:
            kwargs.update(blocksparse_local_blocks=scenario["blocksparse_local_blocks"],
                          blocksparse_vert_stride=scenario["blocksparse_vert_stride"],
                          blocksparse_block_size=scenario["blocksparse_block_size"],
                          blocksparse_head_sliding_step=scenario["blocksparse_head_sliding_step"],
                          tp_rank=scenario["tp_rank"])
    if "alibi_slopes" in tensors:
        kwargs["alibi_slopes"] = tensors["alibi_slopes"]
    if types["query"] == "BF16":
        kwargs["dtype"] = "bf16"
    return args, kwargs


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype.itemsize == b.dtype.itemsize and a.tobytes() == b.tobytes()


# ---- the same output as pal-run ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["fp16", "bf16", "fp32_alibi", "fp16_v2", "fp8_e4m3", "fp8_e5m2_sparse"])
def test_numpy_inputs_give_pal_runs_output_bit_for_bit(generated, name):
    args, kwargs = inputs_of(generated[name])
    out = pal.paged_attention(*args, **kwargs)
    assert isinstance(out, np.ndarray)
    assert out.dtype == generated[name][0]["query"].dtype
    assert same_bits(out, generated[name][0]["output"])


def test_numpy_inputs_as_int64_indices_and_float64_slopes_give_the_same_output(generated):
    args, kwargs = inputs_of(generated["fp32_alibi"])
    args[3], args[4] = args[3].astype(np.int64), args[4].astype(np.int64)
    kwargs["alibi_slopes"] = kwargs["alibi_slopes"].astype(np.float64)
    assert same_bits(pal.paged_attention(*args, **kwargs), generated["fp32_alibi"][0]["output"])


@pytest.mark.parametrize("name", ["fp16", "bf16", "fp32_alibi", "fp16_v2"])
def test_torch_tensors_give_pal_runs_output_bit_for_bit(generated, name):
    torch = pytest.importorskip("torch", reason="python3-torch is not installed")
    args, kwargs = inputs_of(generated[name])
    if kwargs.pop("dtype", None) == "bf16":  # torch has bf16 itself: the bits become torch.bfloat16
        tensors = [torch.from_numpy(a.view(np.int16)).view(torch.bfloat16) for a in args[:3]]
    else:
        tensors = [torch.from_numpy(a) for a in args[:3]]
    tensors += [torch.from_numpy(a.astype(np.int64)) for a in args[3:]]  # torch users hold int64 indices
    if "alibi_slopes" in kwargs:
        kwargs["alibi_slopes"] = torch.from_numpy(kwargs["alibi_slopes"])
    kwargs["k_scale"] = torch.tensor(1.0)  # upstream passes the scales as 0-d float32 tensors
    out = pal.paged_attention(*tensors, **kwargs)
    assert isinstance(out, torch.Tensor) and out.dtype == tensors[0].dtype
    bits = out.view(torch.int16).numpy() if out.dtype == torch.bfloat16 else out.numpy()
    assert same_bits(bits, generated[name][0]["output"])


def test_a_dlpack_object_is_read_like_its_array(generated):
    class OnlyDlpack:  # an array library that speaks DLPack and nothing else
        def __init__(self, array):
            self._array = array

        def __dlpack__(self, stream=None):
            return self._array.__dlpack__()

        def __dlpack_device__(self):
            return self._array.__dlpack_device__()

    args, kwargs = inputs_of(generated["fp16"])
    out = pal.paged_attention(*[OnlyDlpack(a) for a in args], **kwargs)
    assert same_bits(out, generated["fp16"][0]["output"])


# ---- non-contiguous inputs --------------------------------------------------------------------

def test_a_query_sliced_from_a_qkv_tensor_gives_the_contiguous_querys_output(generated):
    args, kwargs = inputs_of(generated["fp16"])
    query = args[0]
    num_seqs, num_heads, head_size = query.shape
    qkv = np.random.default_rng(1).standard_normal((num_seqs, 3 * num_heads, head_size)).astype(np.float16)
    qkv[:, :num_heads] = query
    sliced = qkv[:, :num_heads]  # q_stride = 3 * num_heads * head_size, as in upstream's fused qkv
    assert not sliced.flags.c_contiguous and sliced.strides[0] == 3 * num_heads * head_size * 2
    out = pal.paged_attention(sliced, *args[1:], **kwargs)
    assert same_bits(out, generated["fp16"][0]["output"])


def test_a_torch_query_sliced_from_a_qkv_tensor_gives_the_same_output(generated):
    torch = pytest.importorskip("torch", reason="python3-torch is not installed")
    args, kwargs = inputs_of(generated["fp16"])
    query = torch.from_numpy(args[0])
    qkv = torch.cat([query, torch.zeros_like(query), torch.ones_like(query)], dim=1)
    out = pal.paged_attention(qkv[:, :query.shape[1]], *[torch.from_numpy(a) for a in args[1:]], **kwargs)
    assert same_bits(out.numpy(), generated["fp16"][0]["output"])


def test_a_query_strided_inside_a_head_is_refused_with_what_to_pass(generated):
    args, kwargs = inputs_of(generated["fp16"])
    wide = np.repeat(args[0], 2, axis=2)[:, :, ::2]  # every other element: head elements not contiguous
    with pytest.raises(ValueError, match="pass a contiguous query"):
        pal.paged_attention(wide, *args[1:], **kwargs)


def test_a_non_contiguous_cache_is_refused_with_what_to_pass(generated):
    args, kwargs = inputs_of(generated["fp16"])
    padded = np.concatenate([args[1], args[1]], axis=1)[:, :args[1].shape[1]]
    with pytest.raises(ValueError, match=r"key_cache is not contiguous.*ascontiguousarray\(key_cache\)"):
        pal.paged_attention(args[0], padded, *args[2:], **kwargs)


def test_sliced_index_tensors_are_copied_and_give_the_same_output(generated):
    args, kwargs = inputs_of(generated["fp16"])
    wide_table = np.concatenate([args[3], np.full_like(args[3], -1)], axis=1)[:, :args[3].shape[1]]
    assert not wide_table.flags.c_contiguous
    out = pal.paged_attention(*args[:3], wide_table, args[4], **kwargs)
    assert same_bits(out, generated["fp16"][0]["output"])


# ---- record=True ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,version", [("fp16", "v1"), ("fp16_v2", "v2")])
def test_recorded_stages_are_keyed_by_the_registrys_stage_names(generated, name, version):
    args, kwargs = inputs_of(generated[name])
    run = pal.paged_attention(*args, record=True, **kwargs)
    assert run.version == version and run.recorded
    assert list(run.stages) == pal.stage_names(version)
    assert list(run.checks) == pal.check_names(version)
    assert "partition_reduce" in run.stages if version == "v2" else "partition_reduce" not in run.stages
    # Every kernel.<name> array of the recording lands in exactly one stage or check.
    grouped = [array for group in [*run.stages.values(), *run.checks.values()] for array in group["kernel"]]
    assert sorted(grouped) == sorted([n for n in run.kernel if n != "recording_buffer"] + list(run.tensors))
    # Each stage with a headline array has it on both sides, under the stage's name (the output
    # stage's reference values are the thread_blocks' outputs: reference.output is the final one).
    for stage in ("query_load", "qk_logits", "qk_max", "exp_sum", "softmax"):
        assert stage in run.stages[stage]["kernel"] and stage in run.stages[stage]["reference"]
    assert "output" in run.stages["output"]["kernel"] and "thread_block_output" in run.stages["output"]["reference"]
    assert "output" in run.checks["final_output"]["kernel"] and "output" in run.checks["final_output"]["reference"]
    assert "load_element_offset" in run.checks["load_addresses"]["kernel"]
    assert "token_warp" in run.stages["qk_logits"]["kernel"]


def test_recorded_arrays_equal_the_dump_of_pal_run_and_the_report_is_pal_runs(generated, pal_run):
    tensors, _, _, path = generated["fp16"]
    args, kwargs = inputs_of(generated["fp16"])
    run = pal.paged_attention(*args, record=True, **kwargs)
    for name, array in run.kernel.items():
        assert same_bits(array, tensors["kernel." + name]), name
    for name, array in run.reference.items():
        assert same_bits(array, tensors["reference." + name]), name
    assert run.passed and run.report["passed"]
    assert [row["stage"] for row in run.report["stages"]][0] in pal.stage_names("v1") + pal.check_names("v1")
    printed = pal_run("--inputs", path, "--backend", "emulator", "--record").stdout
    assert run.report_table in printed


def test_record_false_returns_the_output_alone(generated):
    args, kwargs = inputs_of(generated["fp16"])
    out = pal.paged_attention(*args, **kwargs)
    run = pal.paged_attention(*args, record=True, **kwargs)
    assert isinstance(out, np.ndarray) and same_bits(out, run.output)


# ---- dumps: a Python session and the tools meet -----------------------------------------------

def test_a_dump_written_from_python_is_read_by_pal_run_and_by_pal_read_dump(generated, pal_run, tmp_path):
    args, kwargs = inputs_of(generated["bf16"])
    run = pal.paged_attention(*args, record=True, **kwargs)
    path = tmp_path / "from_python.safetensors"
    pal.write_dump(path, run)
    tensors = generated["bf16"][0]
    written, _, written_types = read_safetensors(path)
    assert written_types["query"] == "BF16"
    assert same_bits(written["output"], tensors["output"])
    # pal-run re-runs the file's inputs: same output, every stage within tolerance (exit 0).
    rerun_path = tmp_path / "rerun.safetensors"
    pal_run("--inputs", path, "--backend", "emulator", "--record", "--output", rerun_path)
    assert same_bits(read_safetensors(rerun_path)[0]["output"], written["output"])
    # pal.read_dump shows the stored recording, as pal-viz --dump does (the same reader).
    again = pal.read_dump(path)
    assert again.recorded and again.origin.startswith("dump file") and "re-run" not in again.origin
    for name, array in run.kernel.items():
        assert same_bits(again.kernel[name], array), name
    for name, array in run.inputs.items():
        assert same_bits(again.inputs[name], array), name


def test_read_dump_of_an_inputs_only_file_reruns_it(generated, tmp_path):
    tensors, metadata, types, _ = generated["fp16"]
    path = tmp_path / "inputs.safetensors"
    write_safetensors(path, {n: tensors[n] for n in INPUT_NAMES}, metadata={"scale": metadata["scale"]})
    run = pal.read_dump(path, backend="emulator")
    assert run.recorded and same_bits(run.tensors["output"], tensors["output"])
