# Runs 20 and 21: the same one-harness A/B as run 18 (scratch/upstream-vllm/device_ab.sh, upstream's
# kernel transcribed into the git-excluded scratch/ for measurement only), carry ["scratch"].
# Run 20 (AB_SKIP_NCU=1): the column "ours 696db6b" is NOT 696db6b here but variant B = the V-loop
#   branch on the last kv_block for v1 only, plain loads everywhere; "ours new" = variant A = the same
#   plus the read-only path (__ldg) for every kernel input, v1 and v2. Result: v1 B 0.959 / A 0.931 of
#   upstream; v2 B 1.019 / A 1.263 -> the read-only path is what slowed v2 in run 18.
# Run 21: "ours 696db6b" = 696db6b; "ours new" = e079698 (branch upv1): v1 with the last-block branch
#   and the read-only path, v2 exactly as 696db6b. v1 0.934 of upstream (every row <= 1.02), v2 1.020
#   (1.005 of 696db6b). ncu on v1, 32/8 heads, batch 32 x 8k for all three kernels.
AB_SKIP_NCU=1 bash scratch/upstream-vllm/device_ab.sh > $OUT/ab_console.log 2>&1   # run 20
bash scratch/upstream-vllm/device_ab.sh > $OUT/ab_console.log 2>&1                 # run 21
