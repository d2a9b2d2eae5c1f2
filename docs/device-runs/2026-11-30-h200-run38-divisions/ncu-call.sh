#!/usr/bin/env bash
# Run 38b: ncu of 32/8 batch 8 x 512 (fp16, head 128, block 16), the one row run 38 measured slower
# with the divisions removed, on both packs (main kernel and split_merge).
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p ab-a
tar -xJf build-device-d.tar.xz; tar -xJf build-device-a.tar.xz -C ab-a
lens=512,512,512,512,512,512,512,512
for side in a d; do
  case $side in a) dir=ab-a/build-device ;; d) dir=build-device-d ;; esac
  LD_LIBRARY_PATH="$PWD/$dir/lib:/usr/local/cuda/lib64" timeout 50 ncu --section SpeedOfLight --section LaunchStats \
    --section Occupancy --section WarpStateStats --print-summary none \
    $dir/bin/pal-run --backend gpu --version grouped --dtype fp16 --head-size 128 --block-size 16 --num-heads 32 \
    --num-kv-heads 8 --num-seqs 8 --seq-lens $lens --input-preset uniform > "$OUT/ncu_b8_c512_$side.txt" 2>&1
  echo "exit $?" >> "$OUT/ncu_b8_c512_$side.txt"
done
