#!/usr/bin/env bash
# Run 39 (from the repository root, carrying build-device-d.tar.xz: branch `divonly`, 7dc1af8, the
# kernel that lands, reduced set): the suite (ctest -L gpu, pal-bench with v1, v2 and grouped beside
# vLLM's and FlashInfer's figures, compute-sanitizer).
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device-d.tar.xz && PAL_SUITE_BUDGET_S=260 bash scripts/device_suite.sh build-device-d > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
cd "$OUT" && tar czf logs.tgz x && rm -rf x
