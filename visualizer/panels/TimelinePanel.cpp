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
  if (step.partition_idx >= 0)
    ImGui::TextDisabled("seq %d, head %d%s", model.seq_idx(), model.head_idx(),
                        model.session().is_v2() ? (", partition " + std::to_string(step.partition_idx)).c_str() : "");
  else
    ImGui::TextDisabled("seq %d, head %d, reduce kernel", model.seq_idx(), model.head_idx());

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

  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(stage_colour(step.stage())), "step %d/%d  %s", ui.step, count - 1,
                     step.title.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("(%d threads active)", step.num_active());
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(step.description.c_str());
  ImGui::PopTextWrapPos();
}

}  // namespace pal::viz
