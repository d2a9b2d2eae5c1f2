// The emulator backend's template: launch the kernel body as fibers (see kernels/simt/emulator.h).
// Included only by the explicit-instantiation files: kernels/emulator_instances_*.cpp (auto cache,
// dense) and the variant files kernels/CMakeLists.txt generates (fp8 caches, block sparsity).
#pragma once

#include "kernels/launch_plan.h"
#include "kernels/simt/emulator.h"

namespace pal {

template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE,
          bool IS_BLOCK_SPARSE, int PARTITION_SIZE, typename Probe>
void emulate_main_kernel(const LaunchShape& shape, const LaunchBuffers& buffers, Probe probe) {
  const AttentionArgs<scalar_t, cache_t> args = main_kernel_args<scalar_t, cache_t>(shape, buffers);
  simt::launch_emulated({shape.num_heads, shape.num_seqs, shape.max_num_partitions}, kNumThreads,
                        shape.main_shared_memory_bytes(), [&] {
                          paged_attention_body<scalar_t, cache_t, HEAD_SIZE, BLOCK_SIZE, kNumThreads, KV_DTYPE,
                                               IS_BLOCK_SPARSE, PARTITION_SIZE>(args, shape.block_sparse, probe);
                        });
}

template <typename scalar_t, int HEAD_SIZE, typename Probe>
void emulate_reduce_kernel(const LaunchShape& shape, const LaunchBuffers& buffers, Probe probe) {
  const ReduceArgs<scalar_t> args = reduce_kernel_args<scalar_t>(shape, buffers);
  simt::launch_emulated({shape.num_heads, shape.num_seqs, 1}, kNumThreads, shape.reduce_shared_memory_bytes(), [&] {
    paged_attention_reduce_body<scalar_t, HEAD_SIZE, kNumThreads, kPartitionSize>(args, probe);
  });
}

template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE,
          bool IS_BLOCK_SPARSE>
void emulate_paged_attention(const LaunchShape& shape, const LaunchBuffers& buffers, const RecordPointers* record) {
  const bool v2 = shape.version == KernelVersion::v2;
  auto run = [&](auto probe) {
    if (v2) {
      emulate_main_kernel<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE, kPartitionSize>(
          shape, buffers, probe);
      emulate_reduce_kernel<scalar_t, HEAD_SIZE>(shape, buffers, probe);
    } else {
      emulate_main_kernel<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE, 0>(shape, buffers, probe);
    }
  };
  if (record != nullptr) run(RecordingProbe{{}, *record});
  else run(NoopProbe{});
}

// One configuration; PAL_INSTANTIATE_EMULATOR instantiates the auto-cache dense kernel of a dtype and
// head size at every block size.
#define PAL_INSTANTIATE_EMULATOR_VARIANT(scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE)       \
  template void emulate_paged_attention<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE>(      \
      const LaunchShape&, const LaunchBuffers&, const RecordPointers*);
#define PAL_INSTANTIATE_EMULATOR(scalar_t, HEAD_SIZE)                                                      \
  PAL_INSTANTIATE_EMULATOR_VARIANT(scalar_t, scalar_t, KvCacheDtype::automatic, HEAD_SIZE, 8, false)       \
  PAL_INSTANTIATE_EMULATOR_VARIANT(scalar_t, scalar_t, KvCacheDtype::automatic, HEAD_SIZE, 16, false)      \
  PAL_INSTANTIATE_EMULATOR_VARIANT(scalar_t, scalar_t, KvCacheDtype::automatic, HEAD_SIZE, 32, false)

}  // namespace pal
