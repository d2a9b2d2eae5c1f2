// The emulated kernel against the scalar reference, stage by stage, over the kernel grid
// (tests/kernels/kernel_grid.h says which part of the grid runs where), v1 and v2.
#include <catch2/catch.hpp>

#include "compare/stage_compare.h"
#include "kernel_grid.h"

using namespace pal;

TEST_CASE("the emulated kernel reproduces every reference stage across the grid, v1 and v2") {
  const auto grid = test::shard_of(test::kernel_grid(test::grid_choice("ci")));
  INFO("grid scenarios in this shard: " << grid.size());
  for (const Scenario& base : grid) {
    const Inputs inputs = generate_inputs(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      Scenario scenario = base;
      scenario.version = version;
      RunOptions options;
      options.backend = Backend::emulator;
      options.record = true;
      const KernelRun run = run_kernel(scenario, inputs, options);
      const ReferenceRun reference = reference_attention(scenario, inputs, version);
      const ComparisonReport report = compare_with_reference(run, reference, inputs);
      INFO(report.table());
      CHECK(report.passed());
      // Every stage that the recording carries was compared, not just the output.
      CHECK(report.stages.size() >= (version == KernelVersion::v2 ? 12u : 9u));
    }
  }
}
