// The GPU kernel against the reference over the full grid, and the GPU's recording against the
// emulator's, stage by stage. Exits with 77 (ctest: skipped) and says why when there is no GPU; on a
// build with the reduced instantiation set it runs the compiled configurations and counts the rest.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <vector>

#include "compare/stage_compare.h"
#include "kernel_grid.h"
#include "kernels/gpu_backend.h"
#include "kernels/launch_plan.h"

using namespace pal;

// This build's share of the grid: the configurations it compiled for the GPU. A build with the
// reduced instantiation set (PAL_CUDA_INSTANTIATIONS=reduced, CI's) or with some query dtypes only
// (PAL_CUDA_QUERY_DTYPES) compiles only some; the others are counted and named as skipped, not failed.
std::vector<Scenario> compiled_only(const std::vector<Scenario>& grid, const char* test_name) {
  std::vector<Scenario> compiled;
  for (const Scenario& s : grid)
    if (gpu_config_compiled(s.dtype, s.head_size, s.block_size)) compiled.push_back(s);
  const std::size_t skipped = grid.size() - compiled.size();
  if (skipped > 0)
    std::printf("%s: skipped %zu of %zu grid scenarios whose (dtype, head_size, block_size) this build did not "
                "compile for the GPU (%s; configure with PAL_CUDA_INSTANTIATIONS=full and every query dtype to run "
                "them); running %zu\n",
                test_name, skipped, grid.size(), PAL_GPU_INSTANTIATION_SET, compiled.size());
  return compiled;
}

TEST_CASE("the GPU kernel reproduces every reference stage across the full grid, v1 and v2") {
  const auto grid = compiled_only(test::shard_of(test::kernel_grid(test::grid_choice("full"))), "full grid");
  for (const Scenario& base : grid) {
    const CheckedInputs inputs = CheckedInputs::generate(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      // The largest grid scenario (fp32, head 256, block 8, 64 heads, 6 sequences) records ~2.7 GB,
      // mostly every thread's load addresses; the GPU machine has room for that.
      const RecordedRun run = test::run_against_reference(inputs, version, Backend::gpu, std::size_t(4) << 30);
      INFO(run.report().table());
      CHECK(run.report().passed());
      CHECK(run.report().stages.size() >= test::recorded_stage_count(version));
      // The production kernel (no-op probe) writes the same output as the recording one.
      RunOptions production_options;
      production_options.backend = Backend::gpu;
      const KernelRun production = run_kernel(run.checked_inputs(), production_options);
      CHECK(production.output.bytes == run.kernel().output.bytes);
    }
  }
}

TEST_CASE("the GPU's recording equals the emulator's, stage by stage") {
  const auto grid = compiled_only(test::shard_of(test::kernel_grid("ci")), "ci grid");
  for (const Scenario& base : grid) {
    CheckedInputs inputs = CheckedInputs::generate(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      inputs.set_version(version);
      RunOptions options;
      options.record = true;
      options.backend = Backend::gpu;
      const KernelRun gpu = run_kernel(inputs, options);
      options.backend = Backend::emulator;
      const KernelRun emulator = run_kernel(inputs, options);
      const ComparisonReport report = compare_runs(gpu, emulator, inputs.inputs());
      INFO(report.table());
      CHECK(report.passed());
    }
  }
}

// fp8 caches and block sparsity (issue 10): the configurations this build compiled for the GPU.
std::vector<Scenario> gpu_compiled_variants(const std::vector<Scenario>& grid, const char* test_name) {
  std::vector<Scenario> compiled;
  for (const Scenario& s : grid)
    if (gpu_config_compiled(s.dtype, s.kv_cache_dtype, s.head_size, s.block_size, s.block_sparse.enabled()))
      compiled.push_back(s);
  if (compiled.size() < grid.size())
    std::printf("%s: running %zu of %zu scenarios; the others need kernels this build did not compile for the GPU "
                "(%s; configure with PAL_CUDA_INSTANTIATIONS=full and every query dtype to run them)\n",
                test_name, compiled.size(), grid.size(), PAL_GPU_INSTANTIATION_SET);
  return compiled;
}

TEST_CASE("the GPU kernel reproduces every reference stage with fp8 caches and with block sparsity, v1 and v2") {
  std::vector<Scenario> grid = test::fp8_grid();
  for (const Scenario& s : test::block_sparse_grid()) grid.push_back(s);
  for (const Scenario& base : gpu_compiled_variants(test::shard_of(grid), "fp8 and block-sparse grids")) {
    const CheckedInputs inputs = CheckedInputs::generate(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      const RecordedRun run = test::run_against_reference(inputs, version, Backend::gpu, std::size_t(4) << 30);
      INFO(run.report().table());
      CHECK(run.report().passed());
      if (is_fp8(base.kv_cache_dtype)) CHECK(run.report().find(Check::dequantized_kv) != nullptr);
      RunOptions production_options;
      production_options.backend = Backend::gpu;
      const KernelRun production = run_kernel(run.checked_inputs(), production_options);
      CHECK(production.output.bytes == run.kernel().output.bytes);
    }
  }
}

TEST_CASE("the GPU's fp8 and block-sparse recordings equal the emulator's, dequantised values bit for bit") {
  std::vector<Scenario> grid = test::fp8_grid();
  for (const Scenario& s : test::block_sparse_grid()) grid.push_back(s);
  for (const Scenario& base : gpu_compiled_variants(test::shard_of(grid), "fp8 and block-sparse grids, vs emulator")) {
    if (!emulator_config_compiled(base.dtype, base.kv_cache_dtype, base.head_size, base.block_size,
                                  base.block_sparse.enabled()))
      continue;
    CheckedInputs inputs = CheckedInputs::generate(base);
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      inputs.set_version(version);
      RunOptions options;
      options.record = true;
      options.backend = Backend::gpu;
      const KernelRun gpu = run_kernel(inputs, options);
      options.backend = Backend::emulator;
      const KernelRun emulator = run_kernel(inputs, options);
      const ComparisonReport report = compare_runs(gpu, emulator, inputs.inputs());
      INFO(report.table());
      CHECK(report.passed());
      if (is_fp8(base.kv_cache_dtype)) CHECK(report.find(Check::dequantized_kv) != nullptr);
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
