// Properties of the emulated grouped kernel beyond the grid: split counts and math paths that must
// not change the answer, block-table permutations, determinism, agreement with the emulated v1
// kernel, each kv_block copied once per thread block, NaN poison, and the refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "kernels/dispatch.h"
#include "kernels/simt/emulator.h"
#include "tests/kernels/grouped_grid.h"

using namespace pal;

namespace {

Scenario gqa_scenario(DType dtype, int head_size = 64, int block_size = 16) {
  Scenario s;
  s.dtype = dtype;
  s.head_size = head_size;
  s.block_size = block_size;
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.alibi = true;
  s.seq_lens = {1, 37, 300, 1000};
  s.num_seqs = int(s.seq_lens.size());
  s.seed = 77;
  return s;
}

GroupedRun emulate(const Scenario& scenario, const Inputs& inputs, int forced_num_splits = 0,
                   std::optional<GroupedMath> math = std::nullopt) {
  GroupedOptions options;
  options.forced_num_splits = forced_num_splits;
  options.math = math;
  return run_grouped(scenario, inputs, Backend::emulator, options);
}

// Largest |a - b| over two outputs, and whether every element is within `tolerance` of the other.
bool outputs_agree(const Tensor& a, const Tensor& b, const test::Tolerance& tolerance, double* worst) {
  bool agree = a.numel() == b.numel();
  *worst = 0;
  for (std::int64_t i = 0; agree && i < a.numel(); ++i) {
    *worst = std::fmax(*worst, std::fabs(double(a.get_float(i)) - b.get_float(i)));
    agree = tolerance.allows(a.get_float(i), b.get_float(i));
  }
  return agree;
}

}  // namespace

TEST_CASE("forcing 1, 2 or many splits gives the same output within tolerance, each matching the oracle") {
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32}) {
    const Scenario scenario = gqa_scenario(dtype);
    const Inputs inputs = generate_inputs(scenario);
    const GroupedRun one = emulate(scenario, inputs, 1);
    REQUIRE(one.plan.num_splits == 1);
    for (int forced : {2, 1000}) {
      const GroupedRun split = emulate(scenario, inputs, forced);
      INFO(dtype_name(dtype) << ", " << split.plan.reason);
      CHECK(split.plan.num_splits == (forced == 2 ? 2 : 16));  // 1000 tokens: 16 tiles of 64
      double worst = 0;
      CHECK(outputs_agree(split.output, one.output, test::grouped_output_tolerance(dtype), &worst));
      const test::GroupedCheck check = test::check_grouped_run(scenario, inputs, split);
      INFO(check.failures);
      CHECK(check.failures.empty());
      CHECK(check.compared_partials > 0);
    }
  }
}

TEST_CASE("the CUDA-core and tensor-core paths give the same output for fp16 and bf16") {
  for (DType dtype : {DType::fp16, DType::bf16})
    for (int head_size : {80, 120}) {
      const Scenario scenario = gqa_scenario(dtype, head_size, 8);
      const Inputs inputs = generate_inputs(scenario);
      const GroupedRun tensor = emulate(scenario, inputs, 0, GroupedMath::tensor_cores);
      const GroupedRun cuda = emulate(scenario, inputs, 0, GroupedMath::cuda_cores);
      INFO(dtype_name(dtype) << " head " << head_size);
      double worst = 0;
      CHECK(outputs_agree(tensor.output, cuda.output, test::grouped_output_tolerance(dtype), &worst));
      const test::GroupedCheck check = test::check_grouped_run(scenario, inputs, cuda);
      INFO(check.failures);
      CHECK(check.failures.empty());
    }
}

TEST_CASE("permuting the physical kv_blocks, with the block table remapped, leaves the output bit-identical") {
  const Scenario scenario = gqa_scenario(DType::bf16, 128, 16);
  const Inputs inputs = generate_inputs(scenario);
  // Move physical block p to slot (p * 7 + 3) mod num_blocks (7 is coprime with the pool size).
  Inputs moved = inputs;
  const std::int64_t num_blocks = inputs.key_cache.shape[0];
  REQUIRE(std::gcd(num_blocks, std::int64_t{7}) == 1);
  const std::size_t block_bytes = inputs.key_cache.bytes.size() / std::size_t(num_blocks);
  for (std::int64_t p = 0; p < num_blocks; ++p) {
    const std::int64_t q = (p * 7 + 3) % num_blocks;
    std::copy_n(inputs.key_cache.bytes.begin() + std::ptrdiff_t(p * block_bytes), block_bytes,
                moved.key_cache.bytes.begin() + std::ptrdiff_t(q * block_bytes));
    std::copy_n(inputs.value_cache.bytes.begin() + std::ptrdiff_t(p * block_bytes), block_bytes,
                moved.value_cache.bytes.begin() + std::ptrdiff_t(q * block_bytes));
  }
  for (std::int64_t i = 0; i < moved.block_tables.numel(); ++i) {
    int& entry = moved.block_tables.data<int>()[i];
    if (entry >= 0) entry = int((std::int64_t(entry) * 7 + 3) % num_blocks);
  }
  CHECK(emulate(scenario, moved).output.bytes == emulate(scenario, inputs).output.bytes);
}

TEST_CASE("two emulated runs of one scenario are bit-identical, per-split results included") {
  const Scenario scenario = gqa_scenario(DType::fp16);
  const Inputs inputs = generate_inputs(scenario);
  const GroupedRun first = emulate(scenario, inputs, 3), second = emulate(scenario, inputs, 3);
  CHECK(first.output.bytes == second.output.bytes);
  CHECK(first.partial_out.bytes == second.partial_out.bytes);
  CHECK(first.max_logits.bytes == second.max_logits.bytes);
  CHECK(first.exp_sums.bytes == second.exp_sums.bytes);
}

TEST_CASE("the grouped kernel and the emulated v1 kernel agree on identical inputs") {
  for (DType dtype : {DType::fp32, DType::fp16, DType::bf16}) {
    Scenario scenario = gqa_scenario(dtype, 96, 32);
    scenario.seq_lens = {5, 70, 333};
    scenario.num_seqs = 3;
    const Inputs inputs = generate_inputs(scenario);
    scenario.version = KernelVersion::v1;
    RunOptions options;
    options.backend = Backend::emulator;
    const KernelRun v1 = run_kernel(scenario, inputs, options);
    const GroupedRun grouped = emulate(scenario, inputs);
    INFO(dtype_name(dtype));
    double worst = 0;
    CHECK(outputs_agree(grouped.output, v1.output, test::grouped_output_tolerance(dtype), &worst));
  }
}

TEST_CASE("NaN poison in every unused cache slot never reaches the output, whatever the split count") {
  Scenario scenario = gqa_scenario(DType::fp16, 64, 32);
  scenario.seq_lens = {3, 33, 95, 130};  // partial last kv_blocks everywhere
  scenario.num_seqs = 4;
  const Inputs inputs = generate_inputs(scenario);
  // The generator poisons the unused tail of each last kv_block: check it did, for this test's sake.
  const int last_block = inputs.block_tables.data<int>()[0];
  const std::int64_t tail_slot = std::int64_t(last_block) * scenario.num_kv_heads * 64 * 32 + 5;  // V dim 0, token 5
  REQUIRE(std::isnan(inputs.value_cache.get_float(tail_slot)));
  for (int forced : {1, 2, 5}) {
    const GroupedRun run = emulate(scenario, inputs, forced);
    for (std::int64_t i = 0; i < run.output.numel(); ++i) REQUIRE(std::isfinite(run.output.get_float(i)));
  }
}

namespace {

// Counts the kernel's cp.async copies: (thread block, source element, K or V) -> copies, with the
// bytes each brought. The probe is copied into every emulated thread; all copies share one counter.
struct CopyCount {
  std::map<std::tuple<int, int, int, int, std::int64_t, bool>, std::vector<int>> copies;
  int copies_past_split = 0;  // copies of kv_blocks past a split's end that brought bytes
};
struct CopyCountingProbe : GroupedNoopProbe {
  CopyCount* count = nullptr;
  GroupedBlockCoords coords{};
  int key_units = 0;  // per kv_block: units [0, key_units) are K, then V
  void begin(const GroupedBlockCoords& block, int) { coords = block; }
  void kv_copy(int, int unit, int logical_block_idx, std::int64_t source_element, int src_bytes) {
    if (logical_block_idx * 16 >= coords.end_token_idx) {  // past the split: must copy nothing
      if (src_bytes != 0) ++count->copies_past_split;
      return;
    }
    const bool is_value = unit % (2 * key_units) >= key_units;
    count->copies[{coords.seq_idx, coords.kv_head_idx, coords.head_chunk_idx, coords.split_idx, source_element, is_value}]
        .push_back(src_bytes);
  }
};

}  // namespace

TEST_CASE("each thread block copies each 16 bytes of its kv_blocks' K and V exactly once, and nothing past seq_len") {
  Scenario scenario = gqa_scenario(DType::fp16, 64, 16);
  scenario.num_heads = 32;  // group 16: one row tile, four warps on the same copy
  scenario.num_kv_heads = 2;
  scenario.seq_lens = {20, 200};
  scenario.num_seqs = 2;
  const Inputs inputs = generate_inputs(scenario);
  const LaunchShape shape = make_launch_shape(scenario, KernelVersion::v1);
  GroupedPlanRequest request = grouped_plan_request(shape, GroupedMath::tensor_cores, 2);
  request.device = modeled_h200(1);
  const GroupedPlan plan = plan_grouped(request);
  REQUIRE(plan.num_splits == 2);
  Tensor out(ElementType::f16, {2, 32, 64});
  std::vector<float> partial(std::size_t(2 * 32 * 2 * 64)), max_logits(2 * 32 * 2), exp_sums(2 * 32 * 2);
  LaunchBuffers buffers;
  buffers.out = out.bytes.data();
  buffers.q = inputs.query.bytes.data();
  buffers.k_cache = inputs.key_cache.bytes.data();
  buffers.v_cache = inputs.value_cache.bytes.data();
  buffers.block_tables = inputs.block_tables.data<int>();
  buffers.seq_lens = inputs.seq_lens.data<int>();
  const auto args = grouped_args<fp16_t, fp16_t>(shape, buffers, {partial.data(), max_logits.data(), exp_sums.data()}, plan);
  CopyCount count;
  CopyCountingProbe probe;
  probe.count = &count;
  probe.key_units = plan.geometry.kv_block_units();
  simt::launch_emulated({plan.grid_x(2), 2, plan.num_splits}, kGroupedNumThreads, std::size_t(plan.shared_bytes), [&] {
    grouped_attention_body<fp16_t, fp16_t, KvCacheDtype::automatic, 64, 16, GroupedMath::tensor_cores>(args, probe);
  });

  // What each block must copy: every unit of K and of V of every kv_block of its split, once, with
  // 16 bytes for units before seq_len and 0 after.
  std::map<std::tuple<int, int, int, int, std::int64_t, bool>, std::vector<int>> expected;
  for (int seq = 0; seq < 2; ++seq) {
    const int seq_len = scenario.seq_lens[std::size_t(seq)];
    for (int split = 0; split < plan.num_splits; ++split) {
      const TokenRange range = grouped_split_range(seq_len, 16, plan, split);
      for (int kv_head = 0; kv_head < 2; ++kv_head)
        for (int b = range.start_block_idx; b < range.end_block_idx; ++b) {
          const std::int64_t base =
              std::int64_t(inputs.block_tables.data<int>()[seq * shape.max_num_blocks_per_seq + b]) * shape.kv_block_stride +
              kv_head * shape.kv_head_stride;
          for (int u = 0; u < plan.geometry.kv_block_units(); ++u) {
            const int key_token = b * 16 + u % 16;        // K unit: one token's 8 dims
            const int value_token = b * 16 + (u % 2) * 8;  // V unit: 8 tokens of one dim
            expected[{seq, kv_head, 0, split, base + u * 8, false}] = {key_token < seq_len ? 16 : 0};
            expected[{seq, kv_head, 0, split, base + u * 8, true}] = {2 * std::clamp(seq_len - value_token, 0, 8)};
          }
        }
    }
  }
  CHECK(count.copies_past_split == 0);
  CHECK(count.copies.size() == expected.size());
  int mismatches = 0;
  for (const auto& [key, bytes] : expected) {
    const auto it = count.copies.find(key);
    if (it == count.copies.end() || it->second != bytes) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("the grouped kernel refuses the tensor-core path for fp32 and a negative split count, saying what to do") {
  const Scenario fp32 = gqa_scenario(DType::fp32);
  const Inputs inputs = generate_inputs(fp32);
  REQUIRE_THROWS_WITH(emulate(fp32, inputs, 0, GroupedMath::tensor_cores), Catch::Contains("runs on CUDA cores"));
  REQUIRE_THROWS_WITH(emulate(fp32, inputs, -1), Catch::Contains("forced_num_splits = -1"));
}
