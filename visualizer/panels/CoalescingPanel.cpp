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

// The four columns every coalescing table shows for a set of loads: instructions, bytes the lanes
// asked for, bytes the sectors fetched, and their ratio.
void totals_columns(const CoalescingTotals& totals) {
  ImGui::TableNextColumn();
  ImGui::Text("%d", totals.num_loads);
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(format_bytes(totals.bytes_used).c_str());
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(format_bytes(totals.bytes_fetched).c_str());
  ImGui::TableNextColumn();
  ImGui::Text("%.1f%%", 100.0 * totals.efficiency());
}

std::string load_name(const WarpLoad& load, bool grouped) {
  if (grouped)  // model/grouped.h: iteration = the tile, trip = the copy of that kind in it
    return "tile " + std::to_string(load.iteration) + (load.kind == LoadKind::key ? " K" : " V") + " copy " +
           std::to_string(load.trip);
  switch (load.kind) {
    case LoadKind::query: return "q copy, pass " + std::to_string(load.trip);
    case LoadKind::key: return "it " + std::to_string(load.iteration) + " k_vecs[" + std::to_string(load.trip) + "]";
    case LoadKind::value: return "it " + std::to_string(load.iteration) + " v_vec row i=" + std::to_string(load.trip);
    default: break;
  }
  return "?";
}

void draw_load(const ViewModel& model, const UiState& ui, const WarpLoad& load) {
  const Session& s = model.session();
  const Footprint& f = load.footprint;
  ImGui::Text("warp %d, %s: %d lanes x %d B = %s used; %d sectors = %s fetched; %d lines; efficiency %.0f%%", load.warp,
              load_name(load, s.is_grouped()).c_str(), static_cast<int>(load.lanes.size()), load.lanes.empty() ? 0 : load.lanes[0].num_bytes,
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
  if (is_fp8(s.scenario().kv_cache_dtype) && load.kind != LoadKind::query) {
    // What an fp8 cache changes: x doubles to 16, but the vec widths follow the query dtype, so
    // each K load moves half the bytes an fp16 cache's would, at the same stride.
    const KernelGeometry g = s.geometry();
    const bool key = load.kind == LoadKind::key;
    const int elements = key ? g.vec_size() : g.v_vec_size();
    text_wrapped("fp8 cache (%s, 1 byte per element): x = %d, while %s = %d follows the %s query, so each lane's load moves "
                 "%d bytes instead of the %d an %s cache would. %s",
                 std::string(kv_cache_dtype_name(s.scenario().kv_cache_dtype)).c_str(), g.x(), key ? "VEC_SIZE" : "V_VEC_SIZE",
                 elements, std::string(dtype_name(s.scenario().dtype)).c_str(), elements, elements * g.query_element_size,
                 std::string(dtype_name(s.scenario().dtype)).c_str(),
                 key ? "A token's x-chunk is 16 bytes, and a thread group reads half of it per k_vecs[j]: the warp's "
                       "lanes half-fill every sector they touch, and k_vecs[j + 1] reads the other halves (from L1/L2 "
                       "if they are still there). Half the DRAM bytes, the same number of load instructions."
                     : "The lanes of a row still read contiguous bytes, so the sectors stay full; half the bytes, the same "
                       "number of load instructions.");
  }
  if (s.is_grouped())
    text_wrapped("A cp.async copy moves 16 bytes straight from global to shared memory. Each kv_block's K (and V) of one "
                 "KV head is one contiguous run of head_size x block_size elements in upstream's layouts, and the "
                 "grouped kernel gives each thread consecutive 16-byte units of it, so a warp's copy is %s of "
                 "consecutive bytes whatever the x split; a lane missing here copied nothing (a token slot past the "
                 "sequence's end).",
                 format_bytes(32LL * 16).c_str());
  if (load.kind == LoadKind::key && !s.is_grouped()) {
    const std::vector<std::vector<LaneAccess>> instructions =
        what_if_instructions(load, WhatIfLayout::key_token_major, s.kv_layout(), s.cache_element_size());
    const Footprint what_if = footprint_of(instructions.empty() ? std::vector<LaneAccess>{} : instructions.front());
    text_wrapped("What if k_cache had no x split ([block, kv_head, token, dim], token-major)? The same lanes asking for the "
                       "same (token, dim) pairs would touch %d sectors in %d lines: efficiency %.0f%%. The x-chunk layout "
                       "puts the %d tokens' chunk j side by side, so a warp's k_vecs[j] is one contiguous run.",
                       static_cast<int>(what_if.sectors.size()), static_cast<int>(what_if.lines.size()),
                       100.0 * what_if.efficiency(), s.scenario().block_size);
  }
}

// The bandwidth the what-if table prices bytes at: the NVIDIA H200's nominal HBM3e bandwidth, the
// GPU this project measures on (its read-only stream reaches about 95 % of it).
constexpr double kWhatIfBandwidthBytesPerSecond = 4.8e12;

// What the same loads would cost had upstream chosen another cache layout (coalescing.h).
void draw_what_if(const ViewModel& model, const std::vector<WarpLoad>& loads) {
  const Session& s = model.session();
  const KvCacheLayout& cache = s.kv_layout();
  // The unit warp_loads measured the recorded cache offsets in: a cache element (1 byte for fp8).
  const int element_size = s.cache_element_size();
  ImGui::TextUnformatted("What if the cache were laid out another way? The same lanes reading the same elements:");
  ImGui::SameLine();
  help_marker("Each row re-addresses this thread block's recorded loads as if the cache had the layout named, keeping "
              "the kernel's assignment of elements to lanes. A lane whose bytes are no longer contiguous needs one load "
              "per run of contiguous bytes, so a warp load can become several; each is counted on its own, in 32-byte "
              "sectors, as a profiler counts sectors per request. The time is the sectors' bytes at the H200's nominal "
              "4.8 TB/s, as if every sector came from HBM: an upper bound that ignores caches and latency, for "
              "comparing layouts only.");
  if (!ImGui::BeginTable("whatif", 6, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) return;
  for (const char* title : {"layout", "load instructions", "bytes used", "bytes fetched", "efficiency", "time at 4.8 TB/s"})
    ImGui::TableSetupColumn(title);
  ImGui::TableHeadersRow();
  auto row = [](const std::string& name, const std::string& shape, const CoalescingTotals& totals, bool upstream) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    if (upstream) ImGui::TextUnformatted(name.c_str());
    else ImGui::TextColored(ImVec4(1.0f, 0.8f, 0.45f, 1.0f), "%s", name.c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", shape.c_str());
    totals_columns(totals);
    ImGui::TableNextColumn();
    ImGui::Text("%.3g ns", double(totals.bytes_fetched) / kWhatIfBandwidthBytesPerSecond * 1e9);
  };
  row("K, upstream's (x split)", "[num_blocks, num_kv_heads, head_size/x, block_size, x]", totals_of(loads, LoadKind::key), true);
  for (WhatIfLayout layout : kWhatIfLayouts)
    if (what_if_info(layout).kind == LoadKind::key)
      row(std::string(what_if_info(layout).name), std::string(what_if_info(layout).shape),
          what_if_totals(loads, layout, cache, element_size), false);
  row("V, upstream's", "[num_blocks, num_kv_heads, head_size, block_size]", totals_of(loads, LoadKind::value), true);
  for (WhatIfLayout layout : kWhatIfLayouts)
    if (what_if_info(layout).kind == LoadKind::value)
      row(std::string(what_if_info(layout).name), std::string(what_if_info(layout).shape),
          what_if_totals(loads, layout, cache, element_size), false);
  ImGui::EndTable();
}

}  // namespace

void draw_coalescing_panel(const ViewModel& model, UiState& ui) {
  const int step = model.clamp_step(ui.step);
  const Step& current = model.step(step);
  const int partition = model.partition_of_step(step);
  const bool grouped = model.session().is_grouped();
  if (grouped)
    ImGui::TextDisabled("grouped kernel: its K/V loads are the tiles' cp.async copies of split %d's thread_block "
                        "(the query rows are loaded without a recording)",
                        partition);
  std::vector<const WarpLoad*> shown;
  for (const WarpLoad& load : model.warp_loads()) {
    if (load.partition_idx != partition) continue;
    const bool in_step = (current.kind == StepKind::query_load && load.kind == LoadKind::query && load.trip == current.index) ||
                         (current.kind == StepKind::qk_iteration && load.kind == LoadKind::key && load.iteration == current.index) ||
                         (current.kind == StepKind::v_iteration && load.kind == LoadKind::value && load.iteration == current.index) ||
                         (current.kind == StepKind::tile_copies && load.iteration == current.index);
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
      totals_columns(totals);
    }
    ImGui::EndTable();
  }
  draw_what_if(model, partition_loads);
  ImGui::TextDisabled(step_loads ? "Warp-wide loads of this step (select one):"
                                 : "This step reads nothing from global memory; all loads of the thread block:");
  ui.coalescing_load = std::clamp(ui.coalescing_load, 0, std::max(0, static_cast<int>(shown.size()) - 1));
  // Follow the selected lane's warp when a lane is selected: the same load of that lane's warp is the
  // one the list highlights and the detail shows.
  const int focus = focus_thread(ui);
  int selected = ui.coalescing_load;
  if (!shown.empty() && focus >= 0 && shown[static_cast<std::size_t>(selected)]->warp != focus / kWarpSize)
    for (int i = 0; i < static_cast<int>(shown.size()); ++i) {
      const WarpLoad& load = *shown[static_cast<std::size_t>(i)];
      const WarpLoad& chosen = *shown[static_cast<std::size_t>(ui.coalescing_load)];
      if (load.warp == focus / kWarpSize && load.kind == chosen.kind && load.trip == chosen.trip) {
        selected = i;
        break;
      }
    }
  ImGui::BeginChild("##loadlist", ImVec2(260, std::max(200.0f, ImGui::GetContentRegionAvail().y)), true);
  for (int i = 0; i < static_cast<int>(shown.size()); ++i) {
    const WarpLoad& load = *shown[static_cast<std::size_t>(i)];
    const std::string label = "w" + std::to_string(load.warp) + " " + load_name(load, grouped) + "  " +
                              std::to_string(static_cast<int>(100.0 * load.footprint.efficiency() + 0.5)) + "%";
    if (ImGui::Selectable(label.c_str(), i == selected)) ui.coalescing_load = selected = i;
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##loaddetail", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  if (!shown.empty()) {
    draw_load(model, ui, *shown[static_cast<std::size_t>(selected)]);
  } else {
    ImGui::TextDisabled("No loads recorded for this thread block.");
  }
  ImGui::EndChild();
}

}  // namespace pal::viz
