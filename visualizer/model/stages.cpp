#include "visualizer/model/stages.h"

namespace pal::viz {

Stage stage_of(StepKind kind) {
  switch (kind) {
    case StepKind::query_load: return Stage::query_load;
    case StepKind::qk_iteration: return Stage::qk_logits;
    case StepKind::qk_max_warp_xor:
    case StepKind::qk_max_red_smem:
    case StepKind::qk_max_cross_warp_xor:
    case StepKind::qk_max_broadcast: return Stage::qk_max;
    case StepKind::exp_pass:
    case StepKind::exp_sum_warp_xor:
    case StepKind::exp_sum_red_smem:
    case StepKind::exp_sum_cross_warp_xor:
    case StepKind::exp_sum_broadcast: return Stage::exp_sum;
    case StepKind::normalize_pass: return Stage::softmax;
    case StepKind::v_iteration: return Stage::value_accumulation;
    case StepKind::lv_warp_xor: return Stage::lv_warp_reduction;
    case StepKind::tree_write:
    case StepKind::tree_accumulate: return Stage::cross_warp_tree;
    case StepKind::output_write: return Stage::output;
    case StepKind::reduce_max:
    case StepKind::reduce_rescale:
    case StepKind::reduce_output: return Stage::partition_reduce;
    case StepKind::tile_copies: return Stage::kv_tile_load;
    case StepKind::tile_wait: return Stage::kv_tile_wait;
    case StepKind::grouped_qk_step: return Stage::qk_logits;
    case StepKind::grouped_softmax_step: return Stage::online_softmax;
    case StepKind::grouped_pv_step: return Stage::value_accumulation;
    case StepKind::grouped_block_merge: return Stage::block_merge;
    case StepKind::grouped_output: return Stage::output;
    case StepKind::grouped_split_merge: return Stage::split_merge;
  }
  return Stage::query_load;
}

std::string_view stage_title(Stage stage) { return stage_info(stage).title; }

}  // namespace pal::viz
