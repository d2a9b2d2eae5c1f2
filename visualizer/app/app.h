// One frame of pal-viz: keyboard and playback, the layout, the flat dispatch over the panels, and
// the requests the panels left (re-run, open, save), done after drawing.
#pragma once

#include "visualizer/panels/ui_state.h"
#include "visualizer/model/view_model.h"

namespace pal::viz {

// Draws every shown panel (or only ui.solo) for the current frame. Call between Window::begin_frame
// and Window::end_frame. `dt` is the time since the previous frame, for playback.
void draw_frame(ViewModel& model, UiState& ui, double dt);

// Acts on ui.request. Errors land in ui.run_error, successes in ui.status; never throws.
void handle_requests(ViewModel& model, UiState& ui);

// Copies a scenario into the editing fields (after a run, a file open, or at start).
void load_draft(UiState& ui, const Scenario& scenario);
// Re-runs the model from ui.draft. Returns false (and sets ui.run_error) when the draft is invalid.
bool run_draft(ViewModel& model, UiState& ui);

}  // namespace pal::viz
