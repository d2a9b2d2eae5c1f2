#!/usr/bin/env bash
# Run 27 (from the repository root, carrying build-device.tar.xz, a reduced pack of the fold branch):
# the second version of the merge by the last split (all threads of the block, one L2 round trip
# per phase, out of line; the flag in dynamic shared memory, no static __shared__) against the
# split_merge kernel. The suite: ctest -L gpu, pal-bench with the default (last-split),
# compute-sanitizer (the grouped production launch merges in its last split). Then the grouped rows
# of the primary grid again, hot only, with --grouped-merge kernel and last-split (the A/B).
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=400 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for variant in "kernel 128" "last-split 128"; do
  set -- $variant
  timeout 75 build-device/bin/pal-bench --sections primary --versions grouped --cold-method none \
    --grouped-merge $1 --grouped-min-split-tokens $2 --csv "$OUT/x/ab_$1_$2.csv" > "$OUT/x/ab_$1_$2.log" 2>&1
  echo "exit $?" >> "$OUT/x/ab_$1_$2.log"
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
