#include "kernels/launch_plan.h"

#include "core/inputs.h"
#include "kernels/dispatch.h"

#include <algorithm>

namespace pal {

std::size_t LaunchShape::main_shared_memory_bytes() const {
  const int num_warps = kNumThreads / kWarpSize;
  // v1 holds the logits of the whole (padded) sequence; v2 only those of one partition.
  const std::size_t logits_floats = version == KernelVersion::v2
                                        ? std::size_t(kPartitionSize)
                                        : std::size_t(divide_round_up(max_seq_len, block_size)) * block_size;
  const std::size_t outputs_floats = std::size_t(num_warps / 2) * head_size;
  return std::max(logits_floats, outputs_floats) * sizeof(float);
}

std::size_t LaunchShape::main_static_shared_memory_bytes() const {
  const int num_warps = kNumThreads / kWarpSize;
  const std::size_t q_vecs = std::size_t(head_size) * std::size_t(dtype_size_bytes(dtype));
  const std::size_t red_smem = 2 * std::size_t(num_warps) * sizeof(float);
  return q_vecs + red_smem;
}

std::size_t LaunchShape::main_total_shared_memory_bytes() const {
  return main_shared_memory_bytes() + main_static_shared_memory_bytes();
}

std::size_t LaunchShape::reduce_shared_memory_bytes() const {
  return 2 * std::size_t(max_num_partitions) * sizeof(float);
}

LaunchShape make_launch_shape(const Scenario& scenario, KernelVersion resolved_version) {
  LaunchShape shape;
  shape.dtype = scenario.dtype;
  shape.version = resolved_version;
  shape.num_seqs = scenario.num_seqs;
  shape.num_heads = scenario.num_heads;
  shape.num_kv_heads = scenario.num_kv_heads;
  shape.head_size = scenario.head_size;
  shape.block_size = scenario.block_size;
  shape.num_blocks = scenario.effective_num_blocks();
  shape.max_num_blocks_per_seq = scenario.max_num_blocks_per_seq();
  shape.max_seq_len = scenario.max_seq_len();
  shape.max_num_partitions = resolved_version == KernelVersion::v2 ? scenario.max_num_partitions() : 1;
  shape.scale = scenario.effective_scale();
  shape.q_stride = std::int64_t(scenario.num_heads) * scenario.head_size;
  const KvCacheLayout kv_layout = kv_cache_layout(scenario);
  shape.kv_head_stride = kv_layout.kv_head_stride();
  shape.kv_block_stride = kv_layout.kv_block_stride();
  return shape;
}

void emulate_paged_attention_dispatch(const LaunchShape& shape, const LaunchBuffers& buffers,
                                      const RecordPointers* record) {
  dispatch_kernel_config(shape.dtype, shape.head_size, shape.block_size, [&](auto scalar, auto head, auto block) {
    emulate_paged_attention<decltype(scalar), decltype(head)::value, decltype(block)::value>(shape, buffers, record);
  });
}

}  // namespace pal
