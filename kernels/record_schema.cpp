// The schema's run-time tables, generated from the X-macros of record_schema.h.
#include "kernels/record_schema.h"

#include <array>
#include <type_traits>

namespace pal {

namespace {

template <typename T>
constexpr RecordElement element_kind() {
  if constexpr (std::is_same_v<T, float>) return RecordElement::f32;
  else if constexpr (std::is_same_v<T, TokenRecord>) return RecordElement::token_record;
  else if constexpr (std::is_same_v<T, LoadRecord>) return RecordElement::load_record;
  else {
    static_assert(std::is_same_v<T, std::int32_t>, "a recorded array holds floats, int32s or a record struct");
    return RecordElement::i32;
  }
}

constexpr std::array<RecordArrayInfo, kNumRecordArrays> kArrays{{
#define PAL_RECORD_ARRAY_INFO(name, type, owner, dump, variants, meaning, ...)                                     \
  {RecordArray::name, #name, element_kind<type>(), int(sizeof(type)), StageOrCheck(owner), RecordDumpName(dump), \
   variants, meaning, RecordArrayTraits<RecordArray::name>::shape::kRank, {PAL_RECORD_DIM_LIST(__VA_ARGS__)}},
    PAL_RECORD_ARRAYS(PAL_RECORD_ARRAY_INFO)
#undef PAL_RECORD_ARRAY_INFO
}};

constexpr bool arrays_in_enum_order() {
  for (int i = 0; i < kNumRecordArrays; ++i)
    if (static_cast<int>(kArrays[static_cast<std::size_t>(i)].array) != i) return false;
  return true;
}
static_assert(arrays_in_enum_order());

}  // namespace

std::string_view record_dim_name(RecordDim dim) {
  switch (dim) {
    case RecordDim::thread_block: return "tb";
    case RecordDim::seq_head: return "sh";
    case RecordDim::token_slot: return "tokens_per_thread_block";
    case RecordDim::head_dim: return "head_size";
    case RecordDim::thread: return "num_threads";
    case RecordDim::warp: return "num_warps";
    case RecordDim::qk_max_warp_state: return "num_qk_max_warp_steps + 1";
    case RecordDim::cross_warp_state: return "num_cross_warp_steps + 1";
    case RecordDim::sum_warp_state: return "num_sum_warp_steps + 1";
    case RecordDim::acc_level: return "num_acc_levels";
    case RecordDim::row: return "num_rows_per_thread";
    case RecordDim::load: return "max_loads_per_thread";
    case RecordDim::partition: return "max_num_partitions";
    case RecordDim::grouped_block: return "gb";
    case RecordDim::split_step: return "num_split_steps";
    case RecordDim::step_token: return "16";
    case RecordDim::block_row: return "heads_per_chunk";
    case RecordDim::warp_row: return "rows_per_warp";
    case RecordDim::load_element: return "max_dequantized_per_load";
  }
  return "?";
}

std::string_view dump_name(const RecordDumpName& dump) {
  return dump.is_stage ? stage_info(dump.stage).dump_name : dump.name;
}

const RecordArrayInfo& record_array_info(RecordArray array) { return kArrays[static_cast<std::size_t>(array)]; }

bool records_array(const RecordDims& dims, RecordArray array) {
  return record_array_info(array).variants.contains(dims.version);
}

std::int64_t RecordArrayShape::numel() const {
  std::int64_t count = rank > 0 ? 1 : 0;
  for (int i = 0; i < rank; ++i) count *= extents[i];
  return count;
}

RecordArrayShape record_array_shape(RecordArray array, const RecordDims& dims) {
  const RecordArrayInfo& info = record_array_info(array);
  RecordArrayShape shape;
  shape.rank = info.rank;
  const bool recorded = records_array(dims, array);
  for (int i = 0; i < info.rank; ++i) shape.extents[i] = recorded ? extent(dims, info.dims[i]) : 0;
  return shape;
}

}  // namespace pal
