// The running state of a softmax over a slice of tokens: the largest logit seen and the sum of
// exp(logit - max_logit). Two states merge into the state of the union of their slices, which is
// how v2 combines its 512-token partitions (and how split-KV / flash-decoding kernels combine
// splits). Shared by the reference, the v2 reduce kernel and the visualizer's merge view.
//
// The output term: a slice's output o is kept normalised by the slice's own sum, as upstream's v2
// keeps tmp_out (o = sum_t exp(l_t - m) v_t / (s + eps)). Merging N slices then needs, per slice,
// only its state and o: with M the largest max and s^_p = s_p * exp(m_p - M) each sum moved onto M,
//     out = sum_p o_p * s^_p / (sum_p s^_p + eps).
// FlashInfer's merge_state carries the same three things {o, m, d} (there with the log of the sum);
// this project keeps upstream's normalised o and its epsilon so that the v2 reduce stays bit for bit
// upstream's arithmetic.
#pragma once

#include <cmath>

#include "core/host_device.h"

namespace pal {

// Upstream's softmax denominators add this to the exp sum before taking the reciprocal, both in the
// main kernel and in the v2 reduce (it keeps 1/x finite if the sum were ever 0).
inline constexpr float kSoftmaxEpsilon = 1e-6f;

struct SoftmaxState {
  float max_logit;  // largest logit of the slice (-inf for an empty slice)
  float exp_sum;    // sum over the slice of exp(logit - max_logit), without any epsilon

  PAL_HOST_DEVICE static constexpr SoftmaxState empty() { return {-INFINITY, 0.0f}; }

  // This slice's exp_sum expressed relative to another (larger or equal) maximum:
  // exp_sum * exp(max_logit - global_max). An empty slice contributes 0, not NaN.
  PAL_HOST_DEVICE float rescaled_exp_sum(float global_max) const {
    if (exp_sum == 0.0f) return 0.0f;
    return exp_sum * expf(max_logit - global_max);
  }

  // The state of both slices together. Each side's sum is moved onto the common maximum first.
  PAL_HOST_DEVICE SoftmaxState merged_with(const SoftmaxState& other) const {
    const float common_max = max_logit > other.max_logit ? max_logit : other.max_logit;
    if (exp_sum == 0.0f) return other;
    if (other.exp_sum == 0.0f) return *this;
    return {common_max, rescaled_exp_sum(common_max) + other.rescaled_exp_sum(common_max)};
  }

  // The output term: one element of a slice's normalised output o, weighted by the slice's share
  // of the merged sum, s^ * 1 / (S + eps). Summing this over the slices gives the merged output.
  // The caller takes the reciprocal once (the GPU with its fast division) and passes it in; the
  // products are taken in upstream's order, (o * s^) * inv, so the result is its bits.
  PAL_HOST_DEVICE static float weighted_output(float partial_output, float rescaled_exp_sum,
                                               float inv_merged_exp_sum) {
    return partial_output * rescaled_exp_sum * inv_merged_exp_sum;
  }
};

}  // namespace pal
