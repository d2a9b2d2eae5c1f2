# Run 18: upstream vLLM's v1/v2 against ours before (696db6b) and after the V-loop change (c774777,
# branch upv1), built on the device from one timing harness, so inputs and timing are identical.
# Upstream's kernel source was transcribed for this measurement into scratch/ (git-excluded, never
# committed); only its measured times, SASS instruction counts and ncu counters are kept here.
# Device call (carry ["scratch"]):
bash scratch/upstream-vllm/device_ab.sh > $OUT/ab_console.log 2>&1
# ab_table.md: hot medians, two alternating rounds per harness; sass_loops.txt: instruction counts per
# loop of each kernel (cuobjdump -sass on the device); ncu_*_details.txt: v1, 32/8 heads, batch 32 x 8k.
