// The paged reference equals dense attention over the gathered pages, across upstream's whole
// dispatch grid: head sizes x block sizes x dtypes x (query, kv) heads x ALiBi x context lengths
// that start, fill, overflow and span kv_blocks (1, B-1, B, B+1, 3B+5) and a context of 1300 tokens
// (three 512-token v2 partitions).
//
// PAL_REFERENCE_GRID=quick (set for the sanitizer build) keeps every dtype, block size, head layout
// and context length but only the head sizes 32, 120 and 256 (smallest, not a power of two, largest).
#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/reference/reference_test_support.h"

namespace pal {
namespace {

using test::make_scenario;

// A second, short sequence in every case checks that sequences do not read each other's pages and
// that a shorter row of the block table (padded with -1) is handled; 7 tokens is a partial block for
// every block size.
constexpr int kOtherSeqLen = 7;

// Turns ALiBi on for inputs generated with it off. The generator draws q, K and V before (and
// independently of) the slopes, so the slopes tensor is the only difference; the grid relies on it
// to generate each case's inputs once for both settings (the generator is the slowest part of the
// sweep), and the last test case below checks it.
void turn_alibi_on(Scenario& scenario, Inputs& inputs) {
  scenario.alibi = true;
  const std::vector<float> slopes = alibi_slopes_for(scenario.num_heads);
  inputs.alibi_slopes = Tensor(ElementType::f32, {scenario.num_heads});
  std::copy(slopes.begin(), slopes.end(), inputs.alibi_slopes.data<float>());
}

TEST_CASE("paged reference equals dense attention over the gathered pages for every supported shape",
          "[reference][oracle][grid]") {
  const int head_size = GENERATE(32, 64, 80, 96, 112, 120, 128, 192, 256);
  const int block_size = GENERATE(8, 16, 32);
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const auto heads = GENERATE(std::pair{40, 40}, std::pair{64, 8}, std::pair{8, 1});
  const int seq_len_kind = GENERATE(range(0, 6));
  const int seq_len_choices[] = {1, block_size - 1, block_size, block_size + 1, 3 * block_size + 5, 1300};
  const int seq_len = seq_len_choices[seq_len_kind];
  // After every GENERATE, so that each run of the test case meets the same generators.
  if (test::quick_grid() && head_size != 32 && head_size != 120 && head_size != 256) return;

  Scenario scenario =
      make_scenario(dtype, head_size, block_size, heads.first, heads.second, false, {seq_len, kOtherSeqLen});
  const std::string dtype_text(dtype_name(dtype));
  CAPTURE(head_size, block_size, dtype_text, heads.first, heads.second, seq_len);
  Inputs inputs = generate_inputs(scenario);

  for (const bool alibi : {false, true}) {
    if (alibi) turn_alibi_on(scenario, inputs);
    CAPTURE(alibi);
    const ReferenceRun run = reference_attention(scenario, inputs, KernelVersion::v1);
    const DenseOutput oracle = dense_attention_oracle(inputs);

    int num_mismatches = 0;
    const std::string mismatch = test::first_mismatch(
        run.num_seqs, run.num_heads, run.head_size, test::reference_vs_oracle_tolerance(dtype),
        [&](int s, int h, int d) { return double(run.output_at(s, h, d)); },
        [&](int s, int h, int d) { return oracle.at(s, h, d); }, &num_mismatches);
    INFO(mismatch);
    CHECK(num_mismatches == 0);
  }
}

TEST_CASE("turning ALiBi on as the grid does gives the same inputs as generating them with ALiBi on",
          "[reference][oracle]") {
  Scenario scenario = make_scenario(DType::bf16, 64, 16, 8, 2, false, {33, kOtherSeqLen});
  Inputs shortcut = generate_inputs(scenario);
  turn_alibi_on(scenario, shortcut);
  const Inputs generated = generate_inputs(scenario);
  for (const auto& [a, b] : {std::pair{&shortcut.query, &generated.query}, std::pair{&shortcut.key_cache, &generated.key_cache},
                             std::pair{&shortcut.value_cache, &generated.value_cache},
                             std::pair{&shortcut.block_tables, &generated.block_tables},
                             std::pair{&shortcut.alibi_slopes, &generated.alibi_slopes}}) {
    CHECK(a->shape == b->shape);
    CHECK(a->bytes == b->bytes);
  }
  CHECK(shortcut.scale == generated.scale);
}

}  // namespace
}  // namespace pal
