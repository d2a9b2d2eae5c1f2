#!/usr/bin/env bash
# Run 30 (carrying run 29's pack, build b278237): where a batch-1 grouped thread block spends its
# time. ncu --set full on the main kernel of 32/8 heads, batch 1 x 512 (32 blocks of 2 tiles): warp
# states, stall reasons by source line (the build has -lineinfo), instruction mix; the same with
# the clocks not locked to base (--clock-control none) for the duration at the bench's clocks.
set -u
export OUT=${OUT:-$PWD/device-out}
tar -xJf build-device.tar.xz
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
run=(build-device/bin/pal-run --backend gpu --version grouped --dtype fp16 --head-size 128 --block-size 16
     --num-heads 32 --num-kv-heads 8 --seq-lens 512 --input-preset uniform)
timeout 200 ncu --set full -k regex:grouped_attention_kernel --print-summary none --print-details all \
  --import-source no "${run[@]}" > "$OUT/ncu_full_b1_512.txt" 2>&1
echo "exit $?" >> "$OUT/ncu_full_b1_512.txt"
timeout 100 ncu --clock-control none --section SpeedOfLight --section WarpStateStats --print-summary none \
  "${run[@]}" > "$OUT/ncu_unlocked_b1_512.txt" 2>&1
echo "exit $?" >> "$OUT/ncu_unlocked_b1_512.txt"
timeout 100 ncu --set full -k regex:grouped_attention_kernel --page source --print-source sass \
  --csv "${run[@]}" > "$OUT/ncu_source_b1_512.csv" 2>&1
echo "exit $?" >> "$OUT/ncu_source_b1_512.csv"
gzip -f "$OUT/ncu_source_b1_512.csv"
