// The paged reference reading an fp8 cache equals dense attention over the exact dequantised values,
// across formats x scales x query dtypes x the head sizes fp8 allows x block sizes; and block-sparse
// attention equals the dense oracle with its own mask, over patterns, sliding steps of both signs,
// tensor-parallel ranks and both kernel versions.
//
// PAL_REFERENCE_GRID=quick (the sanitizer build) keeps every format, scale, dtype and block size but
// only head sizes 32, 80 and 256.
#include <catch2/catch.hpp>

#include "tests/reference/reference_test_support.h"

namespace pal {
namespace {

using test::make_scenario;

void check_against_oracle(const Scenario& scenario, const Inputs& inputs, KernelVersion version) {
  const ReferenceRun run = reference_attention(scenario, inputs, version);
  const DenseOutput oracle = dense_attention_oracle(inputs);
  int num_mismatches = 0;
  const std::string mismatch = test::first_mismatch(
      run.num_seqs, run.num_heads, run.head_size,
      test::reference_vs_oracle_tolerance(scenario.dtype, scenario.kv_cache_dtype),
      [&](int s, int h, int d) { return double(run.output_at(s, h, d)); },
      [&](int s, int h, int d) { return oracle.at(s, h, d); }, &num_mismatches);
  INFO(mismatch);
  CHECK(num_mismatches == 0);
}

TEST_CASE("paged reference over an fp8 cache equals dense attention over the dequantised pages",
          "[reference][oracle][grid][fp8]") {
  const KvCacheDtype cache = GENERATE(KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2);
  // Scale 1, a power of two (exact products) and odd ones (the product is rounded).
  const auto scales = GENERATE(std::pair{1.0f, 1.0f}, std::pair{0.5f, 0.5f}, std::pair{0.0123f, 0.37f});
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int head_size = GENERATE(32, 64, 80, 96, 112, 128, 192, 256);
  const int block_size = GENERATE(8, 16, 32);
  if (test::quick_grid() && head_size != 32 && head_size != 80 && head_size != 256) return;

  // Contexts that fill, overflow and span kv_blocks; 7 tokens is a partial block for every size.
  Scenario scenario = make_scenario(dtype, head_size, block_size, 8, 2, false, {3 * block_size + 5, 7, block_size});
  scenario.kv_cache_dtype = cache;
  scenario.k_scale = scales.first;
  scenario.v_scale = scales.second;
  CAPTURE(scenario_summary(scenario));
  const Inputs inputs = generate_inputs(scenario);
  check_against_oracle(scenario, inputs, KernelVersion::v1);
}

TEST_CASE("block-sparse paged reference equals the dense oracle's own mask for many patterns, v1 and v2",
          "[reference][oracle][grid][sparse]") {
  // (local_blocks, vert_stride, sparse block in kv_blocks): Phi-3-small's 16 / 8 / 64 tokens; a
  // pattern whose sparse blocks are larger than a 512-token v2 partition holds when counted in
  // partitions, so whole partitions attend nothing; a tight one.
  const auto pattern = GENERATE(std::tuple{16, 8, 4}, std::tuple{1, 8, 8}, std::tuple{2, 3, 1});
  const int sliding_step = GENERATE(0, 1, 3, -1, -2);
  const int tp_rank = GENERATE(0, 2);
  const DType dtype = GENERATE(DType::fp32, DType::bf16);
  const int block_size = 16;
  Scenario scenario = make_scenario(dtype, 64, block_size, 8, 2, true, {2000, 300, 1});
  scenario.block_sparse = {.local_blocks = std::get<0>(pattern),
                           .vert_stride = std::get<1>(pattern),
                           .block_size = std::get<2>(pattern) * block_size,
                           .head_sliding_step = sliding_step,
                           .tp_rank = tp_rank};
  CAPTURE(scenario_summary(scenario));
  const Inputs inputs = generate_inputs(scenario);
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    CAPTURE(version_name(version));
    check_against_oracle(scenario, inputs, version);
  }
}

TEST_CASE("fp8 and block sparsity together equal the oracle", "[reference][oracle][fp8][sparse]") {
  const KvCacheDtype cache = GENERATE(KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2);
  Scenario scenario = make_scenario(DType::fp16, 128, 32, 8, 4, false, {1500, 90});
  scenario.kv_cache_dtype = cache;
  scenario.k_scale = 0.0123f;
  scenario.v_scale = 0.5f;
  scenario.block_sparse = {.local_blocks = 2, .vert_stride = 4, .block_size = 128, .head_sliding_step = -1, .tp_rank = 1};
  const Inputs inputs = generate_inputs(scenario);
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) check_against_oracle(scenario, inputs, version);
}

}  // namespace
}  // namespace pal
