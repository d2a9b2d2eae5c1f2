#include "visualizer/app/app.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include <imgui.h>

#include "visualizer/model/format.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

// The tiled windows cover the whole screen, so they draw no background of their own: the window
// clear paints the same colour (Window::end_frame). Filling 1.6 million pixels with a blended quad
// is what costs most in a software renderer, and the frame would pay it once per window.
constexpr ImGuiWindowFlags kTiledBackground = ImGuiWindowFlags_NoBackground;

void draw_panel(PanelId id, ViewModel& model, UiState& ui) {
  if (!model.ready() && id != PanelId::scenario) {
    text_wrapped("No run yet: fix the scenario in the Scenario panel. %s", ui.run_error.c_str());
    return;
  }
  switch (id) {
    case PanelId::timeline: draw_timeline_panel(model, ui); break;
    case PanelId::scenario: draw_scenario_panel(model, ui); break;
    case PanelId::paging: draw_paging_panel(model, ui); break;
    case PanelId::memory: draw_memory_layout_panel(model, ui); break;
    case PanelId::threads: draw_threads_panel(model, ui); break;
    case PanelId::softmax: draw_softmax_panel(model, ui); break;
    case PanelId::reductions: draw_reductions_panel(model, ui); break;
    case PanelId::output: draw_output_panel(model, ui); break;
    case PanelId::coalescing: draw_coalescing_panel(model, ui); break;
    case PanelId::shared_memory: draw_shared_memory_panel(model, ui); break;
    case PanelId::compare: draw_compare_panel(model, ui); break;
  }
}

void keyboard_and_playback(const ViewModel& model, UiState& ui, double dt) {
  if (!model.ready()) return;
  const ImGuiIO& io = ImGui::GetIO();
  if (!io.WantTextInput) {
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow))) ui.step = model.clamp_step(ui.step + 1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow))) ui.step = model.clamp_step(ui.step - 1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Home))) ui.step = 0;
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_End))) ui.step = model.timeline().size() - 1;
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Space))) ui.playing = !ui.playing;
    // Escape stops a background run when one is going (the step keys still work meanwhile), else
    // clears the selected lane.
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
      if (model.background_running()) ui.request = Request::cancel_background;
      else ui.selected_thread = -1;
    }
  }
  if (ui.playing) {
    ui.play_clock += dt * ui.steps_per_second;
    while (ui.play_clock >= 1.0) {
      ui.play_clock -= 1.0;
      if (ui.step + 1 >= model.timeline().size()) {
        ui.playing = false;
        break;
      }
      ++ui.step;
    }
  } else {
    ui.play_clock = 0.0;
  }
}

// A window at a fixed place holding a tab bar of panels: the fixed grid that stands in for docking,
// which this ImGui version lacks.
void tabbed_window(const char* name, ImVec2 pos, ImVec2 size, std::initializer_list<PanelId> panels, ViewModel& model,
                   UiState& ui) {
  ImGui::SetNextWindowPos(pos, ImGuiCond_Always);
  ImGui::SetNextWindowSize(size, ImGuiCond_Always);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                 ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoBringToFrontOnFocus | kTiledBackground;
  if (ImGui::Begin(name, nullptr, flags)) {
    if (ImGui::BeginTabBar(name)) {
      for (PanelId id : panels) {
        if (!ui.show[static_cast<int>(id)]) continue;
        const PanelInfo& info = panel_info(id);
        if (ImGui::BeginTabItem(std::string(info.title).c_str())) {
          ImGui::BeginChild("content", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
          panel_header(id, model, ui);
          draw_panel(id, model, ui);
          ImGui::EndChild();
          ImGui::EndTabItem();
        }
      }
      ImGui::EndTabBar();
    }
  }
  ImGui::End();
}

void solo_window(PanelId id, ViewModel& model, UiState& ui) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(0, 0), ImGuiCond_Always);
  ImGui::SetNextWindowSize(display, ImGuiCond_Always);
  const PanelInfo& info = panel_info(id);
  const std::string title = "pal-viz: " + std::string(info.title);
  ImGui::Begin(title.c_str(), nullptr,
               ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                   ImGuiWindowFlags_HorizontalScrollbar | kTiledBackground |
                   (ui.figure_only ? ImGuiWindowFlags_NoTitleBar : ImGuiWindowFlags_None));
  if (!ui.figure_only) panel_header(id, model, ui);
  if (!ui.figure_only && id != PanelId::timeline && id != PanelId::scenario && id != PanelId::compare && model.ready()) {
    // Screenshots carry the step's explanation so a picture in the docs stands on its own.
    push_visible_wrap();
    ImGui::TextDisabled("%s", model.step(ui.step).description.c_str());
    ImGui::PopTextWrapPos();
    ImGui::Separator();
  }
  // A figure for a page or a slide is as wide as its picture: the panels' one-line texts wrap at
  // its edge instead of running past it (the window would scroll; a picture cannot).
  if (ui.figure_only) push_visible_wrap();
  draw_panel(id, model, ui);
  if (ui.figure_only) ImGui::PopTextWrapPos();
  // The cursor after the last item is where the contents end, in the window's coordinates (which
  // scroll with the contents); the padding below them is the window's own.
  ui.solo_content_height = ImGui::GetCursorPosY() + ImGui::GetStyle().WindowPadding.y;
  ui.solo_cut_right = ImGui::GetScrollMaxX();
  ImGui::End();
}

void menu_bar(ViewModel& model, UiState& ui) {
  if (!ImGui::BeginMainMenuBar()) return;
  if (ImGui::BeginMenu("View")) {
    for (int i = 0; i < kNumPanels; ++i) {
      const PanelInfo& info = panel_info(static_cast<PanelId>(i));
      ImGui::MenuItem(std::string(info.title).c_str(), nullptr, &ui.show[i]);
    }
    ImGui::EndMenu();
  }
  if (model.ready()) {
    const Session& s = model.session();
    // The device's short name ("CPU emulator", the GPU's name): the bar is one line at 1280 px, and
    // the scenario panel shows the full one.
    const std::string& device = s.kernel().device_name;
    const std::string short_device = device.substr(0, device.find(" ("));
    // The selected lane first and the scenario (also in its panel) last, where a narrow window clips.
    ImGui::TextDisabled("%s  |  %s, %s  |  %s",
                        ui.selected_thread >= 0 ? thread_label(model, ui.selected_thread).c_str() : "no lane selected",
                        std::string(version_name(s.kernel().version)).c_str(), short_device.c_str(),
                        scenario_summary(s.requested_scenario()).c_str());
  }
  ImGui::EndMainMenuBar();
}

}  // namespace

void load_draft(UiState& ui, const Scenario& scenario) {
  ui.draft = scenario;
  std::ostringstream text;
  for (std::size_t i = 0; i < scenario.seq_lens.size(); ++i) text << (i ? ", " : "") << scenario.seq_lens[i];
  ui.seq_lens_text = text.str();
  ui.custom_scale = scenario.scale.has_value();
  ui.scale_value = scenario.effective_scale();
  ui.draft_changed = false;
}

bool run_draft(ViewModel& model, UiState& ui) {
  try {
    model.open_scenario(ui.draft, ui.backend);
    ui.run_error.clear();
    ui.step = model.clamp_step(ui.step);
    if (ui.selected_thread >= model.session().dims().num_threads) ui.selected_thread = -1;
    ui.status = "ran on " + model.session().kernel().device_name + " in " + format_value(float(model.last_build_ms()), 3) +
                " ms (kernel with recording, reference, timeline)";
    return true;
  } catch (const std::exception& error) {
    ui.run_error = error.what();
    return false;
  }
}

namespace {

// Starts the draft's run off the UI thread, or leaves it pending while another one runs.
void start_background_run(ViewModel& model, UiState& ui) {
  if (model.background_running()) {
    ui.rerun_pending = true;  // starts when the running one is done
    return;
  }
  ui.rerun_pending = false;
  model.start_background(ui.draft, ui.backend);
  ui.status = "running " + scenario_summary(ui.draft) + " ...";
}

// The background run: applies a finished one, starts the pending one once the edits have rested.
void background_runs(ViewModel& model, UiState& ui) {
  std::string error;
  switch (model.poll_background(error)) {
    case ViewModel::Poll::opened:
      ui.run_error.clear();
      ui.step = model.clamp_step(ui.step);
      if (ui.selected_thread >= model.session().dims().num_threads) ui.selected_thread = -1;
      ui.status = "ran on " + model.session().kernel().device_name + " in " + format_value(float(model.last_build_ms()), 3) +
                  " ms in the background (kernel with recording, reference)";
      break;
    case ViewModel::Poll::failed: ui.run_error = error; break;
    case ViewModel::Poll::cancelled:
      ui.run_error.clear();
      ui.status = "cancelled (" + error + "); still showing the previous run";
      break;
    case ViewModel::Poll::idle:
    case ViewModel::Poll::running: break;
  }
  if (ui.rerun_pending && !model.background_running() && ImGui::GetTime() - ui.rerun_requested_at >= kRerunDebounceSeconds)
    start_background_run(model, ui);
}

}  // namespace

void handle_requests(ViewModel& model, UiState& ui) {
  const Request request = ui.request;
  ui.request = Request::none;
  try {
    switch (request) {
      case Request::none: return;
      case Request::rerun: run_draft(model, ui); return;
      case Request::rerun_background: start_background_run(model, ui); return;
      case Request::cancel_background:
        // The pending edit goes too: cancelling means "not this run", not "run it after".
        ui.rerun_pending = false;
        if (!model.background_running()) return;
        model.cancel_background();
        ui.status = "cancelling " + scenario_summary(ui.draft) + " ...";
        return;
      case Request::open_scenario_file: {
        const Scenario scenario = load_scenario_file(ui.scenario_path);
        load_draft(ui, scenario);
        if (run_draft(model, ui)) ui.status = "opened " + ui.scenario_path + "; " + ui.status;
        return;
      }
      case Request::save_scenario_file:
        save_scenario_file(ui.draft, ui.scenario_path);
        ui.status = "saved the scenario to " + ui.scenario_path;
        ui.run_error.clear();
        return;
      case Request::open_dump:
        model.open_dump(ui.dump_path, ui.backend);
        load_draft(ui, model.session().requested_scenario());
        ui.step = model.clamp_step(ui.step);
        ui.run_error.clear();
        ui.status = "opened " + ui.dump_path + ": " + model.session().dump_check();
        return;
    }
  } catch (const std::exception& error) {
    ui.run_error = error.what();
  }
}

void draw_frame(ViewModel& model, UiState& ui, double dt) {
  ui.hovered_thread = ui.hovered_thread_next;
  ui.hovered_thread_next = -1;
  background_runs(model, ui);
  keyboard_and_playback(model, ui, dt);
  if (model.ready()) ui.step = model.clamp_step(ui.step);

  if (ui.solo) {
    solo_window(*ui.solo, model, ui);
    return;
  }
  menu_bar(model, ui);
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float top = ImGui::GetFrameHeight();
  // The timeline takes a fifth of the height, within bounds: enough for its controls, the strip and
  // a few lines of the step list at 1280x720, no more than it uses at 1600x1000 and above.
  const float timeline_height = std::clamp(display.y * 0.2f, 150.0f, 220.0f);
  const float left_width = std::max(360.0f, display.x * 0.30f);
  const float body_top = top + timeline_height;
  const float body_height = display.y - body_top;
  const float right_width = display.x - left_width;
  const float upper_height = body_height * 0.55f;

  if (ui.show[static_cast<int>(PanelId::timeline)]) {
    ImGui::SetNextWindowPos(ImVec2(0, top), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(display.x, timeline_height), ImGuiCond_Always);
    ImGui::Begin("Timeline", nullptr,
                 ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                     ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoBringToFrontOnFocus | kTiledBackground);
    draw_panel(PanelId::timeline, model, ui);
    ImGui::End();
  }
  tabbed_window("##left", ImVec2(0, body_top), ImVec2(left_width, body_height),
                {PanelId::scenario, PanelId::threads, PanelId::paging}, model, ui);
  tabbed_window("##upper", ImVec2(left_width, body_top), ImVec2(right_width, upper_height),
                {PanelId::memory, PanelId::coalescing, PanelId::shared_memory}, model, ui);
  tabbed_window("##lower", ImVec2(left_width, body_top + upper_height), ImVec2(right_width, body_height - upper_height),
                {PanelId::softmax, PanelId::reductions, PanelId::output, PanelId::compare}, model, ui);
}

}  // namespace pal::viz
