// The emulated kernel with an fp8 KV cache and with block sparsity (issue 10) against the scalar
// reference, stage by stage, v1 and v2, over tests/kernels/kernel_grid.h's fp8 and block-sparse
// grids; and properties that hold whatever the reference says.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstdio>

#include "compare/stage_compare.h"
#include "kernel_grid.h"
#include "kernels/launch_plan.h"
#include "kernels/record_view.h"

using namespace pal;

namespace {

bool emulator_compiled(const Scenario& s) {
  return emulator_config_compiled(s.dtype, s.kv_cache_dtype, s.head_size, s.block_size, s.block_sparse.enabled());
}

// This build's share of a grid: the configurations the emulator was compiled for; the rest are
// counted and named, not silently dropped.
// PAL_KERNEL_GRID=quick (the sanitizer build) keeps every other compiled scenario.
std::vector<Scenario> emulator_compiled_only(const std::vector<Scenario>& grid, const char* name) {
  std::vector<Scenario> compiled;
  const bool quick = test::grid_choice("ci") == "quick";
  int index = 0;
  for (const Scenario& s : grid)
    if (emulator_compiled(s) && (!quick || index++ % 2 == 0)) compiled.push_back(s);
  if (compiled.size() < grid.size())
    std::printf("%s: running %zu of %zu scenarios; the other %zu need kernels this build did not compile for the "
                "emulator (PAL_EMULATOR_INSTANTIATIONS=reduced; configure with =full to run them)\n",
                name, compiled.size(), grid.size(), grid.size() - compiled.size());
  return compiled;
}

KernelRun run_emulated(const CheckedInputs& checked, KernelVersion version, bool record = false) {
  CheckedInputs for_version = checked;
  for_version.set_version(version);
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = record;
  return run_kernel(for_version, options);
}

}  // namespace

TEST_CASE("the emulated kernel reproduces every reference stage with an fp8 KV cache, both formats, any scale") {
  const auto grid = emulator_compiled_only(test::shard_of(test::fp8_grid()), "fp8 grid");
  REQUIRE_FALSE(grid.empty());
  for (const Scenario& base : grid) {
    const CheckedInputs inputs = CheckedInputs::generate(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      const RecordedRun run = test::run_against_reference(inputs, version, Backend::emulator);
      INFO(run.report().table());
      CHECK(run.report().passed());
      CHECK(run.report().stages.size() >= test::recorded_stage_count(version) + 1);
      // The dequantised K/V elements are compared bit for bit, and there are some.
      const StageComparison* dequantized = run.report().find(Check::dequantized_kv);
      REQUIRE(dequantized != nullptr);
      CHECK(dequantized->num_compared > 0);
    }
  }
}

TEST_CASE("the emulated kernel reproduces every reference stage with block sparsity: every pattern, tp_rank, sign") {
  const auto grid = emulator_compiled_only(test::shard_of(test::block_sparse_grid()), "block-sparse grid");
  REQUIRE_FALSE(grid.empty());
  for (const Scenario& base : grid) {
    const CheckedInputs inputs = CheckedInputs::generate(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      const RecordedRun run = test::run_against_reference(inputs, version, Backend::emulator);
      INFO(run.report().table());
      CHECK(run.report().passed());
      // Skipped kv_blocks are recorded as such, with upstream's -FLT_MAX logit; attended ones are not.
      const Recording& recording = *run.kernel().recording;
      int num_skipped = 0, num_attended = 0;
      for (std::int64_t tb = 0; tb < recording.dims().num_thread_blocks(); ++tb) {
        const ThreadBlockRecord record(recording, tb);
        for (int slot = 0; slot < recording.dims().tokens_per_thread_block; ++slot) {
          const TokenRecord& token = record.token(slot);
          if (token.masked == -1 || token.masked == 1) continue;  // unreached slot, or past seq_len
          if (token.skipped == 1) {
            ++num_skipped;
            CHECK(token.logit == -FLT_MAX);
          } else {
            ++num_attended;
          }
        }
      }
      CHECK(num_skipped > 0);
      CHECK(num_attended > 0);
    }
  }
}

TEST_CASE("block sparsity with local_blocks covering the whole context computes exactly the dense kernel's output") {
  Scenario sparse = test::block_sparse_grid().front();
  sparse.block_sparse.local_blocks = 1 << 16;  // every sparse block of any context is local
  Scenario dense = sparse;
  dense.block_sparse = BlockSparseParams{};
  if (!emulator_compiled(sparse)) {
    WARN("the block-sparse kernel of this configuration is not compiled for the emulator");
    return;
  }
  const CheckedInputs sparse_inputs = CheckedInputs::generate(sparse), dense_inputs = CheckedInputs::generate(dense);
  REQUIRE(sparse_inputs.inputs().key_cache.bytes == dense_inputs.inputs().key_cache.bytes);
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    const KernelRun a = run_emulated(sparse_inputs, version), b = run_emulated(dense_inputs, version);
    CHECK(a.output.bytes == b.output.bytes);
  }
}

TEST_CASE("the kernel applies k_scale and v_scale: doubling one doubles every logit or every output exactly") {
  // The same fp8 codes read with scales 1 and 2: a power of two commutes with every rounding on the
  // way (fp16 products, fp32 sums) as long as nothing overflows, so the results must double bit for bit.
  Scenario base = test::fp8_grid().front();  // fp16 queries, E4M3, unit scales
  REQUIRE(base.k_scale == 1.0f);
  if (!emulator_compiled(base)) {
    WARN("the fp8 kernel of this configuration is not compiled for the emulator");
    return;
  }
  base.alibi = false;
  base.seq_lens = {40, 3};
  base.num_seqs = 2;
  const CheckedInputs unit = CheckedInputs::generate(base);
  auto rescaled = [&](float k_scale, float v_scale) {
    Scenario s = base;
    s.k_scale = k_scale;
    s.v_scale = v_scale;
    Inputs inputs = unit.inputs();
    inputs.k_scale = k_scale;
    inputs.v_scale = v_scale;
    return CheckedInputs::check(s, std::move(inputs));
  };
  const KernelRun at_unit = run_emulated(unit, KernelVersion::v1, true);
  const KernelRun k_doubled = run_emulated(rescaled(2.0f, 1.0f), KernelVersion::v1, true);
  const KernelRun v_doubled = run_emulated(rescaled(1.0f, 2.0f), KernelVersion::v1);
  const ThreadBlockRecord a(*at_unit.recording, 0), b(*k_doubled.recording, 0);
  for (int slot = 0; slot < base.seq_lens[0]; ++slot) CHECK(b.token(slot).logit == 2.0f * a.token(slot).logit);
  // Outputs in fp16's subnormal range are left out: there the spacing does not scale with the value,
  // so rounding 2x need not give twice the rounded x.
  int num_checked = 0;
  for (std::int64_t i = 0; i < at_unit.output.numel(); ++i) {
    if (std::fabs(at_unit.output.get_float(i)) < 0x1p-13f) continue;
    CHECK(v_doubled.output.get_float(i) == 2.0f * at_unit.output.get_float(i));
    ++num_checked;
  }
  CHECK(num_checked > at_unit.output.numel() / 2);
}
