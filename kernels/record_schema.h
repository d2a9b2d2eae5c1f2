// The recording's schema: every array the recording probe writes, declared once (llm.c's
// act_sizes / ptrs table, as an X-macro).
//
// An entry says the array's name, its element type, the stage (or check) it belongs to, the name it
// has in a dump, the kernel variants that record it, what it means, and its shape as a list of
// RecordDims extents. From the list come: the RecordArray enum, RecordPointers (one typed pointer
// and one `<name>_at(indices...)` accessor per array, used by the probe on the device), the layout
// of the debug buffer (kernels/recording.h), the dump's `kernel.<name>` tensors and the reader's
// checks (run/run_dump.cpp), the typed views (kernels/record_view.h), and RecordDims' JSON.
// An array a variant does not record has extent 0 in that variant's recordings.
//
// Adding a recorded value: one line in PAL_RECORD_ARRAYS (or a field in a record struct), the
// probe hook that writes it, and a reader where a view shows it.
//
// Index conventions: tb = (seq_idx * num_heads + head_idx) * max_num_partitions + partition_idx
// (v1: one partition); sh = seq_idx * num_heads + head_idx; a token slot is token_idx -
// start_token_idx of the thread_block; thread = threadIdx.x. Shapes are row-major, outermost first.
// The grouped kernel (kernels/grouped_attention_kernel.h) records its own arrays (grouped_*), indexed
// by gb = ((seq_idx * num_kv_heads + kv_head_idx) * num_head_chunks + head_chunk_idx) * num_splits +
// split_idx; a block_row is a query head of the block (head = its first head + block_row), a
// warp_row one of a warp's row tile (block_row = row_tile * rows_per_warp + warp_row); a split_step
// is 16 tokens from the split's first token. The grouped kernel records no v1/v2 array and v1/v2
// record no grouped one (extent 0).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/host_device.h"
#include "core/scenario.h"
#include "kernels/stage_registry.h"

namespace pal {

// ---- the dimensions of a recording ---------------------------------------------------------------

// X(name, meaning): the integer sizes every recorded shape is built from, computed from the
// scenario before launch (record_dims in kernels/recording.h) and stored in dumps as JSON.
#define PAL_RECORD_DIMS_FIELDS(X)                                                                          \
  X(num_seqs, "sequences")                                                                                \
  X(num_heads, "query heads")                                                                             \
  X(max_num_partitions, "partitions per (seq, head): 1 for v1")                                           \
  X(partition_size, "tokens per partition: 0 for v1")                                                     \
  X(head_size, "elements of one head")                                                                    \
  X(block_size, "tokens per kv_block")                                                                    \
  X(num_threads, "threads per thread_block")                                                              \
  X(num_warps, "warps per thread_block")                                                                  \
  X(tokens_per_thread_block, "token slots of a thread_block: v1 max_seq_len rounded up to block_size, v2 " \
                             "partition_size")                                                            \
  X(num_qk_max_warp_steps, "xor steps of the in-warp qk_max butterfly")                                   \
  X(num_cross_warp_steps, "xor steps over the warps' values (max and sum)")                               \
  X(num_sum_warp_steps, "xor steps of the in-warp exp_sum butterfly (log2(32))")                          \
  X(num_rows_per_thread, "V rows a lane accumulates")                                                     \
  X(num_acc_levels, "accumulator snapshots: after the V loop, after the warp reduction, after each tree "  \
                    "level")                                                                              \
  X(max_loads_per_thread, "upper bound of the global loads one thread issues (grouped: of its K/V copies)")                            \
  X(num_kv_heads, "grouped: KV heads")                                                                    \
  X(num_head_chunks, "grouped: thread_blocks that share one KV head's query group (the plan's)")          \
  X(heads_per_chunk, "grouped: query heads of one thread_block, at most")                                \
  X(row_tiles, "grouped: the warps' row tiles per thread_block (1, 2 or 4)")                              \
  X(rows_per_warp, "grouped: query heads one warp computes (16 on tensor cores, 8 on CUDA cores)")         \
  X(tensor_cores, "grouped: 1 when the mma.sync path ran, 0 for CUDA cores")                              \
  X(num_splits, "grouped: KV splits per sequence (gridDim.z of the plan)")                                \
  X(kv_blocks_per_split, "grouped: kv_blocks of one split")                                               \
  X(num_split_steps, "grouped: 16-token warp steps of one split") \
  X(max_dequantized_per_load, "elements one K/V load dequantises from an fp8 cache: max(VEC_SIZE, "       \
                              "V_VEC_SIZE); 0 for an auto cache, whose dequantized_kv array is then empty")

struct RecordDims {
  KernelVersion version = KernelVersion::v1;  // which variant recorded (a dump keeps it as metadata)
#define PAL_DECLARE_DIM(name, meaning) int name = 0;
  PAL_RECORD_DIMS_FIELDS(PAL_DECLARE_DIM)
#undef PAL_DECLARE_DIM

  PAL_HOST_DEVICE std::int64_t num_thread_blocks() const {
    return std::int64_t(num_seqs) * num_heads * max_num_partitions;
  }
  PAL_HOST_DEVICE std::int64_t num_seq_heads() const { return std::int64_t(num_seqs) * num_heads; }
  PAL_HOST_DEVICE std::int64_t tb_index(int seq_idx, int head_idx, int partition_idx) const {
    return (std::int64_t(seq_idx) * num_heads + head_idx) * max_num_partitions + partition_idx;
  }
  PAL_HOST_DEVICE std::int64_t sh_index(int seq_idx, int head_idx) const {
    return std::int64_t(seq_idx) * num_heads + head_idx;
  }
  // The grouped kernel's thread_blocks: one per (seq, KV head, head chunk, split).
  PAL_HOST_DEVICE std::int64_t num_grouped_blocks() const {
    return std::int64_t(num_seqs) * num_kv_heads * num_head_chunks * num_splits;
  }
  PAL_HOST_DEVICE std::int64_t gb_index(int seq_idx, int kv_head_idx, int head_chunk_idx, int split_idx) const {
    return ((std::int64_t(seq_idx) * num_kv_heads + kv_head_idx) * num_head_chunks + head_chunk_idx) * num_splits +
           split_idx;
  }
};

// Tokens of one warp step of the grouped kernel (kGroupedWarpTokens in kernels/grouped_geometry.h).
inline constexpr int kRecordStepTokens = 16;

// One axis of a recorded array, and its extent.
enum class RecordDim : std::uint8_t {
  thread_block,       // tb
  seq_head,           // sh
  token_slot,         // tokens_per_thread_block
  head_dim,           // head_size
  thread,             // num_threads
  warp,               // num_warps
  qk_max_warp_state,  // num_qk_max_warp_steps + 1: before the butterfly, after each step
  cross_warp_state,   // num_cross_warp_steps + 1
  sum_warp_state,     // num_sum_warp_steps + 1
  acc_level,          // num_acc_levels
  row,                // num_rows_per_thread
  load,               // max_loads_per_thread
  partition,          // max_num_partitions
  grouped_block,      // gb: (seq, KV head, head chunk, split) of the grouped kernel
  split_step,         // num_split_steps: a 16-token warp step, counted from the split's first token
  step_token,         // kRecordStepTokens: a token of a step
  block_row,          // heads_per_chunk: a query head of the grouped thread_block
  warp_row,           // rows_per_warp: a query head of a warp's row tile
  load_element,       // max_dequantized_per_load
};

PAL_HOST_DEVICE constexpr std::int64_t extent(const RecordDims& d, RecordDim dim) {
  switch (dim) {
    case RecordDim::thread_block: return d.num_thread_blocks();
    case RecordDim::seq_head: return d.num_seq_heads();
    case RecordDim::token_slot: return d.tokens_per_thread_block;
    case RecordDim::head_dim: return d.head_size;
    case RecordDim::thread: return d.num_threads;
    case RecordDim::warp: return d.num_warps;
    case RecordDim::qk_max_warp_state: return d.num_qk_max_warp_steps + 1;
    case RecordDim::cross_warp_state: return d.num_cross_warp_steps + 1;
    case RecordDim::sum_warp_state: return d.num_sum_warp_steps + 1;
    case RecordDim::acc_level: return d.num_acc_levels;
    case RecordDim::row: return d.num_rows_per_thread;
    case RecordDim::load: return d.max_loads_per_thread;
    case RecordDim::partition: return d.max_num_partitions;
    case RecordDim::grouped_block: return d.num_grouped_blocks();
    case RecordDim::split_step: return d.num_split_steps;
    case RecordDim::step_token: return kRecordStepTokens;
    case RecordDim::block_row: return d.heads_per_chunk;
    case RecordDim::warp_row: return d.rows_per_warp;
    case RecordDim::load_element: return d.max_dequantized_per_load;
  }
  return 0;
}
std::string_view record_dim_name(RecordDim dim);  // "tb", "threads", ...

// A row-major shape over RecordDims: offset(d, i0, i1, ...) is the flat element index.
template <RecordDim... Dims>
struct RecordShape {
  static constexpr int kRank = int(sizeof...(Dims));
  template <typename... Index>
  PAL_HOST_DEVICE static std::int64_t offset(const RecordDims& d, Index... index) {
    static_assert(sizeof...(Index) == sizeof...(Dims), "one index per dimension of the array");
    std::int64_t flat = 0;
    ((flat = flat * extent(d, Dims) + std::int64_t(index)), ...);
    return flat;
  }
};

// ---- the per-token and per-load records ----------------------------------------------------------

// X(field, type, dump, meaning): one token's QK result, written by the leader lane of the thread_group
// that computed it. A dump stores each field as its own tensor (integers widened to I32 / I64).
#define PAL_TOKEN_RECORD_FIELDS(X)                                                                    \
  X(warp, std::int32_t, RecordDumpName("token_warp"), "warp_idx that took this token's kv_block")    \
  X(thread_group, std::int32_t, RecordDumpName("token_thread_group"), "thread_group_idx inside the thread_block") \
  X(lane, std::int32_t, RecordDumpName("token_lane"), "lane of the group's leader inside its warp")  \
  X(iteration, std::int32_t, RecordDumpName("token_iteration"), "iteration of the warp's kv_block loop") \
  X(physical_block, std::int64_t, RecordDumpName("token_physical_block"),                             \
    "physical_block_number read from the block table")                                               \
  X(block_offset, std::int32_t, RecordDumpName("token_block_offset"), "token slot inside the kv_block") \
  X(token_idx, std::int32_t, RecordDumpName("token_idx"), "token position in the sequence")          \
  X(logit, float, RecordDumpName(Stage::qk_logits),                                                   \
    "scale * q.k (+ ALiBi bias); masked tokens store their raw value here")                          \
  X(masked, std::int32_t, RecordDumpName("token_masked"), "1 when token_idx >= seq_len (only in a partial last kv_block)") \
  X(skipped, std::int32_t, RecordDumpName("token_skipped"),                                           \
    "1 when block sparsity skipped the token's kv_block: logit -FLT_MAX, key and value never read")

enum class LoadKind : std::int16_t { none = -1, query = 1, key = 2, value = 3 };

// X(field, type, dump, meaning): one vector load from global memory, in the order the thread issued it.
#define PAL_LOAD_RECORD_FIELDS(X)                                                                      \
  X(element_offset, std::int64_t, RecordDumpName("load_element_offset"),                              \
    "from the tensor's base pointer, in elements (bytes = * element_size)")                           \
  X(iteration, std::int32_t, RecordDumpName("load_iteration"),                                        \
    "loop iteration (query: the q_vecs column i; key/value: kv_block loop)")                          \
  X(kind, LoadKind, RecordDumpName("load_kind"), "query, key or value")                                \
  X(vec_idx, std::int16_t, RecordDumpName("load_vec_idx"),                                            \
    "key: j of k_vecs[j]; value: row i of accs[i]; query: vec_idx")

// Where a recorded value appears in a dump: under a stage's dump name (the stage's headline values,
// next to the reference's), or under a name of its own.
struct RecordDumpName {
  constexpr RecordDumpName(Stage headline_of) : stage(headline_of), is_stage(true) {}
  constexpr RecordDumpName(const char* own_name) : name(own_name) {}
  Stage stage = Stage::prologue;
  bool is_stage = false;
  std::string_view name;
};
std::string_view dump_name(const RecordDumpName& dump);  // resolves a stage through the registry


#define PAL_DECLARE_RECORD_FIELD(field, type, dump, meaning) type field;
struct TokenRecord {
  PAL_TOKEN_RECORD_FIELDS(PAL_DECLARE_RECORD_FIELD)
};
struct LoadRecord {
  PAL_LOAD_RECORD_FIELDS(PAL_DECLARE_RECORD_FIELD)
};
#undef PAL_DECLARE_RECORD_FIELD
static_assert(sizeof(TokenRecord) == 48, "TokenRecord's layout is part of the dump format");
static_assert(sizeof(LoadRecord) == 16, "LoadRecord's layout is part of the dump format");

// ---- the arrays ----------------------------------------------------------------------------------

// X(name, element type, owner, dump, variants, meaning, dims...). The order is the order of the
// arrays in the debug buffer.
#define PAL_RECORD_ARRAYS(X)                                                                                  \
  X(q_vecs, float, Stage::query_load, Stage::query_load, kV1AndV2,                                            \
    "the shared q_vecs array in memory order [THREAD_GROUP_SIZE][NUM_VECS_PER_THREAD][VEC_SIZE]",             \
    thread_block, head_dim)                                                                                   \
  X(tokens, TokenRecord, Stage::qk_logits, "token", kV1AndV2, "every token slot's QK record",                 \
    thread_block, token_slot)                                                                                 \
  X(qk_max_warp, float, Stage::qk_max, "qk_max_warp", kV1AndV2,                                               \
    "every lane's qk_max before the in-warp butterfly and after each step", thread_block, qk_max_warp_state, \
    thread)                                                                                                   \
  X(red_smem_max, float, Stage::qk_max, "red_smem_max", kV1AndV2,                                             \
    "red_smem's max half after the warps wrote it", thread_block, warp)                                       \
  X(qk_max_cross_warp, float, Stage::qk_max, "qk_max_cross_warp", kV1AndV2,                                   \
    "every lane's qk_max before and after each step over the warps' maxima", thread_block,                   \
    cross_warp_state, thread)                                                                                 \
  X(qk_max_block, float, Stage::qk_max, Stage::qk_max, kV1AndV2, "the block-wide max every thread ends with", \
    thread_block)                                                                                             \
  X(exp_values, float, Stage::exp_sum, "exp_values", kV1AndV2, "exp(logit - max) of every token slot",        \
    thread_block, token_slot)                                                                                 \
  X(exp_sum_warp, float, Stage::exp_sum, "exp_sum_warp", kV1AndV2,                                            \
    "every lane's partial sum before the in-warp butterfly and after each step", thread_block,               \
    sum_warp_state, thread)                                                                                   \
  X(red_smem_sum, float, Stage::exp_sum, "red_smem_sum", kV1AndV2, "red_smem's sum half", thread_block, warp) \
  X(exp_sum_cross_warp, float, Stage::exp_sum, "exp_sum_cross_warp", kV1AndV2,                                \
    "every lane's sum before and after each step over the warps' sums", thread_block, cross_warp_state,      \
    thread)                                                                                                   \
  X(exp_sum_block, float, Stage::exp_sum, Stage::exp_sum, kV1AndV2, "the block-wide exp sum", thread_block)   \
  X(probs, float, Stage::softmax, Stage::softmax, kV1AndV2, "normalised probabilities", thread_block,         \
    token_slot)                                                                                               \
  X(accs, float, Stage::value_accumulation, "accs", kV1AndV2,                                                 \
    "every lane's row accumulators: after the V loop, after the LV warp reduction, after each tree level",   \
    thread_block, acc_level, thread, row)                                                                     \
  X(out, float, Stage::output, Stage::output, kV1AndV2, "what the thread_block wrote (as float)",             \
    thread_block, head_dim)                                                                                   \
  X(partition_max_logit, float, Stage::softmax, "partition_max_logit", kV1AndV2,                              \
    "the thread_block's softmax state: its max (what v2 publishes in max_logits)", thread_block)              \
  X(partition_exp_sum, float, Stage::softmax, "partition_exp_sum", kV1AndV2,                                  \
    "the thread_block's softmax state: its raw exp sum (v2's exp_sums)", thread_block)                        \
  X(reduce_max_logit, float, Stage::partition_reduce, "reduce_max_logit", kV2Only,                            \
    "the reduce kernel's global max over the partitions", seq_head)                                           \
  X(reduce_rescaled_exp_sums, float, Stage::partition_reduce, "reduce_rescaled_exp_sums", kV2Only,            \
    "each partition's exp_sum moved onto the global max: exp_sum_p * exp(max_p - max)", seq_head, partition)  \
  X(reduce_global_exp_sum, float, Stage::partition_reduce, "reduce_global_exp_sum", kV2Only,                  \
    "the sum of the rescaled exp sums", seq_head)                                                             \
  X(loads, LoadRecord, Check::load_addresses, "load", kV1AndV2,                                               \
    "every global load of every thread, in issue order", thread_block, thread, load)                          \
  X(load_counts, std::int32_t, Check::load_addresses, "load_count", kV1AndV2,                                 \
    "how many loads each thread issued", thread_block, thread)                                                \
  X(grouped_logits, float, Stage::qk_logits, "grouped_logits", kGroupedOnly,                                  \
    "scale * q.k (+ ALiBi) of each (step, head, token); -inf past the split's end", grouped_block, split_step, \
    block_row, step_token)                                                                                    \
  X(grouped_step_max, float, Stage::online_softmax, "grouped_step_max", kGroupedOnly,                         \
    "the largest logit of each step and head", grouped_block, split_step, block_row)                          \
  X(grouped_running_max, float, Stage::online_softmax, "grouped_running_max", kGroupedOnly,                   \
    "the warp's running max after each step", grouped_block, split_step, block_row)                           \
  X(grouped_rescale, float, Stage::online_softmax, "grouped_rescale", kGroupedOnly,                           \
    "exp(previous running max - running max): what the old sum and accumulators were multiplied by",         \
    grouped_block, split_step, block_row)                                                                     \
  X(grouped_probs, float, Stage::online_softmax, "grouped_probs", kGroupedOnly,                               \
    "exp(logit - running max) rounded to the dtype, as it enters P.V", grouped_block, split_step, block_row,  \
    step_token)                                                                                               \
  X(grouped_warp_max_logit, float, Stage::block_merge, "grouped_warp_max_logit", kGroupedOnly,         \
    "each warp's running max at the end of its steps", grouped_block, warp, warp_row)                         \
  X(grouped_warp_exp_sum, float, Stage::block_merge, "grouped_warp_exp_sum", kGroupedOnly,             \
    "each warp's exp sum at the end of its steps", grouped_block, warp, warp_row)                             \
  X(grouped_warp_acc, float, Stage::block_merge, "grouped_warp_acc", kGroupedOnly,                     \
    "each warp's unnormalised accumulators", grouped_block, warp, warp_row, head_dim)                         \
  X(split_max_logit, float, Stage::block_merge, "split_max_logit", kGroupedOnly,                              \
    "the block's merged max of each head (the split's state)", grouped_block, block_row)                      \
  X(split_exp_sum, float, Stage::block_merge, "split_exp_sum", kGroupedOnly,                                  \
    "the block's merged exp sum of each head", grouped_block, block_row)                                      \
  X(grouped_out, float, Stage::output, "grouped_out", kGroupedOnly,                                           \
    "what the block wrote (as float): the output, or the split's normalised partial output", grouped_block,   \
    block_row, head_dim)                                                                                      \
  X(grouped_copies, LoadRecord, Stage::kv_tile_load, "grouped_copy", kGroupedOnly,                             \
    "every cp.async of K or V that reads the cache, per thread in issue order: element_offset in k_cache or "  \
    "v_cache, iteration = the tile, kind = key or value, vec_idx = the source bytes (16, fewer at a "           \
    "sequence's end); zero-byte copies (past the split) are not recorded", grouped_block, thread, load)        \
  X(grouped_copy_counts, std::int32_t, Stage::kv_tile_load, "grouped_copy_count", kGroupedOnly,                 \
    "how many cache-reading copies each thread issued", grouped_block, thread)                                \
  X(merge_max_logit, float, Stage::split_merge, "merge_max_logit", kGroupedOnly,                              \
    "split_merge's merged max over the splits (sequences with several)", seq_head)                           \
  X(merge_exp_sum, float, Stage::split_merge, "merge_exp_sum", kGroupedOnly,                                  \
    "split_merge's merged exp sum", seq_head)                                                                 \
  X(merge_out, float, Stage::split_merge, "merge_out", kGroupedOnly, "what split_merge wrote (as float)",     \
    seq_head, head_dim) \
  X(dequantized_kv, float, Check::dequantized_kv, "dequantized_kv", kV1AndV2,                                 \
    "fp8 caches: what each K/V load of loads[] produced after dequantisation, in the query dtype (as "        \
    "floats), element e of the vec at [e]; query loads and an auto cache record nothing here",               \
    thread_block, thread, load, load_element)

// RecordDim::a, RecordDim::b, ... for the dims of an entry (up to four).
#define PAL_RECORD_DIM_LIST_1(a) RecordDim::a
#define PAL_RECORD_DIM_LIST_2(a, b) RecordDim::a, RecordDim::b
#define PAL_RECORD_DIM_LIST_3(a, b, c) RecordDim::a, RecordDim::b, RecordDim::c
#define PAL_RECORD_DIM_LIST_4(a, b, c, d) RecordDim::a, RecordDim::b, RecordDim::c, RecordDim::d
#define PAL_RECORD_DIM_LIST_PICK(_1, _2, _3, _4, list, ...) list
#define PAL_RECORD_DIM_LIST(...)                                                                       \
  PAL_RECORD_DIM_LIST_PICK(__VA_ARGS__, PAL_RECORD_DIM_LIST_4, PAL_RECORD_DIM_LIST_3, PAL_RECORD_DIM_LIST_2, \
                           PAL_RECORD_DIM_LIST_1, unused)                                              \
  (__VA_ARGS__)

enum class RecordArray : std::uint8_t {
#define PAL_RECORD_ARRAY_ENUM(name, ...) name,
  PAL_RECORD_ARRAYS(PAL_RECORD_ARRAY_ENUM)
#undef PAL_RECORD_ARRAY_ENUM
};
#define PAL_RECORD_ARRAY_COUNT(...) +1
inline constexpr int kNumRecordArrays = 0 PAL_RECORD_ARRAYS(PAL_RECORD_ARRAY_COUNT);
#undef PAL_RECORD_ARRAY_COUNT

// What an element of an array is, for readers that handle arrays generically.
enum class RecordElement : std::uint8_t { f32, i32, token_record, load_record };

struct RecordArrayInfo {
  RecordArray array;
  std::string_view name;
  RecordElement element;
  int element_bytes;
  StageOrCheck owner;  // the stage that records it, or the check that reads it
  RecordDumpName dump;
  VariantSet variants;
  std::string_view meaning;
  int rank;
  RecordDim dims[4];
};
const RecordArrayInfo& record_array_info(RecordArray array);
// The array's shape for these dims: all extents 0 when dims.version does not record it.
struct RecordArrayShape {
  int rank = 0;
  std::int64_t extents[4] = {0, 0, 0, 0};
  std::int64_t numel() const;
};
RecordArrayShape record_array_shape(RecordArray array, const RecordDims& dims);
bool records_array(const RecordDims& dims, RecordArray array);  // whether dims.version records it

// The element type and the shape type of each array, for compile-time use (the probe, the views).
template <RecordArray A>
struct RecordArrayTraits;
#define PAL_RECORD_ARRAY_TRAITS(name, type, owner, dump, variants, meaning, ...) \
  template <>                                                                    \
  struct RecordArrayTraits<RecordArray::name> {                                  \
    using element = type;                                                        \
    using shape = RecordShape<PAL_RECORD_DIM_LIST(__VA_ARGS__)>;                 \
  };
PAL_RECORD_ARRAYS(PAL_RECORD_ARRAY_TRAITS)
#undef PAL_RECORD_ARRAY_TRAITS

// Plain pointers into the debug buffer, passed by value to the kernel; `<name>_at(indices...)` is the
// element at those indices of the array's shape.
struct RecordPointers {
  RecordDims dims;
#define PAL_RECORD_POINTER(name, type, owner, dump, variants, meaning, ...)                          \
  type* name;                                                                                        \
  template <typename... Index>                                                                       \
  PAL_HOST_DEVICE type& name##_at(Index... index) const {                                            \
    return name[RecordArrayTraits<RecordArray::name>::shape::offset(dims, index...)];               \
  }
  PAL_RECORD_ARRAYS(PAL_RECORD_POINTER)
#undef PAL_RECORD_POINTER
};

}  // namespace pal
