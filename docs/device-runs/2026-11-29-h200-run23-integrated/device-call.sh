#!/usr/bin/env bash
# The device call of run 23 (run from the repository root, carrying build-device, a reduced pack of
# the integrated tree): the suite (ctest -L gpu, pal-bench, compute-sanitizer), then ncu on the
# grouped kernel's batch-1 rows (main kernel and split merge: where the microseconds go), then
# auto's pick.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=480 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for shape in "32 8 512" "32 8 2048" "32 32 512"; do
  set -- $shape
  timeout 60 ncu --section SpeedOfLight --section LaunchStats --section Occupancy --print-summary none \
    build-device/bin/pal-run --backend gpu --version grouped --dtype fp16 --head-size 128 --block-size 16 \
    --num-heads $1 --num-kv-heads $2 --seq-lens $3 --input-preset uniform > "$OUT/x/ncu_grouped_b1_$1_$2_$3.txt" 2>&1
  echo "exit $?" >> "$OUT/x/ncu_grouped_b1_$1_$2_$3.txt"
done
for rec in "" "--record"; do
  build-device/bin/pal-run --backend gpu --num-heads 32 --num-kv-heads 8 --head-size 128 --seq-lens 2048,2048 $rec > "$OUT/x/auto_pick$rec.txt" 2>&1; echo "exit $?" >> "$OUT/x/auto_pick$rec.txt"
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
