#!/usr/bin/env bash
# The device call of run 16 (run from the repository root, carrying build-device): the suite, the
# emulator-vs-ncu table, ncu on an fp16 and an fp8 GQA v2 row, and auto's pick with and without --record.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
PAL_SUITE_BUDGET_S=300 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
OUT=$OUT/x timeout 170 bash scripts/ncu_vs_emulator.sh > "$OUT/x/ncu_vs_emulator.log" 2>&1; echo "ncu_vs_emulator exit $?" >> "$OUT/x/ncu_vs_emulator.log"
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
lens=$(printf '8192,%.0s' 1 2 3 4 5 6 7); lens=${lens}8192
for cache in auto fp8_e4m3; do
  timeout 100 ncu --kernel-name regex:paged_attention_kernel --section SpeedOfLight --section ComputeWorkloadAnalysis \
    --section WarpStateStats --section InstructionStats --print-summary none \
    build-device/bin/pal-run --backend gpu --version v2 --dtype fp16 --head-size 128 --block-size 16 --num-heads 32 \
    --num-kv-heads 8 --num-seqs 8 --seq-lens $lens --kv-cache-dtype $cache --input-preset uniform > "$OUT/x/ncu_v2_gqa_$cache.txt" 2>&1
  echo "exit $?" >> "$OUT/x/ncu_v2_gqa_$cache.txt"
done
for rec in "" "--record"; do
  build-device/bin/pal-run --backend gpu --num-heads 32 --num-kv-heads 8 --head-size 128 --seq-lens 2048,2048 $rec > "$OUT/x/auto_pick$rec.txt" 2>&1; echo "exit $?" >> "$OUT/x/auto_pick$rec.txt"
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
