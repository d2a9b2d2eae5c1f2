#!/usr/bin/env bash
# Run 33 (from the repository root, carrying build-device.tar.xz, a reduced pack of branch `plan1`):
# the split planner aims at one block per SM where splits would be shorter than 8 tiles, and its
# shortest split is one 64-token tile (run 32's forced split counts). The suite: ctest -L gpu,
# pal-bench (every grouped row planned anew; beside run 31's), compute-sanitizer.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=400 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
cd "$OUT" && tar czf logs.tgz x && rm -rf x
