#!/usr/bin/env bash
# Run 28 (from the repository root, carrying build-device.tar.xz, a reduced pack of branch `pair`):
# the grouped kernel's tensor-core fp8 path dequantises the two codes of each B register with one
# pair conversion (core/fp8.h dequantize_fp8_pair). The suite: ctest -L gpu (with the new test of
# every pair of codes against the one-code functions on the GPU, and the grouped fp8 GPU tests
# against the emulator), pal-bench (the fp8 grouped rows beside run 23's and run 27's), and
# compute-sanitizer.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=420 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
cd "$OUT" && tar czf logs.tgz x && rm -rf x
