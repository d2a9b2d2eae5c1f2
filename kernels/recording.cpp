#include "kernels/recording.h"

#include <cstring>
#include <string>

#include "core/scenario.h"
#include "kernels/geometry.h"

namespace pal {

RecordDims record_dims(const Scenario& scenario) {
  const KernelVersion version = scenario.resolved_version();
  const KernelGeometry g{dtype_size_bytes(scenario.dtype), scenario.head_size, scenario.block_size,
                         scenario.num_threads};
  RecordDims d;
  d.num_seqs = scenario.num_seqs;
  d.num_heads = scenario.num_heads;
  d.max_num_partitions = version == KernelVersion::v2 ? scenario.max_num_partitions() : 1;
  d.partition_size = version == KernelVersion::v2 ? scenario.partition_size : 0;
  d.head_size = scenario.head_size;
  d.block_size = scenario.block_size;
  d.num_threads = scenario.num_threads;
  d.num_warps = g.num_warps();
  d.tokens_per_thread_block = version == KernelVersion::v2
                                  ? scenario.partition_size
                                  : divide_round_up(scenario.max_seq_len(), scenario.block_size) * scenario.block_size;
  d.num_qk_max_warp_steps = g.num_qk_max_warp_steps();
  d.num_cross_warp_steps = g.num_cross_warp_steps();
  d.num_sum_warp_steps = log2_exact(kWarpSize);
  d.num_rows_per_thread = g.num_rows_per_thread();
  d.num_acc_levels = 2 + g.num_tree_levels();
  // Upper bound of the loads one thread issues: its q vecs, then per kv_block iteration its key
  // vecs (QK loop) and its value rows (V loop).
  const int q_loads = divide_round_up(g.num_vecs_per_thread(), g.num_thread_groups());
  const int iterations = divide_round_up(d.tokens_per_thread_block / scenario.block_size, g.num_warps());
  d.max_loads_per_thread =
      q_loads + iterations * (g.num_tokens_per_thread_group() * g.num_vecs_per_thread() + g.num_rows_per_thread());
  return d;
}

RecordLayout record_layout(const RecordDims& d) {
  RecordLayout layout;
  layout.dims = d;
  std::size_t cursor = 0;
  auto place = [&](RecordLayout::Array& array, std::size_t count, std::size_t element_bytes) {
    cursor = (cursor + 15) & ~std::size_t(15);
    array.offset = cursor;
    array.bytes = count * element_bytes;
    cursor += array.bytes;
  };
  const std::size_t tb = std::size_t(d.num_thread_blocks());
  const std::size_t sh = std::size_t(d.num_seq_heads());
  const std::size_t threads = std::size_t(d.num_threads);
  const std::size_t tokens = std::size_t(d.tokens_per_thread_block);
  place(layout.q_vecs, tb * d.head_size, sizeof(float));
  place(layout.tokens, tb * tokens, sizeof(TokenRecord));
  place(layout.qk_max_warp, tb * (d.num_qk_max_warp_steps + 1) * threads, sizeof(float));
  place(layout.red_smem_max, tb * d.num_warps, sizeof(float));
  place(layout.qk_max_cross_warp, tb * (d.num_cross_warp_steps + 1) * threads, sizeof(float));
  place(layout.qk_max_block, tb, sizeof(float));
  place(layout.exp_values, tb * tokens, sizeof(float));
  place(layout.exp_sum_warp, tb * (d.num_sum_warp_steps + 1) * threads, sizeof(float));
  place(layout.red_smem_sum, tb * d.num_warps, sizeof(float));
  place(layout.exp_sum_cross_warp, tb * (d.num_cross_warp_steps + 1) * threads, sizeof(float));
  place(layout.exp_sum_block, tb, sizeof(float));
  place(layout.probs, tb * tokens, sizeof(float));
  place(layout.accs, tb * d.num_acc_levels * threads * d.num_rows_per_thread, sizeof(float));
  place(layout.out, tb * d.head_size, sizeof(float));
  place(layout.partition_max_logit, tb, sizeof(float));
  place(layout.partition_exp_sum, tb, sizeof(float));
  place(layout.reduce_max_logit, sh, sizeof(float));
  place(layout.reduce_rescaled_exp_sums, sh * d.max_num_partitions, sizeof(float));
  place(layout.reduce_global_exp_sum, sh, sizeof(float));
  place(layout.loads, tb * threads * d.max_loads_per_thread, sizeof(LoadRecord));
  place(layout.load_counts, tb * threads, sizeof(std::int32_t));
  layout.total_bytes = (cursor + 15) & ~std::size_t(15);
  return layout;
}

RecordPointers RecordLayout::pointers(std::byte* base) const {
  auto at = [base](const Array& array) { return base + array.offset; };
  RecordPointers p;
  p.dims = dims;
  p.q_vecs = reinterpret_cast<float*>(at(q_vecs));
  p.tokens = reinterpret_cast<TokenRecord*>(at(tokens));
  p.qk_max_warp = reinterpret_cast<float*>(at(qk_max_warp));
  p.red_smem_max = reinterpret_cast<float*>(at(red_smem_max));
  p.qk_max_cross_warp = reinterpret_cast<float*>(at(qk_max_cross_warp));
  p.qk_max_block = reinterpret_cast<float*>(at(qk_max_block));
  p.exp_values = reinterpret_cast<float*>(at(exp_values));
  p.exp_sum_warp = reinterpret_cast<float*>(at(exp_sum_warp));
  p.red_smem_sum = reinterpret_cast<float*>(at(red_smem_sum));
  p.exp_sum_cross_warp = reinterpret_cast<float*>(at(exp_sum_cross_warp));
  p.exp_sum_block = reinterpret_cast<float*>(at(exp_sum_block));
  p.probs = reinterpret_cast<float*>(at(probs));
  p.accs = reinterpret_cast<float*>(at(accs));
  p.out = reinterpret_cast<float*>(at(out));
  p.partition_max_logit = reinterpret_cast<float*>(at(partition_max_logit));
  p.partition_exp_sum = reinterpret_cast<float*>(at(partition_exp_sum));
  p.reduce_max_logit = reinterpret_cast<float*>(at(reduce_max_logit));
  p.reduce_rescaled_exp_sums = reinterpret_cast<float*>(at(reduce_rescaled_exp_sums));
  p.reduce_global_exp_sum = reinterpret_cast<float*>(at(reduce_global_exp_sum));
  p.loads = reinterpret_cast<LoadRecord*>(at(loads));
  p.load_counts = reinterpret_cast<std::int32_t*>(at(load_counts));
  return p;
}

void check_recording_fits(const RecordLayout& layout, std::size_t max_bytes) {
  if (layout.total_bytes <= max_bytes) return;
  const auto mib = [](std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
  throw ScenarioError("recording this scenario would need a debug buffer of " + mib(layout.total_bytes) +
                      ", more than the limit of " + mib(max_bytes) +
                      "; record a smaller scenario (fewer num_seqs or num_heads, shorter seq_lens), or run "
                      "without --record");
}

Recording::Recording(const RecordLayout& layout) : layout_(layout), buffer_(layout.total_bytes, std::byte{0xFF}) {
  pointers_ = layout_.pointers(buffer_.data());
}

Recording::Recording(const Recording& other) : layout_(other.layout_), buffer_(other.buffer_) {
  pointers_ = layout_.pointers(buffer_.data());
}

Recording& Recording::operator=(const Recording& other) {
  if (this != &other) {
    layout_ = other.layout_;
    buffer_ = other.buffer_;
    pointers_ = layout_.pointers(buffer_.data());
  }
  return *this;
}

}  // namespace pal
