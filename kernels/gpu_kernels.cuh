// The __global__ entry points around the shared kernel body, and the per-configuration launcher.
// Included by the generated explicit-instantiation files (one per dtype x block size) and by
// kernels/gpu_backend.cu.
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda_support.cuh"
#include "kernels/launch_plan.h"

namespace pal {

// v1 and v2's first kernel: grid (num_heads, num_seqs, max_num_partitions), kNumThreads threads.
template <typename scalar_t, typename cache_t, int HEAD_SIZE, int BLOCK_SIZE, KvCacheDtype KV_DTYPE,
          bool IS_BLOCK_SPARSE, int PARTITION_SIZE, typename Probe>
__global__ void __launch_bounds__(kNumThreads)
    paged_attention_kernel(const AttentionArgs<scalar_t, cache_t> args, const BlockSparseParams block_sparse,
                           const Probe probe) {
  paged_attention_body<scalar_t, cache_t, HEAD_SIZE, BLOCK_SIZE, kNumThreads, KV_DTYPE, IS_BLOCK_SPARSE,
                       PARTITION_SIZE>(args, block_sparse, probe);
}

// v2's reduce kernel: grid (num_heads, num_seqs), kNumThreads threads.
template <typename scalar_t, int HEAD_SIZE, typename Probe>
__global__ void __launch_bounds__(kNumThreads)
    paged_attention_reduce_kernel(const ReduceArgs<scalar_t> args, const Probe probe) {
  paged_attention_reduce_body<scalar_t, HEAD_SIZE, kNumThreads, kPartitionSize>(args, probe);
}

template <typename scalar_t, typename cache_t, int HEAD_SIZE, int BLOCK_SIZE, KvCacheDtype KV_DTYPE,
          bool IS_BLOCK_SPARSE, int PARTITION_SIZE, typename Probe>
void gpu_launch_main(const LaunchShape& shape, const LaunchBuffers& buffers, const Probe& probe, cudaStream_t stream) {
  auto* kernel =
      &paged_attention_kernel<scalar_t, cache_t, HEAD_SIZE, BLOCK_SIZE, KV_DTYPE, IS_BLOCK_SPARSE, PARTITION_SIZE, Probe>;
  const std::size_t shared_bytes = shape.main_shared_memory_bytes();
  // Above 48 KB a kernel must opt in to more dynamic shared memory (v1 with long contexts).
  if (shared_bytes > 48 * 1024)
    throw_on_cuda_error(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared_bytes)),
                        "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  const dim3 grid(unsigned(shape.num_heads), unsigned(shape.num_seqs), unsigned(shape.max_num_partitions));
  kernel<<<grid, kNumThreads, shared_bytes, stream>>>(main_kernel_args<scalar_t, cache_t>(shape, buffers),
                                                      shape.block_sparse, probe);
  throw_on_cuda_error(cudaGetLastError(), "paged_attention_kernel launch");
}

template <typename scalar_t, int HEAD_SIZE, typename Probe>
void gpu_launch_reduce(const LaunchShape& shape, const LaunchBuffers& buffers, const Probe& probe, cudaStream_t stream) {
  const dim3 grid(unsigned(shape.num_heads), unsigned(shape.num_seqs), 1u);
  paged_attention_reduce_kernel<scalar_t, HEAD_SIZE, Probe>
      <<<grid, kNumThreads, shape.reduce_shared_memory_bytes(), stream>>>(reduce_kernel_args<scalar_t>(shape, buffers), probe);
  throw_on_cuda_error(cudaGetLastError(), "paged_attention_reduce_kernel launch");
}

// One configuration, both versions, both probes. `record` null = production kernel.
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE,
          bool IS_BLOCK_SPARSE>
void gpu_launch_config(const LaunchShape& shape, const LaunchBuffers& buffers, const RecordPointers* record,
                       cudaStream_t stream) {
  const bool v2 = shape.version == KernelVersion::v2;
  auto launch = [&](const auto& probe) {
    if (v2) {
      gpu_launch_main<scalar_t, cache_t, HEAD_SIZE, BLOCK_SIZE, KV_DTYPE, IS_BLOCK_SPARSE, kPartitionSize>(
          shape, buffers, probe, stream);
      gpu_launch_reduce<scalar_t, HEAD_SIZE>(shape, buffers, probe, stream);
    } else {
      gpu_launch_main<scalar_t, cache_t, HEAD_SIZE, BLOCK_SIZE, KV_DTYPE, IS_BLOCK_SPARSE, 0>(shape, buffers, probe,
                                                                                             stream);
    }
  };
  if (record != nullptr) launch(RecordingProbe{{}, *record});
  else launch(NoopProbe{});
}

#define PAL_INSTANTIATE_GPU(scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE)                    \
  template void gpu_launch_config<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE>(             \
      const LaunchShape&, const LaunchBuffers&, const RecordPointers*, cudaStream_t);

}  // namespace pal
