// What the visualizer shows of an fp8 KV cache and of block sparsity, checked against the kernel's
// own recording: the heads x sparse-blocks map and the skipped kv_blocks agree with the tokens the
// kernel skipped; the bits and dequantized value shown for an fp8 element are the ones the kernel's
// load produced; the coalescing view sees the half-filled sectors of fp8 key loads.
#include <cfloat>
#include <cmath>
#include <cstring>

#include <catch2/catch.hpp>

#include "tests/visualizer/viz_test_support.h"
#include "kernels/record_view.h"
#include "visualizer/model/coalescing.h"
#include "visualizer/model/derived.h"
#include "visualizer/model/memory_lookup.h"
#include "visualizer/model/sparsity.h"

namespace pal::viz {
namespace {

using test::cached_session;

// The fp8 and block-sparse kernels this build's emulator has (kernels/CMakeLists.txt's reduced set)
// are fp16 queries at head_size 128 and block_size 16, plus a few fp8 ones for bf16 and fp32.
Scenario sparse_scenario(int head_sliding_step, int tp_rank) {
  Scenario scenario;
  scenario.head_size = 128;
  scenario.num_heads = 4;
  scenario.num_kv_heads = 2;
  scenario.seq_lens = {300, 700};
  scenario.num_seqs = 2;
  scenario.block_sparse.vert_stride = 4;
  scenario.block_sparse.local_blocks = 2;
  scenario.block_sparse.block_size = 32;
  scenario.block_sparse.head_sliding_step = head_sliding_step;
  scenario.block_sparse.tp_rank = tp_rank;
  return scenario;
}

Scenario fp8_scenario(KvCacheDtype cache, float k_scale, float v_scale, DType dtype = DType::fp16) {
  Scenario scenario;
  scenario.head_size = 128;
  scenario.dtype = dtype;
  scenario.kv_cache_dtype = cache;
  scenario.k_scale = k_scale;
  scenario.v_scale = v_scale;
  return scenario;
}

TEST_CASE("the heads x sparse-blocks map reproduces Phi-3-small's pattern for a 4000-token context") {
  // Phi-3-small: sparse blocks of 64 tokens, 16 local, vertical stride 8, 32 heads with a sliding
  // step of max(1, 8 / 32) = 1. q_bs = 3999 / 64 = 62, so sparse blocks 47-62 are local.
  Scenario scenario;
  scenario.num_heads = 32;
  scenario.num_kv_heads = 32;
  scenario.block_sparse = BlockSparseParams{16, 8, 64, 1, 0};
  const SparsePattern pattern = sparse_pattern(scenario, 4000);
  REQUIRE(pattern.num_sparse_blocks == 63);
  CHECK(pattern.query_sparse_block == 62);
  // Head 0 (offset 1) reads remote blocks 7, 15, ..., 39 and the 16 local ones: 21 of 63.
  CHECK(pattern.num_attended(0) == 21);
  for (int block : {7, 15, 23, 31, 39}) CHECK(pattern.at(0, block) == SparseCell::remote);
  for (int block = 47; block <= 62; ++block) CHECK(pattern.at(0, block) == SparseCell::local);
  CHECK(pattern.at(0, 8) == SparseCell::skipped);
  // Head 1 (offset 2) reads 6, 14, ..., 46 instead: the pattern slides by one block per head.
  CHECK(pattern.num_attended(1) == 22);
  CHECK(pattern.at(1, 6) == SparseCell::remote);
  CHECK(pattern.at(1, 46) == SparseCell::remote);
  CHECK(pattern.at(1, 7) == SparseCell::skipped);
}

TEST_CASE("under tensor parallelism a GPU's heads show the model's global heads' patterns") {
  // 8 heads split over two GPUs of 4: rank 1's head h is the model's head 4 + h.
  Scenario whole;
  whole.num_heads = 8;
  whole.num_kv_heads = 8;
  whole.block_sparse = BlockSparseParams{4, 16, 64, 1, 0};
  Scenario rank1 = whole;
  rank1.num_heads = 4;
  rank1.num_kv_heads = 4;
  rank1.block_sparse.tp_rank = 1;
  const SparsePattern global = sparse_pattern(whole, 4000), local = sparse_pattern(rank1, 4000);
  bool differs_from_rank0 = false;
  for (int head = 0; head < 4; ++head)
    for (int block = 0; block < global.num_sparse_blocks; ++block) {
      CHECK(local.at(head, block) == global.at(head + 4, block));
      differs_from_rank0 |= local.at(head, block) != global.at(head, block);
    }
  CHECK(differs_from_rank0);
}

TEST_CASE("with block sparsity off every sparse block of every head is read") {
  Scenario scenario;
  scenario.block_sparse.vert_stride = GENERATE(0, 1);
  const SparsePattern pattern = sparse_pattern(scenario, 1000);
  CHECK_FALSE(pattern.enabled);
  for (int head = 0; head < scenario.num_heads; ++head) CHECK(pattern.num_attended(head) == pattern.num_sparse_blocks);
  for (int block = 0; block < 1000 / 16; ++block) CHECK_FALSE(kv_block_skipped(scenario, 1000, 0, block));
}

TEST_CASE("the skipped kv_blocks the views draw are exactly the tokens the kernel skipped") {
  const auto [step, tp_rank] = GENERATE(std::pair{1, 0}, std::pair{2, 1}, std::pair{-1, 1});
  const Session& session = cached_session(sparse_scenario(step, tp_rank));
  const Scenario& scenario = session.scenario();
  int num_skipped = 0, num_read = 0;
  for (int seq = 0; seq < scenario.num_seqs; ++seq)
    for (int head = 0; head < scenario.num_heads; ++head) {
      const SparsePattern pattern = sparse_pattern(scenario, session.seq_len(seq));
      const ThreadBlockRecord record(session.recording(), session.tb_index(seq, head, 0));
      for (int token = 0; token < session.seq_len(seq); ++token) {
        INFO("seq " << seq << " head " << head << " token " << token);
        const bool skipped = kv_block_skipped(scenario, session.seq_len(seq), head, token / scenario.block_size);
        CHECK((record.token(token).skipped != 0) == skipped);
        CHECK((pattern.at(head, token / pattern.sparse_block_size) == SparseCell::skipped) == skipped);
        if (skipped) CHECK(record.token(token).logit == -FLT_MAX);
        (skipped ? num_skipped : num_read) += 1;
      }
    }
  // The scenario exercises both sides of the rule.
  CHECK(num_skipped > 0);
  CHECK(num_read > 0);
}

TEST_CASE("an fp8 code's bits are split into sign, exponent and mantissa fields") {
  // E4M3 0x53 = 0 1010 011: +1.375 x 2^(10 - 7) = 11; scale 0.5 gives 5.5.
  const Fp8ElementBits e4m3 = describe_fp8_code(0x53, Fp8Format::e4m3, 0.5f, DType::fp16, 4);
  CHECK(e4m3.bits_text() == "0 1010 011");
  CHECK(e4m3.code_value == 11.0f);
  CHECK(e4m3.dequantized == 5.5f);
  // E5M2 0xC2 = 1 10000 10: -1.5 x 2^(16 - 15) = -3.
  const Fp8ElementBits e5m2 = describe_fp8_code(0xC2, Fp8Format::e5m2, 1.0f, DType::fp32, 1);
  CHECK(e5m2.bits_text() == "1 10000 10");
  CHECK(e5m2.sign == 1);
  CHECK(e5m2.exponent_field == 16);
  CHECK(e5m2.mantissa_field == 2);
  CHECK(e5m2.dequantized == -3.0f);
  // Every code of both formats: the fields put back together give the code's value.
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2})
    for (int code = 0; code < 256; ++code) {
      const Fp8ElementBits bits = describe_fp8_code(static_cast<std::uint8_t>(code), format, 1.0f, DType::fp32, 1);
      if (fp8_is_nan(bits.code, format) || fp8_is_inf(bits.code, format)) continue;
      const int m = fp8_mantissa_bits(format), bias = fp8_exponent_bias(format);
      const double significand = bits.exponent_field == 0 ? double(bits.mantissa_field) / double(1 << m)
                                                          : 1.0 + double(bits.mantissa_field) / double(1 << m);
      const double value = (bits.sign ? -1.0 : 1.0) * std::ldexp(significand, std::max(bits.exponent_field, 1) - bias);
      INFO("code " << code);
      CHECK(double(bits.code_value) == value);
    }
}

TEST_CASE("hovering an fp8 cache element shows the value the kernel's load dequantized") {
  const auto [cache, k_scale, v_scale, dtype] =
      GENERATE(std::tuple{KvCacheDtype::fp8_e4m3, 1.0f, 1.0f, DType::fp16}, std::tuple{KvCacheDtype::fp8_e5m2, 0.5f, 0.25f, DType::fp16},
               std::tuple{KvCacheDtype::fp8_e4m3, 0.25f, 0.125f, DType::bf16}, std::tuple{KvCacheDtype::fp8_e5m2, 0.75f, 0.5f, DType::fp32});
  const Session& session = cached_session(fp8_scenario(cache, k_scale, v_scale, dtype));
  const int seq = 1, head = 1;
  const LoadIndex index(session, seq, head);
  const Timeline timeline = build_timeline(session, seq, head);
  int checked = 0;
  for (const Loader& load : index.loads()) {
    if (load.kind == LoadKind::query) continue;
    const TensorKind tensor = tensor_of(load.kind);
    for (int e = 0; e < load.num_elements; ++e) {
      const ElementInfo info = describe_element(session, index, timeline, tensor, load.first_element + e, load.partition_idx);
      REQUIRE(info.fp8.has_value());
      REQUIRE(info.recorded_dequantized.has_value());
      INFO(info.summary());
      const float shown = info.fp8->dequantized, recorded = *info.recorded_dequantized;
      // Padding slots hold the NaN code: both are NaN there.
      if (std::isnan(recorded)) CHECK(std::isnan(shown));
      else CHECK(std::memcmp(&shown, &recorded, sizeof shown) == 0);
      CHECK(info.fp8->scale == (tensor == TensorKind::key_cache ? k_scale : v_scale));
      ++checked;
    }
  }
  CHECK(checked > 1000);
  // An auto cache has no fp8 fields.
  const Session& dense = cached_session(Scenario{});
  const LoadIndex dense_index(dense, seq, head);
  const Timeline dense_timeline = build_timeline(dense, seq, head);
  CHECK_FALSE(describe_element(dense, dense_index, dense_timeline, TensorKind::key_cache, 0).fp8.has_value());
}

TEST_CASE("fp8 key loads half-fill their sectors while fp8 value loads and fp16 key loads fill them") {
  // fp16 query, block_size 16: THREAD_GROUP_SIZE 2, VEC_SIZE 4, V_VEC_SIZE 8, x 16 for fp8.
  const Session& fp8 = cached_session(fp8_scenario(KvCacheDtype::fp8_e4m3, 1.0f, 1.0f));
  const Session& fp16 = cached_session(fp8_scenario(KvCacheDtype::automatic, 1.0f, 1.0f));
  const int seq = 1, head = 0;
  const LoadIndex fp8_index(fp8, seq, head), fp16_index(fp16, seq, head);
  const std::vector<WarpLoad> fp8_loads = warp_loads(fp8, fp8_index), fp16_loads = warp_loads(fp16, fp16_index);
  const CoalescingTotals fp8_key = totals_of(fp8_loads, LoadKind::key), fp16_key = totals_of(fp16_loads, LoadKind::key);
  const CoalescingTotals fp8_value = totals_of(fp8_loads, LoadKind::value);
  CHECK(fp8_key.efficiency() == Approx(0.5));
  CHECK(fp16_key.efficiency() == Approx(1.0));
  CHECK(fp8_value.efficiency() == Approx(1.0));
  // The same instructions, half the bytes.
  CHECK(fp8_key.num_loads == fp16_key.num_loads);
  CHECK(fp8_key.bytes_used * 2 == fp16_key.bytes_used);
  for (const WarpLoad& load : fp8_loads)
    for (const LaneAccess& lane : load.lanes)
      CHECK(lane.num_bytes == (load.kind == LoadKind::key ? 4 : 8));  // query: VEC_SIZE fp16 elements
}

TEST_CASE("replayed accumulators of an fp8 cache with a value scale end at the recorded ones bit for bit") {
  const Session& session = cached_session(fp8_scenario(KvCacheDtype::fp8_e5m2, 0.5f, 0.25f));
  const KernelGeometry g = session.geometry();
  const int seq = 1, head = 2;
  const int iterations = divide_round_up(divide_round_up(session.seq_len(seq), g.block_size), g.num_warps());
  const ThreadBlockRecord record(session.recording(), session.tb_index(seq, head, 0));
  const std::vector<float> accs = accs_after_v_iteration(session, seq, head, 0, iterations - 1);
  const int rows = session.dims().num_rows_per_thread;
  for (int thread = 0; thread < session.dims().num_threads; ++thread)
    for (int row = 0; row < rows; ++row) {
      INFO("thread " << thread << " row " << row);
      CHECK(accs[static_cast<std::size_t>(thread * rows + row)] == record.acc(0, thread, row));
    }
}

}  // namespace
}  // namespace pal::viz
