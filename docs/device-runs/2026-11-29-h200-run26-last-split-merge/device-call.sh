#!/usr/bin/env bash
# Run 26 (from the repository root, carrying build-device.tar.xz, a reduced pack of the fold branch):
# the grouped kernel's merge by the last split (arrival counters) in place of the split_merge
# kernel. The suite: ctest -L gpu (with the new tests: both merges bit-identical on the GPU, counters
# back at 0, the arrival primitive), pal-bench with the default (last-split), compute-sanitizer (the
# grouped production launch merges in its last split). Then the grouped rows of the primary grid
# again, hot only: with --grouped-merge kernel (the A/B), and last-split with 64-token splits.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=400 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
for variant in "kernel 128" "last-split 64" "last-split 128"; do
  set -- $variant
  timeout 75 build-device/bin/pal-bench --sections primary --versions grouped --cold-method none \
    --grouped-merge $1 --grouped-min-split-tokens $2 --csv "$OUT/x/ab_$1_$2.csv" > "$OUT/x/ab_$1_$2.log" 2>&1
  echo "exit $?" >> "$OUT/x/ab_$1_$2.log"
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
