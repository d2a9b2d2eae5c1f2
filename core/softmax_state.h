// The running state of a softmax over a slice of tokens: the largest logit seen and the sum of
// exp(logit - max_logit). Two states merge into the state of the union of their slices, which is
// how v2 combines its 512-token partitions (and how split-KV / flash-decoding kernels combine
// splits). Shared by the reference, the v2 reduce kernel and the visualizer's merge view.
#pragma once

#include <cmath>

#include "core/host_device.h"

namespace pal {

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
};

}  // namespace pal
