// The softmax-state merge of the grouped kernel, written once for the kernel (the in-block merge of
// its warps, the split_merge kernel) and for its reference: arithmetic on core/softmax_state.h's
// states, so it lives beside them, on the floor both the kernel and the reference stand on.
//
// A part (a warp's token slice, or a split) has a state {max_logit m, exp_sum l} (core/softmax_state.h)
// and accumulators: unnormalised (sum over its tokens of exp(logit - m) * v) inside a thread_block,
// normalised (divided by l) once a split is written out. Merging parts: the common maximum M over the
// non-empty parts, each part's sum moved onto it (l * exp(m - M)), and the accumulators weighted
// alike. This is FlashInfer's merge of {o, m, d} states (state.cuh). A split's normalised output is
// weighted by core/softmax_state.h's output term (SoftmaxState::weighted_output, the v2 reduce's
// arithmetic), with the reciprocal of the merged sum taken without upstream's epsilon: every merged
// sum here is >= 1 (the part holding the maximum contributes exp(0)).
#pragma once

#include <cmath>

#include "core/host_device.h"
#include "core/softmax_state.h"

namespace pal {

// Parts whose states are read together: a merge reads every part's state from memory, and reading
// them one loop iteration at a time makes each read wait for the one before it (a split_merge over
// 32 splits measured 16 us on the H200, 2026-11-29, ~32,000 cycles of dependent round trips). In
// chunks of this many, the reads of a chunk are issued together. The order of the arithmetic is
// the same as one part at a time, so the result is bit for bit the same.
inline constexpr int kMergePrefetch = 8;

// The state of all parts together: two passes, the common maximum, then the sum of every part's sum
// moved onto it. Empty parts (exp_sum 0, max -inf) contribute nothing; `state_at(i)` gives part i.
template <typename StateAt>
PAL_HOST_DEVICE PAL_FORCE_INLINE SoftmaxState merge_softmax_states(int num_parts, StateAt state_at) {
  float common_max = -INFINITY;
  for (int first = 0; first < num_parts; first += kMergePrefetch) {
    SoftmaxState parts[kMergePrefetch];
    PAL_UNROLL
    for (int k = 0; k < kMergePrefetch; ++k) parts[k] = first + k < num_parts ? state_at(first + k) : SoftmaxState::empty();
    PAL_UNROLL
    for (int k = 0; k < kMergePrefetch; ++k)
      if (first + k < num_parts && parts[k].exp_sum > 0.0f) common_max = fmaxf(common_max, parts[k].max_logit);
  }
  float exp_sum = 0.0f;
  for (int first = 0; first < num_parts; first += kMergePrefetch) {
    SoftmaxState parts[kMergePrefetch];
    PAL_UNROLL
    for (int k = 0; k < kMergePrefetch; ++k) parts[k] = first + k < num_parts ? state_at(first + k) : SoftmaxState::empty();
    PAL_UNROLL
    for (int k = 0; k < kMergePrefetch; ++k)
      if (first + k < num_parts) exp_sum += parts[k].rescaled_exp_sum(common_max);
  }
  return {common_max, exp_sum};
}

// The factor a part's unnormalised accumulators are multiplied by when moved onto the common
// maximum: exp(m - M), and 0 for an empty part (whose -inf maximum would otherwise give NaN).
PAL_HOST_DEVICE PAL_FORCE_INLINE float part_rescale(const SoftmaxState& part, float common_max) {
  return part.exp_sum > 0.0f ? expf(part.max_logit - common_max) : 0.0f;
}

// One element of a split's normalised output weighted by the split's share of the merged sum;
// summed over the splits, the merged output. `inv_merged_exp_sum` is 1 / merged.exp_sum, taken once.
PAL_HOST_DEVICE PAL_FORCE_INLINE float split_weighted_output(float partial_output, const SoftmaxState& split,
                                                             const SoftmaxState& merged, float inv_merged_exp_sum) {
  return SoftmaxState::weighted_output(partial_output, split.rescaled_exp_sum(merged.max_logit), inv_merged_exp_sum);
}

}  // namespace pal
