// The grouped kernel on the GPU: against its reference, the dense oracle and v1's reference over the
// full grid of tests/kernels/grouped_grid.h (configurations this build compiled), against the
// emulator on the same plan, and with forced split counts on long contexts. Exits with 77 (ctest:
// skipped) and says why when there is no GPU.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "kernels/grouped_gpu_backend.h"
#include "tests/kernels/grouped_grid.h"

using namespace pal;

namespace {

bool compiled(const Scenario& scenario) {
  return gpu_grouped_config_compiled(scenario.dtype, scenario.kv_cache_dtype, scenario.head_size, scenario.block_size,
                                     default_grouped_math(dtype_size_bytes(scenario.dtype)));
}

}  // namespace

TEST_CASE("the GPU grouped kernel matches its reference, the dense oracle and v1 across the full grid") {
  const auto grid = test::shard_of(test::grouped_grid(test::grid_choice("full")));
  int ran = 0, not_compiled = 0;
  double worst_reference = 0, worst_oracle = 0;
  for (const Scenario& scenario : grid) {
    if (!compiled(scenario)) {
      ++not_compiled;
      continue;
    }
    const Inputs inputs = generate_inputs(scenario);
    const GroupedRun run = run_grouped(scenario, inputs, Backend::gpu);
    const test::GroupedCheck check = test::check_grouped_run(scenario, inputs, run);
    INFO(test::describe(scenario, run));
    INFO(check.failures);
    CHECK(check.failures.empty());
    worst_reference = std::fmax(worst_reference, check.max_vs_reference);
    worst_oracle = std::fmax(worst_oracle, check.max_vs_oracle);
    ++ran;
  }
  std::printf("grouped GPU grid: %d scenarios run, %d not compiled in this build; largest |diff| vs reference %.3g, "
              "vs oracle %.3g\n",
              ran, not_compiled, worst_reference, worst_oracle);
}

TEST_CASE("GPU and emulator give the same output and split states with the same plan") {
  const auto grid = test::shard_of(test::grouped_grid("ci"));
  for (const Scenario& scenario : grid) {
    if (!compiled(scenario)) continue;
    const Inputs inputs = generate_inputs(scenario);
    const GroupedRun gpu = run_grouped(scenario, inputs, Backend::gpu);
    GroupedOptions same_splits;
    same_splits.forced_num_splits = gpu.plan.num_splits;
    const GroupedRun emulated = run_grouped(scenario, inputs, Backend::emulator, same_splits);
    INFO(test::describe(scenario, gpu));
    REQUIRE(emulated.plan.kv_blocks_per_split == gpu.plan.kv_blocks_per_split);
    // The GPU's __expf and the mma's accumulation order are the documented differences.
    const test::Tolerance tolerance = test::grouped_output_tolerance(scenario.dtype);
    int mismatches = 0;
    for (std::int64_t i = 0; i < gpu.output.numel(); ++i)
      if (!tolerance.allows(gpu.output.get_float(i), emulated.output.get_float(i))) ++mismatches;
    CHECK(mismatches == 0);
    for (std::int64_t i = 0; i < gpu.max_logits.numel(); ++i) {
      const float a = gpu.max_logits.get_float(i), b = emulated.max_logits.get_float(i);
      if (std::isnan(a) || std::isnan(b)) {
        CHECK(std::isnan(a) == std::isnan(b));  // the same splits are inactive
        continue;
      }
      CHECK(test::kSplitMaxTolerance.allows(a, b));
      CHECK(test::split_sum_tolerance(emulated.max_logits.get_float(i)).allows(gpu.exp_sums.get_float(i), emulated.exp_sums.get_float(i)));
    }
  }
}

TEST_CASE("on the GPU, 1, 2 or many splits of long contexts give the reference's output") {
  for (DType dtype : {DType::fp16, DType::bf16}) {
    Scenario scenario;
    scenario.dtype = dtype;
    scenario.head_size = 128;
    scenario.block_size = 16;
    scenario.num_heads = 32;
    scenario.num_kv_heads = 8;
    scenario.alibi = true;
    scenario.seq_lens = {1, 3001, 9000};
    scenario.num_seqs = 3;
    scenario.seed = 9;
    if (!compiled(scenario)) continue;
    const Inputs inputs = generate_inputs(scenario);
    for (int forced : {0, 1, 2, 100}) {
      GroupedOptions options;
      options.forced_num_splits = forced;
      const GroupedRun run = run_grouped(scenario, inputs, Backend::gpu, options);
      const test::GroupedCheck check = test::check_grouped_run(scenario, inputs, run);
      INFO(test::describe(scenario, run));
      INFO(check.failures);
      CHECK(check.failures.empty());
    }
  }
}

TEST_CASE("the GPU grouped kernel reads fp8 caches: against its reference, the dense oracle, v1 and the emulator") {
  // Both formats, unit and non-unit scales (0.0625 exact, 0.3 rounding), every query dtype, head size
  // and block size a full build compiles (the reduced one: fp16 at head 128, block 16). The
  // compiled scenarios are sharded over the test's processes.
  std::vector<Scenario> compiled_scenarios;
  int not_compiled = 0;
  int config = 0;
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32})
    for (KvCacheDtype kv : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2})
      for (int head_size : kSupportedHeadSizes)
        for (int block_size : {8, 16, 32})
          for (bool unit_scales : {true, false}) {
            if (!fp8_cache_takes_head_size(head_size)) continue;
            Scenario s;
            s.dtype = dtype;
            s.kv_cache_dtype = kv;
            s.k_scale = unit_scales ? 1.0f : 0.0625f;
            s.v_scale = unit_scales ? 1.0f : 0.3f;
            s.head_size = head_size;
            s.block_size = block_size;
            s.num_heads = config % 2 == 0 ? 32 : 8;
            s.num_kv_heads = config % 2 == 0 ? 8 : 1;
            s.alibi = config % 3 == 1;
            s.seq_lens = {1, block_size + 1, 3 * block_size + 5, 700, 3001};
            s.num_seqs = int(s.seq_lens.size());
            s.seed = std::uint64_t(8100 + config++);
            if (compiled(s)) compiled_scenarios.push_back(s);
            else ++not_compiled;
          }
  REQUIRE_FALSE(compiled_scenarios.empty());  // the reduced set has fp16 with both formats
  int ran = 0, against_emulator = 0;
  double worst_reference = 0, worst_oracle = 0, worst_emulator = 0;
  for (const Scenario& s : test::shard_of(compiled_scenarios)) {
    const Inputs inputs = generate_inputs(s);
    const GroupedRun gpu = run_grouped(s, inputs, Backend::gpu);
    const test::GroupedCheck check = test::check_grouped_run(s, inputs, gpu);
    INFO(test::describe(s, gpu) << " | " << kv_cache_dtype_name(s.kv_cache_dtype) << " k_scale " << s.k_scale
                                << " v_scale " << s.v_scale);
    INFO(check.failures);
    CHECK(check.failures.empty());
    worst_reference = std::fmax(worst_reference, check.max_vs_reference);
    worst_oracle = std::fmax(worst_oracle, check.max_vs_oracle);
    ++ran;
    const GroupedMath math = default_grouped_math(dtype_size_bytes(s.dtype));
    if (!grouped_emulator_config_compiled(s.dtype, s.kv_cache_dtype, s.head_size, s.block_size, math)) continue;
    GroupedOptions same_splits;
    same_splits.forced_num_splits = gpu.plan.num_splits;
    const GroupedRun emulated = run_grouped(s, inputs, Backend::emulator, same_splits);
    REQUIRE(emulated.plan.kv_blocks_per_split == gpu.plan.kv_blocks_per_split);
    // The same dequantised K and V on both sides: only __expf and the summation order differ.
    const test::Tolerance tolerance = test::grouped_output_tolerance(s.dtype);
    int mismatches = 0;
    for (std::int64_t i = 0; i < gpu.output.numel(); ++i) {
      const double a = gpu.output.get_float(i), b = emulated.output.get_float(i);
      worst_emulator = std::fmax(worst_emulator, std::fabs(a - b));
      if (!tolerance.allows(a, b)) ++mismatches;
    }
    CHECK(mismatches == 0);
    ++against_emulator;
  }
  std::printf("grouped GPU fp8: %d scenarios run in this shard (%d also against the emulator); %zu compiled, %d not "
              "compiled in this build; largest |diff| vs reference %.3g, vs oracle %.3g, vs emulator %.3g\n",
              ran, against_emulator, compiled_scenarios.size(), not_compiled, worst_reference, worst_oracle,
              worst_emulator);
}

int main(int argc, char* argv[]) {
  std::string why;
  if (!grouped_gpu_available(&why)) {
    std::printf("SKIPPED: no GPU to test on (%s)\n", why.c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
