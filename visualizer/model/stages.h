// The finer steps of the visualizer's timeline, each inside one stage of the kernel.
//
// The stages themselves (their names, titles and docs chapters) are the registry's,
// kernels/stage_registry.h. A StepKind is one thing that happens inside a stage: one warp iteration,
// one butterfly exchange, one level of the cross-warp tree; for the grouped kernel one tile's copies
// or one warp's 16-token step. The prologue has no step of its own (it
// is index arithmetic; the first step is query_load).
#pragma once

#include <string_view>

#include "kernels/stage_registry.h"

namespace pal::viz {

enum class StepKind : unsigned char {
  query_load,            // one pass of the q_vecs copy loop (usually the only one)
  qk_iteration,          // every warp takes its next kv_block; each thread_group computes one token's q.k
  qk_max_warp_xor,       // one xor exchange of the in-warp qk_max butterfly
  qk_max_red_smem,       // lane 0 of each warp writes its warp's max to red_smem
  qk_max_cross_warp_xor, // one xor exchange over the warps' maxima
  qk_max_broadcast,      // lane 0's value becomes every thread's block max
  exp_pass,              // one stride of exp(logit - max) over the tokens
  exp_sum_warp_xor,      // one xor exchange of the in-warp exp_sum butterfly
  exp_sum_red_smem,
  exp_sum_cross_warp_xor,
  exp_sum_broadcast,
  normalize_pass,        // one stride of p = e / (exp_sum + eps)
  v_iteration,           // every warp takes its next kv_block of V and accumulates p . v per row
  lv_warp_xor,           // one xor exchange adding the token slices of a row (or "no exchange needed")
  tree_write,            // one tree level: the upper half of the active warps writes to out_smem
  tree_accumulate,       //   ... and the lower half adds it to its accumulators
  output_write,          // warp 0 writes the head's output (v2: the partition's partial output)
  reduce_max,            // v2 reduce: the global max over the partitions' maxima
  reduce_rescale,        // v2 reduce: each partition's exp_sum moved onto the global max, summed
  reduce_output,         // v2 reduce: the partial outputs weighted by their share (or copied)
  // The grouped kernel (kernels/grouped_attention_kernel.h): one thread_block per (KV head, seq, split).
  tile_copies,           // cp.async copies of one tile of kv_blocks issued (the pipeline's fill, then one per wait)
  tile_wait,             // wait for the oldest tile in flight and the barrier: the tile is in shared memory
  grouped_qk_step,       // one warp's 16-token step: the logits of its query heads
  grouped_softmax_step,  //   ... the step's max, the running max, the rescale of the old state, the probabilities
  grouped_pv_step,       //   ... the probabilities times the step's V rows added to the accumulators
  grouped_block_merge,   // the warps' states and accumulators merged per query head
  grouped_output,        // the block writes the output, or its split's partial output and state
  grouped_split_merge,   // the second kernel merges the sequence's splits
};

Stage stage_of(StepKind kind);                  // the registry stage the step belongs to
std::string_view stage_title(Stage stage);      // the registry's title: "qk_max: the thread_block's largest logit"

}  // namespace pal::viz
