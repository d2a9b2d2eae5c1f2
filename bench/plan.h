// Planning a shape before anything is allocated: which rows can run on this device and why the
// others cannot, how many copies of the inputs the cold measurement rotates through, and where the
// inputs are made. Plain functions of the shape, the device's limits and the options, so they are
// unit-tested without a GPU (bench/bench_model_test.cpp); pal-bench carries the plan out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_model.h"
#include "bench/variants.h"
#include "kernels/launch_plan.h"

namespace pal::bench {

enum class ColdMethod : std::uint8_t {
  rotate,  // launches cycle through copies of the inputs larger than cold_l2_multiple x L2 together
  flush,   // a buffer of 4x L2 (at least 256 MiB) is written before each timed launch
  none,    // cold is not measured
};
std::string_view cold_method_name(ColdMethod method);  // "rotate", "flush", "none"

// What the device allows, read just before the shape is planned.
struct DeviceLimits {
  std::int64_t shared_memory_per_block = 0;  // opt-in limit of one thread_block
  std::int64_t l2_bytes = 0;
  std::int64_t free_memory_bytes = 0;
  std::int64_t memory_margin_bytes = 0;  // left free for the context, graphs and the driver
};

struct PlanOptions {
  ColdMethod cold_method = ColdMethod::rotate;
  double cold_l2_multiple = 3.0;
  int max_cold_sets = 128;
  std::int64_t host_generation_max_bytes = std::int64_t{64} << 20;  // larger KV caches are made on the device
  std::uint64_t seed = 1;
};

struct PlannedRow {
  KernelVariant variant;
  LaunchShape launch;
  std::string skipped;  // non-empty: not run, and why
};

// One input set's rows: the variants that read the same inputs (same shape and cache format).
struct ShapePlan {
  BenchShape shape;  // with the rows' cache format
  std::vector<PlannedRow> rows;
  int cold_sets_wanted = 1;     // input copies the cold rotation asks for (1: cold = hot)
  int cold_sets = 1;            // what fits in device memory
  bool inputs_on_host = true;   // core's generate_inputs; else bench's device generator
  bool any_runnable() const;
};

// The version `auto` runs for this shape on this GPU (kernels/auto_version.h): the grouped kernel
// where this project's measured rule says it is faster, `grouped_compiled` (the build compiled its
// GPU kernel for the shape) and its shared memory fits; else upstream's v1/v2 heuristic, then v2
// where v1's shared memory does not fit. pal-bench times production launches, so never recording.
KernelVersion auto_pick(const BenchShape& shape, const DeviceLimits& limits, bool grouped_compiled);
// Upstream's part alone (v1 or v2): the faithful kernel's version that auto would run without the
// grouped kernel, the grouped rows' baseline.
KernelVersion upstream_auto_pick(const BenchShape& shape, const DeviceLimits& limits);

// Plans the rows of `variants` that share `shape`'s inputs (every variant's shape_for must equal
// `shape`). `compiled`: whether this build compiled the kernel for the shape's dtype, head size and
// block size. Skip reasons name the number that does not fit and the limit.
ShapePlan plan_shape(const BenchShape& shape, const std::vector<KernelVariant>& variants, bool compiled,
                     const DeviceLimits& limits, const PlanOptions& options);

std::string gib(std::int64_t bytes);  // "1.50 GiB"
std::string mib(std::int64_t bytes);  // "60.0 MiB"

}  // namespace pal::bench
