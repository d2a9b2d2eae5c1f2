// Each stage function of the reference against its own definition, with worked examples taken from
// upstream's design document and hand-computed offsets.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tests/reference/reference_test_support.h"

namespace pal {
namespace {

using test::make_scenario;

// ---- query_load ---------------------------------------------------------------------------------

// Inputs whose query row (seq 0, head 0) holds 0, 1, 2, ... so a q_vecs slot shows which element
// landed in it (exact in every dtype up to head size 256).
Inputs inputs_with_counting_query(const Scenario& scenario) {
  Inputs inputs = generate_inputs(scenario);
  for (int d = 0; d < scenario.head_size; ++d) inputs.query.set_float(d, static_cast<float>(d));
  return inputs;
}

TEST_CASE("query_load gives lane r of a thread group every THREAD_GROUP_SIZE-th 16-byte-per-group vec",
          "[reference][stage][query_load]") {
  SECTION("fp16, block size 16, head size 128: two lanes, vecs of 4 (the design document's example)") {
    const Scenario scenario = make_scenario(DType::fp16, 128, 16, 1, 1, false, {1});
    const KernelGeometry geometry{2, 128, 16, kNumThreads, 2};
    REQUIRE(geometry.thread_group_size() == 2);
    REQUIRE(geometry.vec_size() == 4);
    const std::vector<float> q_vecs = query_load(inputs_with_counting_query(scenario), geometry, 0, 0);
    // Lane 0: vec 0 = elements 0..3, then vec 2 = elements 8..11, ...
    CHECK(std::vector<float>(q_vecs.begin(), q_vecs.begin() + 8) == std::vector<float>{0, 1, 2, 3, 8, 9, 10, 11});
    // Lane 1 starts half-way through q_vecs: vec 1 = elements 4..7, then vec 3 = 12..15.
    CHECK(std::vector<float>(q_vecs.begin() + 64, q_vecs.begin() + 72) ==
          std::vector<float>{4, 5, 6, 7, 12, 13, 14, 15});
    CHECK(q_vecs.back() == 127.0f);
  }
  SECTION("fp32, block size 8, head size 32: four lanes, vecs of one element (thread 0 takes 0, 4, 8, ...)") {
    const Scenario scenario = make_scenario(DType::fp32, 32, 8, 1, 1, false, {1});
    const KernelGeometry geometry{4, 32, 8, kNumThreads, 4};
    const std::vector<float> q_vecs = query_load(inputs_with_counting_query(scenario), geometry, 0, 0);
    CHECK(std::vector<float>(q_vecs.begin(), q_vecs.begin() + 8) == std::vector<float>{0, 4, 8, 12, 16, 20, 24, 28});
    CHECK(std::vector<float>(q_vecs.begin() + 8, q_vecs.begin() + 10) == std::vector<float>{1, 5});
  }
}

TEST_CASE("q_vecs holds the whole query exactly once for every supported geometry", "[reference][stage][query_load]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int head_size = GENERATE(32, 64, 80, 96, 112, 120, 128, 192, 256);
  const int block_size = GENERATE(8, 16, 32);
  CAPTURE(head_size, block_size);
  const Scenario scenario = make_scenario(dtype, head_size, block_size, 1, 1, false, {1});
  const KernelGeometry geometry{dtype_size_bytes(dtype), head_size, block_size, kNumThreads, dtype_size_bytes(dtype)};
  const std::vector<float> q_vecs = query_load(inputs_with_counting_query(scenario), geometry, 0, 0);
  std::vector<float> sorted = q_vecs;
  std::sort(sorted.begin(), sorted.end());
  std::vector<float> counting(static_cast<std::size_t>(head_size));
  std::iota(counting.begin(), counting.end(), 0.0f);
  CHECK(sorted == counting);
  CHECK(query_from_q_vecs(q_vecs, geometry) == counting);
}

// ---- key_gather / value_gather ------------------------------------------------------------------

TEST_CASE("key_gather and value_gather read the hand-computed flat offsets of the paged layouts",
          "[reference][stage][key_gather][value_gather]") {
  // fp32 (x = 4), block size 8, head size 32, 2 kv heads: one physical block holds
  // 2 kv heads * 32 dims * 8 tokens = 512 elements, one kv head 256.
  const Scenario scenario = make_scenario(DType::fp32, 32, 8, 2, 2, false, {20});
  Inputs inputs = generate_inputs(scenario);
  // Token 11 is slot 3 of logical block 1.
  const std::int64_t block = inputs.block_tables.data<std::int32_t>()[1];
  // K [block][kv_head][d/4][slot][d%4], dim 5 of kv head 1: 256 + (5/4)*8*4 + 3*4 + 5%4 = 301.
  inputs.key_cache.set_float(block * 512 + 301, 0.75f);
  // V [block][kv_head][d][slot], dim 5 of kv head 1: 256 + 5*8 + 3 = 299.
  inputs.value_cache.set_float(block * 512 + 299, -0.5f);
  CHECK(key_gather(inputs, 0, 1, 11)[5] == 0.75f);
  CHECK(value_gather(inputs, 0, 1, 11)[5] == -0.5f);
  // Neighbours did not pick the marker up.
  CHECK(key_gather(inputs, 0, 0, 11)[5] != 0.75f);
  CHECK(key_gather(inputs, 0, 1, 10)[5] != 0.75f);
  CHECK(value_gather(inputs, 0, 1, 11)[4] != -0.5f);
}

TEST_CASE("consecutive query heads share one kv head", "[reference][stage]") {
  CHECK(kv_head_for(0, 64, 8) == 0);
  CHECK(kv_head_for(7, 64, 8) == 0);
  CHECK(kv_head_for(8, 64, 8) == 1);
  CHECK(kv_head_for(63, 64, 8) == 7);
  CHECK(kv_head_for(5, 8, 1) == 0);
  CHECK(kv_head_for(39, 40, 40) == 39);
}

// ---- qk_logits, qk_max, exp_sum, softmax --------------------------------------------

TEST_CASE("qk_logits is scale times q.k plus the ALiBi penalty, which is zero for the newest token",
          "[reference][stage][qk_logits]") {
  const bool alibi = GENERATE(false, true);
  const Scenario scenario = make_scenario(DType::bf16, 64, 16, 4, 2, alibi, {45});
  const Inputs inputs = generate_inputs(scenario);
  const int head_idx = 3;
  const KernelGeometry geometry{2, 64, 16, kNumThreads, 2};
  const std::vector<float> query = query_from_q_vecs(query_load(inputs, geometry, 0, head_idx), geometry);
  const TokenRange range = token_range(45, 16, 0, 0);
  const std::vector<float> logits = qk_logits(inputs, query, 0, head_idx, range);
  REQUIRE(logits.size() == 45);
  const double slope = alibi ? inputs.alibi_slopes.get_float(head_idx) : 0.0;
  for (int token = 0; token < 45; ++token) {
    const std::vector<float> key = key_gather(inputs, 0, kv_head_for(head_idx, 4, 2), token);
    double dot = 0.0;
    for (int d = 0; d < 64; ++d) dot += double(query[static_cast<std::size_t>(d)]) * key[static_cast<std::size_t>(d)];
    const double want = inputs.scale * dot + slope * (token - 44);
    INFO("token " << token);
    CHECK(logits[static_cast<std::size_t>(token)] == Approx(want).epsilon(1e-5).margin(2e-6));
  }
}

TEST_CASE("v2 logits cover exactly the partition's 512 tokens", "[reference][stage][qk_logits]") {
  const Scenario scenario = make_scenario(DType::fp32, 32, 16, 1, 1, true, {1100});
  const Inputs inputs = generate_inputs(scenario);
  const ReferenceRun v1 = reference_attention(scenario, inputs, KernelVersion::v1);
  const ReferenceRun v2 = reference_attention(scenario, inputs, KernelVersion::v2);
  REQUIRE(v2.max_num_partitions == 3);
  const int sizes[] = {512, 512, 76};
  for (int p = 0; p < 3; ++p) {
    const ThreadBlockStages& block = v2.thread_block(0, 0, p);
    REQUIRE(block.num_tokens() == sizes[p]);
    CHECK(block.range.start_token_idx == 512 * p);
    // Same token, same logit as v1's whole-sequence pass (slot t is token start + t).
    for (int t = 0; t < block.num_tokens(); ++t)
      CHECK(block.logits[static_cast<std::size_t>(t)] == v1.thread_block(0, 0).logits[static_cast<std::size_t>(512 * p + t)]);
  }
}

TEST_CASE("every thread block's softmax stages satisfy their definitions", "[reference][stage][softmax]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  const bool alibi = GENERATE(false, true);
  const std::string dtype_text(dtype_name(dtype));
  CAPTURE(dtype_text, version_name(version), alibi);
  const Scenario scenario = make_scenario(dtype, 112, 32, 8, 1, alibi, {1, 31, 33, 1300});
  const ReferenceRun run = reference_attention(scenario, generate_inputs(scenario), version);
  for (const ThreadBlockStages& block : run.thread_blocks) {
    if (!block.active) continue;
    INFO("(seq, head, partition) = (" << block.seq_idx << ", " << block.head_idx << ", " << block.partition_idx << ")");
    const auto n = static_cast<std::size_t>(block.num_tokens());
    REQUIRE(block.logits.size() == n);
    // qk_max is the largest logit and one of them.
    CHECK(std::find(block.logits.begin(), block.logits.end(), block.qk_max) != block.logits.end());
    CHECK(std::all_of(block.logits.begin(), block.logits.end(), [&](float l) { return l <= block.qk_max; }));
    // exp values lie in [0, 1] (far ALiBi tokens may underflow to 0) and the max token gives exactly 1,
    // so exp_sum >= 1.
    CHECK(std::all_of(block.exp_values.begin(), block.exp_values.end(), [](float e) { return e >= 0.0f && e <= 1.0f; }));
    CHECK(std::find(block.exp_values.begin(), block.exp_values.end(), 1.0f) != block.exp_values.end());
    CHECK(block.exp_sum >= 1.0f);
    CHECK(block.exp_sum <= static_cast<float>(n));
    // Probabilities sum to 1 up to the epsilon (at most 1e-6, as exp_sum >= 1) and the fp32 roundings:
    // the n-term exp_sum (<= (n-1) u relative) and each product e * inv_sum (<= u each).
    const double prob_sum = std::accumulate(block.probs.begin(), block.probs.end(), 0.0);
    CHECK(std::fabs(prob_sum - 1.0) <= 1e-6 + 2.0 * double(n) * std::ldexp(1.0, -24));
    // output is the accumulators rounded to the dtype, nothing else.
    for (std::size_t d = 0; d < block.accumulators.size(); ++d)
      CHECK(block.out[d] == round_to_dtype(block.accumulators[d], dtype));
  }
}

TEST_CASE("a context of one token returns that token's value", "[reference][stage][value_accumulation]") {
  const DType dtype = GENERATE(DType::fp16, DType::bf16);
  const Scenario scenario = make_scenario(dtype, 64, 8, 2, 1, true, {1});
  const Inputs inputs = generate_inputs(scenario);
  const ReferenceRun run = reference_attention(scenario, inputs, KernelVersion::v1);
  // p = 1 / (1 + 1e-6) rounds to exactly 1 in fp16 and bf16, so out = v exactly.
  const std::vector<float> value = value_gather(inputs, 0, 0, 0);
  for (int head = 0; head < 2; ++head) CHECK(run.thread_block(0, head).out == value);
}

TEST_CASE("exp_sum and softmax on a hand-worked example", "[reference][stage][softmax]") {
  const std::vector<float> logits = {0.0f, std::log(3.0f), std::log(2.0f)};
  const float max_logit = qk_max(logits);
  CHECK(max_logit == std::log(3.0f));
  const ExpSum exps = exp_sum(logits, max_logit);
  CHECK(exps.exp_values[1] == 1.0f);
  CHECK(exps.exp_sum == Approx(2.0).epsilon(1e-6));  // 1/3 + 1 + 2/3
  const std::vector<float> probs = softmax(exps.exp_values, exps.exp_sum);
  CHECK(probs[0] == Approx(1.0 / 6).epsilon(1e-6));
  CHECK(probs[1] == Approx(0.5).epsilon(1e-6));
  CHECK(probs[2] == Approx(1.0 / 3).epsilon(1e-6));
  CHECK(qk_max({}) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("softmax adds upstream's 1e-6 to the exp sum", "[reference][stage][softmax]") {
  // One token: exp value 1, exp sum 1. Without the epsilon p would be exactly 1.
  const std::vector<float> probs = softmax(std::vector<float>{1.0f}, 1.0f);
  CHECK(probs[0] == 1.0f / (1.0f + 1e-6f));
  CHECK(probs[0] < 1.0f);
}

// ---- partition_reduce ---------------------------------------------------------------------------

TEST_CASE("partition_reduce weights each partial output by its share of the global exp sum",
          "[reference][stage][partition_reduce]") {
  // Partition 0: max 0, sum 1. Partition 1: max ln 3, sum 1. Rescaled to M = ln 3: 1/3 and 1, so the
  // weights are 1/4 and 3/4.
  const std::vector<SoftmaxState> states = {{0.0f, 1.0f}, {std::log(3.0f), 1.0f}};
  const std::vector<std::vector<float>> partials = {{1.0f, 0.0f, 0.5f}, {0.0f, 1.0f, 0.5f}};
  const PartitionReduce reduce = partition_reduce(states, partials, DType::fp32);
  CHECK_FALSE(reduce.plain_copy);
  CHECK(reduce.max_logit == std::log(3.0f));
  CHECK(reduce.rescaled_exp_sums[0] == Approx(1.0 / 3).epsilon(1e-6));
  CHECK(reduce.rescaled_exp_sums[1] == 1.0f);
  CHECK(reduce.global_exp_sum == Approx(4.0 / 3).epsilon(1e-6));
  CHECK(reduce.output[0] == Approx(0.25).epsilon(1e-5));
  CHECK(reduce.output[1] == Approx(0.75).epsilon(1e-5));
  CHECK(reduce.output[2] == Approx(0.5).epsilon(1e-5));
}

TEST_CASE("partition_reduce with one partition copies its partial output unchanged", "[reference][stage][partition_reduce]") {
  const std::vector<SoftmaxState> states = {{2.5f, 7.0f}};
  const std::vector<std::vector<float>> partials = {{0.1f, -0.3f}};
  const PartitionReduce reduce = partition_reduce(states, partials, DType::bf16);
  CHECK(reduce.plain_copy);
  CHECK(reduce.output == partials[0]);  // no epsilon, no rounding: a copy
}

TEST_CASE("partition_reduce refuses mismatched inputs with a message", "[reference][stage][partition_reduce]") {
  const std::vector<SoftmaxState> states = {{0.0f, 1.0f}, {0.0f, 1.0f}};
  const std::vector<std::vector<float>> partials = {{1.0f}};
  CHECK_THROWS_WITH(partition_reduce(states, partials, DType::fp32), Catch::Contains("2 states and 1 partial outputs"));
}

// ---- Bad input ----------------------------------------------------------------------------------

TEST_CASE("the reference names the block table entry that points outside the pool", "[reference][errors]") {
  const Scenario scenario = make_scenario(DType::fp16, 64, 16, 2, 2, false, {40});
  Inputs inputs = generate_inputs(scenario);
  inputs.block_tables.data<std::int32_t>()[2] = static_cast<std::int32_t>(inputs.key_cache.shape[0]);
  CHECK_THROWS_AS(reference_attention(scenario, inputs, KernelVersion::v1), ScenarioError);
  CHECK_THROWS_WITH(reference_attention(scenario, inputs, KernelVersion::v1), Catch::Contains("block_tables[0][2]"));
  CHECK_THROWS_WITH(dense_attention_oracle(inputs), Catch::Contains("block_tables[0][2]"));
}

TEST_CASE("key_gather refuses a token past the block table instead of reading out of bounds", "[reference][errors]") {
  const Scenario scenario = make_scenario(DType::fp32, 32, 8, 1, 1, false, {10});
  const Inputs inputs = generate_inputs(scenario);
  // The table has 2 columns (10 tokens / 8 per block, rounded up); token 16 would need a third.
  CHECK_THROWS_WITH(key_gather(inputs, 0, 0, 16), Catch::Contains("logical block 2"));
  CHECK_THROWS_WITH(value_gather(inputs, 1, 0, 0), Catch::Contains("seq 1"));
}

}  // namespace
}  // namespace pal
