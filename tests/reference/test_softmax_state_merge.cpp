// SoftmaxState (core/softmax_state.h) is the algebra v2's reduce relies on: the state of a union of
// token slices is the merge of the slices' states, in any grouping and any order, and its output
// term merges the slices' normalised outputs into the output of the union.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/inputs.h"
#include "core/softmax_state.h"
#include "reference/paged_reference.h"

namespace pal {
namespace {

// The state of a slice of logits, computed with the reference's qk_max and exp_sum stages.
SoftmaxState state_of(const std::vector<float>& logits) {
  if (logits.empty()) return SoftmaxState::empty();
  const float max_logit = qk_max(logits);
  return {max_logit, exp_sum(logits, max_logit).exp_sum};
}

std::vector<float> random_logits(SplitMix64& random, int count, float low, float high) {
  std::vector<float> logits(static_cast<std::size_t>(count));
  for (float& logit : logits) logit = random.uniform(low, high);
  return logits;
}

// Merging rescales through expf and adds, a handful of fp32 roundings: a few units of 2^-24.
constexpr double kMergeRelativeTolerance = 1e-6;

bool states_agree(const SoftmaxState& a, const SoftmaxState& b) {
  return a.max_logit == b.max_logit &&
         std::fabs(double(a.exp_sum) - b.exp_sum) <= kMergeRelativeTolerance * std::fabs(double(b.exp_sum));
}

TEST_CASE("merging with an empty softmax state returns the other state unchanged", "[softmax_state]") {
  const SoftmaxState state{-3.25f, 17.5f};
  const SoftmaxState left = SoftmaxState::empty().merged_with(state);
  const SoftmaxState right = state.merged_with(SoftmaxState::empty());
  CHECK(left.max_logit == state.max_logit);
  CHECK(left.exp_sum == state.exp_sum);
  CHECK(right.max_logit == state.max_logit);
  CHECK(right.exp_sum == state.exp_sum);
  const SoftmaxState both_empty = SoftmaxState::empty().merged_with(SoftmaxState::empty());
  CHECK(both_empty.exp_sum == 0.0f);
  CHECK(std::isinf(both_empty.max_logit));
  CHECK(both_empty.max_logit < 0.0f);
  CHECK(SoftmaxState::empty().rescaled_exp_sum(0.0f) == 0.0f);  // 0, not 0 * exp(inf) = NaN
}

TEST_CASE("softmax state merge is commutative", "[softmax_state]") {
  SplitMix64 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    const SoftmaxState a = state_of(random_logits(random, 1 + int(random.below(50)), -20.0f, 20.0f));
    const SoftmaxState b = state_of(random_logits(random, 1 + int(random.below(50)), -20.0f, 20.0f));
    const SoftmaxState ab = a.merged_with(b);
    const SoftmaxState ba = b.merged_with(a);
    INFO("trial " << trial);
    // Same two rescaled terms added in the other order: IEEE addition commutes exactly.
    CHECK(ab.max_logit == ba.max_logit);
    CHECK(ab.exp_sum == ba.exp_sum);
  }
}

TEST_CASE("softmax state merge is associative within fp32 rounding", "[softmax_state]") {
  SplitMix64 random(11);
  for (int trial = 0; trial < 200; ++trial) {
    const SoftmaxState a = state_of(random_logits(random, 1 + int(random.below(50)), -20.0f, 20.0f));
    const SoftmaxState b = state_of(random_logits(random, 1 + int(random.below(50)), -20.0f, 20.0f));
    const SoftmaxState c = state_of(random_logits(random, 1 + int(random.below(50)), -20.0f, 20.0f));
    const SoftmaxState left = a.merged_with(b).merged_with(c);
    const SoftmaxState right = a.merged_with(b.merged_with(c));
    INFO("trial " << trial << ": (" << left.max_logit << ", " << left.exp_sum << ") vs (" << right.max_logit << ", "
                  << right.exp_sum << ")");
    CHECK(states_agree(left, right));
  }
}

TEST_CASE("merging the states of two slices gives the state of the whole", "[softmax_state]") {
  SplitMix64 random(13);
  for (int trial = 0; trial < 100; ++trial) {
    const std::vector<float> logits = random_logits(random, 2 + int(random.below(600)), -30.0f, 10.0f);
    const auto cut = static_cast<std::ptrdiff_t>(1 + random.below(logits.size() - 1));
    const SoftmaxState head = state_of({logits.begin(), logits.begin() + cut});
    const SoftmaxState tail = state_of({logits.begin() + cut, logits.end()});
    const SoftmaxState whole = state_of(logits);
    const SoftmaxState merged = head.merged_with(tail);
    INFO("trial " << trial << ", " << logits.size() << " logits cut at " << cut);
    CHECK(merged.max_logit == whole.max_logit);
    // Each side's sum of up to 600 terms carries its own fp32 summation error.
    CHECK(std::fabs(double(merged.exp_sum) - whole.exp_sum) <= 600 * std::ldexp(1.0, -24) * whole.exp_sum);
  }
}

// A slice's output normalised by its own sum, as the kernel's v2 partitions store it in tmp_out:
// o[d] = sum_t p_t * v_t[d] with p_t = exp(l_t - m) / (s + eps).
std::vector<float> normalised_output(const std::vector<float>& logits, const std::vector<std::vector<float>>& values,
                                     std::size_t begin, std::size_t end) {
  const std::vector<float> slice(logits.begin() + std::ptrdiff_t(begin), logits.begin() + std::ptrdiff_t(end));
  const float max_logit = qk_max(slice);
  const ExpSum exps = exp_sum(slice, max_logit);
  const std::vector<float> probs = softmax(exps.exp_values, exps.exp_sum);
  std::vector<float> out(values[0].size(), 0.0f);
  for (std::size_t t = 0; t < slice.size(); ++t)
    for (std::size_t d = 0; d < out.size(); ++d) out[d] += probs[t] * values[begin + t][d];
  return out;
}

TEST_CASE("the output term merges normalised partial outputs into the output of the whole", "[softmax_state]") {
  SplitMix64 random(17);
  constexpr int kDims = 8;
  for (int trial = 0; trial < 100; ++trial) {
    const std::vector<float> logits = random_logits(random, 3 + int(random.below(700)), -30.0f, 10.0f);
    std::vector<std::vector<float>> values(logits.size(), std::vector<float>(kDims));
    for (auto& row : values)
      for (float& v : row) v = random.uniform(-1.0f, 1.0f);
    // Cut into up to four slices at random points.
    std::vector<std::size_t> bounds = {0, logits.size()};
    for (int cut = 0; cut < 3; ++cut) bounds.push_back(1 + random.below(logits.size() - 1));
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());

    std::vector<SoftmaxState> states;
    std::vector<std::vector<float>> outputs;
    SoftmaxState merged = SoftmaxState::empty();
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
      states.push_back(state_of({logits.begin() + std::ptrdiff_t(bounds[i]), logits.begin() + std::ptrdiff_t(bounds[i + 1])}));
      outputs.push_back(normalised_output(logits, values, bounds[i], bounds[i + 1]));
      merged = merged.merged_with(states.back());
    }
    const float inv_merged = 1.0f / (merged.exp_sum + kSoftmaxEpsilon);
    const std::vector<float> whole = normalised_output(logits, values, 0, logits.size());
    INFO("trial " << trial << ", " << logits.size() << " logits in " << states.size() << " slices");
    for (int d = 0; d < kDims; ++d) {
      float out = 0.0f;
      for (std::size_t p = 0; p < states.size(); ++p)
        out += SoftmaxState::weighted_output(outputs[p][std::size_t(d)], states[p].rescaled_exp_sum(merged.max_logit),
                                             inv_merged);
      // Each side sums up to 700 products of magnitude <= 1 (weights add to 1): a few hundred fp32
      // ulps of 1 at most, far below the size of a value.
      CHECK(std::fabs(double(out) - whole[std::size_t(d)]) <= 1e-4);
    }
  }
}

TEST_CASE("the output term of a single slice returns its output, up to the epsilon", "[softmax_state]") {
  const SoftmaxState state{2.5f, 40.0f};
  const float inv = 1.0f / (state.exp_sum + kSoftmaxEpsilon);
  const float weighted = SoftmaxState::weighted_output(0.75f, state.rescaled_exp_sum(state.max_logit), inv);
  CHECK(std::fabs(double(weighted) - 0.75) <= 0.75 * 1e-6);
  // (o * s^) * inv, in that order: the bits of upstream's reduce.
  CHECK(weighted == 0.75f * 40.0f * inv);
}

}  // namespace
}  // namespace pal
