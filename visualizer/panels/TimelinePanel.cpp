// Timeline panel: step controls (first / previous / play / next / last, speed, jump to a stage), a
// strip of every step coloured by stage, and the current step's description with its real values.
#include <algorithm>
#include <string>

#include <imgui.h>

#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

void draw_timeline_panel(const ViewModel& model, UiState& ui) {
  const Timeline& timeline = model.timeline();
  const int count = timeline.size();
  if (count == 0) return;
  ui.step = model.clamp_step(ui.step);

  help_marker(std::string(panel_info(PanelId::timeline).help).c_str());
  ImGui::SameLine();
  if (ImGui::Button("|<")) ui.step = 0;
  ImGui::SameLine();
  if (ImGui::Button("<")) ui.step = model.clamp_step(ui.step - 1);
  ImGui::SameLine();
  if (ImGui::Button(ui.playing ? "Pause" : "Play ", ImVec2(50, 0))) {
    if (!ui.playing && ui.step == count - 1) ui.step = 0;
    ui.playing = !ui.playing;
  }
  ImGui::SameLine();
  if (ImGui::Button(">")) ui.step = model.clamp_step(ui.step + 1);
  ImGui::SameLine();
  if (ImGui::Button(">|")) ui.step = count - 1;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(260);
  ImGui::SliderInt("##step", &ui.step, 0, count - 1, "step %d");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120);
  ImGui::SliderFloat("steps/s", &ui.steps_per_second, 0.25f, 20.0f, "%.2f", ImGuiSliderFlags_Logarithmic);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(200);
  const Stage current_stage = model.step(ui.step).stage();
  if (ImGui::BeginCombo("jump to stage", std::string(stage_name(current_stage)).c_str())) {
    for (int s = 0; s < kNumStages; ++s) {
      const int first = timeline.first_of(static_cast<Stage>(s));
      if (first < 0) continue;
      if (ImGui::Selectable(std::string(stage_title(static_cast<Stage>(s))).c_str(), static_cast<int>(current_stage) == s))
        ui.step = first;
    }
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  const Step& step = model.step(ui.step);
  const bool grouped = model.session().is_grouped();
  if (step.partition_idx >= 0)
    ImGui::TextDisabled("seq %d, head %d%s", model.seq_idx(), model.head_idx(),
                        model.session().is_v2() ? (", partition " + std::to_string(step.partition_idx)).c_str()
                        : grouped               ? (", split " + std::to_string(step.partition_idx)).c_str()
                                                : "");
  else
    ImGui::TextDisabled("seq %d, head %d, %s kernel", model.seq_idx(), model.head_idx(), grouped ? "split_merge" : "reduce");

  // The strip: one segment per step, coloured by stage; click or drag to move.
  const float width = ImGui::GetContentRegionAvail().x;
  const Canvas strip = begin_canvas("##strip", ImVec2(width, 16));
  const float segment = width / float(count);
  for (int i = 0; i < count; ++i) {
    const Step& s = timeline.steps[static_cast<std::size_t>(i)];
    ImU32 colour = stage_colour(s.stage());
    if (i > ui.step) colour = dimmed(colour, 0.55f);
    strip.draw->AddRectFilled(strip.at(float(i) * segment, 0), strip.at(float(i + 1) * segment - (segment > 3 ? 1.0f : 0.0f), 16),
                              colour);
    if (strip.hovered(float(i) * segment, 0, float(i + 1) * segment, 16)) {
      ImGui::SetTooltip("step %d: %s", i, s.title.c_str());
      if (ImGui::IsMouseDown(ImGuiMouseButton_Left)) ui.step = i;
    }
  }
  strip.draw->AddRect(strip.at(float(ui.step) * segment - 1, -2), strip.at(float(ui.step + 1) * segment + 1, 18),
                      IM_COL32(255, 255, 255, 255), 0.0f, 0, 2.0f);
  // Stage names under the strip, each where its first step starts (when there is room).
  const Canvas labels = begin_canvas("##stage_names", ImVec2(width, ImGui::GetTextLineHeight()));
  float free_from = 0.0f;
  for (int i = 0; i < count; ++i) {
    const Step& s = timeline.steps[static_cast<std::size_t>(i)];
    if (i > 0 && timeline.steps[static_cast<std::size_t>(i - 1)].stage() == s.stage() &&
        timeline.steps[static_cast<std::size_t>(i - 1)].partition_idx == s.partition_idx)
      continue;
    const std::string name(stage_name(s.stage()));
    const float x = float(i) * segment;
    if (x < free_from) continue;
    labels.draw->AddText(labels.at(x, 0), stage_colour(s.stage()), name.c_str());
    free_from = x + ImGui::CalcTextSize(name.c_str()).x + 6.0f;
  }

  // Below the strip, side by side: the step's explanation (scrolls when long) and the whole story as
  // a list, each the full remaining height, so a short window still shows several steps of the list.
  const float below = ImGui::GetContentRegionAvail().y;
  const float list_width = std::clamp(width * 0.42f, 300.0f, 700.0f);
  ImGui::BeginChild("##step_text", ImVec2(std::max(100.0f, width - list_width - 8.0f), below), false);
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(stage_colour(step.stage())), "step %d/%d  %s", ui.step, count - 1,
                     step.title.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("(%d threads active)", step.num_active());
  push_visible_wrap();
  ImGui::TextUnformatted(step.description.c_str());
  ImGui::PopTextWrapPos();
  ImGui::EndChild();
  ImGui::SameLine();

  // The whole story as a list; click a line to go there.
  if (ImGui::GetContentRegionAvail().y > 40.0f &&
      ImGui::BeginTable("steps", 3, ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV)) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("step", ImGuiTableColumnFlags_WidthFixed, 40.0f);
    ImGui::TableSetupColumn("stage", ImGuiTableColumnFlags_WidthFixed, 150.0f);
    ImGui::TableSetupColumn("what happens", ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableHeadersRow();
    static int scrolled_to = -1;
    for (int i = 0; i < count; ++i) {
      const Step& s = timeline.steps[static_cast<std::size_t>(i)];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      if (ImGui::Selectable(std::to_string(i).c_str(), i == ui.step, ImGuiSelectableFlags_SpanAllColumns)) ui.step = i;
      if (i == ui.step && scrolled_to != ui.step) {
        ImGui::SetScrollHereY(0.3f);
        scrolled_to = ui.step;
      }
      ImGui::TableNextColumn();
      // v2: which thread block (partition) the step belongs to, or the reduce kernel.
      // grouped: which split's thread block, or split_merge.
      const bool multi = model.session().is_v2() || grouped;
      const std::string where = !multi                ? std::string()
                                : s.partition_idx < 0 ? std::string(grouped ? "merge  " : "reduce  ")
                                                      : (grouped ? "s" : "p") + std::to_string(s.partition_idx) + "  ";
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(stage_colour(s.stage())), "%s%s", where.c_str(),
                         std::string(stage_name(s.stage())).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(s.title.c_str());
    }
    ImGui::EndTable();
  }
}

}  // namespace pal::viz
