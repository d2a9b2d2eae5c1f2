// The GPU backend, seen from plain C++ (no CUDA types), so the rest of the project builds the same
// with and without the CUDA toolkit. Implemented in kernels/gpu_backend.cu, or by
// kernels/gpu_backend_absent.cpp when the build has no CUDA compiler.
#pragma once

#include <cstddef>
#include <string>

#include "core/inputs.h"
#include "kernels/launch_plan.h"
#include "kernels/recording.h"

namespace pal {

// False, with the reason, when built without CUDA or when no usable device answers.
bool gpu_backend_available(std::string* why_not);
std::string gpu_device_name();
// The largest dynamic shared memory one thread_block may opt in to (cudaDevAttrMaxSharedMemoryPerBlockOptin).
std::size_t gpu_max_shared_memory_per_block();
// Whether this build compiled the kernel for (dtype, head_size, block_size) (see PAL_CUDA_INSTANTIATIONS).
bool gpu_config_compiled(DType dtype, int head_size, int block_size);

struct GpuRunResult {
  Tensor output, tmp_out, exp_sums, max_logits;
  double elapsed_ms = 0.0;
};
// Copies the inputs to the device, launches (v1, or v2 + reduce), copies results (and the recording,
// when `recording` is not null) back. Throws ScenarioError / std::runtime_error with the CUDA error.
GpuRunResult run_on_gpu(const LaunchShape& shape, const Inputs& inputs, Recording* recording);

// For the benchmark: launch on buffers already in device memory, on a stream (a cudaStream_t passed
// as void*), with the no-op probe. No synchronisation, no error check beyond the launch itself.
void gpu_launch_production(const LaunchShape& shape, const LaunchBuffers& device_buffers, void* stream);
// The same with the recording probe writing into `device_record` (pointers into device memory laid
// out by RecordLayout::pointers): for measuring what recording costs.
void gpu_launch_recording(const LaunchShape& shape, const LaunchBuffers& device_buffers,
                          const RecordPointers& device_record, void* stream);

}  // namespace pal
