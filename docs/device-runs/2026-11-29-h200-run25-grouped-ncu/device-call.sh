#!/usr/bin/env bash
# Run 25: ncu on the grouped kernel's rows that miss issue 11's targets (GQA 32/8 at batch 8 x 512,
# 8 x 2048, 8 x 8192, 32 x 2048: 85 % of peak / faster than FlashInfer's CUDA-core decode), main
# kernel and split merge, clocks under ncu's control. Carry ["build-device.tar.xz"] (run 23's pack).
set -u
export OUT=${OUT:-$PWD/device-out}
tar -xJf build-device.tar.xz
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for shape in "8 512" "8 2048" "8 8192" "32 2048"; do
  set -- $shape
  lens=$(python3 -c "print(','.join(['$2']*$1))")
  timeout 100 ncu --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
    --section MemoryWorkloadAnalysis --print-summary none \
    build-device/bin/pal-run --backend gpu --version grouped --dtype fp16 --head-size 128 --block-size 16 \
    --num-heads 32 --num-kv-heads 8 --num-seqs $1 --seq-lens $lens --input-preset uniform > "$OUT/ncu_grouped_b$1_c$2.txt" 2>&1
  echo "exit $?" >> "$OUT/ncu_grouped_b$1_c$2.txt"
done
