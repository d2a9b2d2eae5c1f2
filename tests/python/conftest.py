"""Shared helpers of the Python module's tests: pal-run (the tool the module must agree with) and a
safetensors reader/writer of a few lines, independent of the module under test."""
import json
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I32": np.int32, "I64": np.int64,
           "U8": np.uint8, "F8_E4M3": np.uint8, "F8_E5M2": np.uint8}
_NAMES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32",
          np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8"}


def read_safetensors(path):
    """{name: ndarray} (BF16 as uint16 bits, F8 as uint8 codes), metadata, and {name: dtype name}."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors, types = {}, {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
        types[name] = info["dtype"]
    return tensors, metadata, types


def write_safetensors(path, tensors, types=None, metadata=None):
    """Writes {name: ndarray}; `types` names a dtype where NumPy's would be wrong (BF16, F8_*)."""
    types = types or {}
    header, offset, chunks = {}, 0, []
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": types.get(name, _NAMES[array.dtype]), "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class PalRun:
    """pal-run, from the build tree (ctest passes PAL_RUN) or the PATH."""

    def __init__(self):
        self.path = os.environ.get("PAL_RUN") or shutil.which("pal-run")

    def __call__(self, *args, check=True):
        if not self.path:
            pytest.skip("pal-run not found: run through ctest, or set PAL_RUN")
        result = subprocess.run([self.path, *map(str, args)], capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"pal-run {' '.join(map(str, args))} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture(scope="session")
def pal_run():
    return PalRun()


@pytest.fixture(scope="session")
def generated(pal_run, tmp_path_factory):
    """pal-run dumps of small scenarios on the emulator: name -> (tensors, metadata, types, path)."""
    folder = tmp_path_factory.mktemp("pal_run_dumps")
    scenarios = {
        "fp16": ["--dtype", "fp16", "--seq-lens", "5,37", "--num-heads", "4", "--num-kv-heads", "2"],
        "bf16": ["--dtype", "bf16", "--seq-lens", "17,3", "--num-heads", "2", "--num-kv-heads", "1",
                 "--head-size", "128", "--block-size", "8"],
        "fp32_alibi": ["--dtype", "fp32", "--seq-lens", "33", "--num-heads", "4", "--num-kv-heads", "4",
                       "--head-size", "32", "--block-size", "32", "--alibi", "--scale", "0.3"],
        "fp16_v2": ["--dtype", "fp16", "--seq-lens", "600,20", "--num-heads", "2", "--num-kv-heads", "1",
                    "--head-size", "32", "--version", "v2"],
        # fp8 caches: head 128, block 16, fp16 queries (the configuration every build compiles).
        "fp8_e4m3": ["--dtype", "fp16", "--seq-lens", "40,9", "--num-heads", "2", "--num-kv-heads", "1",
                     "--head-size", "128", "--kv-cache-dtype", "fp8_e4m3", "--k-scale", "0.5", "--v-scale", "0.25"],
        "fp8_e5m2_sparse": ["--dtype", "fp16", "--seq-lens", "200", "--num-heads", "2", "--num-kv-heads", "2",
                            "--head-size", "128", "--kv-cache-dtype", "fp8_e5m2", "--k-scale", "0.5",
                            "--blocksparse-vert-stride", "2", "--blocksparse-local-blocks", "1",
                            "--blocksparse-block-size", "32", "--blocksparse-head-sliding-step", "1"],
    }
    dumps = {}
    for name, flags in scenarios.items():
        path = folder / f"{name}.safetensors"
        # uniform: a scenario the module builds from arrays has the struct's default preset, and the
        # report's title (compared with pal-run's) names the scenario's preset; pal-run's own default
        # is peaked.
        pal_run("--backend", "emulator", "--record", "--input-preset", "uniform", "--output", path, *flags)
        dumps[name] = (*read_safetensors(path), path)
    return dumps
