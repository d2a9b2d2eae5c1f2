# Run 24: an experiment, not landed. The one-harness A/B (scratch/upstream-vllm/device_ab.sh, carry
# ["scratch"]) with "ours 696db6b" = main at 4a3c001 (v1 at 72 registers) and "ours new" = the same
# with __launch_bounds__(128, 8) for v1 (and (128, 7) for v2, which keeps v2 at its 72 registers):
# ptxas then fits v1 in 64 registers with 16 bytes of spill.
AB_SKIP_NCU=1 AB_SHAPES=scratch/upstream-vllm/ab_shapes_lb.csv bash scratch/upstream-vllm/device_ab.sh > $OUT/ab_console.log 2>&1
# Result: the short-context batch-32 rows 0.82-0.86 of 4a3c001 (32/32 32 x 512: 76.1 -> 65.4 us,
# 0.94 of upstream), but the long-context rows, where shared memory and not registers bounds the
# blocks per SM, 1.06-1.10 (32/8 32 x 8k 588.8 -> 635.5 us, 1.09 of upstream). Not landed: it would
# need v1 compiled twice and chosen by the logits buffer's size at launch.
