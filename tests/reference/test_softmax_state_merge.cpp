// SoftmaxState (core/softmax_state.h) is the algebra v2's reduce relies on: the state of a union of
// token slices is the merge of the slices' states, in any grouping and any order.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "core/inputs.h"
#include "core/softmax_state.h"
#include "reference/paged_reference.h"

namespace pal {
namespace {

// The state of a slice of logits, computed with the reference's qk_max and exp_and_sum stages.
SoftmaxState state_of(const std::vector<float>& logits) {
  if (logits.empty()) return SoftmaxState::empty();
  const float max_logit = qk_max(logits);
  return {max_logit, exp_and_sum(logits, max_logit).exp_sum};
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

}  // namespace
}  // namespace pal
