// The reference's fp8 reads and block sparsity: the shared block-sparse rule against the oracle's own
// statement of it, upstream's worked example, the defining properties (vert_stride 1 and enough
// local blocks are dense; skipped kv_blocks are never read), where dequantisation rounds, and what
// quantisation itself costs against the unquantised values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/block_sparse.h"
#include "tests/reference/reference_test_support.h"

namespace pal {
namespace {

using test::make_scenario;

// Inputs with only the shapes and the rule oracle_attends_token reads.
Inputs shapes_only(int num_heads, int num_kv_heads, const BlockSparseParams& params) {
  Inputs inputs;
  inputs.query = Tensor(ElementType::f16, {1, num_heads, 0});
  inputs.value_cache = Tensor(ElementType::f16, {0, num_kv_heads, 0, 0});
  inputs.block_sparse = params;
  return inputs;
}

// The sparse blocks a head attends, by the shared rule over kv_blocks.
std::set<int> attended_sparse_blocks(const BlockSparseParams& params, int seq_len, int kv_block_size, int num_heads,
                                     int head_idx, int num_kv_heads) {
  const BlockSparseMask mask =
      block_sparse_mask(params, seq_len, num_heads, head_idx, num_kv_heads, head_idx / (num_heads / num_kv_heads));
  std::set<int> blocks;
  for (int kv_block = 0; kv_block * kv_block_size < seq_len; ++kv_block)
    if (mask.attends(kv_block, kv_block_size)) blocks.insert(mask.sparse_block_of(kv_block, kv_block_size));
  return blocks;
}

}  // namespace

TEST_CASE("the shared block-sparse rule and the oracle's own statement of it agree on random parameters",
          "[reference][sparse]") {
  SplitMix64 random(2024);
  const std::pair<int, int> head_layouts[] = {{32, 32}, {32, 8}, {12, 3}, {8, 1}};
  int num_skipped = 0, num_attended = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int kv_block_size = 8 << random.below(3);
    const auto [num_heads, num_kv_heads] = head_layouts[random.below(4)];
    BlockSparseParams params;
    params.vert_stride = 2 + static_cast<int>(random.below(9));
    params.local_blocks = 1 + static_cast<int>(random.below(20));
    params.block_size = kv_block_size * (1 + static_cast<int>(random.below(8)));
    params.head_sliding_step = static_cast<int>(random.below(11)) - 5;
    params.tp_rank = static_cast<int>(random.below(4));
    const int seq_len = 1 + static_cast<int>(random.below(3000));
    const Inputs inputs = shapes_only(num_heads, num_kv_heads, params);
    for (int head = 0; head < num_heads; ++head) {
      const BlockSparseMask mask =
          block_sparse_mask(params, seq_len, num_heads, head, num_kv_heads, head / (num_heads / num_kv_heads));
      for (int token = 0; token < seq_len; ++token) {
        const bool shared = mask.attends(token / kv_block_size, kv_block_size);
        if (shared != oracle_attends_token(inputs, seq_len, head, token))
          FAIL("trial " << trial << " head " << head << " token " << token << ": shared rule says " << shared);
        (shared ? num_attended : num_skipped) += 1;
      }
      // The query's own kv_block is always attended (local_blocks >= 1, whole kv_blocks).
      CHECK(mask.attends((seq_len - 1) / kv_block_size, kv_block_size));
    }
  }
  CHECK(num_skipped > 0);  // the parameters exercise both outcomes
  CHECK(num_attended > 0);
}

TEST_CASE("Phi-3-small's pattern at 4000 tokens: head 0 reads 21 of 63 sparse blocks, head 1 reads 22",
          "[reference][sparse]") {
  // 64-token sparse blocks, 16 local, stride 8, 32 heads; sliding step max(1, 8 / 32) = 1.
  const BlockSparseParams params{.local_blocks = 16, .vert_stride = 8, .block_size = 64, .head_sliding_step = 1, .tp_rank = 0};
  const int seq_len = 4000;  // q_bs = 3999 / 64 = 62: sparse blocks 0..62
  for (int kv_block_size : {8, 16, 32}) {
    const std::set<int> head0 = attended_sparse_blocks(params, seq_len, kv_block_size, 32, 0, 32);
    const std::set<int> head1 = attended_sparse_blocks(params, seq_len, kv_block_size, 32, 1, 32);
    CHECK(head0.size() == 21);
    CHECK(head1.size() == 22);
    std::set<int> want0 = {7, 15, 23, 31, 39};
    for (int b = 47; b <= 62; ++b) want0.insert(b);
    CHECK(head0 == want0);
    CHECK(head1.count(6) == 1);
    CHECK(head1.count(46) == 1);  // remote (46 + 2) % 8 == 0, just below the local window
  }
  // The oracle's rule counts the same.
  const Inputs inputs = shapes_only(32, 32, params);
  for (const auto& [head, want] : {std::pair{0, 21}, std::pair{1, 22}}) {
    std::set<int> blocks;
    for (int token = 0; token < seq_len; ++token)
      if (oracle_attends_token(inputs, seq_len, head, token)) blocks.insert(token / 64);
    CHECK(static_cast<int>(blocks.size()) == want);
  }
}

TEST_CASE("block-sparse attention with vert_stride 1, or with every sparse block local, is dense attention",
          "[reference][sparse][property]") {
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  const DType dtype = GENERATE(DType::fp16, DType::fp32);
  Scenario dense = make_scenario(dtype, 64, 16, 8, 2, true, {1300, 40});
  const Inputs dense_inputs = generate_inputs(dense);
  const ReferenceRun want = reference_attention(dense, dense_inputs, version);
  for (const BlockSparseParams& params :
       {BlockSparseParams{.local_blocks = 0, .vert_stride = 1, .block_size = 64, .head_sliding_step = 3, .tp_rank = 1},
        // 1300 tokens are 21 sparse blocks of 64: 21 local blocks cover them all.
        BlockSparseParams{.local_blocks = 21, .vert_stride = 8, .block_size = 64, .head_sliding_step = 1, .tp_rank = 0}}) {
    Scenario sparse = dense;
    sparse.block_sparse = params;
    Inputs inputs = dense_inputs;
    inputs.block_sparse = params;
    const ReferenceRun got = reference_attention(sparse, inputs, version);
    CHECK(got.output.bytes == want.output.bytes);
    for (std::size_t tb = 0; tb < got.thread_blocks.size(); ++tb) CHECK(got.thread_blocks[tb].logits == want.thread_blocks[tb].logits);
  }
  // One sparse block fewer than the context has local ones: no longer dense.
  Scenario almost = dense;
  almost.block_sparse = {.local_blocks = 20, .vert_stride = 8, .block_size = 64, .head_sliding_step = 1, .tp_rank = 0};
  Inputs inputs = dense_inputs;
  inputs.block_sparse = almost.block_sparse;
  CHECK(reference_attention(almost, inputs, version).output.bytes != want.output.bytes);
}

TEST_CASE("skipped kv_blocks are never read: their logits are -FLT_MAX and NaN in them changes nothing",
          "[reference][sparse][property]") {
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  Scenario scenario = make_scenario(DType::bf16, 64, 16, 4, 2, false, {1000});
  scenario.block_sparse = {.local_blocks = 2, .vert_stride = 4, .block_size = 32, .head_sliding_step = -1, .tp_rank = 0};
  const Inputs inputs = generate_inputs(scenario);
  const ReferenceRun clean = reference_attention(scenario, inputs, version);

  // Poison every kv_block that no head of kv head 0's group attends, in both caches.
  Inputs poisoned = inputs;
  int num_poisoned = 0;
  for (int kv_block = 0; kv_block < 1000 / 16; ++kv_block) {
    bool anyone = false;
    for (int head = 0; head < 2; ++head)  // query heads 0 and 1 share kv head 0
      anyone |= block_sparse_mask(scenario.block_sparse, 1000, 4, head, 2, 0).attends(kv_block, 16);
    if (anyone) continue;
    ++num_poisoned;
    const std::int64_t physical = inputs.block_tables.data<std::int32_t>()[kv_block];
    const std::int64_t per_head = 64 * 16;  // elements of one (block, kv head) in either cache
    for (Tensor* cache : {&poisoned.key_cache, &poisoned.value_cache})
      for (std::int64_t i = 0; i < per_head; ++i) cache->set_float((physical * 2 + 0) * per_head + i, NAN);
  }
  REQUIRE(num_poisoned > 10);
  const ReferenceRun got = reference_attention(scenario, poisoned, version);
  CHECK(got.output.bytes == clean.output.bytes);

  for (const ThreadBlockStages& tb : got.thread_blocks) {
    if (!tb.active) continue;
    const BlockSparseMask mask = block_sparse_mask(scenario.block_sparse, 1000, 4, tb.head_idx, 2, tb.kv_head_idx);
    for (int t = 0; t < tb.num_tokens(); ++t) {
      const int token = tb.range.start_token_idx + t;
      const float logit = tb.logits[static_cast<std::size_t>(t)];
      if (!mask.attends(token / 16, 16)) CHECK(logit == -FLT_MAX);
      else CHECK(std::isfinite(logit));
    }
  }
}

TEST_CASE("a v2 partition that attends no kv_block keeps qk_max -FLT_MAX and adds nothing to the output",
          "[reference][sparse][v2]") {
  // Sparse blocks of 128 tokens, 4 per 512-token partition, stride 8, one local block, one head
  // offset for all (step 0): sparse blocks 7 and 15 are remote, 15 is local too. Partitions 0 and 2
  // attend nothing.
  Scenario scenario = make_scenario(DType::fp16, 64, 16, 4, 4, false, {2000});
  scenario.block_sparse = {.local_blocks = 1, .vert_stride = 8, .block_size = 128, .head_sliding_step = 0, .tp_rank = 0};
  const Inputs inputs = generate_inputs(scenario);
  const ReferenceRun run = reference_attention(scenario, inputs, KernelVersion::v2);
  for (int head = 0; head < 4; ++head) {
    for (int partition : {0, 2}) {
      const ThreadBlockStages& tb = run.thread_block(0, head, partition);
      CHECK(tb.qk_max == -FLT_MAX);
      // As in the kernel: exp(-FLT_MAX - (-FLT_MAX)) = 1 for every token, so the sum is the count.
      CHECK(tb.exp_sum == float(tb.num_tokens()));
      CHECK(std::all_of(tb.out.begin(), tb.out.end(), [](float v) { return v == 0.0f; }));
    }
    const PartitionReduce& reduce = run.reduce(0, head);
    CHECK(reduce.rescaled_exp_sums[0] == 0.0f);
    CHECK(reduce.rescaled_exp_sums[2] == 0.0f);
    CHECK(reduce.rescaled_exp_sums[1] > 0.0f);
  }
  const DenseOutput oracle = dense_attention_oracle(inputs);
  int num_mismatches = 0;
  test::first_mismatch(run.num_seqs, run.num_heads, run.head_size, test::reference_vs_oracle_tolerance(DType::fp16),
                       [&](int s, int h, int d) { return double(run.output_at(s, h, d)); },
                       [&](int s, int h, int d) { return oracle.at(s, h, d); }, &num_mismatches);
  CHECK(num_mismatches == 0);
}

TEST_CASE("at scale 1 the dequantised keys and values are bit-identical to the fp8 values, in every query dtype",
          "[reference][fp8][property]") {
  const KvCacheDtype cache = GENERATE(KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2);
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int block_size = GENERATE(8, 16, 32);
  Scenario scenario = make_scenario(dtype, 64, block_size, 4, 2, false, {50, 9});
  scenario.kv_cache_dtype = cache;
  const Inputs inputs = generate_inputs(scenario);
  const Fp8Format format = fp8_format_of(cache);
  const int x = 16;
  for (int seq = 0; seq < 2; ++seq) {
    for (int kv_head = 0; kv_head < 2; ++kv_head) {
      const DenseSequence dense = gather_dense_sequence(inputs, seq, kv_head);  // the oracle's own decoder
      for (int token = 0; token < scenario.seq_lens[static_cast<std::size_t>(seq)]; ++token) {
        const std::vector<float> key = key_gather(inputs, seq, kv_head, token);
        const std::vector<float> value = value_gather(inputs, seq, kv_head, token);
        const std::int64_t physical = inputs.block_tables.data<std::int32_t>()[seq * inputs.block_tables.shape[1] + token / block_size];
        const int offset = token % block_size;
        for (int d = 0; d < 64; ++d) {
          const std::uint8_t key_code = inputs.key_cache.data<std::uint8_t>()
              [(((physical * 2 + kv_head) * (64 / x) + d / x) * block_size + offset) * x + d % x];
          const std::uint8_t value_code =
              inputs.value_cache.data<std::uint8_t>()[((physical * 2 + kv_head) * 64 + d) * block_size + offset];
          const std::size_t i = static_cast<std::size_t>(d);
          CHECK(key[i] == fp8_to_float(key_code, format));
          CHECK(value[i] == fp8_to_float(value_code, format));
          CHECK(double(key[i]) == dense.keys[static_cast<std::size_t>(token) * 64 + i]);
          CHECK(double(value[i]) == dense.values[static_cast<std::size_t>(token) * 64 + i]);
        }
      }
    }
  }
}

TEST_CASE("the reference rounds dequantised fp8 where upstream's loads do, per query dtype and vector width",
          "[reference][fp8][stage]") {
  // An odd scale, so that the fp32 product and its fp16 rounding differ for most codes.
  const float scale = 0.0123f;
  for (DType dtype : {DType::fp32, DType::fp16, DType::bf16}) {
    for (int block_size : {8, 16, 32}) {
      Scenario scenario = make_scenario(dtype, 64, block_size, 2, 2, false, {block_size});
      scenario.kv_cache_dtype = KvCacheDtype::fp8_e4m3;
      scenario.k_scale = scale;
      scenario.v_scale = scale;
      const Inputs inputs = generate_inputs(scenario);
      const std::int64_t physical = inputs.block_tables.data<std::int32_t>()[0];
      // fp32 queries: VEC_SIZE = 16 / (THREAD_GROUP_SIZE * 4) is 1 for block size 8 (one code per
      // conversion: the fp32 product), 2 or 4 otherwise (through fp16). V_VEC_SIZE is 4 always.
      const int key_width = dtype == DType::fp32 ? (block_size == 8 ? 1 : block_size / 8) : 8;
      int num_rounded_differently = 0;
      for (int d = 0; d < 64; ++d) {
        const std::uint8_t key_code =
            inputs.key_cache.data<std::uint8_t>()[((physical * 2 + 0) * 4 + d / 16) * block_size * 16 + d % 16];
        const std::uint8_t value_code = inputs.value_cache.data<std::uint8_t>()[(physical * 2 + 0) * 64 * block_size + d * block_size];
        const float key = key_gather(inputs, 0, 0, 0)[static_cast<std::size_t>(d)];
        const float value = value_gather(inputs, 0, 0, 0)[static_cast<std::size_t>(d)];
        CHECK(key == dequantize_fp8_as_float(key_code, Fp8Format::e4m3, scale, dtype, key_width));
        CHECK(value == dequantize_fp8_as_float(value_code, Fp8Format::e4m3, scale, dtype, 4));
        num_rounded_differently += key != fp8_to_float(key_code, Fp8Format::e4m3) * scale;
      }
      INFO(dtype_name(dtype) << " block_size " << block_size);
      // Only fp32 queries with one code per key load keep the unrounded product.
      if (dtype == DType::fp32 && block_size == 8) CHECK(num_rounded_differently == 0);
      else CHECK(num_rounded_differently > 0);
    }
  }
}

// ---- what quantisation costs ----------------------------------------------------------------------

namespace {

struct QuantisationError {
  double max_abs = 0.0;
  double rms = 0.0;
  double output_rms = 0.0;  // of the exact output, for scale
};

QuantisationError error_against(const ReferenceRun& run, const DenseOutput& exact) {
  QuantisationError error;
  double sum_squares = 0.0, output_squares = 0.0;
  for (int s = 0; s < run.num_seqs; ++s)
    for (int h = 0; h < run.num_heads; ++h)
      for (int d = 0; d < run.head_size; ++d) {
        const double diff = std::fabs(double(run.output_at(s, h, d)) - exact.at(s, h, d));
        error.max_abs = std::max(error.max_abs, diff);
        sum_squares += diff * diff;
        output_squares += exact.at(s, h, d) * exact.at(s, h, d);
      }
  const double count = double(std::size_t(run.num_seqs) * run.num_heads * run.head_size);
  error.rms = std::sqrt(sum_squares / count);
  error.output_rms = std::sqrt(output_squares / count);
  return error;
}

// The fp8 run's output against the dense oracle over the same, unquantised values (the auto cache
// the same seed generates).
QuantisationError quantisation_error(const Scenario& fp8_scenario) {
  Scenario unquantised = fp8_scenario;
  unquantised.kv_cache_dtype = KvCacheDtype::automatic;
  unquantised.k_scale = unquantised.v_scale = 1.0f;
  const DenseOutput exact = dense_attention_oracle(generate_inputs(unquantised));
  return error_against(reference_attention(fp8_scenario, generate_inputs(fp8_scenario), KernelVersion::automatic), exact);
}

// A scale that maps the generator's range (|v| < 1/sqrt(head_size)) onto the format's largest value,
// as a calibrated per-tensor scale (amax / max finite) would.
float calibrated_scale(Fp8Format format, int head_size) {
  return static_cast<float>(1.0 / std::sqrt(double(head_size)) / fp8_max_finite(format));
}

}  // namespace

TEST_CASE("quantisation error against the unquantised values stays within the formats' rounding bound",
          "[reference][fp8][quantisation]") {
  // First-order bound: a value moves by at most half a step, u |v| with u = 2^-(mantissa bits + 1),
  // or half the smallest subnormal step times the scale; the output by that much through V, plus
  // 2 max|v| times the logit shift the same errors cause through K, which is at most the per-value
  // error with the generator's ranges (see reference_test_support.h); 10% for second-order terms.
  for (KvCacheDtype cache : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2}) {
    const Fp8Format format = fp8_format_of(cache);
    const int head_size = 128;
    for (float scale : {1.0f, 0.5f, 0.0123f, calibrated_scale(format, head_size)}) {
      Scenario scenario = make_scenario(DType::fp32, head_size, 16, 8, 2, false, {700, 33});
      scenario.kv_cache_dtype = cache;
      scenario.k_scale = scenario.v_scale = scale;
      const QuantisationError error = quantisation_error(scenario);
      const double max_v = 1.0 / std::sqrt(double(head_size));
      const double u = std::ldexp(1.0, -(fp8_mantissa_bits(format) + 1));
      const double half_subnormal_step = std::ldexp(1.0, -fp8_exponent_bias(format) - fp8_mantissa_bits(format)) * scale;
      // fp32 queries: the reference (like the kernel) also rounds dequantised values through fp16.
      const double per_value = (u + std::ldexp(1.0, -11)) * max_v + half_subnormal_step;
      const double bound = 1.1 * per_value * (1.0 + 2.0 * max_v) + 1e-6;
      INFO(fp8_format_name(format) << " scale " << scale << ": max " << error.max_abs << " rms " << error.rms
                                   << " bound " << bound);
      CHECK(error.max_abs <= bound);
      CHECK(error.max_abs > 0.0);  // it does cost something
    }
  }
}

// Run with `pal_reference_tests "[.quantisation-report]" -s` for the table the FP8 chapter quotes:
// upstream's test magnitudes (q, K, V uniform in +-1/sqrt(head_size), scale 1/sqrt(head_size)), so
// the softmax is nearly flat and the output is close to the mean of V.
TEST_CASE("quantisation error report", "[.quantisation-report]") {
  std::printf("| query | cache | scale | max abs error | rms error | rms of the exact output |\n|---|---|---|---|---|---|\n");
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32}) {
    const int head_size = 128;
    Scenario base = make_scenario(dtype, head_size, 16, 32, 8, false, {4000, 1000, 77, 16});
    auto row = [&](const char* cache_name, const std::string& scale_text, const QuantisationError& error) {
      std::printf("| %s | %s | %s | %.3g | %.3g | %.3g |\n", std::string(dtype_name(dtype)).c_str(), cache_name,
                  scale_text.c_str(), error.max_abs, error.rms, error.output_rms);
    };
    {
      // The query dtype's own cache against the same oracle: the floor fp8 adds to.
      const Inputs inputs = generate_inputs(base);
      row("auto", "-", error_against(reference_attention(base, inputs, KernelVersion::automatic),
                                     dense_attention_oracle(inputs)));
    }
    for (KvCacheDtype cache : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2}) {
      const Fp8Format format = fp8_format_of(cache);
      for (float scale : {1.0f, 0.5f, 0.0123f, calibrated_scale(format, head_size)}) {
        Scenario scenario = base;
        scenario.kv_cache_dtype = cache;
        scenario.k_scale = scenario.v_scale = scale;
        if (!scenario_problems(scenario).empty()) continue;
        char scale_text[32];
        std::snprintf(scale_text, sizeof scale_text, "%.4g", static_cast<double>(scale));
        row(std::string(kv_cache_dtype_name(cache)).c_str(), scale_text, quantisation_error(scenario));
      }
    }
  }
}

}  // namespace pal
