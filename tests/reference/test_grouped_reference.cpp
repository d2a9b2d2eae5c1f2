// The grouped kernel's scalar reference on its own: equal to dense attention for every plan shape
// (splits, row tiles, head chunks), its warp steps tiling a split exactly, and its split merge.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "kernels/split_planner.h"
#include "reference/grouped_reference.h"
#include "tests/reference/reference_test_support.h"

namespace pal {
namespace {

GroupedPlan plan_for(const Scenario& scenario, GroupedMath math, int forced_num_splits) {
  GroupedPlanRequest request;
  request.num_seqs = scenario.num_seqs;
  request.num_heads = scenario.num_heads;
  request.num_kv_heads = scenario.num_kv_heads;
  request.max_seq_len = scenario.max_seq_len();
  request.geometry = GroupedGeometry{dtype_size_bytes(scenario.dtype), scenario.head_size, scenario.block_size, math,
                                     scenario.kv_cache_element_size()};
  request.device = modeled_h200(request.geometry.shared_bytes(1));
  request.forced_num_splits = forced_num_splits;
  return plan_grouped(request);
}

TEST_CASE("the grouped reference equals dense attention for every dtype, head, block and group shape and split count",
          "[reference][grouped]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int head_size = GENERATE(32, 120, 256);
  const int block_size = GENERATE(8, 32);
  const auto heads = GENERATE(std::pair{4, 4}, std::pair{8, 2}, std::pair{48, 1}, std::pair{72, 1});
  const int forced = GENERATE(0, 1, 3);
  Scenario scenario = test::make_scenario(dtype, head_size, block_size, heads.first, heads.second, true,
                                          {1, block_size + 1, 150, 400}, 11);
  const Inputs inputs = generate_inputs(scenario);
  const GroupedMath math = dtype == DType::fp32 ? GroupedMath::cuda_cores : GroupedMath::tensor_cores;
  const GroupedPlan plan = plan_for(scenario, math, forced);
  const GroupedReferenceRun run = grouped_reference(scenario, inputs, plan);
  const DenseOutput oracle = dense_attention_oracle(inputs);
  int mismatches = 0;
  const std::string first = test::first_mismatch(
      scenario.num_seqs, scenario.num_heads, head_size, test::reference_vs_oracle_tolerance(dtype),
      [&](int s, int h, int d) { return double(run.output_at(s, h, d)); },
      [&](int s, int h, int d) { return oracle.at(s, h, d); }, &mismatches);
  CAPTURE(head_size, block_size, heads.first, heads.second, forced, plan.reason);
  INFO(first);
  CHECK(mismatches == 0);
}

TEST_CASE("the token slices' warp steps tile each split exactly once, in order", "[reference][grouped]") {
  Scenario scenario = test::make_scenario(DType::fp16, 64, 16, 32, 1, false, {1000});
  const GroupedPlan plan = plan_for(scenario, GroupedMath::tensor_cores, 3);
  REQUIRE(plan.num_token_slices == 2);
  for (int split = 0; split < plan.num_splits; ++split) {
    const TokenRange range = grouped_split_range(1000, 16, plan, split);
    std::set<int> covered;
    for (int slice = 0; slice < plan.num_token_slices; ++slice) {
      const std::vector<int> steps = grouped_warp_steps(range, plan, slice);
      CHECK(std::is_sorted(steps.begin(), steps.end()));
      for (int step : steps) CHECK(covered.insert(step).second);
    }
    CHECK(int(covered.size()) == (range.num_tokens() + 15) / 16);
  }
}

TEST_CASE("merging split states and outputs equals computing the whole range at once", "[reference][grouped]") {
  const Scenario scenario = test::make_scenario(DType::fp32, 64, 16, 4, 2, true, {777}, 5);
  const Inputs inputs = generate_inputs(scenario);
  const GroupedReferenceRun whole = grouped_reference(scenario, inputs, plan_for(scenario, GroupedMath::cuda_cores, 1));
  const GroupedReferenceRun split = grouped_reference(scenario, inputs, plan_for(scenario, GroupedMath::cuda_cores, 7));
  REQUIRE(split.active_splits[0] == 7);
  for (int h = 0; h < 4; ++h) {
    const SoftmaxState merged = split.merges[std::size_t(h)].merged;
    const SoftmaxState& one = whole.split_state(0, h, 0);
    CHECK(merged.max_logit == one.max_logit);
    CHECK(merged.exp_sum == Approx(one.exp_sum).epsilon(1e-5));
    float weights = 0;
    for (float w : split.merges[std::size_t(h)].weights) weights += w;
    CHECK(weights == Approx(1.0f).epsilon(1e-6));
    for (int d = 0; d < 64; ++d) CHECK(split.output_at(0, h, d) == Approx(whole.output_at(0, h, d)).margin(1e-6));
  }
}

TEST_CASE("a split merge of one split copies the split's output, rounded to the dtype", "[reference][grouped]") {
  const GroupedSplitMerge merge = grouped_split_merge({SoftmaxState{0.5f, 3.0f}}, {{0.1f, -0.2f}}, DType::bf16);
  CHECK(merge.output == std::vector<float>{round_to_dtype(0.1f, DType::bf16), round_to_dtype(-0.2f, DType::bf16)});
  REQUIRE_THROWS_AS(grouped_split_merge({}, {}, DType::fp16), ScenarioError);
}

TEST_CASE("the grouped reference refuses a plan made for another shape", "[reference][grouped]") {
  const Scenario scenario = test::make_scenario(DType::fp16, 64, 16, 8, 2, false, {10});
  Scenario other = scenario;
  other.head_size = 128;
  REQUIRE_THROWS_WITH(grouped_reference(scenario, generate_inputs(scenario), plan_for(other, GroupedMath::tensor_cores, 0)),
                      Catch::Contains("another shape"));
}

}  // namespace
}  // namespace pal
