"""The example script runs a synthetic model's K/V (or a user's .npz) through the kernel and writes a
dump that the tools read."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import pal

EXAMPLE = Path(__file__).resolve().parents[2] / "python" / "examples" / "model_kv_to_pal.py"


def run_example(*args):
    return subprocess.run([sys.executable, str(EXAMPLE), "--backend", "emulator", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def test_the_example_runs_a_synthetic_model_and_prints_the_pal_viz_command(tmp_path):
    dump = tmp_path / "model.safetensors"
    result = run_example("--seq-lens", "9,20", "--output", dump)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"--dump {dump}" in result.stdout and "pal-viz" in result.stdout
    run = pal.read_dump(dump)
    assert run.recorded and run.passed and list(run.inputs["seq_lens"]) == [9, 20]


def test_the_example_takes_a_users_kv_from_an_npz(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"query": rng.standard_normal((2, 4, 32)).astype(np.float32)}
    for i, n in enumerate((5, 12)):
        arrays[f"keys_{i}"] = rng.standard_normal((n, 2, 32)).astype(np.float32)
        arrays[f"values_{i}"] = rng.standard_normal((n, 2, 32)).astype(np.float32)
    np.savez(tmp_path / "kv.npz", **arrays)
    dump = tmp_path / "kv.safetensors"
    result = run_example("--kv", tmp_path / "kv.npz", "--block-size", "8", "--output", dump)
    assert result.returncode == 0, result.stdout + result.stderr
    assert np.array_equal(pal.read_dump(dump).inputs["query"], arrays["query"])
