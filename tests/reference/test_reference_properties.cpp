// Defining properties of paged attention, checked on the scalar reference: where the pages live does
// not matter, what lies outside the context does not matter, splitting into v2 partitions does not
// matter (up to rounding), and rounding the probabilities before P.V is what costs accuracy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "tests/reference/reference_test_support.h"

namespace pal {
namespace {

using test::make_scenario;

// Bytes of one physical block (same count of elements in K and V).
std::size_t block_bytes(const Tensor& cache) {
  return cache.bytes.size() / static_cast<std::size_t>(cache.shape.at(0));
}

// Moves every physical block b of both caches to slot permutation[b] and rewrites the block table
// to match, so every sequence still sees the same tokens.
Inputs with_blocks_permuted(const Inputs& inputs, const std::vector<std::int32_t>& permutation) {
  Inputs moved = inputs;
  for (const auto& [source, target] : {std::pair{&inputs.key_cache, &moved.key_cache},
                                      std::pair{&inputs.value_cache, &moved.value_cache}}) {
    const std::size_t bytes = block_bytes(*source);
    for (std::size_t b = 0; b < permutation.size(); ++b)
      std::memcpy(target->bytes.data() + static_cast<std::size_t>(permutation[b]) * bytes,
                  source->bytes.data() + b * bytes, bytes);
  }
  for (std::int32_t& entry : moved.block_tables.span<std::int32_t>())
    if (entry >= 0) entry = permutation[static_cast<std::size_t>(entry)];
  return moved;
}

void require_identical_stages(const ReferenceRun& a, const ReferenceRun& b) {
  REQUIRE(a.thread_blocks.size() == b.thread_blocks.size());
  for (std::size_t tb = 0; tb < a.thread_blocks.size(); ++tb) {
    const ThreadBlockStages& x = a.thread_blocks[tb];
    const ThreadBlockStages& y = b.thread_blocks[tb];
    INFO("(seq, head, partition) = (" << x.seq_idx << ", " << x.head_idx << ", " << x.partition_idx << ")");
    CHECK(x.q_vecs == y.q_vecs);
    CHECK(x.logits == y.logits);
    CHECK(x.probs == y.probs);
    CHECK(x.accumulators == y.accumulators);
    CHECK(x.out == y.out);
  }
  CHECK(a.output.bytes == b.output.bytes);
}

TEST_CASE("permuting the physical kv_blocks and remapping the block table leaves every stage bit-identical",
          "[reference][property]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int block_size = GENERATE(8, 16, 32);
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  const std::string dtype_text(dtype_name(dtype));
  CAPTURE(dtype_text, block_size, version_name(version));
  const Scenario scenario = make_scenario(dtype, 64, block_size, 8, 2, true, {1, 37, 700, block_size});
  const Inputs inputs = generate_inputs(scenario);

  // A seeded shuffle of the whole pool, so referenced and spare (poisoned) blocks trade places too.
  std::vector<std::int32_t> permutation(static_cast<std::size_t>(inputs.key_cache.shape[0]));
  std::iota(permutation.begin(), permutation.end(), 0);
  SplitMix64 random(1234);
  for (std::size_t i = permutation.size(); i > 1; --i) std::swap(permutation[i - 1], permutation[random.below(i)]);
  std::size_t num_moved = 0;
  for (std::size_t b = 0; b < permutation.size(); ++b) num_moved += permutation[b] != static_cast<std::int32_t>(b);
  REQUIRE(num_moved > permutation.size() / 2);

  const Inputs moved = with_blocks_permuted(inputs, permutation);
  REQUIRE(moved.block_tables.bytes != inputs.block_tables.bytes);
  require_identical_stages(reference_attention(scenario, inputs, version),
                           reference_attention(scenario, moved, version));
}

// ---- Poison -----------------------------------------------------------------------------------------

// Which (physical block, slot) pairs hold a token of some sequence, worked out from the block table.
std::vector<bool> used_slots(const Scenario& scenario, const Inputs& inputs) {
  const auto num_blocks = static_cast<std::size_t>(inputs.key_cache.shape[0]);
  const auto width = inputs.block_tables.shape[1];
  std::vector<bool> used(num_blocks * static_cast<std::size_t>(scenario.block_size), false);
  for (int seq = 0; seq < scenario.num_seqs; ++seq)
    for (int token = 0; token < scenario.seq_lens[seq]; ++token) {
      const std::int32_t block = inputs.block_tables.data<std::int32_t>()[seq * width + token / scenario.block_size];
      used[static_cast<std::size_t>(block) * scenario.block_size + token % scenario.block_size] = true;
    }
  return used;
}

// Calls fn(flat_key_index, flat_value_index) for every element of every slot `used` marks false.
template <typename Fn>
void for_each_unused_element(const Scenario& scenario, const Inputs& inputs, const std::vector<bool>& used, Fn fn) {
  const std::int64_t num_blocks = inputs.key_cache.shape[0];
  const int x = static_cast<int>(inputs.key_cache.shape[4]);
  const int bs = scenario.block_size;
  const int hs = scenario.head_size;
  for (std::int64_t block = 0; block < num_blocks; ++block)
    for (int slot = 0; slot < bs; ++slot) {
      if (used[static_cast<std::size_t>(block * bs + slot)]) continue;
      for (int kv_head = 0; kv_head < scenario.num_kv_heads; ++kv_head)
        for (int d = 0; d < hs; ++d) {
          const std::int64_t head_base = (block * scenario.num_kv_heads + kv_head) * hs * bs;
          fn(head_base + (d / x) * bs * x + slot * x + d % x, head_base + std::int64_t(d) * bs + slot);
        }
    }
}

bool all_finite(const Tensor& tensor) {
  for (std::int64_t i = 0; i < tensor.numel(); ++i)
    if (!std::isfinite(tensor.get_float(i))) return false;
  return true;
}

TEST_CASE("NaN and infinity in unused cache slots, unreferenced kv_blocks and padding table entries never reach the output",
          "[reference][property][poison]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int block_size = GENERATE(8, 16, 32);
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  const std::string dtype_text(dtype_name(dtype));
  CAPTURE(dtype_text, block_size, version_name(version));
  // Every length leaves a partial last kv_block (unused slots right after the context).
  const Scenario scenario = make_scenario(dtype, 80, block_size, 4, 4, false, {3, block_size + 5, 555});
  const Inputs inputs = generate_inputs(scenario);
  const ReferenceRun clean = reference_attention(scenario, inputs, version);
  REQUIRE(all_finite(clean.output));

  const std::vector<bool> used = used_slots(scenario, inputs);
  // The generator's own poison is there: every unused element is already NaN.
  std::int64_t num_unused = 0;
  std::int64_t num_nan = 0;
  for_each_unused_element(scenario, inputs, used, [&](std::int64_t k, std::int64_t v) {
    ++num_unused;
    num_nan += std::isnan(inputs.key_cache.get_float(k)) && std::isnan(inputs.value_cache.get_float(v));
  });
  REQUIRE(num_unused > 0);
  CHECK(num_nan == num_unused);

  // Harsher poison: +inf / -inf / NaN in turn (inf * 0 is NaN too, and an inf key would win the
  // max), and every padding entry of the block table pointing at a poisoned spare block.
  Inputs poisoned = inputs;
  const float poisons[] = {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN()};
  std::size_t turn = 0;
  for_each_unused_element(scenario, inputs, used, [&](std::int64_t k, std::int64_t v) {
    poisoned.key_cache.set_float(k, poisons[turn % 3]);
    poisoned.value_cache.set_float(v, poisons[(turn + 1) % 3]);
    ++turn;
  });
  std::int32_t spare_block = -1;
  for (std::size_t b = 0; b * block_size < used.size(); ++b)
    if (std::none_of(used.begin() + static_cast<std::ptrdiff_t>(b * block_size),
                     used.begin() + static_cast<std::ptrdiff_t>((b + 1) * block_size), [](bool u) { return u; }))
      spare_block = static_cast<std::int32_t>(b);
  REQUIRE(spare_block >= 0);
  int num_padding_entries = 0;
  for (std::int32_t& entry : poisoned.block_tables.span<std::int32_t>())
    if (entry < 0) {
      entry = spare_block;
      ++num_padding_entries;
    }
  REQUIRE(num_padding_entries > 0);

  const ReferenceRun dirty = reference_attention(scenario, poisoned, version);
  CHECK(all_finite(dirty.output));
  CHECK(dirty.output.bytes == clean.output.bytes);
}

TEST_CASE("a NaN in a slot that a sequence does use reaches that sequence's output (the poison test has teeth)",
          "[reference][property][poison]") {
  const Scenario scenario = make_scenario(DType::fp16, 64, 16, 4, 2, false, {20, 20});
  Inputs inputs = generate_inputs(scenario);
  // Sequence 0's last token (token 19 = logical block 1, slot 3), kv head 1, value dim 0.
  const std::int64_t block = inputs.block_tables.data<std::int32_t>()[0 * inputs.block_tables.shape[1] + 1];
  inputs.value_cache.set_float(((block * 2 + 1) * 64 + 0) * 16 + 3, std::numeric_limits<float>::quiet_NaN());
  const ReferenceRun run = reference_attention(scenario, inputs, KernelVersion::v1);
  CHECK(std::isnan(run.output_at(0, 2, 0)));   // heads 2 and 3 read kv head 1
  CHECK(std::isnan(run.output_at(0, 3, 0)));
  CHECK(std::isfinite(run.output_at(0, 0, 0)));  // kv head 0 is clean
  CHECK(std::isfinite(run.output_at(0, 2, 1)));  // other dims are clean
  CHECK(std::isfinite(run.output_at(1, 2, 0)));  // the other sequence is clean
}

// ---- v2 versus v1 -------------------------------------------------------------------------------

// v2 rounds twice where v1 rounds once, so the two may differ by the sum of both sides' errors
// (u = the dtype's unit roundoff, max|v| as in reference_test_support.h):
//   - v2's partial outputs o_p are stored in the dtype: after the reduce weights them (weights sum
//     to ~1) that moves the output by <= u * max|v|;
//   - each side rounds its probabilities against its own max and sum: <= u * max|v| each;
//   - each side rounds its final output: <= u * |out| each.
test::Tolerance v2_vs_v1_tolerance(DType dtype) {
  if (dtype == DType::fp32) return {test::kFp32Slack, 10 * test::kFp32Slack};
  const double u = test::unit_roundoff(dtype);
  return {3 * u * test::kMaxAbsValue + test::kFp32Slack, 2 * u + 10 * test::kFp32Slack};
}

TEST_CASE("v2 over several 512-token partitions equals v1 within the rounding both add",
          "[reference][property][v2]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int block_size = GENERATE(8, 16, 32);
  const bool alibi = GENERATE(false, true);
  const std::string dtype_text(dtype_name(dtype));
  CAPTURE(dtype_text, block_size, alibi);
  // 1300 tokens = 3 partitions; 1025 = 2 full + 1 token; 513 and 512 straddle the first boundary.
  const Scenario scenario = make_scenario(dtype, 96, block_size, 8, 2, alibi, {1300, 1025, 513, 512});
  const Inputs inputs = generate_inputs(scenario);
  const ReferenceRun v1 = reference_attention(scenario, inputs, KernelVersion::v1);
  const ReferenceRun v2 = reference_attention(scenario, inputs, KernelVersion::v2);

  REQUIRE(v2.max_num_partitions == 3);
  CHECK(v2.reduce(0, 0).num_partitions == 3);
  CHECK_FALSE(v2.reduce(0, 0).plain_copy);
  CHECK(v2.reduce(1, 0).num_partitions == 3);
  CHECK(v2.reduce(2, 0).num_partitions == 2);
  CHECK(v2.reduce(3, 0).plain_copy);
  CHECK_FALSE(v2.thread_block(3, 0, 1).active);

  int num_mismatches = 0;
  const std::string mismatch = test::first_mismatch(
      v1.num_seqs, v1.num_heads, v1.head_size, v2_vs_v1_tolerance(dtype),
      [&](int s, int h, int d) { return double(v2.output_at(s, h, d)); },
      [&](int s, int h, int d) { return double(v1.output_at(s, h, d)); }, &num_mismatches);
  INFO(mismatch);
  CHECK(num_mismatches == 0);

  // v2 alone carries the same three roundings against the exact answer, so the same bound holds.
  const DenseOutput oracle = dense_attention_oracle(inputs);
  const std::string v2_vs_oracle = test::first_mismatch(
      v2.num_seqs, v2.num_heads, v2.head_size, v2_vs_v1_tolerance(dtype),
      [&](int s, int h, int d) { return double(v2.output_at(s, h, d)); },
      [&](int s, int h, int d) { return oracle.at(s, h, d); }, &num_mismatches);
  INFO(v2_vs_oracle);
  CHECK(num_mismatches == 0);
}

TEST_CASE("v2 over a context that fits one partition equals v1 bit for bit", "[reference][property][v2]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const std::string dtype_text(dtype_name(dtype));
  CAPTURE(dtype_text);
  // 512 is exactly one partition; max_seq_len 512 makes max_num_partitions 1.
  const Scenario scenario = make_scenario(dtype, 128, 16, 4, 4, true, {512, 100, 1});
  const Inputs inputs = generate_inputs(scenario);
  const ReferenceRun v1 = reference_attention(scenario, inputs, KernelVersion::v1);
  const ReferenceRun v2 = reference_attention(scenario, inputs, KernelVersion::v2);
  for (int seq = 0; seq < scenario.num_seqs; ++seq) CHECK(v2.reduce(seq, 0).plain_copy);
  CHECK(v2.output.bytes == v1.output.bytes);
}

// ---- Probability precision -------------------------------------------------------------------------

TEST_CASE("keeping probabilities in fp32 brings fp16 and bf16 closer to the dense oracle than rounding them",
          "[reference][property][precision]") {
  const DType dtype = GENERATE(DType::fp16, DType::bf16);
  const bool alibi = GENERATE(false, true);
  const std::string dtype_text(dtype_name(dtype));
  CAPTURE(dtype_text, alibi);
  const Scenario scenario = make_scenario(dtype, 128, 16, 8, 2, alibi, {300, 1300, 40});
  const Inputs inputs = generate_inputs(scenario);
  const DenseOutput oracle = dense_attention_oracle(inputs);
  const ReferenceRun rounded = reference_attention(scenario, inputs, KernelVersion::v1);
  const ReferenceRun exact = reference_attention(scenario, inputs, KernelVersion::v1, ProbabilityPrecision::exact_fp32);

  // Before the final rounding to the dtype, the only difference is the probability rounding, so the
  // fp32 accumulators must be far closer (fp32 error ~2^-24 against the dtype's 2^-11 / 2^-8).
  double worst_rounded = 0.0;
  double worst_exact = 0.0;
  double total_rounded = 0.0;
  double total_exact = 0.0;
  for (int seq = 0; seq < scenario.num_seqs; ++seq)
    for (int head = 0; head < scenario.num_heads; ++head)
      for (int dim = 0; dim < scenario.head_size; ++dim) {
        const double want = oracle.at(seq, head, dim);
        const auto d = static_cast<std::size_t>(dim);
        worst_rounded = std::fmax(worst_rounded, std::fabs(rounded.thread_block(seq, head).accumulators[d] - want));
        worst_exact = std::fmax(worst_exact, std::fabs(exact.thread_block(seq, head).accumulators[d] - want));
        total_rounded += std::fabs(rounded.output_at(seq, head, dim) - want);
        total_exact += std::fabs(exact.output_at(seq, head, dim) - want);
      }
  CAPTURE(worst_rounded, worst_exact, total_rounded, total_exact);
  CHECK(worst_exact * 16 < worst_rounded);
  // After the final rounding both carry the output's half ulp; the rounded run carries more on top.
  CHECK(total_exact < total_rounded);
}

TEST_CASE("for fp32 the two probability precisions give bit-identical outputs", "[reference][property][precision]") {
  const Scenario scenario = make_scenario(DType::fp32, 64, 32, 4, 1, true, {77, 600});
  const Inputs inputs = generate_inputs(scenario);
  CHECK(reference_attention(scenario, inputs, KernelVersion::v2).output.bytes ==
        reference_attention(scenario, inputs, KernelVersion::v2, ProbabilityPrecision::exact_fp32).output.bytes);
}

}  // namespace
}  // namespace pal
