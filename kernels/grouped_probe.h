// The grouped kernel's probe interface: a compile-time hook at each stage of the body, as the v1/v2
// kernel's (kernels/probes.h). GroupedNoopProbe's hooks are empty inline functions that the compiler
// removes with their arguments: that build is the production kernel (the GPU's). GroupedRecordingProbe
// writes the grouped_* arrays of the record schema (kernels/record_schema.h): every call records
// values into a slot that exactly one thread writes (the argument list says which slot), so a
// recording needs no atomics. Coordinates are the kernel's: `warp_idx` and `lane` inside the
// thread_block, `row` a query head of the warp's row tile (0..rows_per_warp-1) or of the block
// (row_in_block), `step_idx` a warp step of the split (16 tokens from the split's first token).
#pragma once

#include <cstdint>

#include "core/host_device.h"
#include "kernels/access_site.h"
#include "kernels/probes.h"
#include "kernels/record_schema.h"

namespace pal {

// Which thread_block this is, as the prologue derives it.
struct GroupedBlockCoords {
  int seq_idx;
  int kv_head_idx;
  int head_chunk_idx;
  int split_idx;
  int first_head_idx;  // the block's first query head
  int num_heads;       // query heads of this block (its head chunk)
  int start_token_idx; // the split's tokens, [start, end)
  int end_token_idx;
};

struct GroupedNoopProbe {
  static constexpr bool kRecords = false;
  // prologue (thread_idx: the calling thread)
  PAL_DEVICE PAL_FORCE_INLINE void begin(const GroupedBlockCoords&, int /*thread_idx*/) {}
  // kv_tile_load: one cp.async of tile `tile_idx`: `unit` counts, per kv_block of the tile, K's
  // units then V's; `logical_block_idx` is the sequence's kv_block it copies (past the split's end:
  // a zero-byte copy from the cache's first block); `source_element` the element offset in k_cache
  // or v_cache; called by the thread that issues it.
  PAL_DEVICE PAL_FORCE_INLINE void kv_copy(int /*tile_idx*/, int /*unit*/, int /*logical_block_idx*/,
                                           std::int64_t /*source_element*/, int /*src_bytes*/) {}
  // query_load, tensor cores: register `reg` of the A fragment of k-step `k_step`, in lane `lane`
  // of `warp_idx` (its rows and columns: kernels/simt/fragments.h); CUDA cores: q[row_in_block][dim]
  // as stored in shared memory, by the thread that stored it.
  PAL_DEVICE PAL_FORCE_INLINE void query_fragment(int /*warp_idx*/, int /*lane*/, int /*k_step*/, int /*reg*/,
                                                  std::uint32_t /*bits*/) {}
  PAL_DEVICE PAL_FORCE_INLINE void query_element(int /*row_in_block*/, int /*dim*/, float /*value*/) {}
  // qk_logits: scale * q.k + ALiBi of (row, token of the step), -inf past the split's end; one lane
  // per (row, token).
  PAL_DEVICE PAL_FORCE_INLINE void logit(int /*warp_idx*/, int /*step_idx*/, int /*row*/, int /*token_in_step*/,
                                         float /*value*/) {}
  // online_softmax: the step's maximum, the running maximum after it, and the factor the warp's
  // previous sum and accumulators were multiplied by; one lane per row.
  PAL_DEVICE PAL_FORCE_INLINE void softmax_step(int /*warp_idx*/, int /*step_idx*/, int /*row*/, float /*step_max*/,
                                                float /*running_max*/, float /*rescale*/) {}
  // The probability exp(logit - running max) as it enters P.V (rounded to scalar_t); one lane per
  // (row, token).
  PAL_DEVICE PAL_FORCE_INLINE void probability(int /*warp_idx*/, int /*step_idx*/, int /*row*/,
                                               int /*token_in_step*/, float /*value*/) {}
  // value_accumulation, at the end of the warp's range: its unnormalised accumulator of (row, dim),
  // one lane per pair, and its state per row, one lane per row.
  PAL_DEVICE PAL_FORCE_INLINE void accumulator(int /*warp_idx*/, int /*row*/, int /*dim*/, float /*value*/) {}
  PAL_DEVICE PAL_FORCE_INLINE void warp_state(int /*warp_idx*/, int /*row*/, float /*max_logit*/, float /*exp_sum*/) {}
  // block_merge: the block's merged state of each of its query heads (the thread that merges dim 0).
  PAL_DEVICE PAL_FORCE_INLINE void block_state(int /*row_in_block*/, float /*max_logit*/, float /*exp_sum*/) {}
  // output: what the block writes for (row, dim): the output (one split) or the split's normalised
  // partial output, as float; one thread per pair.
  PAL_DEVICE PAL_FORCE_INLINE void output(int /*row_in_block*/, int /*dim*/, float /*value*/) {}
  // split_merge kernel: one thread_block per (seq, head).
  PAL_DEVICE PAL_FORCE_INLINE void merge_begin(int /*seq_idx*/, int /*head_idx*/, int /*thread_idx*/) {}
  PAL_DEVICE PAL_FORCE_INLINE void merge_state(float /*max_logit*/, float /*exp_sum*/) {}  // thread 0
  PAL_DEVICE PAL_FORCE_INLINE void merge_output(int /*dim*/, float /*value*/) {}
  // The memory-access sites of the profile (kernels/simt/access_profile.h): nothing in this build.
  PAL_DEVICE PAL_FORCE_INLINE void shared_load(const AccessSite&, const void*, int) const {}
  PAL_DEVICE PAL_FORCE_INLINE void shared_store(const AccessSite&, const void*, int) const {}
  PAL_DEVICE PAL_FORCE_INLINE void global_load(const AccessSite&, const void*, const void*, int) const {}
};

// Records into the grouped_* arrays of a recording, or nothing when `record` is null: the emulator
// builds the kernel once with this probe and decides per run (one instantiation per configuration
// instead of two; the emulator's cost is its fibers, not these branches). Each thread's copy keeps
// the coordinates its prologue announced. Hooks for rows past the block's query heads (the padding
// rows of a tensor-core tile) record nothing: no head owns them.
struct GroupedRecordingProbe : AccessProbeHooks {
  static constexpr bool kRecords = true;
  const RecordPointers* record = nullptr;
  // 16-byte units of one kv_block's K (and of its V): a copy's `unit` tells K from V with it
  // (GroupedGeometry::kv_block_units; the emulator backend sets it for the configuration it runs).
  int kv_block_units = 1;
  std::int64_t gb = -1;  // this thread_block's grouped_block index
  int num_block_heads = 0;
  int thread = -1;       // threadIdx.x of the thread that owns this copy of the probe
  int num_copies = 0;    // cache-reading copies this thread issued so far
  std::int64_t merge_sh = -1;  // split_merge: this thread_block's (seq, head)

  PAL_DEVICE PAL_FORCE_INLINE void begin(const GroupedBlockCoords& c, int thread_idx) {
    if (record == nullptr) return;
    gb = record->dims.gb_index(c.seq_idx, c.kv_head_idx, c.head_chunk_idx, c.split_idx);
    num_block_heads = c.num_heads;
    thread = thread_idx;
    record->grouped_copy_counts_at(gb, thread) = 0;
  }
  PAL_DEVICE PAL_FORCE_INLINE void kv_copy(int tile_idx, int unit, int /*logical_block_idx*/, std::int64_t source_element,
                                           int src_bytes) {
    if (record == nullptr || src_bytes == 0) return;  // a zero-byte copy reads no memory
    if (num_copies < record->dims.max_loads_per_thread) {
      const LoadKind kind = (unit / kv_block_units) % 2 == 0 ? LoadKind::key : LoadKind::value;
      record->grouped_copies_at(gb, thread, num_copies) =
          LoadRecord{source_element, tile_idx, kind, static_cast<std::int16_t>(src_bytes)};
    }
    ++num_copies;
    record->grouped_copy_counts_at(gb, thread) = num_copies;
  }
  PAL_DEVICE PAL_FORCE_INLINE void query_fragment(int, int, int, int, std::uint32_t) {}
  PAL_DEVICE PAL_FORCE_INLINE void query_element(int, int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void logit(int warp_idx, int step_idx, int row, int token_in_step, float value) {
    const int block_row = block_row_of(warp_idx, row);
    if (recordable(block_row, step_idx)) record->grouped_logits_at(gb, step_idx, block_row, token_in_step) = value;
  }
  PAL_DEVICE PAL_FORCE_INLINE void softmax_step(int warp_idx, int step_idx, int row, float step_max, float running_max,
                                                float rescale) {
    const int block_row = block_row_of(warp_idx, row);
    if (!recordable(block_row, step_idx)) return;
    record->grouped_step_max_at(gb, step_idx, block_row) = step_max;
    record->grouped_running_max_at(gb, step_idx, block_row) = running_max;
    record->grouped_rescale_at(gb, step_idx, block_row) = rescale;
  }
  PAL_DEVICE PAL_FORCE_INLINE void probability(int warp_idx, int step_idx, int row, int token_in_step, float value) {
    const int block_row = block_row_of(warp_idx, row);
    if (recordable(block_row, step_idx)) record->grouped_probs_at(gb, step_idx, block_row, token_in_step) = value;
  }
  PAL_DEVICE PAL_FORCE_INLINE void accumulator(int warp_idx, int row, int dim, float value) {
    if (recordable(block_row_of(warp_idx, row), 0)) record->grouped_warp_acc_at(gb, warp_idx, row, dim) = value;
  }
  PAL_DEVICE PAL_FORCE_INLINE void warp_state(int warp_idx, int row, float max_logit, float exp_sum) {
    if (!recordable(block_row_of(warp_idx, row), 0)) return;
    record->grouped_warp_max_logit_at(gb, warp_idx, row) = max_logit;
    record->grouped_warp_exp_sum_at(gb, warp_idx, row) = exp_sum;
  }
  PAL_DEVICE PAL_FORCE_INLINE void block_state(int row_in_block, float max_logit, float exp_sum) {
    if (!recordable(row_in_block, 0)) return;
    record->split_max_logit_at(gb, row_in_block) = max_logit;
    record->split_exp_sum_at(gb, row_in_block) = exp_sum;
  }
  PAL_DEVICE PAL_FORCE_INLINE void output(int row_in_block, int dim, float value) {
    if (recordable(row_in_block, 0)) record->grouped_out_at(gb, row_in_block, dim) = value;
  }
  PAL_DEVICE PAL_FORCE_INLINE void merge_begin(int seq_idx, int head_idx, int /*thread_idx*/) {
    if (record != nullptr) merge_sh = record->dims.sh_index(seq_idx, head_idx);
  }
  PAL_DEVICE PAL_FORCE_INLINE void merge_state(float max_logit, float exp_sum) {
    if (record == nullptr) return;
    record->merge_max_logit_at(merge_sh) = max_logit;
    record->merge_exp_sum_at(merge_sh) = exp_sum;
  }
  PAL_DEVICE PAL_FORCE_INLINE void merge_output(int dim, float value) {
    if (record != nullptr) record->merge_out_at(merge_sh, dim) = value;
  }

 private:
  // A warp's row tile is warp_idx % row_tiles (warps are laid out [token_slice][row_tile]).
  PAL_DEVICE PAL_FORCE_INLINE int block_row_of(int warp_idx, int row) const {
    return record == nullptr ? -1 : (warp_idx % record->dims.row_tiles) * record->dims.rows_per_warp + row;
  }
  PAL_DEVICE PAL_FORCE_INLINE bool recordable(int block_row, int step_idx) const {
    return record != nullptr && block_row >= 0 && block_row < num_block_heads && step_idx >= 0 &&
           step_idx < record->dims.num_split_steps;
  }
};

}  // namespace pal
