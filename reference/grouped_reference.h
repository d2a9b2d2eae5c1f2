// The scalar reference of the grouped decode kernel (kernels/grouped_attention_kernel.h): plain
// loops, one function per stage, following the kernel's decomposition (the plan's splits, the warps'
// row tiles and token slices, the 16-token steps) so that every intermediate the kernel has (each
// step's logits, maxima, rescale factors and probabilities, each warp's state and accumulators, each
// block's merged state, each split's state and partial output) has a value here to compare with.
//
// What it shares with the kernel, on purpose: the decomposition (kernels/grouped_geometry.h and the
// plan of kernels/split_planner.h: which tokens a warp computes, in which order) and the merge
// formulas (core/softmax_merge.h). What it does not share: every K/V read goes through the paged
// reference's own gathers (key_gather / value_gather, reference/paged_reference.h) and every logit
// through its qk_logits, in head-dim order with sequential fp32 sums; no tiles, swizzles, fragments
// or shared memory. The dense oracle (reference/dense_oracle.h) then judges the result.
//
// Numerics, as the kernel's: fp32 everywhere; each probability is exp(logit - running max) of its
// step, rounded to the dtype before it meets V (upstream's rounding point, applied to the online
// softmax's running max instead of the final max); the block's output is acc / exp_sum with no
// epsilon (exp_sum >= 1); a split's partial output stays fp32; split_merge rounds once to the dtype.
// The kernel differs from this only in the order of its fp32 sums (the mma's accumulation, lane
// partial sums) and in the GPU's __expf; tests/kernels states the tolerance.
#pragma once

#include <cstdint>
#include <vector>

#include "core/inputs.h"
#include "core/scenario.h"
#include "core/softmax_state.h"
#include "core/tensor.h"
#include "kernels/geometry.h"
#include "kernels/split_planner.h"

namespace pal {

// ---- Stage functions ------------------------------------------------------------------------------

// The tokens of split `split_idx` of a sequence: kv_blocks [split * kv_blocks_per_split, ...) cut at
// the sequence's end; empty (num_tokens() == 0) when the split starts past it.
TokenRange grouped_split_range(int seq_len, int block_size, const GroupedPlan& plan, int split_idx);

// The steps (16 tokens each, counted from the split's first token) that token slice `token_slice`
// computes, in order: every num_token_slices-th step that starts before the split's end.
std::vector<int> grouped_warp_steps(const TokenRange& split_range, const GroupedPlan& plan, int token_slice);

// One warp's online softmax over its steps for the query heads of its row tile: for each step, the
// logits (qk_logits), the step's maximum, the running maximum and the rescale of the old state
// (online_softmax), the rounded probabilities and the updated accumulators (value_accumulation).
struct GroupedStepStages {
  int step_idx = 0;
  int first_token_idx = 0;
  std::vector<float> logits;        // [rows, 16]  scale * q.k + ALiBi; -inf past the split's end
  std::vector<float> step_max;      // [rows]
  std::vector<float> running_max;   // [rows]  after this step
  std::vector<float> rescale;       // [rows]  exp(previous running max - running max)
  std::vector<float> probs;         // [rows, 16]  exp(logit - running max) rounded to the dtype; 0 past the end
  std::vector<float> running_sum;   // [rows]  of the fp32 probabilities, after this step
};
struct GroupedWarpStages {
  int warp_idx = 0;
  int row_tile = 0;
  int token_slice = 0;
  int first_row = 0;  // in the block
  int num_rows = 0;   // query heads of the warp (0 for a padding warp)
  std::vector<GroupedStepStages> steps;
  std::vector<SoftmaxState> states;  // [num_rows] at the end of the warp's range
  std::vector<float> acc;            // [num_rows, head_size] unnormalised
};
GroupedWarpStages grouped_warp_online_softmax(const Inputs& inputs, const GroupedPlan& plan, DType dtype, int seq_idx,
                                              int kv_head_idx, int first_head_idx, int num_block_heads,
                                              const TokenRange& split_range, int warp_idx);

// block_merge and output of one thread_block: each query head's token slices merged
// (core/softmax_merge.h), the merged state, and the normalised output acc / exp_sum (fp32).
struct GroupedBlockStages {
  int seq_idx = 0;
  int kv_head_idx = 0;
  int head_chunk_idx = 0;
  int split_idx = 0;
  int first_head_idx = 0;
  int num_heads = 0;  // of this block
  TokenRange range{0, 0, 0, 0};
  std::vector<GroupedWarpStages> warps;  // [kGroupedNumWarps]
  std::vector<SoftmaxState> merged;      // [num_heads]
  std::vector<float> out;                // [num_heads, head_size] normalised, fp32
};
void grouped_block_merge(GroupedBlockStages& block, const GroupedPlan& plan, int head_size);

// split_merge of one (seq, head): the merged state of its splits and the output, rounded to the
// dtype (core/softmax_merge.h's weights). With one split the block's output is the output.
struct GroupedSplitMerge {
  int num_splits = 0;                // active splits of the sequence
  SoftmaxState merged{0.0f, 0.0f};
  std::vector<float> weights;        // [num_splits] each split's share
  std::vector<float> output;         // [head_size] rounded to the dtype
};
GroupedSplitMerge grouped_split_merge(const std::vector<SoftmaxState>& split_states,
                                      const std::vector<std::vector<float>>& split_outputs, DType dtype);

// ---- The whole kernel, every stage kept -----------------------------------------------------------

struct GroupedReferenceRun {
  GroupedPlan plan;
  DType dtype = DType::fp32;
  int num_seqs = 0;
  int num_heads = 0;
  int head_size = 0;
  std::vector<GroupedBlockStages> blocks;        // every thread_block that has tokens
  std::vector<GroupedSplitMerge> merges;         // [seq * num_heads + head]
  std::vector<SoftmaxState> split_states;        // [num_seqs, num_heads, num_splits]; {-inf, 0} when inactive
  std::vector<float> partial_out;                // [num_seqs, num_heads, num_splits, head_size]; NaN when inactive
  std::vector<int> active_splits;                // [num_seqs]
  Tensor output;                                 // [num_seqs, num_heads, head_size] dtype

  float output_at(int seq_idx, int head_idx, int dim) const;
  const SoftmaxState& split_state(int seq_idx, int head_idx, int split_idx) const;
  float partial_at(int seq_idx, int head_idx, int split_idx, int dim) const;
};

// Validates the scenario and inputs (ScenarioError naming the problem), then runs every stage of
// every thread_block of `plan` (normally the plan the kernel ran with: GroupedRun::plan).
GroupedReferenceRun grouped_reference(const Scenario& scenario, const Inputs& inputs, const GroupedPlan& plan);

}  // namespace pal
