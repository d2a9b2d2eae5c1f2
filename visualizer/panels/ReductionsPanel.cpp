// Reductions panel: the shuffle-xor butterflies with every lane's recorded value at every exchange
// (qk_max and exp_sum, in-warp and across warps through red_smem), the LV warp reduction, the
// cross-warp tree through shared memory, and v2's merge of the partitions' softmax states.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <string>

#include <imgui.h>

#include "core/softmax_state.h"
#include "visualizer/model/derived.h"
#include "visualizer/model/format.h"
#include "visualizer/model/grouped.h"
#include "kernels/record_view.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"
#include "kernels/thread_mapping.h"

namespace pal::viz {

namespace {

constexpr ImU32 kChanged = IM_COL32(250, 215, 120, 255);
constexpr ImU32 kUnchanged = IM_COL32(200, 205, 215, 255);
constexpr ImU32 kNoValue = IM_COL32(70, 70, 78, 255);

ReductionView follow(StepKind kind) {
  switch (kind) {
    case StepKind::query_load:
    case StepKind::qk_iteration:
    case StepKind::qk_max_warp_xor: return ReductionView::qk_max_warp;
    case StepKind::qk_max_red_smem:
    case StepKind::qk_max_cross_warp_xor:
    case StepKind::qk_max_broadcast: return ReductionView::qk_max_cross_warp;
    case StepKind::exp_pass:
    case StepKind::exp_sum_warp_xor: return ReductionView::exp_sum_warp;
    case StepKind::exp_sum_red_smem:
    case StepKind::exp_sum_cross_warp_xor:
    case StepKind::exp_sum_broadcast:
    case StepKind::normalize_pass: return ReductionView::exp_sum_cross_warp;
    case StepKind::v_iteration:
    case StepKind::lv_warp_xor: return ReductionView::lv_warp;
    case StepKind::tree_write:
    case StepKind::tree_accumulate:
    case StepKind::output_write: return ReductionView::tree;
    default: break;
  }
  return ReductionView::partition_merge;
}

// Which column of a butterfly the timeline is at: 0 before its first exchange, s after exchange s,
// the last column once past it.
int column_now(const ViewModel& model, int step, StepKind xor_kind, StepKind before_kind, int partition, int num_steps) {
  const Step& current = model.step(step);
  if (current.kind == xor_kind && current.partition_idx == partition) return current.index;
  const int first = model.timeline().find(xor_kind, partition, 1);
  if (first < 0) return model.reached(step, before_kind, partition, 0) ? num_steps : 0;
  return step < first ? 0 : num_steps;
}

// A butterfly: rows = lanes, columns = states (before, after each exchange). Lines show, for each
// exchange, which lane each value came from.
void butterfly(const char* id, int num_lanes, int num_columns, const std::function<float(int, int)>& value,
               const std::function<int(int)>& mask_of_column, int current, const std::function<bool(float)>& meaningful,
               int selected_lane, const std::vector<std::string>& column_titles) {
  const float cell_w = 74.0f, gap = 26.0f, row_h = 16.0f, left = 56.0f, header = 18.0f;
  const Canvas c = begin_canvas(id, ImVec2(left + float(num_columns) * (cell_w + gap), header + row_h * float(num_lanes) + 4));
  for (int col = 0; col < num_columns; ++col) {
    const float x = left + float(col) * (cell_w + gap);
    c.draw->AddText(c.at(x + 2, 0), col == current ? kSelectionColour : IM_COL32(190, 190, 190, 255),
                    column_titles[static_cast<std::size_t>(col)].c_str());
    if (col > 0) {
      const int mask = mask_of_column(col);
      for (int lane = 0; lane < num_lanes; ++lane) {
        const int partner = lane ^ mask;
        if (partner >= num_lanes) continue;
        const float y_from = header + (float(partner) + 0.5f) * row_h, y_to = header + (float(lane) + 0.5f) * row_h;
        const bool future = col > current;
        c.draw->AddLine(c.at(x - gap, y_from), c.at(x, y_to),
                        lane == selected_lane ? kSelectionColour : IM_COL32(140, 160, 220, future ? 40 : 110), 1.0f);
      }
    }
    for (int lane = 0; lane < num_lanes; ++lane) {
      const float y = header + float(lane) * row_h;
      const float v = value(col, lane);
      const bool changed = col > 0 && v != value(col - 1, lane);
      ImU32 fill = !meaningful(v) ? kNoValue : changed ? kChanged : kUnchanged;
      if (col > current) fill = dimmed(fill, 0.7f);
      draw_cell(c, x, y, x + cell_w, y + row_h - 1, fill, format_value(v, 4).c_str(), lane == selected_lane ? kSelectionColour : 0);
    }
  }
  for (int lane = 0; lane < num_lanes; ++lane)
    c.draw->AddText(c.at(0, header + float(lane) * row_h), lane == selected_lane ? kSelectionColour : IM_COL32(170, 170, 170, 255),
                    ("lane " + std::to_string(lane)).c_str());
}

void red_smem_row(const char* label, int num_warps, const std::function<float(int)>& value, bool written) {
  ImGui::Text("%s", label);
  for (int w = 0; w < num_warps; ++w) {
    ImGui::SameLine();
    ImGui::TextColored(written ? ImVec4(0.98f, 0.85f, 0.45f, 1) : ImVec4(0.5f, 0.5f, 0.5f, 1), "[%d] %s", w,
                       written ? format_value(value(w), 5).c_str() : "-");
  }
}

std::vector<std::string> xor_titles(int columns, const std::function<int(int)>& mask_of_column) {
  std::vector<std::string> titles{"start"};
  for (int col = 1; col < columns; ++col) titles.push_back("xor " + std::to_string(mask_of_column(col)));
  return titles;
}

void draw_tree(const ViewModel& model, UiState& ui, int step, int partition, const ThreadBlockRecord& record) {
  const Session& s = model.session();
  const KernelGeometry g = s.geometry();
  const int levels = g.num_tree_levels();
  ImGui::SetNextItemWidth(200);
  ImGui::SliderInt("head dim", &ui.reduction_row, 0, g.head_size - 1);
  const int dim = std::clamp(ui.reduction_row, 0, g.head_size - 1);
  const int row = ThreadMapping{g}.row_slot(dim);
  const int lane = ThreadMapping{g}.row_writer_lane(dim);
  text_wrapped("Dim %d lives in accs[%d] of lane %d of every warp (after the LV reduction). Each level, the upper half "
                     "of the active warps writes it to out_smem[(warp - mid) * head_size + %d] and the lower half adds it: "
                     "%d warps -> 1 in %d levels. Arrows: what goes through shared memory.",
                     dim, row, lane, dim, g.num_warps(), levels);
  int current_level = -1;  // levels finished
  for (int l = 0; l < levels; ++l)
    if (model.reached(step, StepKind::tree_accumulate, partition, l)) current_level = l;
  const float cell_w = 100.0f, gap = 200.0f, row_h = 34.0f, left = 60.0f;
  const Canvas c = begin_canvas("##tree", ImVec2(left + float(levels + 1) * (cell_w + gap), 20 + row_h * float(g.num_warps()) + 4));
  for (int l = 0; l <= levels; ++l) {
    const float x = left + float(l) * (cell_w + gap);
    c.draw->AddText(c.at(x, 0), l - 1 == current_level ? kSelectionColour : IM_COL32(190, 190, 190, 255),
                    l == 0 ? "after LV" : ("after level " + std::to_string(l)).c_str());
    const int active = g.num_warps() >> l;
    const std::vector<float> smem = l < levels ? out_smem_at_tree_level(s, record.tb(), l) : std::vector<float>{};
    for (int w = 0; w < g.num_warps(); ++w) {
      const float y = 20 + float(w) * row_h;
      if (l == 0) c.draw->AddText(c.at(0, y + 3), IM_COL32(170, 170, 170, 255), ("warp " + std::to_string(w)).c_str());
      const bool live = w < active;
      const float v = record.acc(1 + l, w * kWarpSize + lane, row);
      ImU32 fill = live ? kUnchanged : kNoValue;
      if (l > current_level + 1) fill = dimmed(fill, 0.7f);
      draw_cell(c, x, y, x + cell_w, y + row_h - 3, fill, live ? format_value(v, 5).c_str() : "", 0);
      if (l < levels && w >= active / 2 && w < active) {
        const float tx = x + cell_w + gap, ty = 20 + float(w - active / 2) * row_h + row_h * 0.5f;
        c.draw->AddLine(c.at(x + cell_w, y + row_h * 0.5f), c.at(tx, ty), IM_COL32(240, 180, 90, 200), 1.5f);
        // Label the arrow at its middle with the shared-memory slot it goes through and the value.
        const int smem_row = w - active / 2;
        const float through = smem[static_cast<std::size_t>(smem_row * g.head_size + dim)];
        const std::string label = "out_smem[" + std::to_string(smem_row) + "]: " + format_value(through, 4);
        const ImVec2 size = ImGui::CalcTextSize(label.c_str());
        const ImVec2 mid = c.at(x + cell_w + gap * 0.5f, (y + row_h * 0.5f + ty) * 0.5f);
        c.draw->AddRectFilled(ImVec2(mid.x - size.x * 0.5f - 2, mid.y - size.y * 0.5f - 1),
                              ImVec2(mid.x + size.x * 0.5f + 2, mid.y + size.y * 0.5f + 1), IM_COL32(25, 25, 30, 255));
        c.draw->AddText(ImVec2(mid.x - size.x * 0.5f, mid.y - size.y * 0.5f), IM_COL32(240, 180, 90, 255), label.c_str());
      }
    }
  }
}

void draw_partition_merge(const ViewModel& model) {
  const Session& s = model.session();
  if (!s.is_v2()) {
    text_wrapped("This run is v1: one thread block covers each (sequence, head), so there are no partitions to merge. "
                       "Set version v2 (or seq_lens above 8192 with auto) to see the reduce kernel.");
    return;
  }
  const int seq = model.seq_idx(), head = model.head_idx();
  const int partitions = s.num_partitions(seq);
  const ReduceRecord reduce(s.recording(), s.dims().num_heads * std::int64_t(seq) + head);
  const PartitionReduce& ref = s.reference().reduce(seq, head);
  text_wrapped("Each partition p ran its own softmax over its tokens: max m_p and sum s_p = sum exp(logit - m_p). The "
                     "reduce kernel moves every s_p onto the global max M (s^_p = s_p * exp(m_p - M)) and weights partition "
                     "p's normalised output by s^_p / sum s^. The running state column merges the states one by one with "
                     "SoftmaxState::merged_with (core/softmax_state.h), the same type the kernel uses.");
  if (partitions == 1) ImGui::TextDisabled("seq %d has one partition: the reduce kernel only copies it.", seq);
  if (ImGui::BeginTable("merge", 7, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
    for (const char* title : {"partition", "tokens", "m_p", "s_p", "s^_p (recorded)", "weight", "running state (max, sum)"})
      ImGui::TableSetupColumn(title);
    ImGui::TableHeadersRow();
    SoftmaxState running = SoftmaxState::empty();
    for (int p = 0; p < partitions; ++p) {
      const ThreadBlockRecord record(s.recording(), s.tb_index(seq, head, p));
      const TokenRange range = s.range(seq, p);
      const SoftmaxState state{record.partition_max_logit(), record.partition_exp_sum()};
      running = running.merged_with(state);
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%d", p);
      ImGui::TableNextColumn();
      ImGui::Text("%d-%d", range.start_token_idx, range.end_token_idx - 1);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_value(state.max_logit, 6).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_value(state.exp_sum, 6).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_value(reduce.rescaled_exp_sum(p), 6).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_value(reduce.rescaled_exp_sum(p) / reduce.global_exp_sum(), 4).c_str());
      ImGui::TableNextColumn();
      ImGui::Text("(%s, %s)", format_value(running.max_logit, 6).c_str(), format_value(running.exp_sum, 6).c_str());
    }
    ImGui::EndTable();
  }
  ImGui::Text("global max M = %s (reference %s), global exp sum = %s (reference %s)", format_value(reduce.max_logit(), 6).c_str(),
              format_value(ref.max_logit, 6).c_str(), format_value(reduce.global_exp_sum(), 6).c_str(),
              format_value(ref.global_exp_sum, 6).c_str());
}

// The grouped kernel has no butterflies over a token's lanes: its reductions are block_merge (the
// token slices' online softmax states of each head merged in shared memory) and split_merge (the
// splits' states). Both merge (max, sum) states with core/softmax_merge.h; the running column here
// merges the recorded states one by one with SoftmaxState::merged_with, the same rule.
void draw_grouped_merges(const ViewModel& model, UiState& ui) {
  const Session& s = model.session();
  const int step = model.clamp_step(ui.step);
  const GroupedMergeView view = grouped_merge_view(s, model.seq_idx(), model.head_idx());
  text_wrapped("block_merge: the warps that share head %d's row tile each ran an online softmax over their own 16-token "
               "steps (token slices), ending with a state (max m_w, sum s_w) and unnormalised accumulators. The block "
               "moves each onto the largest max (s_w * exp(m_w - M)) and adds them. With several splits, split_merge "
               "then does the same over the splits' states.",
               model.head_idx());
  for (const GroupedSplitStates& split : view.splits) {
    const bool known = model.reached(step, StepKind::grouped_block_merge, split.split_idx, 0);
    ImGui::Text("split %d (tokens %d-%d)%s", split.split_idx, split.range.start_token_idx, split.range.end_token_idx - 1,
                known ? "" : ": block_merge not reached yet");
    const std::string id = "block_merge" + std::to_string(split.split_idx);
    if (!ImGui::BeginTable(id.c_str(), 6, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg))
      continue;
    for (const char* title : {"warp", "token slice", "steps", "m_w (reference)", "s_w (reference)", "running state (max, sum)"})
      ImGui::TableSetupColumn(title);
    ImGui::TableHeadersRow();
    SoftmaxState running = SoftmaxState::empty();
    for (const GroupedWarpStateRow& warp : split.warps) {
      running = running.merged_with(SoftmaxState{warp.max_logit, warp.exp_sum});
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%d", warp.warp_idx);
      ImGui::TableNextColumn();
      ImGui::Text("%d", warp.token_slice);
      ImGui::TableNextColumn();
      ImGui::Text("%d", warp.num_steps);
      ImGui::TableNextColumn();
      ImGui::Text("%s (%s)", known ? format_value(warp.max_logit, 6).c_str() : "-", format_value(warp.reference_max_logit, 6).c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%s (%s)", known ? format_value(warp.exp_sum, 6).c_str() : "-", format_value(warp.reference_exp_sum, 6).c_str());
      ImGui::TableNextColumn();
      if (known) ImGui::Text("(%s, %s)", format_value(running.max_logit, 6).c_str(), format_value(running.exp_sum, 6).c_str());
      else ImGui::TextUnformatted("-");
    }
    ImGui::EndTable();
    ImGui::Text("merged: max %s, exp_sum %s (reference %s, %s)", known ? format_value(split.max_logit, 6).c_str() : "-",
                known ? format_value(split.exp_sum, 6).c_str() : "-", format_value(split.reference_max_logit, 6).c_str(),
                format_value(split.reference_exp_sum, 6).c_str());
  }
  if (!view.has_split_merge) {
    ImGui::TextDisabled("seq %d fits in one split: block_merge's output is the output, and split_merge leaves it alone.",
                        model.seq_idx());
    return;
  }
  const bool merged = model.reached(step, StepKind::grouped_split_merge, -1, 0);
  ImGui::Separator();
  ImGui::Text("split_merge over %s%s", counted(static_cast<long long>(view.splits.size()), "split").c_str(),
              merged ? "" : ": not reached yet");
  if (ImGui::BeginTable("split_merge", 4, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
    for (const char* title : {"split", "state (max, sum)", "share (reference)", "running state (max, sum)"})
      ImGui::TableSetupColumn(title);
    ImGui::TableHeadersRow();
    SoftmaxState running = SoftmaxState::empty();
    for (std::size_t i = 0; i < view.splits.size(); ++i) {
      const GroupedSplitStates& split = view.splits[i];
      running = running.merged_with(SoftmaxState{split.max_logit, split.exp_sum});
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%d", split.split_idx);
      ImGui::TableNextColumn();
      ImGui::Text("(%s, %s)", format_value(split.max_logit, 6).c_str(), format_value(split.exp_sum, 6).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(i < view.reference_weights.size() ? format_value(view.reference_weights[i], 4).c_str() : "-");
      ImGui::TableNextColumn();
      ImGui::Text("(%s, %s)", format_value(running.max_logit, 6).c_str(), format_value(running.exp_sum, 6).c_str());
    }
    ImGui::EndTable();
  }
  ImGui::Text("split_merge recorded: max %s, exp_sum %s (reference %s, %s)",
              merged ? format_value(view.merged_max_logit, 6).c_str() : "-",
              merged ? format_value(view.merged_exp_sum, 6).c_str() : "-",
              format_value(view.reference_merged_max_logit, 6).c_str(),
              format_value(view.reference_merged_exp_sum, 6).c_str());
}

}  // namespace

void draw_reductions_panel(const ViewModel& model, UiState& ui) {
  if (model.session().is_grouped()) {
    draw_grouped_merges(model, ui);
    return;
  }
  const Session& s = model.session();
  const KernelGeometry g = s.geometry();
  const int step = model.clamp_step(ui.step);
  const int partition = model.partition_of_step(step);
  const ThreadBlockRecord record(s.recording(), model.tb_of_step(step));
  const int num_warps = g.num_warps();

  const char* names[] = {"follow the step", "qk_max in a warp", "qk_max across warps", "exp_sum in a warp",
                         "exp_sum across warps", "LV warp reduction", "cross-warp tree", "v2 partition merge"};
  ImGui::SetNextItemWidth(200);
  int view_index = static_cast<int>(ui.reduction_view);
  if (ImGui::Combo("show", &view_index, names, 8)) ui.reduction_view = static_cast<ReductionView>(view_index);
  const ReductionView view = ui.reduction_view == ReductionView::follow_step ? follow(model.step(step).kind) : ui.reduction_view;
  const int focus = focus_thread(ui);
  if (focus >= 0) ui.reduction_warp = focus / kWarpSize;
  if (view != ReductionView::tree && view != ReductionView::partition_merge) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(120);
    ImGui::SliderInt("warp", &ui.reduction_warp, 0, num_warps - 1);
  }
  const int warp = std::clamp(ui.reduction_warp, 0, num_warps - 1);
  const int selected_lane = focus >= 0 && focus / kWarpSize == warp ? focus % kWarpSize : -1;
  const auto is_value = [](float v) { return v != -FLT_MAX && !std::isnan(v); };

  switch (view) {
    case ReductionView::qk_max_warp: {
      const int steps = g.num_qk_max_warp_steps();
      const auto mask = [](int col) { return (kWarpSize / 2) >> (col - 1); };
      text_wrapped("qk_max inside warp %d: after the QK loop only thread-group leaders (every %d-th lane) hold a max; "
                         "the rest hold -FLT_MAX (dark). Each exchange, lane i takes fmaxf with lane i xor mask; yellow = "
                         "changed. It stops at mask %d because lanes of one group already agree.",
                         warp, g.thread_group_size(), g.thread_group_size());
      butterfly("##qkmax", kWarpSize, steps + 1, [&](int col, int lane) { return record.qk_max_warp(col, warp * kWarpSize + lane); },
                mask, column_now(model, step, StepKind::qk_max_warp_xor, StepKind::qk_max_red_smem, partition, steps), is_value,
                selected_lane, xor_titles(steps + 1, mask));
      break;
    }
    case ReductionView::qk_max_cross_warp: {
      const int steps = g.num_cross_warp_steps();
      const auto mask = [num_warps](int col) { return (num_warps / 2) >> (col - 1); };
      red_smem_row("red_smem[0 .. NUM_WARPS) after lane 0 of each warp wrote:", num_warps,
                   [&](int w) { return record.red_smem_max(w); }, model.reached(step, StepKind::qk_max_red_smem, partition, 0));
      text_wrapped("Then in every warp lanes 0-%d load red_smem[lane] and run a butterfly over those %d values; lane 0 "
                         "ends with the block max and __shfl_sync broadcasts it. Block max = %s.",
                         num_warps - 1, num_warps,
                         model.reached(step, StepKind::qk_max_broadcast, partition, 0) ? format_value(record.qk_max_block(), 6).c_str()
                                                                                      : "(not yet)");
      butterfly("##qkmaxx", num_warps, steps + 1,
                [&](int col, int lane) { return record.qk_max_cross_warp(col, warp * kWarpSize + lane); }, mask,
                column_now(model, step, StepKind::qk_max_cross_warp_xor, StepKind::qk_max_broadcast, partition, steps), is_value,
                selected_lane, xor_titles(steps + 1, mask));
      break;
    }
    case ReductionView::exp_sum_warp: {
      const int steps = s.dims().num_sum_warp_steps;
      const auto mask = [](int col) { return (kWarpSize / 2) >> (col - 1); };
      text_wrapped("exp_sum inside warp %d: each thread starts with the sum of the exp values of its tokens (thread i: "
                         "slots i, i+%d, ...). Five exchanges (xor 16 .. 1) leave the warp's sum in every lane.",
                         warp, s.dims().num_threads);
      butterfly("##expsum", kWarpSize, steps + 1, [&](int col, int lane) { return record.exp_sum_warp(col, warp * kWarpSize + lane); },
                mask, column_now(model, step, StepKind::exp_sum_warp_xor, StepKind::exp_sum_red_smem, partition, steps),
                [](float v) { return !std::isnan(v); }, selected_lane, xor_titles(steps + 1, mask));
      break;
    }
    case ReductionView::exp_sum_cross_warp: {
      const int steps = g.num_cross_warp_steps();
      const auto mask = [num_warps](int col) { return (num_warps / 2) >> (col - 1); };
      red_smem_row("red_smem[NUM_WARPS .. 2*NUM_WARPS):", num_warps, [&](int w) { return record.red_smem_sum(w); },
                   model.reached(step, StepKind::exp_sum_red_smem, partition, 0));
      text_wrapped("Lanes 0-%d load the warps' sums and add them pairwise; lane 0's total is broadcast. exp_sum = %s.",
                         num_warps - 1,
                         model.reached(step, StepKind::exp_sum_broadcast, partition, 0) ? format_value(record.exp_sum_block(), 6).c_str()
                                                                                       : "(not yet)");
      butterfly("##expsumx", num_warps, steps + 1,
                [&](int col, int lane) { return record.exp_sum_cross_warp(col, warp * kWarpSize + lane); }, mask,
                column_now(model, step, StepKind::exp_sum_cross_warp_xor, StepKind::exp_sum_broadcast, partition, steps),
                [](float v) { return !std::isnan(v); }, selected_lane, xor_titles(steps + 1, mask));
      break;
    }
    case ReductionView::lv_warp: {
      const int rows = s.dims().num_rows_per_thread;
      ImGui::SameLine();
      ImGui::SetNextItemWidth(120);
      ImGui::SliderInt("accs row i", &ui.reduction_row, 0, rows - 1);
      const int row = std::clamp(ui.reduction_row, 0, rows - 1);
      const int nvr = g.num_v_vecs_per_row();
      const auto states = lv_butterfly(s, record.tb());
      const int steps = static_cast<int>(states.size()) - 1;
      const auto mask = [nvr](int col) { return (nvr / 2) >> (col - 1); };
      text_wrapped("After the V loop, the %d lanes L, L^1, ... that share a row (lane / %d) hold sums over different "
                         "%d-token slices of each block. %s Column 0 is recorded; later columns are replayed from it with the "
                         "kernel's additions and the last equals the recorded result. Lane L's accs[%d] is head dim L/%d + %d.",
                         nvr, nvr, g.v_vec_size(),
                         steps == 0 ? "Here one lane covers a whole row: no exchange is needed." : "Exchanges with xor masks add them up.",
                         row, nvr, row * g.num_rows_per_iter());
      const int current = model.step(step).kind == StepKind::lv_warp_xor ? model.step(step).index
                          : model.reached(step, StepKind::lv_warp_xor, partition, steps == 0 ? 0 : 1) ? steps : 0;
      butterfly("##lv", kWarpSize, steps + 1,
                [&](int col, int lane) {
                  return states[static_cast<std::size_t>(col)][static_cast<std::size_t>((warp * kWarpSize + lane) * rows + row)];
                },
                mask, current, [](float v) { return !std::isnan(v); }, selected_lane, xor_titles(steps + 1, mask));
      break;
    }
    case ReductionView::tree: draw_tree(model, ui, step, partition, record); break;
    case ReductionView::partition_merge:
    case ReductionView::follow_step: draw_partition_merge(model); break;
  }
}

}  // namespace pal::viz
