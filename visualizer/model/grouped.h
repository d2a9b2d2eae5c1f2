// The grouped kernel's views (kernels/grouped_attention_kernel.h, chapter 13): what the panels show
// of a grouped run for the query head in focus.
//
// Where the facts come from, each from one place: which thread_block, warp and steps computed a
// query head is the decomposition the grouped reference shares with the kernel (the plan of
// kernels/split_planner.h, reference/grouped_reference.h's blocks and warps, built from
// kernels/grouped_geometry.h); every value is the recording's (the grouped_* arrays of
// kernels/record_schema.h) beside the reference's; which bytes a thread copied is its recorded
// cp.async list (grouped_copies). Nothing here re-derives a thread -> data mapping.
//
// Vocabulary as in kernels/grouped_geometry.h: a block_row is a query head of the thread_block; a
// split a range of kv_blocks of one sequence; a tile the kv_blocks of one pipeline stage; a step 16
// tokens one warp computes at once.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/grouped_reference.h"
#include "visualizer/model/coalescing.h"
#include "visualizer/model/session.h"
#include "visualizer/model/timeline.h"

namespace pal::viz {

// The grouped thread_block of (seq, head, split) and the head's row in it; null when the split has
// no tokens of the sequence (it exits at once). Throws ScenarioError when seq / head are out of range
// or the run is not grouped.
struct GroupedHeadBlock {
  const GroupedBlockStages* block = nullptr;  // the reference's block (its range, its warps)
  std::int64_t gb = 0;                        // the recording's grouped_block index
  int block_row = 0;                          // head - block->first_head_idx
};
GroupedHeadBlock grouped_head_block(const Session& session, int seq_idx, int head_idx, int split_idx);
// The splits of the sequence that have tokens ([0, n)); 1 when it fits in one split.
int grouped_active_splits(const Session& session, int seq_idx);

// One token of the head in focus: what the kernel recorded for it and what the reference has.
struct GroupedToken {
  int token_idx = 0;
  int split_idx = 0;
  int step_idx = 0;        // the split's 16-token step that holds it
  int warp_idx = 0;        // the warp that computed the step
  float logit = 0.0f;      // kernel: scale * q.k (+ ALiBi)
  float prob = 0.0f;       // kernel: exp(logit - running max of its step), rounded to the dtype
  float running_max = 0.0f;  // kernel: the warp's running max after the step
  float reference_logit = 0.0f;
  float reference_prob = 0.0f;
  float reference_running_max = 0.0f;
};
// Every token of the sequence, in token order.
std::vector<GroupedToken> grouped_head_tokens(const Session& session, int seq_idx, int head_idx);

// block_merge and split_merge for the head in focus: each warp's state at the end of its steps, the
// block's merged state (the split's), and with several splits the split_merge's merged state.
struct GroupedWarpStateRow {
  int warp_idx = 0;
  int token_slice = 0;
  int num_steps = 0;
  float max_logit = 0.0f, exp_sum = 0.0f;                      // kernel
  float reference_max_logit = 0.0f, reference_exp_sum = 0.0f;  // reference
};
struct GroupedSplitStates {
  int split_idx = 0;
  TokenRange range{0, 0, 0, 0};
  std::vector<GroupedWarpStateRow> warps;  // the warps of the head's row tile
  float max_logit = 0.0f, exp_sum = 0.0f;  // the block's merged state (kernel)
  float reference_max_logit = 0.0f, reference_exp_sum = 0.0f;
};
struct GroupedMergeView {
  std::vector<GroupedSplitStates> splits;  // active splits
  bool has_split_merge = false;            // several splits: split_merge ran for this sequence
  float merged_max_logit = 0.0f, merged_exp_sum = 0.0f;                      // kernel (split_merge)
  float reference_merged_max_logit = 0.0f, reference_merged_exp_sum = 0.0f;  // reference
  std::vector<float> reference_weights;  // [splits] each split's share of the output (reference)
};
GroupedMergeView grouped_merge_view(const Session& session, int seq_idx, int head_idx);

// The cp.async copies of the thread_blocks that hold (seq, head), as warp-wide instructions: the
// i-th recorded copy of each lane of a warp in one tile forms one instruction (partition_idx = the
// split, iteration = the tile, trip = i). Zero-byte copies are not recorded, so a lane missing from
// an instruction copied nothing there.
std::vector<WarpLoad> grouped_warp_copies(const Session& session, int seq_idx, int head_idx);

// The K/V pipeline of one split's thread_block: each tile, the shared-memory stage it lands in
// (tile % num_stages), and the kv_blocks its copies read.
struct GroupedTile {
  int split_idx = 0;
  int tile_idx = 0;
  int stage_idx = 0;
  std::vector<int> logical_blocks;   // ascending
  std::vector<int> physical_blocks;  // [logical_blocks.size()]: block_tables[seq][logical]
  std::int64_t key_bytes = 0, value_bytes = 0;  // copied from the cache
  int num_copies = 0;
};
struct GroupedPipeline {
  int num_stages = 0;
  int tile_tokens = 0;
  int tile_bytes = 0;        // K + V of one stage in shared memory
  int shared_bytes = 0;      // the block's dynamic shared memory (the plan's)
  std::vector<GroupedTile> tiles;  // (split, tile) order
};
GroupedPipeline grouped_pipeline(const Session& session, int seq_idx, int head_idx);

// The story of (seq, head) in a grouped run: for each split that has tokens, the pipeline's fill, the
// query rows, each tile's wait (and the copies it starts), each 16-token step of the head's warps
// (qk_logits, online_softmax, value_accumulation), block_merge and output; then split_merge when
// the sequence has several splits. Step::partition_idx is the split (-1 for split_merge), index the
// tile or the step. build_timeline calls it for a grouped run.
Timeline build_grouped_timeline(const Session& session, int seq_idx, int head_idx);

}  // namespace pal::viz
