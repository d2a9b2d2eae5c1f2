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
    const CheckedInputs inputs = CheckedInputs::generate(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      const RecordedRun run = test::run_against_reference(inputs, version, Backend::emulator);
      INFO(run.report().table());
      CHECK(run.report().passed());
      CHECK(run.report().stages.size() >= test::recorded_stage_count(version));
    }
  }
}
