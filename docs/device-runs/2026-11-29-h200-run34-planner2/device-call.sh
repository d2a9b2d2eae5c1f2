#!/usr/bin/env bash
# Run 34 (from the repository root, carrying build-device.tar.xz, a reduced pack of branch `plan1`):
# the split planner of run 33, with one block per SM only for small grids (at most a quarter of
# the SMs: batch 8 keeps both slots), shortest split 64 tokens. The suite: ctest -L gpu,
# pal-bench (every grouped row planned anew; beside runs 31 and 33), compute-sanitizer.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=400 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
cd "$OUT" && tar czf logs.tgz x && rm -rf x
