// Compare panel (pal-viz --compare v1,grouped): two kernel versions on the same inputs side by side.
// The table's rows are run/version_compare.h's comparison_rows, the lines pal-run --compare prints;
// the bars draw per KV head the bytes each version loaded against the distinct bytes (one read of
// each: v1/v2 read a KV head once per query head of its group, the grouped kernel once); the heat
// map is the element-wise |difference| of the two outputs, one row per (seq, head). Hover for values.
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include <imgui.h>

#include "visualizer/model/format.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

constexpr ImU32 kColourA = IM_COL32(230, 150, 80, 255);   // the first version
constexpr ImU32 kColourB = IM_COL32(90, 170, 230, 255);   // the second version
constexpr ImU32 kOneRead = IM_COL32(245, 245, 245, 255);  // the distinct bytes: one read of each
constexpr ImU32 kAxis = IM_COL32(170, 170, 170, 255);

std::string kib(std::int64_t bytes) { return format_value(float(double(bytes) / 1024.0), 4) + " KiB"; }

// |diff| from 0 (dark) to the largest (bright yellow), on a square-root scale so that small
// differences stay visible next to the largest one.
ImU32 difference_colour(float value, float largest) {
  if (std::isnan(value)) return IM_COL32(255, 0, 255, 255);
  const float t = largest > 0.0f ? std::sqrt(std::clamp(value / largest, 0.0f, 1.0f)) : 0.0f;
  const auto mix = [t](int a, int b) { return static_cast<int>(float(a) + (float(b) - float(a)) * t); };
  return IM_COL32(mix(30, 255), mix(30, 225), mix(60, 40), 255);
}

void draw_table(const ComparisonView& view, const std::string& name_a, const std::string& name_b) {
  const VersionComparison& c = view.comparison;
  if (!ImGui::BeginTable("##comparison", 3, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg))
    return;
  ImGui::TableSetupColumn("");
  ImGui::TableSetupColumn(name_a.c_str());
  ImGui::TableSetupColumn(name_b.c_str());
  ImGui::TableHeadersRow();
  for (const ComparisonRow& row : comparison_rows(c)) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(row.quantity.c_str());
    const bool stages = row.quantity == "stages";
    for (const auto& [text, profile] : {std::pair{&row.a, &c.a}, std::pair{&row.b, &c.b}}) {
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(text->c_str());
      if (stages && ImGui::IsItemHovered()) {
        std::string list;
        for (const std::string& stage : profile->stages) list += stage + "\n";
        ImGui::SetTooltip("%s", list.c_str());
      }
    }
  }
  ImGui::EndTable();
}

// One pair of bars per KV head, with the distinct bytes drawn across both as a white line.
void draw_bars(const ComparisonView& view, const std::string& name_a, const std::string& name_b, float width, float height) {
  const std::vector<KvHeadBar> bars = kv_head_bars(view.comparison);
  ImGui::TextUnformatted("K/V bytes loaded per KV head");
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kColourA), "%s", name_a.c_str());
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kColourB), "%s", name_b.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("white line: distinct bytes (each read once)");
  if (bars.empty()) return;
  std::int64_t top = 1;
  for (const KvHeadBar& bar : bars) top = std::max({top, bar.loaded_a, bar.loaded_b, bar.unique_bytes});
  const Canvas c = begin_canvas("##bars", ImVec2(width, height));
  const float left = 70.0f, right = width - 6.0f, top_y = 8.0f, bottom = height - 18.0f;
  c.draw->AddLine(c.at(left, bottom), c.at(right, bottom), kAxis);
  c.draw->AddLine(c.at(left, top_y), c.at(left, bottom), kAxis);
  c.draw->AddText(c.at(2, top_y - 4), kAxis, kib(top).c_str());
  c.draw->AddText(c.at(2, bottom - 12), kAxis, "0");
  const float group_w = (right - left) / float(bars.size());
  const float bar_w = std::min(60.0f, group_w * 0.36f);
  auto to_y = [&](std::int64_t bytes) { return bottom - (bottom - top_y) * float(double(bytes) / double(top)); };
  for (std::size_t h = 0; h < bars.size(); ++h) {
    const KvHeadBar& bar = bars[h];
    const float centre = left + group_w * (float(h) + 0.5f);
    const float ax0 = centre - bar_w - 2, ax1 = centre - 2, bx0 = centre + 2, bx1 = centre + bar_w + 2;
    c.draw->AddRectFilled(c.at(ax0, to_y(bar.loaded_a)), c.at(ax1, bottom), kColourA);
    c.draw->AddRectFilled(c.at(bx0, to_y(bar.loaded_b)), c.at(bx1, bottom), kColourB);
    const float one_read = to_y(bar.unique_bytes);
    c.draw->AddLine(c.at(ax0 - 4, one_read), c.at(bx1 + 4, one_read), kOneRead, 2.0f);
    // Reads of each byte above each bar.
    for (const auto& [x0, x1, reads, loaded] :
         {std::tuple{ax0, ax1, bar.reads_a, bar.loaded_a}, std::tuple{bx0, bx1, bar.reads_b, bar.loaded_b}}) {
      const std::string label = format_value(float(reads), 3) + "x";
      const float label_w = ImGui::CalcTextSize(label.c_str()).x;
      if (label_w <= x1 - x0 + 8)
        c.draw->AddText(c.at((x0 + x1 - label_w) / 2, std::max(top_y, to_y(loaded) - 15)), kTextLight, label.c_str());
    }
    const std::string name = "KV head " + std::to_string(bar.kv_head_idx);
    c.draw->AddText(c.at(centre - ImGui::CalcTextSize(name.c_str()).x / 2, bottom + 2), kAxis, name.c_str());
    if (c.hovered(centre - group_w / 2, top_y, centre + group_w / 2, bottom + 16))
      ImGui::SetTooltip("KV head %d: %s distinct K/V bytes\n%s: loaded %s in %lld loads (%s reads of each byte)\n"
                        "%s: loaded %s in %lld loads (%s reads of each byte)",
                        bar.kv_head_idx, kib(bar.unique_bytes).c_str(), name_a.c_str(), kib(bar.loaded_a).c_str(),
                        static_cast<long long>(bar.loads_a), format_value(float(bar.reads_a), 3).c_str(), name_b.c_str(),
                        kib(bar.loaded_b).c_str(), static_cast<long long>(bar.loads_b),
                        format_value(float(bar.reads_b), 3).c_str());
  }
}

// The outputs' |a - b|, element by element: a row per (seq, head), a column per dim, and at the left
// each head's largest |a - b|.
void draw_difference(const ComparisonView& view, const std::string& name_a, const std::string& name_b, float width,
                     float height) {
  const OutputDifference& d = view.comparison.difference;
  ImGui::Text("outputs: %lld of %lld elements differ; max |%s - %s| = %s at seq %d, head %d, dim %d (%lld ulps apart)",
              static_cast<long long>(d.num_different), static_cast<long long>(d.num_elements), name_a.c_str(),
              name_b.c_str(), format_value(float(d.max_abs), 3).c_str(), d.seq_idx, d.head_idx, d.dim_idx,
              static_cast<long long>(d.ulps_at_max_abs));
  ImGui::TextDisabled("|%s - %s| per (seq, head) row and dim column; dark = equal, yellow = %s (square-root scale); left "
                      "column: the head's largest",
                      name_a.c_str(), name_b.c_str(), format_value(float(d.max_abs), 3).c_str());
  const int rows = d.num_seqs * d.num_heads;
  if (rows == 0 || d.head_size == 0) return;
  const float label_w = 70.0f, head_column = 14.0f, gap = 6.0f;
  const float cell_w = std::max(1.0f, (width - label_w - head_column - gap - 4.0f) / float(d.head_size));
  const float cell_h = std::clamp((height - 4.0f) / float(rows), 2.0f, 16.0f);
  const Canvas c = begin_canvas("##difference", ImVec2(width, cell_h * float(rows) + 4.0f));
  const float largest = float(d.max_abs);
  const float map_x = label_w + head_column + gap;
  for (int row = 0; row < rows; ++row) {
    const int seq = row / d.num_heads, head = row % d.num_heads;
    const float y = float(row) * cell_h;
    if (cell_h >= 12.0f || head == 0)
      c.draw->AddText(c.at(0, y + (cell_h >= 12.0f ? 0.0f : -2.0f)), kAxis,
                      ("s" + std::to_string(seq) + " h" + std::to_string(head)).c_str());
    const float head_max = float(d.head_max_abs[static_cast<std::size_t>(row)]);
    c.draw->AddRectFilled(c.at(label_w, y), c.at(label_w + head_column, y + cell_h - (cell_h > 4 ? 1 : 0)),
                          difference_colour(head_max, largest));
    if (c.hovered(label_w, y, label_w + head_column, y + cell_h))
      ImGui::SetTooltip("seq %d, head %d: largest |%s - %s| = %s", seq, head, name_a.c_str(), name_b.c_str(),
                        format_value(head_max, 4).c_str());
    for (int dim = 0; dim < d.head_size; ++dim) {
      const std::size_t i = static_cast<std::size_t>(row) * static_cast<std::size_t>(d.head_size) + static_cast<std::size_t>(dim);
      const float x = map_x + float(dim) * cell_w;
      c.draw->AddRectFilled(c.at(x, y), c.at(x + cell_w, y + cell_h - (cell_h > 4 ? 1 : 0)),
                            difference_colour(d.abs_diff[i], largest));
      if (c.hovered(x, y, x + cell_w, y + cell_h))
        ImGui::SetTooltip("seq %d, head %d, dim %d\n%s: %s\n%s: %s\n|diff| = %s", seq, head, dim, name_a.c_str(),
                          format_value(d.values_a[i], 6).c_str(), name_b.c_str(), format_value(d.values_b[i], 6).c_str(),
                          format_value(d.abs_diff[i], 4).c_str());
    }
  }
}

}  // namespace

void draw_compare_panel(const ViewModel& model, UiState& /*ui*/) {
  const ComparisonView* view = model.comparison();
  if (view == nullptr) {
    text_wrapped("No comparison in this session: start pal-viz with --compare v1,grouped (two of v1, v2, grouped) to run "
                 "the scenario with both versions on the same inputs and see them side by side here.");
    return;
  }
  const VersionComparison& c = view->comparison;
  const std::string name_a(version_name(c.a.version)), name_b(version_name(c.b.version));
  text_wrapped("%s and %s on the same inputs (%s): %s, %s", name_a.c_str(), name_b.c_str(), view->origin.c_str(),
               view->scenario_summary.c_str(),
               view->passed_a && view->passed_b ? "each within tolerance of its own reference"
                                                : "a stage is OUT of tolerance of its reference (pal-run --record)");
  const float width = std::max(480.0f, ImGui::GetContentRegionAvail().x);
  const float avail_y = ImGui::GetContentRegionAvail().y;
  // The table and the bars side by side when the panel is wide, stacked otherwise.
  const bool side_by_side = width >= 1000.0f;
  const float upper_h = std::max(200.0f, avail_y * 0.5f);
  if (side_by_side) {
    ImGui::BeginChild("##table", ImVec2(width * 0.48f, upper_h), false, ImGuiWindowFlags_HorizontalScrollbar);
    draw_table(*view, name_a, name_b);
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("##bars_child", ImVec2(0, upper_h), false, ImGuiWindowFlags_NoScrollbar);
    draw_bars(*view, name_a, name_b, ImGui::GetContentRegionAvail().x, upper_h - ImGui::GetTextLineHeightWithSpacing() - 8);
    ImGui::EndChild();
  } else {
    draw_table(*view, name_a, name_b);
    draw_bars(*view, name_a, name_b, width, std::max(160.0f, avail_y * 0.3f));
  }
  ImGui::Separator();
  draw_difference(*view, name_a, name_b, width,
                  std::max(80.0f, ImGui::GetContentRegionAvail().y - 2.0f * ImGui::GetTextLineHeightWithSpacing() - 8.0f));
}

}  // namespace pal::viz
