// The GPU kernel against the reference over the full grid, and the GPU's recording against the
// emulator's, stage by stage. Exits with 77 (ctest: skipped) and says why when there is no GPU.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "compare/stage_compare.h"
#include "kernel_grid.h"

using namespace pal;

TEST_CASE("the GPU kernel reproduces every reference stage across the full grid, v1 and v2") {
  const auto grid = test::shard_of(test::kernel_grid(test::grid_choice("full")));
  for (const Scenario& base : grid) {
    const Inputs inputs = generate_inputs(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      // The largest grid scenario (fp32, head 256, block 8, 64 heads, 6 sequences) records ~2.7 GB,
      // mostly every thread's load addresses; the GPU machine has room for that.
      const test::GridRun grid_run =
          test::run_against_reference(base, inputs, version, Backend::gpu, std::size_t(4) << 30);
      INFO(grid_run.report.table());
      CHECK(grid_run.report.passed());
      CHECK(grid_run.report.stages.size() >= test::recorded_stage_count(version));
      // The production kernel (no-op probe) writes the same output as the recording one.
      RunOptions production_options;
      production_options.backend = Backend::gpu;
      const KernelRun production = run_kernel(grid_run.run.scenario, inputs, production_options);
      CHECK(production.output.bytes == grid_run.run.output.bytes);
    }
  }
}

TEST_CASE("the GPU's recording equals the emulator's, stage by stage") {
  const auto grid = test::shard_of(test::kernel_grid("ci"));
  for (const Scenario& base : grid) {
    const Inputs inputs = generate_inputs(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      Scenario scenario = base;
      scenario.version = version;
      RunOptions options;
      options.record = true;
      options.backend = Backend::gpu;
      const KernelRun gpu = run_kernel(scenario, inputs, options);
      options.backend = Backend::emulator;
      const KernelRun emulator = run_kernel(scenario, inputs, options);
      const ComparisonReport report = compare_runs(gpu, emulator, inputs);
      INFO(report.table());
      CHECK(report.passed());
    }
  }
}

int main(int argc, char* argv[]) {
  std::string why;
  if (!gpu_available(&why)) {
    std::printf("SKIPPED: no GPU to test on (%s)\n", why.c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
