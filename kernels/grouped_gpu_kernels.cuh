// The grouped kernel's __global__ entry points and its per-configuration launcher. Included by the
// generated instantiation files (kernels/grouped.cmake) and by kernels/grouped_gpu.cu.
#pragma once

#include <cuda_runtime.h>

#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/grouped_launch.h"

namespace pal {

// The thread_blocks per SM that shared memory allows on an H100 / H200 (228 KB per SM, 1 KB of it
// reserved per block), given to ptxas as __launch_bounds__' minimum: registers are then budgeted for
// that many blocks and no more (without it ptxas stopped at 168 registers and spilled in the head-128
// tensor-core kernel, which shared memory limits to 2 blocks per SM anyway, i.e. 255 registers).
template <typename scalar_t, typename cache_t, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
constexpr int grouped_min_blocks_per_sm() {
  constexpr GroupedGeometry geometry{int(sizeof(scalar_t)), HEAD_SIZE, BLOCK_SIZE, MATH, int(sizeof(cache_t))};
  return max_of(1, min_of(4, 228 * 1024 / (geometry.shared_bytes(1) + 1024)));
}

// The main kernel: grid (num_kv_heads * num_head_chunks, num_seqs, num_splits), 128 threads.
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH,
          typename Probe>
__global__ void __launch_bounds__(kGroupedNumThreads,
                                  (grouped_min_blocks_per_sm<scalar_t, cache_t, HEAD_SIZE, BLOCK_SIZE, MATH>()))
    grouped_attention_kernel(const GroupedArgs<scalar_t, cache_t> args, const Probe probe) {
  grouped_attention_body<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>(args, probe);
}

// split_merge: grid (num_heads, num_seqs), 128 threads.
template <typename scalar_t, int HEAD_SIZE, typename Probe>
__global__ void __launch_bounds__(kGroupedNumThreads)
    grouped_split_merge_kernel(const SplitMergeArgs<scalar_t> args, const Probe probe) {
  split_merge_body<scalar_t, HEAD_SIZE>(args, probe);
}

inline void throw_on_grouped_cuda_error(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}

// Above 48 KB a kernel must opt in to its dynamic shared memory; the largest the grouped kernel can
// ask for is its pipeline (or merge area) plus 4 row tiles of query rows and the probabilities.
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
void grouped_opt_in_shared_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr GroupedGeometry geometry{int(sizeof(scalar_t)), HEAD_SIZE, BLOCK_SIZE, MATH, int(sizeof(cache_t))};
    throw_on_grouped_cuda_error(
        cudaFuncSetAttribute(&grouped_attention_kernel<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH, GroupedNoopProbe>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, geometry.shared_bytes(kGroupedNumWarps)),
        "cudaFuncSetAttribute(MaxDynamicSharedMemorySize) for the grouped kernel");
  });
}

template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
int grouped_gpu_blocks_per_sm(int shared_bytes) {
  grouped_opt_in_shared_memory<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>();
  int blocks = 0;
  throw_on_grouped_cuda_error(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &blocks, &grouped_attention_kernel<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH, GroupedNoopProbe>,
          kGroupedNumThreads, std::size_t(shared_bytes)),
      "cudaOccupancyMaxActiveBlocksPerMultiprocessor (grouped kernel)");
  return blocks;
}

// Whether a grouped kernel may start launching during the previous kernel's tail (programmatic
// dependent launch, sm_90+): split_merge after the main kernel, the main kernel after whatever ran before.
bool grouped_use_programmatic_launch();

template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
void grouped_gpu_launch(const LaunchShape& shape, const LaunchBuffers& buffers, const GroupedWorkspace& workspace,
                        const GroupedPlan& plan, cudaStream_t stream) {
  grouped_opt_in_shared_memory<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>();
  // Both kernels with programmatic dependent launch on sm_90+: each may start launching while the
  // stream's previous kernel drains, and waits for it (griddepcontrol.wait) before reading.
  cudaLaunchAttribute attributes[1] = {};
  attributes[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attributes[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(unsigned(plan.grid_x(shape.num_kv_heads)), unsigned(shape.num_seqs), unsigned(plan.num_splits));
  config.blockDim = dim3(unsigned(kGroupedNumThreads), 1u, 1u);
  config.dynamicSmemBytes = std::size_t(plan.shared_bytes);
  config.stream = stream;
  config.attrs = attributes;
  config.numAttrs = grouped_use_programmatic_launch() ? 1 : 0;
  throw_on_grouped_cuda_error(
      cudaLaunchKernelEx(&config, &grouped_attention_kernel<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH, GroupedNoopProbe>,
                         grouped_args<scalar_t, cache_t>(shape, buffers, workspace, plan), GroupedNoopProbe{}),
      "grouped_attention_kernel launch (cudaLaunchKernelEx)");
  if (!plan.uses_split_merge()) return;

  config.gridDim = dim3(unsigned(shape.num_heads), unsigned(shape.num_seqs), 1u);
  config.dynamicSmemBytes = 0;
  throw_on_grouped_cuda_error(cudaLaunchKernelEx(&config, &grouped_split_merge_kernel<scalar_t, HEAD_SIZE, GroupedNoopProbe>,
                                                 split_merge_args<scalar_t>(shape, buffers, workspace, plan),
                                                 GroupedNoopProbe{}),
                              "grouped_split_merge_kernel launch (cudaLaunchKernelEx)");
}

#define PAL_INSTANTIATE_GROUPED_GPU(scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH)                       \
  template int grouped_gpu_blocks_per_sm<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>(int);             \
  template void grouped_gpu_launch<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>(                        \
      const LaunchShape&, const LaunchBuffers&, const GroupedWorkspace&, const GroupedPlan&, cudaStream_t);

}  // namespace pal
