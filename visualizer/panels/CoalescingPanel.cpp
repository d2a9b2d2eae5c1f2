// Coalescing panel: the warp-wide loads of the current step (or of the whole thread block when the
// step reads nothing from global memory), each lane's byte range drawn on the 32-byte sectors and
// 128-byte lines it falls in, and the efficiency = bytes used / bytes fetched.
#include <algorithm>
#include <string>
#include <vector>

#include <imgui.h>

#include "visualizer/model/format.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

std::string load_name(const WarpLoad& load) {
  switch (load.kind) {
    case LoadKind::query: return "q copy, pass " + std::to_string(load.trip);
    case LoadKind::key: return "it " + std::to_string(load.iteration) + " k_vecs[" + std::to_string(load.trip) + "]";
    case LoadKind::value: return "it " + std::to_string(load.iteration) + " v_vec row i=" + std::to_string(load.trip);
    default: break;
  }
  return "?";
}

// The same lanes asking for the same (token, dim) pairs if k_cache were token-major
// [num_blocks, num_kv_heads, block_size, head_size] (no x split): how coalesced would it be?
Footprint token_major_what_if(const Session& s, const WarpLoad& load) {
  const KernelGeometry g = s.geometry();
  std::vector<LaneAccess> lanes;
  for (const LaneAccess& lane : load.lanes) {
    const std::int64_t element = lane.byte_begin / s.cache_element_size();
    // Undo the x-split layout, then place the same (block, kv head, token, dim) token-major.
    const KvCacheCoordinates where = s.kv_layout().key_coordinates(element);
    const std::int64_t base = kv_head_base(where.physical_block, where.kv_head, s.kv_layout().kv_block_stride(),
                                           s.kv_layout().kv_head_stride());
    lanes.push_back({lane.lane, (base + std::int64_t(where.block_offset) * g.head_size + where.dim) * s.cache_element_size(),
                     lane.num_bytes});
  }
  return footprint_of(lanes);
}

void draw_load(const ViewModel& model, const UiState& ui, const WarpLoad& load) {
  const Session& s = model.session();
  const Footprint& f = load.footprint;
  ImGui::Text("warp %d, %s: %d lanes x %d B = %s used; %d sectors = %s fetched; %d lines; efficiency %.0f%%", load.warp,
              load_name(load).c_str(), static_cast<int>(load.lanes.size()), load.lanes.empty() ? 0 : load.lanes[0].num_bytes,
              format_bytes(f.bytes_used).c_str(), static_cast<int>(f.sectors.size()), format_bytes(f.bytes_fetched()).c_str(),
              static_cast<int>(f.lines.size()), 100.0 * f.efficiency());
  const float px = 3.0f;  // pixels per byte
  const float line_w = 128 * px, line_h = 38.0f, gap = 10.0f;
  const float avail = std::max(ImGui::GetContentRegionAvail().x, line_w + 100);
  const int per_row = std::max(1, int((avail - 90) / (line_w + gap)));
  const int num_lines = static_cast<int>(f.lines.size());
  const int rows = std::max(1, (num_lines + per_row - 1) / per_row);
  const Canvas c = begin_canvas("##lines", ImVec2(90 + float(per_row) * (line_w + gap), float(rows) * (line_h + 20)));
  for (int i = 0; i < num_lines; ++i) {
    const std::int64_t line = f.lines[static_cast<std::size_t>(i)];
    const float x0 = 90 + float(i % per_row) * (line_w + gap), y0 = float(i / per_row) * (line_h + 20) + 14;
    if (i % per_row == 0)
      c.draw->AddText(c.at(0, y0 + 10), IM_COL32(170, 170, 170, 255), ("byte " + std::to_string(line * kLineBytes)).c_str());
    c.draw->AddText(c.at(x0, y0 - 14), IM_COL32(170, 170, 170, 255), ("line " + std::to_string(line)).c_str());
    c.draw->AddRectFilled(c.at(x0, y0), c.at(x0 + line_w, y0 + line_h), IM_COL32(45, 45, 52, 255));
    for (int sector = 0; sector < 4; ++sector) {
      const std::int64_t index = line * 4 + sector;
      const bool fetched = std::binary_search(f.sectors.begin(), f.sectors.end(), index);
      const float sx = x0 + float(sector * kSectorBytes) * px;
      if (fetched) c.draw->AddRectFilled(c.at(sx, y0), c.at(sx + kSectorBytes * px, y0 + line_h), IM_COL32(90, 40, 40, 255));
    }
    for (const LaneAccess& lane : load.lanes) {
      const std::int64_t begin = std::max(lane.byte_begin, line * kLineBytes);
      const std::int64_t end = std::min(lane.byte_begin + lane.num_bytes, (line + 1) * kLineBytes);
      if (end <= begin) continue;
      const float a = x0 + float(begin - line * kLineBytes) * px, b = x0 + float(end - line * kLineBytes) * px;
      const int thread = load.warp * kWarpSize + lane.lane;
      ImU32 fill = thread_colour(model, ui, thread);
      draw_cell(c, a, y0 + 4, b - 1, y0 + line_h - 4, fill, std::to_string(lane.lane).c_str(),
                thread == focus_thread(ui) ? kSelectionColour : 0);
      if (c.hovered(a, y0, b, y0 + line_h))
        ImGui::SetTooltip("lane %d (thread %d): bytes [%lld, %lld) of %s", lane.lane, thread, static_cast<long long>(lane.byte_begin),
                          static_cast<long long>(lane.byte_begin + lane.num_bytes), std::string(tensor_name(tensor_of(load.kind))).c_str());
    }
    for (int sector = 0; sector <= 4; ++sector) {
      const float sx = x0 + float(sector * kSectorBytes) * px;
      c.draw->AddLine(c.at(sx, y0 - 2), c.at(sx, y0 + line_h + 2), IM_COL32(230, 230, 230, 200), sector % 4 == 0 ? 2.0f : 1.0f);
    }
  }
  push_visible_wrap();
  ImGui::TextDisabled("Dark red = fetched sectors; coloured = bytes a lane asked for (lane number inside); white ticks = 32-byte "
                      "sector boundaries. Addresses are byte offsets from %s's base (256-byte aligned).",
                      std::string(tensor_name(tensor_of(load.kind))).c_str());
  ImGui::PopTextWrapPos();
  if (load.kind == LoadKind::key) {
    const Footprint what_if = token_major_what_if(s, load);
    text_wrapped("What if k_cache had no x split ([block, kv_head, token, dim], token-major)? The same lanes asking for the "
                       "same (token, dim) pairs would touch %d sectors in %d lines: efficiency %.0f%%. The x-chunk layout "
                       "puts the %d tokens' chunk j side by side, so a warp's k_vecs[j] is one contiguous run.",
                       static_cast<int>(what_if.sectors.size()), static_cast<int>(what_if.lines.size()),
                       100.0 * what_if.efficiency(), s.scenario().block_size);
  }
}

}  // namespace

void draw_coalescing_panel(const ViewModel& model, UiState& ui) {
  const int step = model.clamp_step(ui.step);
  const Step& current = model.step(step);
  const int partition = model.partition_of_step(step);
  std::vector<const WarpLoad*> shown;
  for (const WarpLoad& load : model.warp_loads()) {
    if (load.partition_idx != partition) continue;
    const bool in_step = (current.kind == StepKind::query_load && load.kind == LoadKind::query && load.trip == current.index) ||
                         (current.kind == StepKind::qk_iteration && load.kind == LoadKind::key && load.iteration == current.index) ||
                         (current.kind == StepKind::v_iteration && load.kind == LoadKind::value && load.iteration == current.index);
    if (in_step) shown.push_back(&load);
  }
  const bool step_loads = !shown.empty();
  if (!step_loads)
    for (const WarpLoad& load : model.warp_loads())
      if (load.partition_idx == partition) shown.push_back(&load);

  // Totals for the thread block.
  std::vector<WarpLoad> partition_loads;
  for (const WarpLoad& load : model.warp_loads())
    if (load.partition_idx == partition) partition_loads.push_back(load);
  if (ImGui::BeginTable("totals", 5, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) {
    for (const char* title : {"thread block", "warp loads", "bytes used", "bytes fetched", "efficiency"}) ImGui::TableSetupColumn(title);
    ImGui::TableHeadersRow();
    for (const auto& [kind, name] : {std::pair{LoadKind::query, "q"}, std::pair{LoadKind::key, "k_cache"},
                                     std::pair{LoadKind::value, "v_cache"}, std::pair{LoadKind::none, "all"}}) {
      const CoalescingTotals totals = totals_of(partition_loads, kind);
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(name);
      ImGui::TableNextColumn();
      ImGui::Text("%d", totals.num_loads);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_bytes(totals.bytes_used).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_bytes(totals.bytes_fetched).c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%.1f%%", 100.0 * totals.efficiency());
    }
    ImGui::EndTable();
  }
  ImGui::TextDisabled(step_loads ? "Warp-wide loads of this step (select one):"
                                 : "This step reads nothing from global memory; all loads of the thread block:");
  ui.coalescing_load = std::clamp(ui.coalescing_load, 0, std::max(0, static_cast<int>(shown.size()) - 1));
  // Follow the selected lane's warp when a lane is selected.
  const int focus = focus_thread(ui);
  ImGui::BeginChild("##loadlist", ImVec2(260, std::max(200.0f, ImGui::GetContentRegionAvail().y)), true);
  for (int i = 0; i < static_cast<int>(shown.size()); ++i) {
    const WarpLoad& load = *shown[static_cast<std::size_t>(i)];
    const std::string label = "w" + std::to_string(load.warp) + " " + load_name(load) + "  " +
                              std::to_string(static_cast<int>(100.0 * load.footprint.efficiency() + 0.5)) + "%";
    if (ImGui::Selectable(label.c_str(), i == ui.coalescing_load)) ui.coalescing_load = i;
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##loaddetail", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  if (!shown.empty()) {
    const WarpLoad* selected = shown[static_cast<std::size_t>(ui.coalescing_load)];
    if (focus >= 0 && selected->warp != focus / kWarpSize)
      for (const WarpLoad* load : shown)
        if (load->warp == focus / kWarpSize && load->kind == selected->kind && load->trip == selected->trip) selected = load;
    draw_load(model, ui, *selected);
  } else {
    ImGui::TextDisabled("No loads recorded for this thread block.");
  }
  ImGui::EndChild();
}

}  // namespace pal::viz
