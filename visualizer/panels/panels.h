// The panels: one file each (panels/<Name>Panel.cpp), each a view over the model and the UI state.
// A panel draws its contents into the current ImGui window; the app decides which window or tab
// holds it (app/app.cpp) and calls them in a flat dispatch once per frame.
#pragma once

#include <array>
#include <string_view>

#include "visualizer/panels/ui_state.h"
#include "visualizer/model/view_model.h"

namespace pal::viz {

// A docs page: its Doxygen label (the page's {#label}, and its HTML file label.html) and its title
// as the page's first line spells it (tests/visualizer checks both against docs/pages).
struct DocsPage {
  std::string_view label;  // "chapter_04_key"
  std::string_view title;  // "Chapter 4: Key"
};
inline constexpr int kMaxDocsPagesPerPanel = 3;

struct PanelInfo {
  PanelId id;
  std::string_view name;   // command-line name: --panel memory
  std::string_view title;  // window / tab title
  std::array<DocsPage, kMaxDocsPagesPerPanel> docs;  // the chapters that explain it; unused ones empty
  std::string_view help;   // the "(?)" text, in plain words
};
const PanelInfo& panel_info(PanelId id);
bool parse_panel(std::string_view name, PanelId& id);
std::string_view memory_figure_name(MemoryFigure figure);  // "key", "k_vecs", ...
// The memory-layout figure of the data a step works on, in the story's order: query_load -> q_vecs,
// the QK loop -> key, the softmax -> logits_vec, the V loop -> value, the reductions of the
// accumulators and the output -> v_vec (the v2 reduce, whose data is the partitions', -> logits_vec).
MemoryFigure figure_for_step(StepKind kind);
bool parse_memory_figure(std::string_view name, MemoryFigure& figure);

void draw_timeline_panel(const ViewModel& model, UiState& ui);
void draw_scenario_panel(const ViewModel& model, UiState& ui);
void draw_paging_panel(const ViewModel& model, UiState& ui);
void draw_memory_layout_panel(const ViewModel& model, UiState& ui);
void draw_threads_panel(ViewModel& model, UiState& ui);  // may change the focused (seq, head)
void draw_softmax_panel(const ViewModel& model, UiState& ui);
void draw_reductions_panel(const ViewModel& model, UiState& ui);
void draw_output_panel(const ViewModel& model, UiState& ui);
void draw_coalescing_panel(const ViewModel& model, UiState& ui);
void draw_shared_memory_panel(const ViewModel& model, UiState& ui);
void draw_compare_panel(const ViewModel& model, UiState& ui);

}  // namespace pal::viz
