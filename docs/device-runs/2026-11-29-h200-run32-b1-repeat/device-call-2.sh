#!/usr/bin/env bash
# Run 32, second call (same pack): the grouped kernel's batch-1 and batch-8 rows (32/8 and 32/32
# heads) with the split count forced to 2, 4, 8, 16 and 32, hot only, to see whether the planner's
# target (SMs x resident blocks per SM) or one block per SM suits these rows better.
set -u
export OUT=${OUT:-$PWD/device-out}
tar -xJf build-device.tar.xz
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for splits in 2 4 8 16 32; do
  timeout 60 build-device/bin/pal-bench --sections primary --versions grouped --cold-method none \
    --filter 'fp16/h128/bs16/32x(8|32)/b(1|8)/' --grouped-splits $splits --csv "$OUT/splits$splits.csv" > "$OUT/splits$splits.log" 2>&1
  echo "exit $?" >> "$OUT/splits$splits.log"
done
cd "$OUT" && tar czf splits.tgz splits*.log && rm splits*.log
