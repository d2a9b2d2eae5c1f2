// Tests of compare/stage_compare.h: a comparison that meets NaN or inf is never "ok" (issue 14:
// NaN == NaN used to pass, so NaN inputs printed "every stage within tolerance"), while the records
// the kernel leaves unwritten on purpose, and its -FLT_MAX starting values, still compare cleanly.
#include <catch2/catch.hpp>

#include <cstring>
#include <limits>

#include "compare/stage_compare.h"
#include "kernels/launch.h"
#include "reference/paged_reference.h"

using namespace pal;

namespace {

Scenario small_scenario(KernelVersion version) {
  Scenario s;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 32;
  s.block_size = 8;
  s.seq_lens = {9, 600};  // v2: the second sequence spans two partitions, the first only one
  s.num_seqs = 2;
  s.version = version;
  return s;
}

KernelRun recorded_run(const Scenario& scenario, const Inputs& inputs) {
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  return run_kernel(scenario, inputs, options);
}

ComparisonReport against_reference(const Scenario& scenario, const Inputs& inputs) {
  const KernelRun run = recorded_run(scenario, inputs);
  return compare_with_reference(run, reference_attention(scenario, inputs, run.version), inputs);
}

// The physical block holding token `token` of sequence `seq`.
std::int64_t block_of(const Inputs& inputs, int seq, int token, int block_size) {
  return inputs.block_tables.data<std::int32_t>()[seq * inputs.block_tables.shape[1] + token / block_size];
}

}  // namespace

TEST_CASE("a clean run compared with the reference passes every stage", "[compare]") {
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  const Scenario s = small_scenario(version);
  const ComparisonReport report = against_reference(s, generate_inputs(s));
  INFO(report.table());
  CHECK(report.passed());
}

TEST_CASE("NaN on both sides of a comparison is a failure, not a match", "[compare][hostile]") {
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  const Scenario s = small_scenario(version);
  Inputs inputs = generate_inputs(s);
  // Sequence 0, token 4, kv head 1, dimension 0 of V: the kernel and the reference both read it,
  // so both outputs are NaN for query heads 2 and 3.
  const std::int64_t block = block_of(inputs, 0, 4, s.block_size);
  inputs.value_cache.set_float(((block * s.num_kv_heads + 1) * s.head_size + 0) * s.block_size + 4,
                               std::numeric_limits<float>::quiet_NaN());
  const ComparisonReport report = against_reference(s, inputs);
  INFO(report.table());
  CHECK_FALSE(report.passed());
  REQUIRE(report.find(Check::final_output) != nullptr);
  CHECK_FALSE(report.find(Check::final_output)->passed());
  CHECK(report.table().find("every stage within tolerance") == std::string::npos);
}

TEST_CASE("inf on both sides of a comparison is a failure, not a match", "[compare][hostile]") {
  const Scenario s = small_scenario(KernelVersion::v1);
  Inputs inputs = generate_inputs(s);
  // An infinite key element makes that token's logit inf on both sides (or NaN, for a zero query).
  const std::int64_t block = block_of(inputs, 1, 30, s.block_size);
  const int x = key_x(s);
  for (int dim = 0; dim < s.head_size; ++dim)
    inputs.key_cache.set_float(((block * s.num_kv_heads + 0) * (s.head_size / x) + dim / x) * s.block_size * x +
                                   (30 % s.block_size) * x + dim % x,
                               std::numeric_limits<float>::infinity());
  const ComparisonReport report = against_reference(s, inputs);
  INFO(report.table());
  CHECK_FALSE(report.passed());
  REQUIRE(report.find(Stage::qk_logits) != nullptr);
  CHECK_FALSE(report.find(Stage::qk_logits)->passed());
}

TEST_CASE("a recorded run compared with a second recording of itself passes every stage", "[compare]") {
  // compare_runs reads whole record arrays, including the elements no lane writes (still the 0xFF
  // fill, NaN as floats) and the -FLT_MAX a warp without tokens keeps: neither may fail it.
  // Every head size and block size: the rows a lane owns past head_size and the loads it skips
  // differ between them.
  const KernelVersion version = GENERATE(KernelVersion::v1, KernelVersion::v2);
  const int head_size = GENERATE(from_range(std::begin(kSupportedHeadSizes), std::end(kSupportedHeadSizes)));
  const int block_size = GENERATE(from_range(std::begin(kSupportedBlockSizes), std::end(kSupportedBlockSizes)));
  Scenario s = small_scenario(version);
  s.head_size = head_size;
  s.block_size = block_size;
  s.dtype = block_size == 16 ? DType::fp32 : DType::bf16;
  s.seq_lens = {3, 530};
  const Inputs inputs = generate_inputs(s);
  const KernelRun first = recorded_run(s, inputs);
  const KernelRun second = recorded_run(s, inputs);
  const ComparisonReport report = compare_runs(first, second, inputs);
  INFO(report.table());
  CHECK(report.passed());
}

TEST_CASE("two recordings that hold the same computed NaN do not match", "[compare][hostile]") {
  const Scenario s = small_scenario(KernelVersion::v1);
  const Inputs inputs = generate_inputs(s);
  KernelRun first = recorded_run(s, inputs);
  KernelRun second = first;
  // The same quiet NaN (not the 0xFF fill of an unwritten record) in both runs' first probability.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto& layout = first.recording->layout();
  std::memcpy(first.recording->data() + layout.of(RecordArray::probs).offset, &nan, sizeof nan);
  std::memcpy(second.recording->data() + layout.of(RecordArray::probs).offset, &nan, sizeof nan);
  const ComparisonReport report = compare_runs(first, second, inputs);
  INFO(report.table());
  CHECK_FALSE(report.passed());
  CHECK_FALSE(report.find(Stage::softmax)->passed());
}
