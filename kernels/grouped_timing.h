// Timing the grouped kernel's production launch (gpu_launch_grouped) on the GPU: the measurement
// functions the benchmark drivers call (bench/pal_bench_grouped.cpp today; pal-bench once phase 2
// wires the grouped kernel in). They take input sets already in device memory, so that input
// generation stays with the benchmark. Implemented in kernels/grouped_timing.cu (CUDA builds only).
//
// Method, as pal-bench's (docs/performance/README.md):
//   hot   one CUDA graph of `launches_per_sample` back-to-back launches on the same inputs; each
//         sample is one replay between two events, divided by the launches: per-launch microseconds
//   cold  one CUDA graph launching once on each input set in turn (the sets together exceed 3x the
//         L2 cache, so a launch finds none of its inputs in L2); each sample is one replay, divided
//         by the number of sets
// The split_merge kernel, when the plan has one, is part of every launch (with programmatic
// dependent launch on sm_90+), as it is part of the answer.
#pragma once

#include <vector>

#include "kernels/grouped_launch.h"

namespace pal {

// Microseconds of one launch, the best of a few un-graphed runs (to size the samples).
double estimate_grouped_launch_us(const LaunchShape& shape, const GroupedPlan& plan, const LaunchBuffers& buffers,
                                  const GroupedWorkspace& workspace, void* stream);

// Per-launch microseconds of each of `samples` hot samples.
std::vector<double> time_grouped_hot(const LaunchShape& shape, const GroupedPlan& plan, const LaunchBuffers& buffers,
                                     const GroupedWorkspace& workspace, int launches_per_sample, int samples,
                                     void* stream);

// Per-launch microseconds of each of `samples` cold samples, rotating through `input_sets`.
std::vector<double> time_grouped_cold(const LaunchShape& shape, const GroupedPlan& plan,
                                      const std::vector<LaunchBuffers>& input_sets, const GroupedWorkspace& workspace,
                                      int samples, void* stream);

}  // namespace pal
