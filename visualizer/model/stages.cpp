#include "visualizer/model/stages.h"

#include <array>

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
  }
  return Stage::query_load;
}

namespace {
struct StageText {
  Stage stage;
  std::string_view name;
  std::string_view title;
};
constexpr std::array<StageText, kNumStages> kStageTexts{{
    {Stage::query_load, "query_load", "query_load: q copied into shared q_vecs"},
    {Stage::qk_logits, "qk_logits", "qk_logits: every token's scaled q.k"},
    {Stage::qk_max, "qk_max", "qk_max: the thread_block's largest logit"},
    {Stage::exp_sum, "exp_sum", "exp_sum: exp(logit - max) and its sum"},
    {Stage::softmax, "softmax", "softmax: probabilities = exp / sum"},
    {Stage::value_accumulation, "value_accumulation", "value_accumulation: probabilities x V rows"},
    {Stage::lv_warp_reduction, "lv_warp_reduction", "lv_warp_reduction: token slices of a row added"},
    {Stage::cross_warp_tree, "cross_warp_tree", "cross_warp_tree: warps folded through shared memory"},
    {Stage::output, "output", "output: warp 0 writes the head's output"},
    {Stage::partition_reduce, "partition_reduce", "partition_reduce: v2 merges the partitions"},
}};
}  // namespace

std::string_view stage_name(Stage stage) { return kStageTexts[static_cast<std::size_t>(stage)].name; }
std::string_view stage_title(Stage stage) { return kStageTexts[static_cast<std::size_t>(stage)].title; }

bool parse_stage(std::string_view text, Stage& stage) {
  for (const StageText& entry : kStageTexts)
    if (entry.name == text) {
      stage = entry.stage;
      return true;
    }
  return false;
}

std::string_view step_kind_name(StepKind kind) {
  switch (kind) {
    case StepKind::query_load: return "query_load";
    case StepKind::qk_iteration: return "qk_iteration";
    case StepKind::qk_max_warp_xor: return "qk_max_warp_xor";
    case StepKind::qk_max_red_smem: return "qk_max_red_smem";
    case StepKind::qk_max_cross_warp_xor: return "qk_max_cross_warp_xor";
    case StepKind::qk_max_broadcast: return "qk_max_broadcast";
    case StepKind::exp_pass: return "exp_pass";
    case StepKind::exp_sum_warp_xor: return "exp_sum_warp_xor";
    case StepKind::exp_sum_red_smem: return "exp_sum_red_smem";
    case StepKind::exp_sum_cross_warp_xor: return "exp_sum_cross_warp_xor";
    case StepKind::exp_sum_broadcast: return "exp_sum_broadcast";
    case StepKind::normalize_pass: return "normalize_pass";
    case StepKind::v_iteration: return "v_iteration";
    case StepKind::lv_warp_xor: return "lv_warp_xor";
    case StepKind::tree_write: return "tree_write";
    case StepKind::tree_accumulate: return "tree_accumulate";
    case StepKind::output_write: return "output_write";
    case StepKind::reduce_max: return "reduce_max";
    case StepKind::reduce_rescale: return "reduce_rescale";
    case StepKind::reduce_output: return "reduce_output";
  }
  return "?";
}

}  // namespace pal::viz
