#!/usr/bin/env bash
# Run 35 (from the repository root, carrying build-device.tar.xz: a reduced v1/v2 pack with the
# grouped kernel's whole GPU set, PAL_CUDA_GROUPED_INSTANTIATIONS=full, and the secondary fp16
# shapes). 1) The suite: ctest -L gpu (every grouped configuration, fp8 caches at every head size
# among them), pal-bench, compute-sanitizer. 2) The grouped kernel's CUDA-core path on the primary
# grid (never timed against the tensor-core path on multi-head shapes), and batch 1 in one or two
# splits. 3) ncu on the rows that
# still miss issue 11's targets and have no profile yet.
set -u
export OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT/x"
tar -xJf build-device.tar.xz && PAL_SUITE_BUDGET_S=420 bash scripts/device_suite.sh build-device > "$OUT/x/suite.log" 2>&1
mv "$OUT"/ctest.log "$OUT"/sanitizer.log "$OUT"/nvidia-smi.txt "$OUT"/bench.log "$OUT"/x/ 2>/dev/null
export LD_LIBRARY_PATH="$PWD/build-device/lib:/usr/local/cuda/lib64"
bin=build-device/bin
timeout 100 $bin/pal-bench --sections primary --versions grouped --grouped-math cuda --cold-method none \
  --filter '^fp16/h128/bs16/' --csv "$OUT/x/grouped-cuda-cores.csv" > "$OUT/x/grouped-cuda-cores.log" 2>&1
echo "exit $?" >> "$OUT/x/grouped-cuda-cores.log"
# Batch 1 with one split (no split_merge launch) and with two, beside the planner's plan above.
for splits in 1 2; do
  timeout 40 $bin/pal-bench --sections primary --versions grouped --cold-method none --grouped-splits $splits \
    --filter '^fp16/h128/bs16/32x(8|32)/b1/c(512|2048)/' --csv "$OUT/x/grouped-b1-splits$splits.csv" \
    > "$OUT/x/grouped-b1-splits$splits.log" 2>&1
  echo "exit $?" >> "$OUT/x/grouped-b1-splits$splits.log"
done
# heads kv_heads batch ctx version
for spec in "32 32 1 512 grouped" "32 32 1 2048 grouped" "32 32 32 512 grouped" "32 32 128 2048 v1" \
            "32 32 8 32768 grouped" "32 32 128 2048 grouped" "32 8 1 2048 grouped"; do
  set -- $spec
  lens=$(python3 -c "print(','.join(['$4']*$3))")
  name="ncu_${5}_${1}x${2}_b${3}_c${4}.txt"
  timeout 60 ncu --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
    --section MemoryWorkloadAnalysis --print-summary none \
    $bin/pal-run --backend gpu --version $5 --dtype fp16 --head-size 128 --block-size 16 \
    --num-heads $1 --num-kv-heads $2 --num-seqs $3 --seq-lens $lens --input-preset uniform > "$OUT/x/$name" 2>&1
  echo "exit $?" >> "$OUT/x/$name"
done
cd "$OUT" && tar czf logs.tgz x && rm -rf x
