#!/usr/bin/env bash
# Run 29 (from the repository root, carrying build-device.tar.xz, a reduced pack of branch `pdl`):
# the grouped main kernel launched with programmatic dependent launch as split_merge already was
# (griddepcontrol.wait before it reads any input; split_merge lets the next kernel launch early),
# and its first block-table read issued beside the seq_len read instead of after it. The suite:
# ctest -L gpu, pal-bench (grouped rows beside run 28's), compute-sanitizer; then ncu on the
# grouped batch-1 rows (as run 23) for the main kernel's time alone.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=400 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for shape in "32 8 512" "32 32 512"; do
  set -- $shape
  timeout 60 ncu --section SpeedOfLight --section LaunchStats --print-summary none \
    build-device/bin/pal-run --backend gpu --version grouped --dtype fp16 --head-size 128 --block-size 16 \
    --num-heads $1 --num-kv-heads $2 --seq-lens $3 --input-preset uniform > "$OUT/x/ncu_grouped_b1_$1_$2_$3.txt" 2>&1
  echo "exit $?" >> "$OUT/x/ncu_grouped_b1_$1_$2_$3.txt"
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
