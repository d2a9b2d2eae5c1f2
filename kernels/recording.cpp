#include "kernels/recording.h"

#include <cstring>
#include <string>

#include "core/scenario.h"
#include "kernels/geometry.h"

namespace pal {

RecordDims record_dims(const Scenario& scenario) {
  const KernelVersion version = scenario.resolved_version();
  if (version == KernelVersion::grouped)
    throw ScenarioError("a grouped recording's dimensions follow its split plan, which depends on the device: "
                        "use grouped_record_dims (kernels/grouped_launch.h) with the plan the kernel ran");
  const KernelGeometry g{dtype_size_bytes(scenario.dtype), scenario.head_size, scenario.block_size,
                         scenario.num_threads, scenario.kv_cache_element_size()};
  RecordDims d;
  d.version = version;
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
  d.max_dequantized_per_load = is_fp8(scenario.kv_cache_dtype) ? max_of(g.vec_size(), g.v_vec_size()) : 0;
  return d;
}

RecordLayout record_layout(const RecordDims& d) {
  RecordLayout layout;
  layout.dims = d;
  std::size_t cursor = 0;
  for (int i = 0; i < kNumRecordArrays; ++i) {
    const RecordArrayInfo& info = record_array_info(static_cast<RecordArray>(i));
    RecordLayout::Array& array = layout.arrays[i];
    cursor = (cursor + 15) & ~std::size_t(15);
    array.offset = cursor;
    array.bytes = std::size_t(record_array_shape(info.array, d).numel()) * std::size_t(info.element_bytes);
    cursor += array.bytes;
  }
  layout.total_bytes = (cursor + 15) & ~std::size_t(15);
  return layout;
}

RecordPointers RecordLayout::pointers(std::byte* base) const {
  RecordPointers p;
  p.dims = dims;
#define PAL_POINT_AT(name, type, ...) p.name = reinterpret_cast<type*>(base + of(RecordArray::name).offset);
  PAL_RECORD_ARRAYS(PAL_POINT_AT)
#undef PAL_POINT_AT
  return p;
}

std::string describe_memory(std::uint64_t bytes) {
  // Rounded up, and exact below a MiB: a small limit must not read "needs 0 MiB, more than 0 MiB".
  if (bytes < (std::uint64_t{1} << 20)) return std::to_string(bytes) + " bytes";
  return std::to_string((bytes + (std::uint64_t{1} << 20) - 1) >> 20) + " MiB";
}

void check_recording_fits(const RecordLayout& layout, std::size_t max_bytes) {
  if (layout.total_bytes <= max_bytes) return;
  throw ScenarioError("recording this scenario would need a debug buffer of " + describe_memory(layout.total_bytes) +
                      ", more than the limit of " + describe_memory(max_bytes) +
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
