// The emulated grouped kernel against its stage-by-stage reference, the dense oracle and v1's
// reference, over the grid of tests/kernels/grouped_grid.h (sharded with PAL_SHARD=i/n), on each
// dtype's default math path and, for fp16 and bf16, on CUDA cores as well.
#include <catch2/catch.hpp>

#include <cstdio>

#include "tests/kernels/grouped_grid.h"

using namespace pal;

TEST_CASE("the emulated grouped kernel matches its reference, the dense oracle and v1 across the grid") {
  const auto grid = test::shard_of(test::grouped_grid(test::grid_choice("full")));
  double worst_reference = 0, worst_oracle = 0, worst_v1 = 0;
  int states = 0, partials = 0;
  for (const Scenario& scenario : grid) {
    const Inputs inputs = generate_inputs(scenario);
    const GroupedRun run = run_grouped(scenario, inputs, Backend::emulator);
    const test::GroupedCheck check = test::check_grouped_run(scenario, inputs, run);
    INFO(test::describe(scenario, run));
    INFO(check.failures);
    CHECK(check.failures.empty());
    worst_reference = std::fmax(worst_reference, check.max_vs_reference);
    worst_oracle = std::fmax(worst_oracle, check.max_vs_oracle);
    worst_v1 = std::fmax(worst_v1, check.max_vs_v1_reference);
    states += check.compared_split_states;
    partials += check.compared_partials;
  }
  std::printf("grouped emulator grid: %zu scenarios, %d split states and %d partial outputs compared; largest |diff| "
              "vs reference %.3g, vs oracle %.3g, vs v1 reference %.3g\n",
              grid.size(), states, partials, worst_reference, worst_oracle, worst_v1);
}

TEST_CASE("the emulated grouped kernel's CUDA-core path for fp16 and bf16 matches its references at every head and block size") {
  // The grid above runs fp16 and bf16 on tensor cores (their default); their CUDA-core path is
  // compiled for every head size x block size too (kernels/grouped_emulator_instances_*.cpp), so each
  // of those configurations gets the ci grid's one scenario (group size and ALiBi rotating), or the
  // quick grid's few under PAL_KERNEL_GRID=quick.
  std::vector<Scenario> half_precision;
  for (const Scenario& scenario : test::grouped_grid(test::grid_choice("full") == "quick" ? "quick" : "ci"))
    if (scenario.dtype != DType::fp32) half_precision.push_back(scenario);
  const auto grid = test::shard_of(half_precision);
  GroupedOptions options;
  options.math = GroupedMath::cuda_cores;
  double worst_reference = 0, worst_oracle = 0, worst_v1 = 0;
  for (const Scenario& scenario : grid) {
    const Inputs inputs = generate_inputs(scenario);
    const GroupedRun run = run_grouped(scenario, inputs, Backend::emulator, options);
    REQUIRE(run.math == GroupedMath::cuda_cores);
    const test::GroupedCheck check = test::check_grouped_run(scenario, inputs, run);
    INFO(test::describe(scenario, run) << " | CUDA cores");
    INFO(check.failures);
    CHECK(check.failures.empty());
    worst_reference = std::fmax(worst_reference, check.max_vs_reference);
    worst_oracle = std::fmax(worst_oracle, check.max_vs_oracle);
    worst_v1 = std::fmax(worst_v1, check.max_vs_v1_reference);
  }
  std::printf("grouped emulator grid, fp16/bf16 on CUDA cores: %zu scenarios; largest |diff| vs reference %.3g, vs "
              "oracle %.3g, vs v1 reference %.3g\n",
              grid.size(), worst_reference, worst_oracle, worst_v1);
}
