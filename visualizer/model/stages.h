// The kernel's stages and the finer steps of the visualizer's timeline, named once.
//
// Stage names are the `//! [name]` markers of kernels/paged_attention_kernel.h, so a stage here, the
// recording's arrays, the reference function, the panel that shows it and the docs chapter that
// explains it all carry the same word. A StepKind is one thing that happens inside a stage: one
// warp iteration, one butterfly exchange, one level of the cross-warp tree.
#pragma once

#include <string_view>

namespace pal::viz {

enum class Stage : unsigned char {
  query_load,
  qk_logits,
  qk_max,
  exp_sum,
  softmax,
  value_accumulation,
  lv_warp_reduction,
  cross_warp_tree,
  output,
  partition_reduce,  // v2's second kernel
};
inline constexpr int kNumStages = 10;

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
};

Stage stage_of(StepKind kind);
std::string_view stage_name(Stage stage);       // the marker name: "qk_max"
std::string_view stage_title(Stage stage);      // for people: "qk_max: the block-wide maximum logit"
std::string_view step_kind_name(StepKind kind); // "qk_iteration"
// Parses a stage marker name; false when unknown.
bool parse_stage(std::string_view text, Stage& stage);

}  // namespace pal::viz
