#!/usr/bin/env bash
# Run 31 (from the repository root, carrying build-device.tar.xz, a reduced pack of branch `out2`):
# the grouped kernel's output stage merges each head's token slices once, not once per (head, dim)
# (run 30: half of a batch-1 block's instructions). The suite: ctest -L gpu, pal-bench, and
# compute-sanitizer; then ncu of the batch-1 x 512 main kernel (instructions, duration) as run 30.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=400 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for shape in "32 8 512" "32 32 512"; do
  set -- $shape
  timeout 60 ncu --section SpeedOfLight --section LaunchStats --section InstructionStats --section WarpStateStats \
    --print-summary none build-device/bin/pal-run --backend gpu --version grouped --dtype fp16 --head-size 128 \
    --block-size 16 --num-heads $1 --num-kv-heads $2 --seq-lens $3 --input-preset uniform > "$OUT/x/ncu_grouped_b1_$1_$2_$3.txt" 2>&1
  echo "exit $?" >> "$OUT/x/ncu_grouped_b1_$1_$2_$3.txt"
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
