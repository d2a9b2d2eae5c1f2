// Small drawing helpers shared by the panels: the "(?)" marker, the panel header, colours that mean
// the same thing in every panel (a thread group, a warp, a sequence, a value), and cell grids drawn
// with ImDrawList.
#pragma once

#include <string>

#include <imgui.h>

#include "visualizer/panels/panels.h"
#include "visualizer/panels/ui_state.h"
#include "visualizer/model/memory_lookup.h"
#include "visualizer/model/view_model.h"

namespace pal::viz {

void help_marker(const char* text);
// Text wrapped at the window's visible right edge. ImGui's own TextWrapped wraps at the content
// width, which in a horizontally scrolling window grows with the widest drawing (and with the
// wrapped text itself), so long explanations would run off the screen.
void text_wrapped(const char* format, ...) IM_FMTARGS(1);
void push_visible_wrap();
// Title line of a panel: what stage it shows, its docs chapter, and the (?) explanation.
void panel_header(PanelId id, const ViewModel& model, UiState& ui);
// Opens a docs page of the built site (build/docs/html next to build/bin) in the desktop's browser
// (xdg-open); returns what happened, or how to build the docs when they are not there.
std::string open_docs_page(const DocsPage& page);
// The built page's path (it may not exist): <directory of this executable>/../docs/html/<label>.html.
std::string docs_page_path(const DocsPage& page);
// "step 12/40 · qk_max: warp butterfly, xor 4" in the stage's colour.
void step_badge(const ViewModel& model, const UiState& ui);

// Colours. Every panel colours a thread by the same rule, so a lane is recognisable everywhere.
ImU32 palette(int index, int count, float saturation = 0.55f, float value = 0.92f);
ImU32 stage_colour(Stage stage);
ImU32 sequence_colour(int seq_idx);
ImU32 thread_colour(const ViewModel& model, const UiState& ui, int thread, int iteration = 0);
ImU32 loader_colour(const ViewModel& model, const UiState& ui, const Loader& loader);
ImU32 lane_colour(int lane);  // 32 distinct colours, one per lane of a warp
ImU32 dimmed(ImU32 colour, float amount = 0.7f);  // toward the background
ImU32 value_colour(float value, float scale);      // diverging blue-white-red, |value| / scale
ImU32 error_colour(float ulps);                    // 0 = green, >= 4 ulp = red
inline constexpr ImU32 kSelectionColour = IM_COL32(255, 220, 0, 255);
inline constexpr ImU32 kEmptyColour = IM_COL32(60, 60, 66, 255);
inline constexpr ImU32 kGridColour = IM_COL32(20, 20, 24, 255);
inline constexpr ImU32 kTextDark = IM_COL32(10, 10, 10, 255);
inline constexpr ImU32 kTextLight = IM_COL32(235, 235, 235, 255);

// A fixed-size drawing area laid out like a widget; hovering helpers work in its coordinates.
struct Canvas {
  ImDrawList* draw = nullptr;
  ImVec2 origin;
  ImVec2 size;
  ImVec2 at(float x, float y) const { return ImVec2(origin.x + x, origin.y + y); }
  bool hovered(float x0, float y0, float x1, float y1) const;
};
Canvas begin_canvas(const char* id, ImVec2 size);

// A cell: filled rectangle, optional centred text (drawn only when it fits), optional outline.
void draw_cell(const Canvas& canvas, float x0, float y0, float x1, float y1, ImU32 fill, const char* text = nullptr,
               ImU32 outline = 0, float outline_thickness = 2.0f);
ImU32 text_colour_on(ImU32 fill);

// Whether a thread does work at the current step (for dimming the rest).
bool thread_active_now(const ViewModel& model, const UiState& ui, int thread);
// Records a hover over something a thread owns, so every panel can show it next frame.
void note_hovered_thread(UiState& ui, int thread);
// Selected or hovered thread (the selection wins).
int focus_thread(const UiState& ui);

std::string thread_label(const ViewModel& model, int thread);  // "thread 42 (warp 1, lane 10, group 21)"

}  // namespace pal::viz
