// The grouped kernel's GPU backend seen from plain C++ (no CUDA types), implemented in
// kernels/grouped_gpu.cu, or by kernels/grouped_gpu_absent.cpp when the build has no CUDA compiler.
#pragma once

#include <string>

#include "core/inputs.h"
#include "kernels/grouped_launch.h"

namespace pal {

// False, with the reason, when built without CUDA or when no usable device answers; and the
// device's name. The grouped backend asks the driver itself instead of going through the v1/v2
// backend (kernels/gpu_backend.h), so that programs of the grouped kernel alone (its GPU tests)
// link none of the v1/v2 kernels and stay small enough to carry to the device.
bool grouped_gpu_available(std::string* why_not);
std::string grouped_gpu_device_name();

// What the planner needs of the current GPU for this shape and math path: its SM count and how
// many grouped thread_blocks of this configuration are resident per SM (the occupancy API, with
// the dynamic shared memory of `row_tiles` row tiles). Throws ScenarioError if the configuration
// was not compiled (PAL_CUDA_INSTANTIATIONS=reduced) and std::runtime_error on CUDA errors.
GroupedDevice gpu_grouped_device(const LaunchShape& shape, GroupedMath math, int row_tiles);

// Whether this build compiled the grouped GPU kernel for (dtype, kv_cache_dtype, head_size, block_size, math).
bool gpu_grouped_config_compiled(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size,
                                 GroupedMath math);

// The plan for this shape on the current GPU (the two-step occupancy query and planning).
GroupedPlan gpu_plan_grouped(const LaunchShape& shape, GroupedMath math, int forced_num_splits,
                             int min_split_tokens = kMinSplitTokens);

// Copies the inputs to the device, launches, copies the results back (see run_grouped).
GroupedRun run_grouped_on_gpu(const LaunchShape& shape, const Inputs& inputs, GroupedMath math,
                              const GroupedOptions& options);

// The production launch for benchmarks: device buffers, a stream (cudaStream_t as void*), the
// no-op probe, no synchronisation. The main kernel, then (when plan.uses_split_merge()) split_merge,
// both with programmatic dependent launch on sm_90+ (each waits for the stream's previous kernel
// before it reads anything). `workspace` may be empty when the plan has one split.
void gpu_launch_grouped(const LaunchShape& shape, const LaunchBuffers& device_buffers,
                        const GroupedWorkspace& device_workspace, const GroupedPlan& plan, void* stream);

}  // namespace pal
