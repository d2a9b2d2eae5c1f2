// Value and output panel: every lane's accumulators (accs[i], one per head-dim row it owns) at the
// current step, the focused head's output beside the reference, and the error of every output
// element of the run, in units in the last place (ulp) of the dtype.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include <imgui.h>

#include "visualizer/model/derived.h"
#include "visualizer/model/format.h"
#include "kernels/record_view.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"
#include "kernels/thread_mapping.h"

namespace pal::viz {

namespace {

// Spacing of representable numbers of the dtype next to `value`: the natural unit of a rounding error.
float ulp_of(float value, DType dtype) {
  const int mantissa_bits = dtype == DType::fp32 ? 23 : dtype == DType::fp16 ? 10 : 7;
  const float magnitude = std::max(std::fabs(value), dtype == DType::fp16 ? 6.1035156e-05f : 1.17549435e-38f);
  return std::ldexp(1.0f, std::ilogb(magnitude) - mantissa_bits);
}

// The accumulators every thread holds at this step, and what they are.
std::vector<float> accs_now(const ViewModel& model, int step, std::string& what) {
  const Session& s = model.session();
  const int partition = model.partition_of_step(step);
  const ThreadBlockRecord record(s.recording(), model.tb_of_step(step));
  const RecordDims& d = s.dims();
  const Step& current = model.step(step);
  auto recorded = [&](int level) {
    std::vector<float> accs(static_cast<std::size_t>(d.num_threads * d.num_rows_per_thread));
    for (int t = 0; t < d.num_threads; ++t)
      for (int r = 0; r < d.num_rows_per_thread; ++r)
        accs[static_cast<std::size_t>(t * d.num_rows_per_thread + r)] = record.acc(level, t, r);
    return accs;
  };
  switch (current.kind) {
    case StepKind::v_iteration:
      what = "after V iteration " + std::to_string(current.index) + " (replayed from the recorded probabilities and V)";
      return accs_after_v_iteration(s, model.seq_idx(), model.head_idx(), partition, current.index);
    case StepKind::lv_warp_xor: {
      const auto states = lv_butterfly(s, record.tb());
      const std::size_t at = std::min(states.size() - 1, static_cast<std::size_t>(current.index));
      what = "after LV exchange " + std::to_string(current.index) + (at + 1 == states.size() ? " (= recorded)" : " (replayed)");
      return states[at];
    }
    case StepKind::tree_write:
      what = "before tree level " + std::to_string(current.index + 1) + " (recorded)";
      return recorded(1 + current.index);
    case StepKind::tree_accumulate:
      what = "after tree level " + std::to_string(current.index + 1) + " (recorded)";
      return recorded(2 + current.index);
    case StepKind::output_write:
    case StepKind::reduce_max:
    case StepKind::reduce_rescale:
    case StepKind::reduce_output:
      what = "final (recorded)";
      return recorded(d.num_acc_levels - 1);
    default: break;
  }
  what = "zero: the V loop has not started";
  return std::vector<float>(static_cast<std::size_t>(d.num_threads * d.num_rows_per_thread), 0.0f);
}

void accs_heatmap(const ViewModel& model, UiState& ui, int step) {
  const Session& s = model.session();
  const KernelGeometry g = s.geometry();
  const int rows = s.dims().num_rows_per_thread;
  std::string what;
  const std::vector<float> accs = accs_now(model, step, what);
  float scale = 1e-12f;
  for (float v : accs)
    if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
  text_wrapped("accs[NUM_ROWS_PER_THREAD = %d] of every lane, %s. Column i of lane L is head dim L/%d + i*%d. Red "
                     "positive, blue negative (|max| = %s); dim = lanes idle at this step.",
                     rows, what.c_str(), g.num_v_vecs_per_row(), g.num_rows_per_iter(), format_value(scale, 3).c_str());
  const float cw = std::clamp(ImGui::GetContentRegionAvail().x / float(g.num_warps() * (rows + 3)), 6.0f, 40.0f);
  const float ch = 9.0f;
  const float block_w = cw * float(rows) + 44.0f;
  const Canvas c = begin_canvas("##accs", ImVec2(block_w * float(g.num_warps()), 16 + ch * kWarpSize + 2));
  const Step& current = model.step(step);
  for (int warp = 0; warp < g.num_warps(); ++warp) {
    const float left = float(warp) * block_w + 30.0f;
    c.draw->AddText(c.at(left, 0), IM_COL32(200, 200, 200, 255), ("warp " + std::to_string(warp)).c_str());
    for (int lane = 0; lane < kWarpSize; ++lane) {
      const int thread = warp * kWarpSize + lane;
      if (lane % 8 == 0)
        c.draw->AddText(c.at(left - 28, 16 + float(lane) * ch - 3), IM_COL32(150, 150, 150, 255), std::to_string(lane).c_str());
      for (int i = 0; i < rows; ++i) {
        const float v = accs[static_cast<std::size_t>(thread * rows + i)];
        ImU32 fill = value_colour(v, scale);
        if (!current.is_active(thread)) fill = dimmed(fill, 0.55f);
        const float x = left + float(i) * cw, y = 16 + float(lane) * ch;
        draw_cell(c, x, y, x + cw - 1, y + ch - 1, fill, nullptr, thread == focus_thread(ui) ? kSelectionColour : 0, 1.0f);
        if (c.hovered(x, y, x + cw, y + ch)) {
          ImGui::SetTooltip("%s\naccs[%d] (head dim %d) = %s", thread_label(model, thread).c_str(), i,
                            ThreadMapping{g}.value_row_idx(lane, i), format_value(v, 6).c_str());
          note_hovered_thread(ui, thread);
          if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) ui.selected_thread = thread;
        }
      }
    }
  }
}

void output_bars(const ViewModel& model, int step) {
  const Session& s = model.session();
  const int hs = s.scenario().head_size;
  const int seq = model.seq_idx(), head = model.head_idx();
  const bool final_known = s.is_v2() ? model.reached(step, StepKind::reduce_output, -1, 0)
                                     : model.reached(step, StepKind::output_write, 0, 0);
  const int partition = model.partition_of_step(step);
  const bool partial_known = s.is_v2() && model.reached(step, StepKind::output_write, partition, 0);
  if (!final_known && !partial_known) {
    ImGui::TextDisabled("out[seq %d, head %d]: not written yet at this step.", seq, head);
    return;
  }
  const ThreadBlockRecord record(s.recording(), model.tb_of_step(step));
  const ThreadBlockStages& tb_ref = s.reference().thread_block(seq, head, partition);
  auto kernel = [&](int d) {
    return final_known ? s.kernel().output.get_float((std::int64_t(seq) * s.scenario().num_heads + head) * hs + d) : record.out(d);
  };
  auto reference = [&](int d) {
    return final_known ? s.reference().output_at(seq, head, d) : tb_ref.out[static_cast<std::size_t>(d)];
  };
  float scale = 1e-12f;
  for (int d = 0; d < hs; ++d) scale = std::max({scale, std::fabs(kernel(d)), std::fabs(reference(d))});
  ImGui::Text("%s[seq %d, head %d]: bars = kernel, white ticks = reference", final_known ? "out" : "tmp_out (partition partial)",
              seq, head);
  const float width = std::max(300.0f, ImGui::GetContentRegionAvail().x);
  const float height = 90.0f;
  const Canvas c = begin_canvas("##out", ImVec2(width, height));
  const float bar = (width - 10) / float(hs);
  const float mid = height * 0.5f;
  c.draw->AddLine(c.at(0, mid), c.at(width, mid), IM_COL32(110, 110, 120, 255));
  for (int d = 0; d < hs; ++d) {
    const float x = 5 + float(d) * bar;
    const float kv = kernel(d), rv = reference(d);
    c.draw->AddRectFilled(c.at(x, mid), c.at(x + std::max(1.0f, bar - 1), mid - kv / scale * (mid - 4)), value_colour(kv, scale * 0.5f));
    c.draw->AddLine(c.at(x, mid - rv / scale * (mid - 4)), c.at(x + std::max(1.0f, bar - 1), mid - rv / scale * (mid - 4)),
                    IM_COL32(255, 255, 255, 230), 2.0f);
    if (c.hovered(x, 0, x + bar, height))
      ImGui::SetTooltip("dim %d: kernel %s, reference %s, |diff| %s", d, format_value(kv, 6).c_str(), format_value(rv, 6).c_str(),
                        format_value(std::fabs(kv - rv), 3).c_str());
  }
}

void error_heatmap(const ViewModel& model) {
  const Session& s = model.session();
  const int hs = s.scenario().head_size, heads = s.scenario().num_heads, seqs = s.scenario().num_seqs;
  const int rows = std::min(seqs * heads, 256);
  float worst = 0.0f;
  int above_one = 0;
  for (int r = 0; r < seqs * heads; ++r)
    for (int d = 0; d < hs; ++d) {
      const float kv = s.kernel().output.get_float(std::int64_t(r) * hs + d);
      const float rv = s.reference().output_at(r / heads, r % heads, d);
      const float ulps = std::fabs(kv - rv) / ulp_of(rv, s.scenario().dtype);
      worst = std::isnan(ulps) ? NAN : std::max(worst, ulps);
      above_one += ulps > 1.0f;
    }
  text_wrapped("Final output of the whole run vs the scalar reference, |kernel - reference| in ulps of %s (green 0, "
                     "red >= 4). Largest: %s ulp; %d of %d elements differ by more than 1 ulp. Rows: (seq, head); columns: dims.",
                     std::string(dtype_name(s.scenario().dtype)).c_str(), format_value(worst, 3).c_str(), above_one, seqs * heads * hs);
  const float cw = std::clamp((ImGui::GetContentRegionAvail().x - 70) / float(hs), 2.0f, 14.0f);
  // Rows as tall as a label while there are few; many rows get thin and only every k-th row (and
  // the focused one) is labelled, so no two labels overlap.
  const float text_h = ImGui::GetTextLineHeight();
  const float ch = rows <= 48 ? text_h + 1.0f : 6.0f;
  const int label_every = std::max(1, int(std::ceil(text_h / ch)));
  const int focused_row = model.seq_idx() * heads + model.head_idx();
  const Canvas c = begin_canvas("##errors", ImVec2(70 + cw * float(hs), ch * float(rows) + 2));
  for (int r = 0; r < rows; ++r) {
    const int seq = r / heads, head = r % heads;
    const bool focused = r == focused_row;
    const bool labelled = focused || (r % label_every == 0 && std::abs(r - focused_row) >= label_every);
    if (labelled)
      c.draw->AddText(c.at(0, float(r) * ch + (ch - text_h) * 0.5f), focused ? kSelectionColour : IM_COL32(160, 160, 160, 255),
                      ("s" + std::to_string(seq) + " h" + std::to_string(head)).c_str());
    for (int d = 0; d < hs; ++d) {
      const float kv = s.kernel().output.get_float(std::int64_t(r) * hs + d);
      const float rv = s.reference().output_at(seq, head, d);
      const float ulps = std::fabs(kv - rv) / ulp_of(rv, s.scenario().dtype);
      const float x = 70 + float(d) * cw, y = float(r) * ch;
      c.draw->AddRectFilled(c.at(x, y), c.at(x + cw - (cw > 3 ? 1 : 0), y + ch - 1), error_colour(ulps));
      if (c.hovered(x, y, x + cw, y + ch))
        ImGui::SetTooltip("out[%d][%d][%d]: kernel %s, reference %s, %s ulp", seq, head, d, format_value(kv, 6).c_str(),
                          format_value(rv, 6).c_str(), format_value(ulps, 3).c_str());
    }
  }
  if (rows < seqs * heads) ImGui::TextDisabled("(first %d of %d rows)", rows, seqs * heads);
}

}  // namespace

void draw_output_panel(const ViewModel& model, UiState& ui) {
  if (model.session().is_grouped()) {
    // The per-lane accumulator view is v1/v2's (accs[] rows per lane); the grouped kernel keeps its
    // accumulators per warp (mma fragments or per-dim lanes) and records them only at block_merge.
    const Session& s = model.session();
    const int seq = model.seq_idx(), head = model.head_idx();
    const Scenario& sc = s.scenario();
    double largest = 0.0;
    int at = 0;
    for (int d = 0; d < sc.head_size; ++d) {
      const std::int64_t i = (std::int64_t(seq) * sc.num_heads + head) * sc.head_size + d;
      const double diff = std::fabs(double(s.kernel().output.get_float(i)) - double(s.grouped_reference().output_at(seq, head, d)));
      if (diff > largest) largest = diff, at = d;
    }
    text_wrapped("Per-lane accumulators are the v1/v2 kernel's view; the grouped kernel's warps merge theirs at "
                 "block_merge (Reductions panel). Head %d of seq %d against the grouped reference: max |out - ref| = %s at "
                 "dim %d; pal-viz --compare v1,grouped sets its output beside v1's.",
                 head, seq, format_value(float(largest), 3).c_str(), at);
    return;
  }
  const int step = model.clamp_step(ui.step);
  accs_heatmap(model, ui, step);
  ImGui::Separator();
  output_bars(model, step);
  ImGui::Separator();
  error_heatmap(model);
}

}  // namespace pal::viz
