// The GPU backend, seen from plain C++ (no CUDA types), so the rest of the project builds the same
// with and without the CUDA toolkit. Implemented in kernels/gpu_backend.cu, or by
// kernels/gpu_backend_absent.cpp when the build has no CUDA compiler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/inputs.h"
#include "kernels/launch_plan.h"
#include "kernels/recording.h"

namespace pal {

// False, with the reason, when built without CUDA or when no usable device answers.
bool gpu_backend_available(std::string* why_not);
std::string gpu_device_name();

// The current device as the benchmark sees it (cudaGetDeviceProperties and two attributes).
struct GpuDeviceInfo {
  std::string name;  // "NVIDIA H200"
  int compute_major = 0;
  int compute_minor = 0;
  int sm_count = 0;
  std::int64_t l2_bytes = 0;
  std::int64_t global_memory_bytes = 0;
  std::int64_t shared_memory_per_block_optin = 0;  // cudaDevAttrMaxSharedMemoryPerBlockOptin
  // Memory clock x bus width x 2 (DDR), as the driver reports them; 0 where it does not. Close to
  // the vendor's figure on HBM parts; the vendor's figure is what "% of peak" should use.
  double memory_clock_bus_tbs = 0;
};
// Throws std::runtime_error when there is no usable device (or no GPU backend).
GpuDeviceInfo gpu_device_info();
// The largest dynamic shared memory one thread_block may opt in to (cudaDevAttrMaxSharedMemoryPerBlockOptin).
std::size_t gpu_max_shared_memory_per_block();
// Whether this build compiled the kernel for this configuration (see PAL_CUDA_INSTANTIATIONS); the
// three-argument form asks for an auto cache without block sparsity.
bool gpu_config_compiled(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size, bool block_sparse);
inline bool gpu_config_compiled(DType dtype, int head_size, int block_size) {
  return gpu_config_compiled(dtype, KvCacheDtype::automatic, head_size, block_size, false);
}

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
