"""Paged Attention Lab from Python: run vLLM's paged-attention decode kernel on your own tensors.

    import pal
    out = pal.paged_attention(query, key_cache, value_cache, block_tables, seq_lens)
    run = pal.paged_attention(query, key_cache, value_cache, block_tables, seq_lens, record=True)
    run.stages["qk_max"]["kernel"]["qk_max"]      # every stage, keyed by the stage registry's names
    print(run.report_table)                        # each stage against the scalar reference
    pal.write_dump("run.safetensors", run)        # then: pal-viz --dump run.safetensors

Arguments follow upstream's op (vllm/_custom_ops.py paged_attention_v1/v2) in names and layouts:

    query         [num_seqs, num_heads, head_size]
    key_cache     [num_blocks, num_kv_heads, head_size/x, block_size, x]   x = 16 / element size
    value_cache   [num_blocks, num_kv_heads, head_size, block_size]
    block_tables  [num_seqs, max_num_blocks_per_seq]  integers
    seq_lens      [num_seqs]                          integers
    alibi_slopes  [num_heads] or None

Upstream's op also takes `out`, `num_kv_heads`, `block_size` and `max_seq_len`; here they follow
from the tensors, and the output is returned. Where upstream's Python wrapper picks v1 or v2 with
a heuristic, `version="auto"` applies the same rule, except on an unrecorded GPU run, where this
project's rule may pick its grouped kernel (v1, v2 and auto; other versions pass through
as strings and are refused with the valid list until the kernel has them).

Arrays: NumPy arrays, PyTorch CPU tensors, or anything with the buffer protocol or `__dlpack__`.
Element types: fp32 (float32), fp16 (float16), bf16 (torch.bfloat16; NumPy has no bf16, so NumPy
users pass the bit patterns as uint16 and say dtype="bf16"), fp8 caches as uint8 codes with
kv_cache_dtype="fp8" / "fp8_e4m3" / "fp8_e5m2" (or torch.float8_e4m3fn / float8_e5m2 where the
installed torch has them). The output comes back as the query came in: a NumPy array (uint16 bit
patterns for bf16) or a torch tensor. Recorded arrays are NumPy arrays.

A query that is a slice of a larger tensor along dim 0 (the q of a fused qkv tensor, as upstream
allows: q_stride != num_heads * head_size) is copied to a contiguous array first; upstream's kernel
reads it in place through q_stride, and so does ours on the device, but the run layer takes
contiguous inputs so that the recorded load addresses index the query tensor it holds. Any other
non-contiguous cache or query is refused with a message saying what to pass instead.

Errors: every bad argument raises pal.InputError (a ValueError) with the message pal-run prints
for the same tensors in a file, or a TypeError for an element type that cannot be the argument's.
"""

import math as _math

import numpy as _np

from . import _pal
from ._pal import InputError, gpu_available  # noqa: F401  (re-exported)
from .paged_cache import build_paged_cache, gather_kv, key_x  # noqa: F401  (re-exported)

__all__ = [
    "paged_attention", "Result", "InputError", "build_paged_cache", "gather_kv", "key_x",
    "write_dump", "read_dump", "stage_names", "check_names", "gpu_available",
]


def stage_names(version):
    """The stage registry's names of a kernel version ("v1" or "v2"), in kernel order."""
    return list(_pal.stage_names(version))


def check_names(version):
    """The registry's non-stage checks of a kernel version (final_output, load_addresses, ...)."""
    return list(_pal.check_names(version))


# ---- arrays in --------------------------------------------------------------------------------

_FLOAT_TYPES = {_np.dtype(_np.float32): "F32", _np.dtype(_np.float16): "F16"}
_DTYPE_OF_ELEMENT = {"F32": "fp32", "F16": "fp16", "BF16": "bf16"}
_FP8_ELEMENT = {"fp8": "F8_E4M3", "fp8_e4m3": "F8_E4M3", "fp8_e5m2": "F8_E5M2"}


def _torch():
    import sys
    return sys.modules.get("torch")


def _is_torch(value):
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


class _Array:
    """A host array and the element type it stands for ("F32", "F16", "BF16", "F8_E4M3", ... or
    None when NumPy's dtype says it all), plus where it came from."""

    def __init__(self, array, element=None, from_torch=False):
        self.array = array
        self.element = element
        self.from_torch = from_torch


def _as_array(value, name):
    if _is_torch(value):
        torch = _torch()
        if value.device.type != "cpu":
            raise InputError(f"{name} is on device '{value.device}'; pal reads host memory: pass {name}.cpu() "
                             f"(with backend='gpu' the run copies it to the GPU itself)")
        tensor = value.detach()
        if tensor.dtype == torch.bfloat16:
            return _Array(tensor.view(torch.int16).numpy().view(_np.uint16), "BF16", True)
        for attr, element in (("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2")):
            if hasattr(torch, attr) and tensor.dtype == getattr(torch, attr):
                return _Array(tensor.view(torch.uint8).numpy(), element, True)
        try:
            return _Array(tensor.numpy(), None, True)
        except TypeError as error:
            raise TypeError(f"{name}: {error}") from None
    if isinstance(value, _np.ndarray):
        return _Array(value)
    if hasattr(value, "__dlpack__") and not hasattr(value, "__array_interface__"):
        return _Array(_np.from_dlpack(value))
    try:
        return _Array(_np.asarray(value))
    except Exception as error:  # an object NumPy cannot read at all
        raise TypeError(f"{name} is a {type(value).__name__}, not an array: pass a NumPy array, a CPU torch "
                        f"tensor or an object with the buffer protocol or __dlpack__ ({error})") from None


def _float_element(item, name, dtype):
    """The element type ("F32", "F16", "BF16") of a query-like array; `dtype` is the caller's word."""
    if item.element in ("BF16",):
        return "BF16"
    found = _FLOAT_TYPES.get(item.array.dtype)
    if found:
        return found
    if item.array.dtype == _np.uint16 and dtype == "bf16":
        return "BF16"
    if item.array.dtype == _np.uint16:
        raise TypeError(f"{name} holds uint16 elements; if they are bf16 bit patterns (NumPy has no bf16), "
                        f"pass dtype='bf16'")
    raise TypeError(f"{name} holds {item.array.dtype} elements; expected F32, F16 or BF16 (numpy float32, "
                    f"float16, torch.bfloat16, or bf16 bits as uint16 with dtype='bf16')")


def _index_array(value, name):
    """block_tables / seq_lens as contiguous int32, as the kernel takes them (int64 narrowed when
    every value fits, as pal-run does for a file)."""
    item = _as_array(value, name)
    array = item.array
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} holds {array.dtype} elements; expected I32 (or I64)")
    if array.dtype != _np.int32:
        info = _np.iinfo(_np.int32)
        outside = _np.flatnonzero((array.reshape(-1) < info.min) | (array.reshape(-1) > info.max))
        if outside.size:
            i = int(outside[0])
            raise InputError(f"tensor '{name}' element {i} = {int(array.reshape(-1)[i])} does not fit in int32")
        array = array.astype(_np.int32)
    return _np.ascontiguousarray(array)


def _contiguous_query(array):
    """The query, contiguous: a dim-0 slice of a wider tensor (upstream's q_stride) is copied."""
    if array.flags.c_contiguous or array.ndim != 3:
        return array
    item = array.itemsize
    _, num_heads, head_size = array.shape
    if array.strides[2] == item and array.strides[1] == head_size * item and \
            array.strides[0] >= num_heads * head_size * item:
        return _np.ascontiguousarray(array)
    raise InputError(f"query has strides {tuple(s // item for s in array.strides)} (in elements); the kernel "
                     f"reads each head's {head_size} elements contiguously and heads back to back (upstream: "
                     f"only dim 0 may be strided, q_stride); pass a contiguous query "
                     f"(numpy.ascontiguousarray(query) or query.contiguous())")


def _contiguous_cache(array, name):
    if array.flags.c_contiguous:
        return array
    item = array.itemsize
    raise InputError(f"{name} is not contiguous (strides {tuple(s // item for s in array.strides)} in elements); "
                     f"the run layer takes a contiguous KV-cache pool (upstream also reads strided pools through "
                     f"kv_block_stride and kv_head_stride); pass numpy.ascontiguousarray({name}) or "
                     f"{name}.contiguous()")


def _scalar(value, name):
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number (or a 0-d tensor), not {type(value).__name__}") from None


def _integer(value, name):
    if isinstance(value, bool) or int(value) != value:
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return int(value)


# ---- arrays out -------------------------------------------------------------------------------

def _like_query(array, element, from_torch):
    """A result array in the query's kind: a torch tensor when the query was one."""
    if not from_torch:
        return array
    torch = _torch()
    if element == "BF16":
        return torch.from_numpy(array.view(_np.int16)).view(torch.bfloat16)
    return torch.from_numpy(array)


# The dump's tensors that are not recordings (run/run_dump.h), and the check that compares each.
_TENSOR_CHECKS = {"output": "final_output", "tmp_out": "tmp_out", "exp_sums": "partition_state",
                  "max_logits": "partition_state"}
# reference.<name> tensors whose owner their name does not give (run/run_dump.h): reference.output is
# the reference's final output (not the output stage's per-thread_block values, which the kernel
# side records as kernel.output), and reference.thread_block_output holds those.
_REFERENCE_OWNERS = {"output": "final_output", "thread_block_output": "output"}


class Result:
    """A run: its output, and when recorded every stage's arrays next to the reference's.

    output        the kernel's output, as the query came in (NumPy or torch)
    version       "v1" or "v2": the kernel that ran (auto resolved)
    backend       "emulator" or "gpu"; device: its name
    report        the comparison with the scalar reference: {"title", "passed", "stages": [rows],
                  "table"}; each row has stage, num_compared, num_failed, max_abs_error, atol, rtol,
                  reason, ...
    report_table  the same as pal-run prints it
    stages        {stage name: {"kernel": {array: ndarray}, "reference": {array: ndarray}}} for every
                  stage of the version in the stage registry (pal.stage_names(version))
    checks        the same for the registry's checks (final_output, load_addresses, ...)
    kernel, reference   every recorded array by its dump name (kernel.<name> / reference.<name>)
    inputs        the kernel's inputs as run (NumPy); arguments: the scalars as run
    """

    def __init__(self, run, element=None, from_torch=False):
        self._run = run
        results = run.results()
        self.version = results["version"]
        self.backend = results["backend"]
        self.device = results["device"]
        self.recorded = results["recorded"]
        self.origin = results["origin"]
        self.scenario = results["scenario"]
        self.report = results["report"]
        self.report_table = self.report["table"]
        self.passed = self.report["passed"]
        self.kernel = dict(results["kernel"])
        self.reference = dict(results["reference"])
        self.tensors = dict(results["tensors"])
        self.output = _like_query(results["output"], element, from_torch)
        self.stages = {name: {"kernel": {}, "reference": {}} for name in stage_names(self.version)}
        self.checks = {name: {"kernel": {}, "reference": {}} for name in check_names(self.version)}
        self._group()

    def _group(self):
        owners = dict(_pal.kernel_tensor_owners(self.version))
        dump_stage = {dump: stage for stage, dump in _pal.stage_dump_names().items() if dump}

        def place(owner, side, name, array):
            group = self.stages.get(owner, self.checks.get(owner))
            if group is None:
                raise RuntimeError(f"pal: {side}.{name} belongs to '{owner}', which the {self.version} kernel "
                                   f"has neither as a stage nor as a check")
            group[side][name] = array

        for name, array in self.kernel.items():
            if name == "recording_buffer":
                continue  # the raw bytes (for dumps); every array in it is also here by name
            place(owners[name], "kernel", name, array)
        for name, array in self.reference.items():
            owner = _REFERENCE_OWNERS.get(name) or dump_stage.get(name) or owners.get(name)
            place(owner, "reference", name, array)
        for name, array in self.tensors.items():
            place(_TENSOR_CHECKS[name], "kernel", name, array)

    @property
    def inputs(self):
        return dict(self._run.inputs())

    @property
    def arguments(self):
        return dict(self._run.arguments())

    def __repr__(self):
        verdict = "every stage within tolerance" if self.passed else "a stage outside its tolerance"
        return f"<pal.Result {self.scenario} | {self.backend} {self.version}: {verdict}>"


# ---- the kernel -------------------------------------------------------------------------------

def paged_attention(query, key_cache, value_cache, block_tables, seq_lens, *, scale=None, alibi_slopes=None,
                    kv_cache_dtype="auto", k_scale=1.0, v_scale=1.0, tp_rank=0, blocksparse_local_blocks=0,
                    blocksparse_vert_stride=0, blocksparse_block_size=64, blocksparse_head_sliding_step=0,
                    version="auto", backend="auto", record=False, dtype=None):
    """Runs the decode kernel. Returns the output [num_seqs, num_heads, head_size] (the query's
    kind and dtype), or with record=True a pal.Result holding it with every stage.

    scale: the softmax scale (None: 1/sqrt(head_size)). kv_cache_dtype: "auto" (the caches hold the
    query's dtype) or "fp8" / "fp8_e4m3" / "fp8_e5m2" (uint8 codes of value / k_scale and
    value / v_scale). Block-sparse attention (Phi-3-small) is on when blocksparse_vert_stride > 1.
    version: "auto" (upstream's heuristic; on an unrecorded GPU run, this project's grouped kernel
    where its H200 measurements found it faster: kernels/auto_version.h), "v1" or "v2". backend: "auto" (the GPU when present),
    "emulator" (the CPU emulator, bit-for-bit the kernel's arithmetic) or "gpu". dtype: the query's
    element type when the array cannot say it ("bf16" for NumPy uint16 bit patterns).
    """
    if dtype is not None and dtype not in _DTYPE_OF_ELEMENT.values():
        raise InputError(f"dtype '{dtype}' is not a known dtype; valid: fp32, fp16, bf16")
    q = _as_array(query, "query")
    q_element = _float_element(q, "query", dtype)
    if dtype is not None and _DTYPE_OF_ELEMENT[q_element] != dtype:
        raise TypeError(f"query holds {q_element} elements but dtype='{dtype}' was given")

    if not isinstance(kv_cache_dtype, str):
        raise TypeError(f"kv_cache_dtype must be a string ('auto', 'fp8', 'fp8_e4m3', 'fp8_e5m2'), "
                        f"not {kv_cache_dtype!r}")
    caches = []
    for value, name in ((key_cache, "key_cache"), (value_cache, "value_cache")):
        item = _as_array(value, name)
        if kv_cache_dtype == "auto":
            element = _float_element(item, name, dtype if q_element == "BF16" else None)
            if element != q_element:
                raise TypeError(f"{name} holds {element} elements but query holds {q_element}; the KV cache stores "
                                f"the query's dtype (kv_cache_dtype='auto'), or fp8 codes as uint8 with "
                                f"kv_cache_dtype='fp8'")
        elif kv_cache_dtype in _FP8_ELEMENT:
            wanted = _FP8_ELEMENT[kv_cache_dtype]
            if item.element is not None and item.element != wanted:
                raise TypeError(f"{name} holds {item.element} elements but kv_cache_dtype='{kv_cache_dtype}' "
                                f"means {wanted}")
            if item.array.dtype != _np.uint8:
                raise TypeError(f"{name} holds {item.array.dtype} elements; an fp8 cache "
                                f"(kv_cache_dtype='{kv_cache_dtype}') holds its codes as uint8")
        # else: the compiled side refuses the name with the valid list
        caches.append(_contiguous_cache(item.array, name))

    arguments = _pal.RunArguments()
    arguments.dtype = _DTYPE_OF_ELEMENT[q_element]
    arguments.kv_cache_dtype = kv_cache_dtype
    arguments.scale = None if scale is None else _scalar(scale, "scale")
    arguments.k_scale = _scalar(k_scale, "k_scale")
    arguments.v_scale = _scalar(v_scale, "v_scale")
    arguments.tp_rank = _integer(tp_rank, "tp_rank")
    arguments.blocksparse_local_blocks = _integer(blocksparse_local_blocks, "blocksparse_local_blocks")
    arguments.blocksparse_vert_stride = _integer(blocksparse_vert_stride, "blocksparse_vert_stride")
    arguments.blocksparse_block_size = _integer(blocksparse_block_size, "blocksparse_block_size")
    arguments.blocksparse_head_sliding_step = _integer(blocksparse_head_sliding_step, "blocksparse_head_sliding_step")
    arguments.version = str(version)
    arguments.backend = str(backend)
    arguments.record = bool(record)

    slopes = None
    if alibi_slopes is not None:
        slopes_item = _as_array(alibi_slopes, "alibi_slopes")
        if slopes_item.array.dtype.kind != "f":
            raise TypeError(f"alibi_slopes holds {slopes_item.array.dtype} elements; expected F32")
        slopes = _np.ascontiguousarray(slopes_item.array, dtype=_np.float32)

    run = _pal.paged_attention(_contiguous_query(q.array), caches[0], caches[1],
                               _index_array(block_tables, "block_tables"), _index_array(seq_lens, "seq_lens"),
                               slopes, arguments)
    result = Result(run, q_element, q.from_torch)
    return result if record else result.output


# ---- dumps ------------------------------------------------------------------------------------

def write_dump(path, result):
    """Writes a run as `pal-run --output` does: its inputs, output and, when recorded, every stage
    and the reference's. `pal-viz --dump PATH` opens it; `pal-run --inputs PATH` re-runs it."""
    if not isinstance(result, Result):
        raise TypeError("write_dump takes the pal.Result of paged_attention(..., record=True)")
    result._run.write_dump(str(path))


def read_dump(path, backend="auto"):
    """Reads a dump (pal-run --output, pal.write_dump) or a plain inputs file as a pal.Result: a
    recorded dump is shown as recorded (nothing re-run); otherwise its inputs are re-run with the
    recording probe on `backend`. The file is untrusted: every tensor and index is checked."""
    return Result(_pal.open_dump(str(path), backend))


def default_scale(head_size):
    """The softmax scale when none is given: 1/sqrt(head_size), as upstream's callers pass it."""
    return 1.0 / _math.sqrt(head_size)
