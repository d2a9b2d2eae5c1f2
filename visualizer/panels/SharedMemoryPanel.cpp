// Shared-memory panel: the shared-memory accesses of the current step's stage, each site's worst
// warp-wide instruction laid out on the 32 banks, one row per wavefront, and which lanes collide.
// The counts are the emulator's access profile (kernels/simt/access_profile.h); the coalescing panel
// beside it shows the global loads.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <imgui.h>

#include "kernels/stage_registry.h"
#include "visualizer/model/shared_banks.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

constexpr ImU32 kServedColour = IM_COL32(90, 170, 110, 255);    // a word its bank serves alone
constexpr ImU32 kConflictColour = IM_COL32(215, 80, 70, 255);   // a word that shares its bank with another

std::string lanes_text(const std::vector<int>& lanes) {
  if (lanes.size() > 2) return "x" + std::to_string(lanes.size());  // a broadcast to that many lanes
  std::string text;
  for (const int lane : lanes) text += (text.empty() ? "" : ",") + std::to_string(lane);
  return text;
}

void draw_instruction(const simt::SiteProfile& site, UiState& ui) {
  const BankInstruction view = bank_instruction(site);
  ImGui::Text("worst instruction: warp %d of thread block %d, %d B per lane, phases of %d lanes: %d wavefronts, "
              "ideal %d",
              view.warp, view.thread_block, site.bytes_per_lane, view.lanes_per_phase, view.wavefronts,
              view.ideal_wavefronts);
  const float cell_h = 22.0f, left = 76.0f, top = 18.0f;
  // 32 banks across the panel: 38 px a cell where there is room, down to 35 (a "30:28" lane label
  // still fits), so that a 1280-px window shows all 32 without scrolling.
  const float cell_w = std::clamp(std::floor((ImGui::GetContentRegionAvail().x - left) / 32.0f), 35.0f, 38.0f);
  const int rows = std::max(view.wavefronts, 1);
  const Canvas c = begin_canvas("##banks", ImVec2(left + 32 * cell_w, top + float(rows) * cell_h + 70));
  for (int bank = 0; bank < simt::kNumSharedBanks; ++bank)
    c.draw->AddText(c.at(left + float(bank) * cell_w + 4, 0), IM_COL32(170, 170, 170, 255),
                    ("b" + std::to_string(bank)).c_str());
  for (int w = 0; w < rows; ++w) {
    c.draw->AddText(c.at(0, top + float(w) * cell_h + 4), IM_COL32(170, 170, 170, 255),
                    ("wave " + std::to_string(w)).c_str());
    for (int bank = 0; bank < simt::kNumSharedBanks; ++bank)
      draw_cell(c, left + float(bank) * cell_w, top + float(w) * cell_h, left + float(bank + 1) * cell_w - 1,
                top + float(w + 1) * cell_h - 1, kEmptyColour);
  }
  for (const BankSlot& slot : view.slots) {
    const float x0 = left + float(slot.bank) * cell_w, y0 = top + float(slot.wavefront) * cell_h;
    const bool selected = ui.selected_thread >= 0 &&
                          std::find(slot.lanes.begin(), slot.lanes.end(), ui.selected_thread % 32) != slot.lanes.end();
    draw_cell(c, x0, y0, x0 + cell_w - 1, y0 + cell_h - 1, slot.conflicted ? kConflictColour : kServedColour,
              lanes_text(slot.lanes).c_str(), selected ? kSelectionColour : 0);
    if (c.hovered(x0, y0, x0 + cell_w, y0 + cell_h)) {
      std::string lanes;
      for (const int lane : slot.lanes) lanes += " " + std::to_string(lane);
      ImGui::SetTooltip("bank %d, wavefront %d: word at byte %llu (4-byte word %llu)\nlanes:%s%s", slot.bank,
                        slot.wavefront, static_cast<unsigned long long>(slot.word * 4),
                        static_cast<unsigned long long>(slot.word), lanes.c_str(),
                        slot.conflicted ? "\nanother word of this bank is served in another wavefront: a conflict" : "");
    }
  }
  // The lanes: each in its first bank, red when one of its words waits behind another.
  const float lanes_top = top + float(rows) * cell_h + 22;
  c.draw->AddText(c.at(0, lanes_top + 4), IM_COL32(170, 170, 170, 255), "lane->bank");
  for (int lane = 0; lane < 32; ++lane) {
    const auto l = std::size_t(lane);
    const float x0 = left + float(lane) * cell_w;
    const bool active = view.bank_of_lane[l] >= 0;
    const std::string text = active ? std::to_string(lane) + ":" + std::to_string(view.bank_of_lane[l]) : "-";
    draw_cell(c, x0, lanes_top, x0 + cell_w - 1, lanes_top + cell_h - 1,
              !active ? kEmptyColour : view.lane_conflicted[l] ? kConflictColour : kServedColour, text.c_str(),
              ui.selected_thread >= 0 && ui.selected_thread % 32 == lane ? kSelectionColour : 0);
  }
}

}  // namespace

void draw_shared_memory_panel(const ViewModel& model, UiState& ui) {
  const simt::AccessProfile* profile = model.session().access_profile();
  if (profile == nullptr) {
    text_wrapped("The access profile is the emulator's: run the scenario with the emulator backend in this session "
                 "(the Scenario panel, or --backend emulator). A GPU run or a dump read from a file has none; "
                 "scripts/ncu_vs_emulator.sh measures the GPU's counters.");
    return;
  }
  const Stage stage = model.step(ui.step).stage();
  const std::string stage_text(stage_name(stage));
  const std::vector<const simt::SiteProfile*> sites = shared_sites_of_stage(*profile, stage_text);
  text_wrapped("Shared-memory accesses of %s, per warp-wide instruction: 32 banks of 4 bytes; lanes reading the same "
               "word share it; a bank that must deliver several words takes one wavefront each.",
               stage_text.c_str());
  if (ImGui::BeginTable("##sites", 7, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) {
    for (const char* heading : {"site", "source", "kind", "instructions", "wavefronts", "ideal", "ways"})
      ImGui::TableSetupColumn(heading);
    ImGui::TableHeadersRow();
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const simt::SiteProfile& site = *sites[i];
      ImGui::TableNextColumn();
      if (ImGui::Selectable(site.name.c_str(), ui.shared_memory_site == int(i), ImGuiSelectableFlags_SpanAllColumns))
        ui.shared_memory_site = int(i);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(site.location().c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(site.direction == simt::AccessDirection::load ? "load" : "store");
      ImGui::TableNextColumn();
      ImGui::Text("%lld", static_cast<long long>(site.instructions));
      ImGui::TableNextColumn();
      ImGui::Text("%lld", static_cast<long long>(site.wavefronts));
      ImGui::TableNextColumn();
      ImGui::Text("%lld", static_cast<long long>(site.ideal_wavefronts));
      ImGui::TableNextColumn();
      if (site.wavefronts > site.ideal_wavefronts)
        ImGui::TextColored(ImVec4(0.95f, 0.4f, 0.35f, 1.0f), "%.2f", site.conflict_ways());
      else
        ImGui::Text("%.2f", site.conflict_ways());
    }
    ImGui::EndTable();
  }
  if (sites.empty()) {
    text_wrapped("This stage reads and writes no shared memory.");
    return;
  }
  ui.shared_memory_site = std::clamp(ui.shared_memory_site, 0, int(sites.size()) - 1);
  draw_instruction(*sites[std::size_t(ui.shared_memory_site)], ui);
}

}  // namespace pal::viz
