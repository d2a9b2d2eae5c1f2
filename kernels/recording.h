// The debug buffer that the recording probe fills: every intermediate of every thread_block.
//
// Layout: one byte buffer holding the arrays below back to back (RecordLayout gives the offsets), so
// the GPU and the emulator fill the same bytes and one copy brings a GPU recording to the host. The
// buffer starts filled with 0xFF bytes: an unwritten float reads as NaN and an unwritten int as -1,
// so anything the kernel did not record is visible as such.
//
// Indexing conventions (shared by the probe, pal-run, the visualizer and the tests):
//   tb      = (seq_idx * num_heads + head_idx) * max_num_partitions + partition_idx
//             (v1: max_num_partitions == 1, partition_idx == 0)
//   sh      = seq_idx * num_heads + head_idx                  (reduce kernel records)
//   t       = token_idx - start_token_idx                     (token slot inside the thread_block)
//   thread  = threadIdx.x in [0, num_threads)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/host_device.h"
#include "kernels/geometry.h"

namespace pal {

struct Scenario;

// One token's QK result, written by the leader lane of the thread_group that computed it.
struct TokenRecord {
  std::int32_t warp;          // warp_idx that took this token's kv_block
  std::int32_t thread_group;  // thread_group_idx inside the thread_block
  std::int32_t lane;          // lane of the group's leader inside its warp
  std::int32_t iteration;     // iteration of the warp's kv_block loop
  std::int64_t physical_block;  // physical_block_number read from the block table
  std::int32_t block_offset;  // token slot inside the kv_block
  std::int32_t token_idx;     // token position in the sequence
  float logit;                // scale * q.k (+ ALiBi bias); masked tokens store their raw value here
  std::int32_t masked;        // 1 when token_idx >= seq_len (only in a partial last kv_block)
};
static_assert(sizeof(TokenRecord) == 40);

enum class LoadKind : std::int16_t { none = -1, query = 1, key = 2, value = 3 };

// One vector load from global memory, in the order the thread issued it.
struct LoadRecord {
  std::int64_t element_offset;  // from the tensor's base pointer, in elements (bytes = * element_size)
  std::int32_t iteration;       // loop iteration (query: the q_vecs column i; key/value: kv_block loop)
  LoadKind kind;
  std::int16_t vec_idx;         // key: j of k_vecs[j]; value: row i of accs[i]; query: vec_idx
};
static_assert(sizeof(LoadRecord) == 16);

// Sizes of every record array, computed from the scenario before launch.
struct RecordDims {
  int num_seqs = 0;
  int num_heads = 0;
  int max_num_partitions = 1;   // 1 for v1
  int partition_size = 0;       // 0 for v1
  int head_size = 0;
  int block_size = 0;
  int num_threads = 0;
  int num_warps = 0;
  int tokens_per_thread_block = 0;  // v1: max_seq_len rounded up to block_size; v2: partition_size
  int num_qk_max_warp_steps = 0;    // xor steps of the in-warp qk_max butterfly
  int num_cross_warp_steps = 0;     // xor steps over the warps' values (max and sum)
  int num_sum_warp_steps = 0;       // xor steps of the in-warp exp_sum butterfly (log2(32))
  int num_rows_per_thread = 0;
  int num_acc_levels = 0;           // after V loop, after warp reduction, after each tree level
  int max_loads_per_thread = 0;

  PAL_HOST_DEVICE std::int64_t num_thread_blocks() const {
    return std::int64_t(num_seqs) * num_heads * max_num_partitions;
  }
  PAL_HOST_DEVICE std::int64_t num_seq_heads() const { return std::int64_t(num_seqs) * num_heads; }
  PAL_HOST_DEVICE std::int64_t tb_index(int seq_idx, int head_idx, int partition_idx) const {
    return (std::int64_t(seq_idx) * num_heads + head_idx) * max_num_partitions + partition_idx;
  }
};

// Plain pointers into the debug buffer, passed by value to the kernel. Shapes use the notation above.
struct RecordPointers {
  RecordDims dims;
  float* q_vecs;                 // [tb][head_size]: the shared q_vecs array in memory order
                                 //   ([THREAD_GROUP_SIZE][NUM_VECS_PER_THREAD][VEC_SIZE])
  TokenRecord* tokens;           // [tb][tokens_per_thread_block]
  float* qk_max_warp;            // [tb][num_qk_max_warp_steps + 1][num_threads]: before, after each step
  float* red_smem_max;           // [tb][num_warps]: red_smem's max half after the warps wrote it
  float* qk_max_cross_warp;      // [tb][num_cross_warp_steps + 1][num_threads]
  float* qk_max_block;           // [tb]: the block-wide max every thread ends with
  float* exp_values;             // [tb][tokens_per_thread_block]: exp(logit - max)
  float* exp_sum_warp;           // [tb][num_sum_warp_steps + 1][num_threads]: partial sums, butterfly
  float* red_smem_sum;           // [tb][num_warps]: red_smem's sum half
  float* exp_sum_cross_warp;     // [tb][num_cross_warp_steps + 1][num_threads]
  float* exp_sum_block;          // [tb]
  float* probs;                  // [tb][tokens_per_thread_block]: normalised probabilities
  float* accs;                   // [tb][num_acc_levels][num_threads][num_rows_per_thread]
  float* out;                    // [tb][head_size]: what the thread_block wrote (as float)
  float* partition_max_logit;    // [tb]  (v2)
  float* partition_exp_sum;      // [tb]  (v2)
  float* reduce_max_logit;       // [sh]  (v2 reduce kernel)
  float* reduce_rescaled_exp_sums;  // [sh][max_num_partitions]: exp_sum_p * exp(max_p - max)
  float* reduce_global_exp_sum;  // [sh]
  LoadRecord* loads;             // [tb][num_threads][max_loads_per_thread]
  std::int32_t* load_counts;     // [tb][num_threads]
};

struct RecordLayout {
  RecordDims dims;
  struct Array {
    std::size_t offset = 0;  // bytes from the buffer's start (16-byte aligned)
    std::size_t bytes = 0;
  };
  Array q_vecs, tokens, qk_max_warp, red_smem_max, qk_max_cross_warp, qk_max_block, exp_values,
      exp_sum_warp, red_smem_sum, exp_sum_cross_warp, exp_sum_block, probs, accs, out,
      partition_max_logit, partition_exp_sum, reduce_max_logit, reduce_rescaled_exp_sums,
      reduce_global_exp_sum, loads, load_counts;
  std::size_t total_bytes = 0;

  RecordPointers pointers(std::byte* base) const;
};

// The default cap on a recording; a larger scenario is refused before launch with a message that
// says how big it would be and which fields to shrink.
inline constexpr std::size_t kDefaultMaxRecordingBytes = std::size_t(2) << 30;

RecordDims record_dims(const Scenario& scenario);     // for the scenario's resolved version
RecordLayout record_layout(const RecordDims& dims);
// Throws ScenarioError when the layout exceeds max_bytes.
void check_recording_fits(const RecordLayout& layout, std::size_t max_bytes = kDefaultMaxRecordingBytes);

// A recording on the host: owns the buffer, hands out the typed pointers.
class Recording {
 public:
  Recording() = default;
  explicit Recording(const RecordLayout& layout);  // allocates and fills with 0xFF
  Recording(const Recording& other);
  Recording& operator=(const Recording& other);
  Recording(Recording&&) noexcept = default;
  Recording& operator=(Recording&&) noexcept = default;

  const RecordLayout& layout() const { return layout_; }
  const RecordDims& dims() const { return layout_.dims; }
  const RecordPointers& ptr() const { return pointers_; }
  std::byte* data() { return buffer_.data(); }
  const std::byte* data() const { return buffer_.data(); }
  std::size_t size_bytes() const { return buffer_.size(); }
  bool empty() const { return buffer_.empty(); }

 private:
  RecordLayout layout_{};
  std::vector<std::byte> buffer_;
  RecordPointers pointers_{};
};

}  // namespace pal
