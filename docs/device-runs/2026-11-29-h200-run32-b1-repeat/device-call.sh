#!/usr/bin/env bash
# Run 32 (carrying run 31's pack, build dda7917): is the grouped 32/8 batch 1 x 8k row's 23.3 us of
# run 31 (21.3 in run 29, before the output change) stable? The batch-1 GQA rows of the primary
# grid, grouped and v2, hot only, three times in a row.
set -u
export OUT=${OUT:-$PWD/device-out}
tar -xJf build-device.tar.xz
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for repeat in 1 2 3; do
  timeout 60 build-device/bin/pal-bench --sections primary --versions grouped,v2 --cold-method none \
    --filter 'fp16/h128/bs16/32x8/b1/' --csv "$OUT/b1_repeat$repeat.csv" > "$OUT/b1_repeat$repeat.log" 2>&1
  echo "exit $?" >> "$OUT/b1_repeat$repeat.log"
done
