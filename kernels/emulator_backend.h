// The emulator backend's template: launch the kernel body as fibers (see kernels/simt/emulator.h).
// Included only by the explicit-instantiation files kernels/emulator_instances_*.cpp.
#pragma once

#include "kernels/launch_plan.h"
#include "kernels/simt/emulator.h"

namespace pal {

template <typename scalar_t, int HEAD_SIZE, int BLOCK_SIZE, int PARTITION_SIZE, typename Probe>
void emulate_main_kernel(const LaunchShape& shape, const LaunchBuffers& buffers, Probe probe) {
  const AttentionArgs<scalar_t> args = main_kernel_args<scalar_t>(shape, buffers);
  simt::launch_emulated({shape.num_heads, shape.num_seqs, shape.max_num_partitions}, kNumThreads,
                        shape.main_shared_memory_bytes(), [&] {
                          paged_attention_body<scalar_t, HEAD_SIZE, BLOCK_SIZE, kNumThreads, PARTITION_SIZE>(args, probe);
                        });
}

template <typename scalar_t, int HEAD_SIZE, typename Probe>
void emulate_reduce_kernel(const LaunchShape& shape, const LaunchBuffers& buffers, Probe probe) {
  const ReduceArgs<scalar_t> args = reduce_kernel_args<scalar_t>(shape, buffers);
  simt::launch_emulated({shape.num_heads, shape.num_seqs, 1}, kNumThreads, shape.reduce_shared_memory_bytes(), [&] {
    paged_attention_reduce_body<scalar_t, HEAD_SIZE, kNumThreads, kPartitionSize>(args, probe);
  });
}

template <typename scalar_t, int HEAD_SIZE, int BLOCK_SIZE>
void emulate_paged_attention(const LaunchShape& shape, const LaunchBuffers& buffers, const RecordPointers* record) {
  const bool v2 = shape.version == KernelVersion::v2;
  if (record != nullptr) {
    const RecordingProbe probe{*record};
    if (v2) {
      emulate_main_kernel<scalar_t, HEAD_SIZE, BLOCK_SIZE, kPartitionSize>(shape, buffers, probe);
      emulate_reduce_kernel<scalar_t, HEAD_SIZE>(shape, buffers, probe);
    } else {
      emulate_main_kernel<scalar_t, HEAD_SIZE, BLOCK_SIZE, 0>(shape, buffers, probe);
    }
  } else {
    if (v2) {
      emulate_main_kernel<scalar_t, HEAD_SIZE, BLOCK_SIZE, kPartitionSize>(shape, buffers, NoopProbe{});
      emulate_reduce_kernel<scalar_t, HEAD_SIZE>(shape, buffers, NoopProbe{});
    } else {
      emulate_main_kernel<scalar_t, HEAD_SIZE, BLOCK_SIZE, 0>(shape, buffers, NoopProbe{});
    }
  }
}

#define PAL_INSTANTIATE_EMULATOR(scalar_t, HEAD_SIZE)                                                        \
  template void emulate_paged_attention<scalar_t, HEAD_SIZE, 8>(const LaunchShape&, const LaunchBuffers&,  \
                                                                const RecordPointers*);                    \
  template void emulate_paged_attention<scalar_t, HEAD_SIZE, 16>(const LaunchShape&, const LaunchBuffers&, \
                                                                 const RecordPointers*);                   \
  template void emulate_paged_attention<scalar_t, HEAD_SIZE, 32>(const LaunchShape&, const LaunchBuffers&, \
                                                                 const RecordPointers*);

}  // namespace pal
