// QK and softmax panel: per token of the focused thread block, the logit (scale * q.k), the block's
// maximum, exp(logit - max) and the probability, each plotted as the kernel recorded it (dots, in
// the colour of the warp that computed it) over the scalar reference (line). A value appears once
// the timeline reaches the step that computes it.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <string>

#include <imgui.h>

#include "visualizer/model/format.h"
#include "visualizer/model/grouped.h"
#include "kernels/grouped_geometry.h"
#include "visualizer/model/logits_buffer.h"
#include "kernels/record_view.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

struct Series {
  const char* title;
  std::function<bool(int slot)> shown;       // has the timeline computed this slot yet?
  std::function<float(int slot)> kernel;     // recorded value
  std::function<float(int slot)> reference;  // reference value
  bool include_zero = true;                  // y range reaches 0 (else fitted to the data)
  std::vector<std::pair<float, ImU32>> lines;  // horizontal markers (value, colour)
  // Slots block sparsity skipped: logit -FLT_MAX, exp and p 0. They are shaded and left out of the
  // y range (a -FLT_MAX would flatten everything else); no dot is drawn at a value never computed.
  std::function<bool(int slot)> skipped = [](int) { return false; };
};

constexpr ImU32 kSkippedShade = IM_COL32(90, 90, 100, 70);

// One plot; returns the hovered slot or -1.
int plot(const Series& series, int num_slots, int num_tokens, const std::function<ImU32(int)>& dot_colour,
         const std::function<bool(int)>& ringed, float width, float height, const char* id) {
  float low = FLT_MAX, high = -FLT_MAX;
  {
    high = -FLT_MAX;
    for (int t = 0; t < num_tokens; ++t) {
      if (series.skipped(t)) continue;
      for (float v : {series.kernel(t), series.reference(t)})
        if (std::isfinite(v)) {
          low = std::min(low, v);
          high = std::max(high, v);
        }
    }
    if (low > high) low = -1, high = 1;
    if (series.include_zero) {
      low = std::min(low, 0.0f);
      high = std::max(high, 0.0f);
    }
    // The range is stated above the plot, so a small spread fitted to the height is not mistaken
    // for a large one.
    ImGui::TextUnformatted(series.title);
    ImGui::TextDisabled("y axis %s to %s, %s", format_value(low, 3).c_str(), format_value(high, 3).c_str(),
                        series.include_zero ? "from 0" : "fitted to the data");
    const float pad = 0.08f * std::max(high - low, 1e-6f);
    low -= pad;
    high += pad;
  }
  const Canvas c = begin_canvas(id, ImVec2(width, height));
  const float left = 56.0f, right = width - 8.0f, top = 6.0f, bottom = height - 16.0f;
  // A frame, not a filled background: large filled areas are what a software renderer pays most for.
  c.draw->AddRect(c.at(left, top), c.at(right, bottom), IM_COL32(70, 70, 80, 255));
  auto to_x = [&](float slot) { return left + (right - left) * (slot + 0.5f) / float(std::max(num_slots, 1)); };
  auto to_y = [&](float v) { return bottom - (bottom - top) * (v - low) / (high - low); };
  if (low <= 0.0f && high >= 0.0f) c.draw->AddLine(c.at(left, to_y(0)), c.at(right, to_y(0)), IM_COL32(110, 110, 120, 255));
  c.draw->AddText(c.at(2, top - 2), IM_COL32(170, 170, 170, 255), format_value(high, 3).c_str());
  c.draw->AddText(c.at(2, bottom - 12), IM_COL32(170, 170, 170, 255), format_value(low, 3).c_str());
  // Skipped slots: one shaded band per run of them, under everything else.
  for (int t = 0; t < num_tokens;) {
    if (!series.skipped(t) || !series.shown(t)) {
      ++t;
      continue;
    }
    const int first = t;
    while (t < num_tokens && series.skipped(t) && series.shown(t)) ++t;
    c.draw->AddRectFilled(c.at(to_x(float(first) - 0.5f), top + 1), c.at(to_x(float(t) - 0.5f), bottom - 1), kSkippedShade);
  }
  for (const auto& [value, colour] : series.lines)
    if (std::isfinite(value)) c.draw->AddLine(c.at(left, to_y(value)), c.at(right, to_y(value)), colour, 1.5f);
  // Reference as a line through the tokens computed so far.
  ImVec2 previous;
  bool have_previous = false;
  for (int t = 0; t < num_tokens; ++t) {
    if (!series.shown(t) || series.skipped(t)) {
      have_previous = false;
      continue;
    }
    const ImVec2 point = c.at(to_x(float(t)), to_y(series.reference(t)));
    if (have_previous) c.draw->AddLine(previous, point, IM_COL32(230, 230, 230, 140), 1.0f);
    previous = point;
    have_previous = true;
  }
  const float radius = std::clamp((right - left) / float(std::max(num_slots, 1)) * 0.4f, 1.5f, 4.0f);
  for (int t = 0; t < num_slots; ++t) {
    if (!series.shown(t)) continue;
    if (t >= num_tokens) {  // padding slot of the last block
      const ImVec2 p = c.at(to_x(float(t)), to_y(std::clamp(0.0f, low, high)));
      c.draw->AddLine(ImVec2(p.x - 3, p.y - 3), ImVec2(p.x + 3, p.y + 3), IM_COL32(140, 140, 140, 255));
      c.draw->AddLine(ImVec2(p.x - 3, p.y + 3), ImVec2(p.x + 3, p.y - 3), IM_COL32(140, 140, 140, 255));
      continue;
    }
    if (series.skipped(t)) {  // a short grey tick on the axis: the slot exists, its value was never computed
      const float x = to_x(float(t));
      c.draw->AddLine(c.at(x, bottom - 6), c.at(x, bottom - 1), IM_COL32(150, 150, 160, 255));
      continue;
    }
    const ImVec2 p = c.at(to_x(float(t)), to_y(series.kernel(t)));
    c.draw->AddCircleFilled(p, radius, dot_colour(t));
    if (ringed(t)) c.draw->AddCircle(p, radius + 2.5f, kSelectionColour, 0, 2.0f);
  }
  c.draw->AddText(c.at(left, bottom + 2), IM_COL32(150, 150, 150, 255), "token slot 0");
  const std::string last = std::to_string(num_slots - 1);
  c.draw->AddText(c.at(right - ImGui::CalcTextSize(last.c_str()).x, bottom + 2), IM_COL32(150, 150, 150, 255), last.c_str());
  if (c.hovered(left, top, right, bottom)) {
    const float mouse = ImGui::GetMousePos().x - c.origin.x;
    const int slot = std::clamp(int((mouse - left) / (right - left) * float(num_slots)), 0, num_slots - 1);
    c.draw->AddLine(c.at(to_x(float(slot)), top), c.at(to_x(float(slot)), bottom), IM_COL32(255, 255, 255, 80));
    return slot;
  }
  return -1;
}

// The grouped kernel's online softmax for the head in focus, over the whole sequence: each token's
// logit, the running max of its warp after the token's step, and its probability exp(logit - running
// max) as it enters P.V (not yet divided by the sum: block_merge and split_merge do that).
void draw_grouped_softmax(const ViewModel& model, UiState& ui) {
  const Session& s = model.session();
  const int step = model.clamp_step(ui.step);
  const std::vector<GroupedToken> tokens = grouped_head_tokens(s, model.seq_idx(), model.head_idx());
  const int num_tokens = static_cast<int>(tokens.size());
  auto token = [&](int t) -> const GroupedToken& { return tokens[static_cast<std::size_t>(t)]; };
  auto logit_shown = [&](int t) {
    return t < num_tokens && model.reached(step, StepKind::grouped_qk_step, token(t).split_idx, token(t).step_idx);
  };
  auto softmax_shown = [&](int t) {
    return t < num_tokens && model.reached(step, StepKind::grouped_softmax_step, token(t).split_idx, token(t).step_idx);
  };
  ImGui::Text("seq %d, head %d: tokens 0-%d in %s, scale %s%s", model.seq_idx(), model.head_idx(), num_tokens - 1,
              counted(grouped_active_splits(s, model.seq_idx()), "split").c_str(),
              format_value(s.inputs().scale, 5).c_str(), s.scenario().alibi ? ", ALiBi on" : "");
  ImGui::TextDisabled("Online softmax: no max over the whole sequence first. Each warp keeps a running max over its "
                      "16-token steps and rescales its old sum and accumulators when the max grows.");
  ImGui::Checkbox("probability plot from 0", &ui.plots_from_zero);
  const int num_warps = kGroupedNumWarps;
  auto dot_colour = [&](int t) { return palette(token(t).warp_idx, num_warps, 0.6f, 0.95f); };
  auto not_ringed = [](int) { return false; };
  Series logits{"logits = scale * q.k  (dots: kernel, by warp; line: reference)", logit_shown,
                [&](int t) { return token(t).logit; }, [&](int t) { return token(t).reference_logit; }, true, {}};
  Series running{"running max of the token's warp after its step  (dots: kernel; line: reference)", softmax_shown,
                 [&](int t) { return token(t).running_max; }, [&](int t) { return token(t).reference_running_max; },
                 false, {}};
  Series probs{"exp(logit - running max), rounded to the dtype: what enters P.V", softmax_shown,
               [&](int t) { return token(t).prob; }, [&](int t) { return token(t).reference_prob; }, ui.plots_from_zero,
               {}};
  const float width = std::max(300.0f, ImGui::GetContentRegionAvail().x);
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float avail_y = ImGui::GetContentRegionAvail().y;
  const bool side_by_side = avail_y < 3.0f * (110.0f + 2.0f * line + 6.0f) && width >= 3.0f * 240.0f;
  const Series* series[] = {&logits, &running, &probs};
  const char* ids[] = {"##grouped_logits", "##grouped_running_max", "##grouped_probs"};
  int hovered = -1;
  for (int i = 0; i < 3; ++i) {
    int at = -1;
    if (side_by_side) {
      constexpr float kGap = 8.0f;
      const float each = (width - 2.0f * kGap) / 3.0f;
      const float height = std::max(64.0f, avail_y - 2.0f * line - 10.0f);
      if (i) ImGui::SameLine(0.0f, kGap);
      ImGui::BeginChild(ids[i] + 1, ImVec2(each, height + 2.0f * line + 4.0f), false, ImGuiWindowFlags_NoScrollbar);
      at = plot(*series[i], num_tokens, num_tokens, dot_colour, not_ringed, each, height, ids[i]);
      ImGui::EndChild();
    } else {
      const float height = std::max(64.0f, (avail_y - 6.0f * line) / 3.0f - 6.0f);
      at = plot(*series[i], num_tokens, num_tokens, dot_colour, not_ringed, width, height, ids[i]);
    }
    if (at >= 0) hovered = at;
  }
  if (hovered >= 0 && hovered < num_tokens) {
    const GroupedToken& t = token(hovered);
    ImGui::SetTooltip("token %d: split %d, step %d, warp %d\nlogit %s (reference %s)\nrunning max %s (reference %s)\n"
                      "exp(logit - running max) %s (reference %s)",
                      t.token_idx, t.split_idx, t.step_idx, t.warp_idx, format_value(t.logit, 6).c_str(),
                      format_value(t.reference_logit, 6).c_str(),
                      softmax_shown(hovered) ? format_value(t.running_max, 6).c_str() : "-",
                      format_value(t.reference_running_max, 6).c_str(),
                      softmax_shown(hovered) ? format_value(t.prob, 6).c_str() : "-",
                      format_value(t.reference_prob, 6).c_str());
  }
}

}  // namespace

void draw_softmax_panel(const ViewModel& model, UiState& ui) {
  if (model.session().is_grouped()) {
    draw_grouped_softmax(model, ui);
    return;
  }
  const Session& s = model.session();
  const KernelGeometry g = s.geometry();
  const int step = model.clamp_step(ui.step);
  const int partition = model.partition_of_step(step);
  const TokenRange range = s.range(model.seq_idx(), partition);
  const ThreadBlockRecord record(s.recording(), model.tb_of_step(step));
  const ThreadBlockStages& ref = s.reference().thread_block(model.seq_idx(), model.head_idx(), partition);
  const int num_tokens = range.num_tokens();
  const int num_slots = range.num_blocks() * g.block_size;  // the padding slots of the last block too

  const bool max_known = model.reached(step, StepKind::qk_max_broadcast, partition, 0);
  const bool sum_known = model.reached(step, StepKind::exp_sum_broadcast, partition, 0);
  const bool smem_max_known = model.reached(step, StepKind::qk_max_red_smem, partition, 0);
  // Which values the timeline has computed: the shared logits buffer's state at this step (a slot
  // moves raw logit -> exp -> probability; model/logits_buffer.h says which step writes which slot).
  const LogitsBuffer buffer = logits_buffer_at(s, model.timeline(), step);
  auto state_at_least = [&](int slot, LogitsState state) {
    return slot >= 0 && slot < static_cast<int>(buffer.slots.size()) &&
           static_cast<int>(buffer.slots[static_cast<std::size_t>(slot)].state) >= static_cast<int>(state);
  };
  auto logit_shown = [&](int slot) { return state_at_least(slot, LogitsState::raw_logit); };
  auto exp_shown = [&](int slot) { return slot < num_tokens && state_at_least(slot, LogitsState::exp_value); };
  auto prob_shown = [&](int slot) { return slot < num_tokens && state_at_least(slot, LogitsState::probability); };
  auto skipped = [&](int slot) { return slot < num_tokens && record.token(slot).skipped != 0; };
  int num_skipped = 0;
  for (int t = 0; t < num_tokens; ++t) num_skipped += skipped(t);
  float sum_p = 0.0f;
  for (int t = 0; t < num_tokens; ++t) sum_p += prob_shown(t) ? record.prob(t) : 0.0f;

  ImGui::Text("seq %d, head %d%s: tokens %d-%d (%d), scale %s%s", model.seq_idx(), model.head_idx(),
              s.is_v2() ? (", partition " + std::to_string(partition)).c_str() : "", range.start_token_idx,
              range.end_token_idx - 1, num_tokens, format_value(s.inputs().scale, 5).c_str(), s.scenario().alibi ? ", ALiBi on" : "");
  ImGui::Text("max: %s (reference %s)   exp_sum: %s (reference %s)   sum of p: %s",
              max_known ? format_value(record.qk_max_block(), 6).c_str() : "not yet", format_value(ref.qk_max, 6).c_str(),
              sum_known ? format_value(record.exp_sum_block(), 6).c_str() : "not yet", format_value(ref.exp_sum, 6).c_str(),
              prob_shown(0) ? format_value(sum_p, 6).c_str() : "not yet");

  const int focus = focus_thread(ui);
  auto warp_of_slot = [&](int slot) { return (slot / g.block_size) % g.num_warps(); };
  auto dot_colour = [&](int slot) { return palette(warp_of_slot(slot), g.num_warps(), 0.6f, 0.95f); };
  // The selected thread's tokens: the ones its thread group computes in the QK loop, or, from the
  // exp stage on, the slots it strides over (slot i, i + NUM_THREADS, ...).
  const bool by_thread_index = static_cast<int>(model.step(step).stage()) >= static_cast<int>(Stage::exp_sum);
  auto ringed = [&](int slot) {
    if (focus < 0 || slot >= num_tokens) return false;
    if (by_thread_index) return slot % s.dims().num_threads == focus;
    return record.token(slot).thread_group == focus / g.thread_group_size();
  };

  Series logits{"logits = scale * q.k  (dots: kernel, by warp; line: reference; grey x: padding slots stored as 0)",
                logit_shown,
                [&](int t) { return record.token(t).logit; },
                [&](int t) { return t < num_tokens ? ref.logits[static_cast<std::size_t>(t)] : 0.0f; }, true, {}};
  if (max_known) logits.lines.emplace_back(record.qk_max_block(), IM_COL32(255, 200, 60, 220));
  else if (smem_max_known)
    for (int w = 0; w < g.num_warps(); ++w) logits.lines.emplace_back(record.red_smem_max(w), palette(w, g.num_warps(), 0.6f, 0.95f));
  Series exps{"exp(logit - max)  (1 at the max)", exp_shown, [&](int t) { return record.exp_value(t); },
              [&](int t) { return ref.exp_values[static_cast<std::size_t>(t)]; }, ui.plots_from_zero, {}};
  Series probs{"probabilities p = exp / (exp_sum + 1e-6)", prob_shown, [&](int t) { return record.prob(t); },
               [&](int t) { return ref.probs[static_cast<std::size_t>(t)]; }, ui.plots_from_zero, {}};

  logits.skipped = skipped;
  exps.skipped = skipped;
  probs.skipped = skipped;
  if (s.scenario().block_sparse.enabled())
    ImGui::TextDisabled("block sparsity: %s of %d skipped for head %d (shaded: logit -FLT_MAX, exp 0, p 0; key and value "
                        "never read)", counted(num_skipped, "token").c_str(), num_tokens, model.head_idx());
  ImGui::Checkbox("exp and p plots from 0", &ui.plots_from_zero);
  ImGui::SameLine();
  help_marker("Off: the y axes of the exp and probability plots are fitted to the values, which shows how they differ "
              "even when attention is nearly uniform. On: they start at 0, which shows their true proportions.");
  const float width = std::max(300.0f, ImGui::GetContentRegionAvail().x);
  // The three plots stacked when the panel is tall enough for readable plots, else side by side (a
  // short window, 1280x720 and the like); below 64 px a plot stops being readable and the panel scrolls.
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float avail_y = ImGui::GetContentRegionAvail().y;
  const bool side_by_side = avail_y < 3.0f * (110.0f + 2.0f * line + 6.0f) && width >= 3.0f * 240.0f;
  const Series* series[] = {&logits, &exps, &probs};
  const char* ids[] = {"##logits", "##exp", "##probs"};
  int hovered_in[3] = {-1, -1, -1};
  if (side_by_side) {
    constexpr float kGap = 8.0f;
    const float each = (width - 2.0f * kGap) / 3.0f;
    const float height = std::max(64.0f, avail_y - 2.0f * line - 10.0f);
    for (int i = 0; i < 3; ++i) {
      if (i) ImGui::SameLine(0.0f, kGap);
      ImGui::BeginChild(ids[i] + 1, ImVec2(each, height + 2.0f * line + 4.0f), false, ImGuiWindowFlags_NoScrollbar);
      hovered_in[i] = plot(*series[i], num_slots, num_tokens, dot_colour, ringed, each, height, ids[i]);
      ImGui::EndChild();
    }
  } else {
    const float height = std::max(64.0f, (avail_y - 6.0f * line) / 3.0f - 6.0f);
    for (int i = 0; i < 3; ++i)
      hovered_in[i] = plot(*series[i], num_slots, num_tokens, dot_colour, ringed, width, height, ids[i]);
  }
  int hovered = hovered_in[0] >= 0 ? hovered_in[0] : hovered_in[1] >= 0 ? hovered_in[1] : hovered_in[2];
  if (hovered >= 0) {
    const int token_idx = range.start_token_idx + hovered;
    if (hovered >= num_tokens) {
      ImGui::SetTooltip("slot %d (token %d): padding past seq_len %d; the QK loop computes it but stores 0 and leaves it out "
                        "of the max", hovered, token_idx, s.seq_len(model.seq_idx()));
    } else if (skipped(hovered)) {
      const int kv_block = token_idx / g.block_size;
      ImGui::SetTooltip("token %d (slot %d): logical kv_block %d, sparse block %d, skipped by block sparsity for head %d\n"
                        "logit -FLT_MAX (reference %s), exp 0, p 0; its key and value are never loaded",
                        token_idx, hovered, kv_block, token_idx / std::max(1, s.scenario().block_sparse.block_size),
                        model.head_idx(), format_value(ref.logits[static_cast<std::size_t>(hovered)], 6).c_str());
    } else {
      const TokenRecord& t = record.token(hovered);
      ImGui::SetTooltip("token %d (slot %d): logical block %d -> physical %lld, slot %d\ncomputed by warp %d, thread group %d "
                        "(leader lane %d) in QK iteration %d\nlogit %s (reference %s)\nexp %s (reference %s)\np %s (reference %s)",
                        token_idx, hovered, token_idx / g.block_size, static_cast<long long>(t.physical_block), t.block_offset,
                        t.warp, t.thread_group, t.lane, t.iteration, format_value(t.logit, 6).c_str(),
                        format_value(ref.logits[static_cast<std::size_t>(hovered)], 6).c_str(),
                        exp_shown(hovered) ? format_value(record.exp_value(hovered), 6).c_str() : "-",
                        format_value(ref.exp_values[static_cast<std::size_t>(hovered)], 6).c_str(),
                        prob_shown(hovered) ? format_value(record.prob(hovered), 6).c_str() : "-",
                        format_value(ref.probs[static_cast<std::size_t>(hovered)], 6).c_str());
      note_hovered_thread(ui, t.warp * kWarpSize + t.lane);
    }
  }
}

}  // namespace pal::viz
