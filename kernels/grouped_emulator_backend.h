// The grouped kernel's emulator backend template: both kernels as fibers (kernels/simt/emulator.h).
// Included only by the explicit-instantiation files kernels/grouped_emulator_instances_*.cpp.
#pragma once

#include "kernels/dispatch.h"
#include "kernels/grouped_launch.h"
#include "kernels/simt/emulator.h"

namespace pal {

template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
void emulate_grouped(const LaunchShape& shape, const LaunchBuffers& buffers, const GroupedWorkspace& workspace,
                     const GroupedPlan& plan, const RecordPointers* record) {
  const GroupedArgs<scalar_t, cache_t> args = grouped_args<scalar_t, cache_t>(shape, buffers, workspace, plan);
  GroupedRecordingProbe probe{{}, record};  // records nothing when `record` is null
  probe.kv_block_units = plan.geometry.kv_block_units();
  simt::launch_emulated({plan.grid_x(shape.num_kv_heads), shape.num_seqs, plan.num_splits}, kGroupedNumThreads,
                        std::size_t(plan.shared_bytes), [&] {
                          grouped_attention_body<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>(args, probe);
                        });
  if (!plan.uses_split_merge()) return;
  const SplitMergeArgs<scalar_t> merge_args = split_merge_args<scalar_t>(shape, buffers, workspace, plan);
  simt::launch_emulated({shape.num_heads, shape.num_seqs, 1}, kGroupedNumThreads, 0, [&] {
    split_merge_body<scalar_t, HEAD_SIZE>(merge_args, probe);
  });
}

// One configuration (the fp8 files kernels/grouped.cmake generates list them one by one).
#define PAL_INSTANTIATE_GROUPED_EMULATOR_VARIANT(scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH)      \
  template void emulate_grouped<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>(                      \
      const LaunchShape&, const LaunchBuffers&, const GroupedWorkspace&, const GroupedPlan&, const RecordPointers*);
// Auto caches: both math paths for 16-bit types (tensor cores by default, CUDA cores on request),
// CUDA cores for fp32, every block size.
#define PAL_INSTANTIATE_GROUPED_EMULATOR_MATH(scalar_t, HEAD_SIZE, MATH)                                        \
  PAL_INSTANTIATE_GROUPED_EMULATOR_VARIANT(scalar_t, scalar_t, KvCacheDtype::automatic, HEAD_SIZE, 8, MATH)     \
  PAL_INSTANTIATE_GROUPED_EMULATOR_VARIANT(scalar_t, scalar_t, KvCacheDtype::automatic, HEAD_SIZE, 16, MATH)    \
  PAL_INSTANTIATE_GROUPED_EMULATOR_VARIANT(scalar_t, scalar_t, KvCacheDtype::automatic, HEAD_SIZE, 32, MATH)
#define PAL_INSTANTIATE_GROUPED_EMULATOR_CUDA_CORES(scalar_t, HEAD_SIZE) \
  PAL_INSTANTIATE_GROUPED_EMULATOR_MATH(scalar_t, HEAD_SIZE, GroupedMath::cuda_cores)
#define PAL_INSTANTIATE_GROUPED_EMULATOR_TENSOR_CORES(scalar_t, HEAD_SIZE) \
  PAL_INSTANTIATE_GROUPED_EMULATOR_MATH(scalar_t, HEAD_SIZE, GroupedMath::tensor_cores)

}  // namespace pal
