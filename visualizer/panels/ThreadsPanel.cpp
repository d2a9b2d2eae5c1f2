// Threads panel: the grid of thread blocks (heads x seqs x partitions), the focused thread block's
// warps and lanes (thread groups bracketed, the lanes active at this step bright), and what the
// selected lane does: its q vecs, its token in each QK iteration, its V rows, its value now.
#include <algorithm>
#include <optional>
#include <string>

#include <imgui.h>

#include "visualizer/model/derived.h"
#include "visualizer/model/format.h"
#include "visualizer/model/grouped.h"
#include "kernels/record_view.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"
#include "kernels/thread_mapping.h"

namespace pal::viz {

namespace {

// The selected thread's own value at the current step, from the recording.
std::string value_now(const ViewModel& model, int step_index, int thread) {
  const Session& s = model.session();
  const Step& step = model.step(step_index);
  if (step.partition_idx < 0) return "the second kernel runs in its own thread block";
  if (s.is_grouped())  // its per-lane values live in registers and fragments it does not record per lane
    return step.is_active(thread) ? "works at this step" : "idle at this step";
  const ThreadBlockRecord r(s.recording(), model.tb_of_step(step_index));
  const int rows = s.dims().num_rows_per_thread;
  switch (step.kind) {
    case StepKind::qk_max_warp_xor: return "qk_max = " + format_value(r.qk_max_warp(step.index, thread), 5);
    case StepKind::qk_max_red_smem: return "qk_max = " + format_value(r.qk_max_warp(s.dims().num_qk_max_warp_steps, thread), 5);
    case StepKind::qk_max_cross_warp_xor: return "qk_max = " + format_value(r.qk_max_cross_warp(step.index, thread), 5);
    case StepKind::qk_max_broadcast: return "qk_max = " + format_value(r.qk_max_block(), 5);
    case StepKind::exp_sum_warp_xor: return "exp_sum = " + format_value(r.exp_sum_warp(step.index, thread), 5);
    case StepKind::exp_sum_red_smem: return "exp_sum = " + format_value(r.exp_sum_warp(s.dims().num_sum_warp_steps, thread), 5);
    case StepKind::exp_sum_cross_warp_xor: return "exp_sum = " + format_value(r.exp_sum_cross_warp(step.index, thread), 5);
    case StepKind::exp_sum_broadcast: return "exp_sum = " + format_value(r.exp_sum_block(), 6);
    case StepKind::exp_pass: {
      const int slot = thread + step.index * s.dims().num_threads;
      return step.is_active(thread) ? "logits[" + std::to_string(slot) + "] = exp(...) = " + format_value(r.exp_value(slot), 5)
                                    : "no token for this thread in this pass";
    }
    case StepKind::normalize_pass: {
      const int slot = thread + step.index * s.dims().num_threads;
      return step.is_active(thread) ? "logits[" + std::to_string(slot) + "] = p = " + format_value(r.prob(slot), 5)
                                    : "no token for this thread in this pass";
    }
    case StepKind::v_iteration: {
      const auto accs = accs_after_v_iteration(s, model.seq_idx(), model.head_idx(), step.partition_idx, step.index);
      return "accs[0] = " + format_value(accs[static_cast<std::size_t>(thread * rows)], 5) + " (replayed)";
    }
    case StepKind::lv_warp_xor: return "accs[0] after the LV reduction = " + format_value(r.acc(1, thread, 0), 5);
    case StepKind::tree_write:
    case StepKind::tree_accumulate: return "accs[0] = " + format_value(r.acc(2 + step.index, thread, 0), 5);
    default: break;
  }
  return "";
}

void thread_details(const ViewModel& model, const UiState& ui, int thread) {
  const Session& s = model.session();
  if (s.is_grouped()) {
    ImGui::TextDisabled("%s: the grouped kernel records its values per warp step and head, not per lane; its cp.async "
                        "copies are in the Coalescing panel.", thread_label(model, thread).c_str());
    return;
  }
  const KernelGeometry g = s.geometry();
  const int partition = model.partition_of_step(ui.step);
  const TokenRange range = s.range(model.seq_idx(), partition);
  const int warp = thread / kWarpSize, lane = thread % kWarpSize;
  const int group = thread / g.thread_group_size(), offset = thread % g.thread_group_size();
  ImGui::Text("%s, thread group offset %d%s", thread_label(model, thread).c_str(), offset,
              offset == 0 ? " (the group's leader: it writes the logit)" : "");
  const std::string now = value_now(model, ui.step, thread);
  if (!now.empty()) ImGui::Text("now: %s", now.c_str());
  push_visible_wrap();
  std::string q_text;
  for (const Loader* load : model.load_index().loads_of_thread(partition, thread))
    if (load->kind == LoadKind::query)
      q_text += (q_text.empty() ? "" : ", ") + std::string("q_vecs[") + std::to_string(load->thread_group_offset) + "][" +
                std::to_string(load->iteration) + "] (dims " + std::to_string(load->vec_idx * g.vec_size()) + "-" +
                std::to_string(load->vec_idx * g.vec_size() + g.vec_size() - 1) + ")";
  ImGui::Text("query_load: %s", q_text.empty() ? "copies nothing (other thread groups do)" : ("copies " + q_text).c_str());
  std::string qk_text;
  const ThreadBlockRecord record(s.recording(), s.tb_index(model.seq_idx(), model.head_idx(), partition));
  for (int it = 0; it < divide_round_up(range.num_blocks(), g.num_warps()); ++it) {
    const int block = range.start_block_idx + warp + it * g.num_warps();
    if (block >= range.end_block_idx) break;
    const int token = block * g.block_size + group % g.block_size;
    const int slot = token - range.start_token_idx;
    qk_text += (qk_text.empty() ? "" : "; ") + std::string("it ") + std::to_string(it) + ": token " + std::to_string(token) +
               (record.token(slot).masked ? " (padding)" : " logit " + format_value(record.token(slot).logit, 4));
  }
  ImGui::Text("qk_logits (dims of vecs %d, %d, ...): %s", offset, offset + g.thread_group_size(),
              qk_text.empty() ? "no kv_block for this warp" : qk_text.c_str());
  std::string rows;
  for (int i = 0; i < g.num_rows_per_thread(); ++i) {
    const int row = ThreadMapping{g}.value_row_idx(lane, i);
    if (row < g.head_size) rows += (rows.empty() ? "" : ", ") + std::to_string(row);
  }
  ImGui::Text("value_accumulation: tokens %d-%d of each of its warp's blocks, rows (head dims) %s",
              ThreadMapping{g}.value_block_offset(lane), ThreadMapping{g}.value_block_offset(lane) + g.v_vec_size() - 1,
              rows.c_str());
  ImGui::PopTextWrapPos();
}

}  // namespace

void draw_threads_panel(ViewModel& model, UiState& ui) {
  const Session& s = model.session();
  const KernelGeometry g = s.geometry();

  // The grid.
  if (s.is_grouped())
    ImGui::TextDisabled("Grouped kernel: one thread block per (KV head, seq, split) serves every query head of the KV head's "
                        "group; below, (query head, seq) boxes sliced by the sequence's splits, coloured by KV head. "
                        "Click to focus a head.");
  else
    ImGui::TextDisabled("Grid (num_heads = %d) x (num_seqs = %d)%s: one thread block each. Colour = kv head (GQA: %d query "
                        "heads per kv head). Click to focus.",
                        s.scenario().num_heads, s.scenario().num_seqs, s.is_v2() ? " x partitions" : "",
                        s.scenario().num_heads / s.scenario().num_kv_heads);
  const float box_w = 46.0f, box_h = 24.0f;
  const int shown_seqs = std::min(s.scenario().num_seqs, 64), shown_heads = std::min(s.scenario().num_heads, 64);
  const Canvas grid = begin_canvas("##grid", ImVec2(50 + box_w * float(shown_heads), box_h * float(shown_seqs) + 2));
  std::optional<std::pair<int, int>> clicked;
  for (int seq = 0; seq < shown_seqs; ++seq) {
    grid.draw->AddText(grid.at(0, float(seq) * box_h + 4), IM_COL32(200, 200, 200, 255), ("seq " + std::to_string(seq)).c_str());
    const int partitions = s.is_grouped() ? grouped_active_splits(s, seq) : s.num_partitions(seq);
    for (int head = 0; head < shown_heads; ++head) {
      const float x0 = 50 + float(head) * box_w, y0 = float(seq) * box_h;
      const ImU32 colour = palette(s.kv_head_of(head), s.scenario().num_kv_heads, 0.45f, 0.8f);
      const float part_w = (box_w - 3) / float(partitions);
      for (int p = 0; p < partitions; ++p)
        grid.draw->AddRectFilled(grid.at(x0 + float(p) * part_w, y0), grid.at(x0 + float(p + 1) * part_w - 1, y0 + box_h - 3), colour);
      const bool focused = seq == model.seq_idx() && head == model.head_idx();
      grid.draw->AddText(grid.at(x0 + 3, y0 + 4), kTextDark, ("h" + std::to_string(head)).c_str());
      if (focused)
        grid.draw->AddRect(grid.at(x0 - 1, y0 - 1), grid.at(x0 + box_w - 2, y0 + box_h - 2), kSelectionColour, 0, 0, 2.5f);
      if (grid.hovered(x0, y0, x0 + box_w, y0 + box_h)) {
        ImGui::SetTooltip("thread block (head %d, seq %d%s): kv head %d, %d tokens", head, seq,
                          partitions > 1 ? (", " + std::to_string(partitions) + (s.is_grouped() ? " splits" : " partitions")).c_str() : "",
                          s.kv_head_of(head), s.seq_len(seq));
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) clicked = std::pair{seq, head};
      }
    }
  }
  if (clicked && (clicked->first != model.seq_idx() || clicked->second != model.head_idx())) {
    const Step old = model.step(ui.step);
    model.set_focus(clicked->first, clicked->second);
    // Stay at the same point of the story when the new timeline has it.
    const int same = model.timeline().find(old.kind, old.partition_idx, old.index);
    ui.step = same >= 0 ? same : model.clamp_step(ui.step);
  }

  // The thread block.
  const Step& step = model.step(ui.step);
  ImGui::Separator();
  if (s.is_grouped())
    ImGui::TextDisabled("Thread block: %d warps x 32 lanes (no thread groups: a warp computes whole 16-token steps for "
                        "its query heads). Bright = works at this step (%d threads).",
                        g.num_warps(), step.num_active());
  else
    ImGui::TextDisabled("Thread block: %d warps x 32 lanes; thread groups of %d lanes bracketed. Bright = works at this step "
                        "(%d threads). Click a lane to select it (Esc clears).",
                        g.num_warps(), g.thread_group_size(), step.num_active());
  const float cell = 24.0f;
  const float row_h = cell + 10.0f;
  // A warp is one row of 32 lanes where that fits the panel, else two rows of 16 (a narrow window
  // still shows every lane; thread groups, of at most 4 lanes, never straddle the two rows).
  const int lanes_per_row = ImGui::GetContentRegionAvail().x >= 60 + cell * 32 + 4 ? kWarpSize : kWarpSize / 2;
  const int rows_per_warp = kWarpSize / lanes_per_row;
  const Canvas block =
      begin_canvas("##block", ImVec2(60 + cell * float(lanes_per_row) + 4, row_h * float(g.num_warps() * rows_per_warp)));
  for (int warp = 0; warp < g.num_warps(); ++warp) {
    const float warp_y = float(warp * rows_per_warp) * row_h;
    block.draw->AddText(block.at(0, warp_y + 5), IM_COL32(200, 200, 200, 255), ("warp " + std::to_string(warp)).c_str());
    for (int lane = 0; lane < kWarpSize; ++lane) {
      const int thread = warp * kWarpSize + lane;
      const float x = 60 + float(lane % lanes_per_row) * cell;
      const float y = warp_y + float(lane / lanes_per_row) * row_h;
      ImU32 fill = thread_colour(model, ui, thread);
      if (!step.is_active(thread)) fill = dimmed(fill, 0.75f);
      const ImU32 outline = thread == ui.selected_thread ? kSelectionColour
                            : thread == ui.hovered_thread ? IM_COL32(255, 255, 255, 200)
                                                          : 0;
      draw_cell(block, x, y, x + cell - 2, y + cell, fill, std::to_string(lane).c_str(), outline, 2.5f);
      if (block.hovered(x, y, x + cell, y + cell)) {
        ImGui::SetTooltip("%s\n%s", thread_label(model, thread).c_str(), value_now(model, ui.step, thread).c_str());
        note_hovered_thread(ui, thread);
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) ui.selected_thread = ui.selected_thread == thread ? -1 : thread;
      }
    }
    if (g.thread_group_size() > 1 && !s.is_grouped())
      for (int group = 0; group < kWarpSize / g.thread_group_size(); ++group) {
        const int first_lane = group * g.thread_group_size();
        const float x0 = 60 + float(first_lane % lanes_per_row) * cell + 2;
        const float x1 = x0 + float(g.thread_group_size()) * cell - 6;
        const float y = warp_y + float(first_lane / lanes_per_row) * row_h;
        block.draw->AddLine(block.at(x0, y + cell + 3), block.at(x1, y + cell + 3), IM_COL32(200, 200, 200, 200), 1.5f);
      }
  }

  ImGui::Separator();
  const int thread = focus_thread(ui);
  if (thread >= 0) thread_details(model, ui, thread);
  else ImGui::TextDisabled("Hover or click a lane to see what it does.");
}

}  // namespace pal::viz
