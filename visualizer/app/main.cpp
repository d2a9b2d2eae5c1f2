// pal-viz: the visualizer. Interactive by default; with --screenshot or --batch-dir it renders
// panels off-screen to PNG files (the docs' pictures), with --benchmark it measures frame and
// re-run times. Everything is loaded and checked before a window opens, so a bad scenario or dump
// file gives a message and exit code 2 even where no display exists.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <ctime>

#include <CLI/CLI.hpp>
#include <imgui.h>

#include "core/command_line.h"
#include "core/output_file.h"
#include "visualizer/app/app.h"
#include "visualizer/app/svg_export.h"
#include "visualizer/app/window.h"
#include "visualizer/model/format.h"
#include "visualizer/panels/panels.h"

namespace pal::viz {
namespace {

struct Options {
  ScenarioFlags scenario;
  std::string dump;
  std::string backend = "auto";
  int seq = -1;  // -1: the longest sequence (the one with the most iterations to show)
  int head = 0;
  std::string step = "0";
  int lane = -1;
  std::string panel;
  std::string figure;
  std::string screenshot;
  std::string svg;
  std::string compare;  // "v1,grouped": two versions on the same inputs (the compare panel)
  std::string batch_dir;
  std::string steps = "0,qk_logits,qk_max,exp_sum,softmax,value_accumulation,lv_warp_reduction,cross_warp_tree,last";
  std::string panels = "all";
  std::string size = "1600x1000";
  std::string colour_by = "thread_group";
  bool benchmark = false;
  bool figure_only = false;
  bool fit_height = false;
  int frames = 120;
  bool list_steps = false;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ','))
    if (!item.empty()) items.push_back(item);
  return items;
}

void parse_size(const std::string& text, int& width, int& height) {
  if (std::sscanf(text.c_str(), "%dx%d", &width, &height) != 2 || width < 320 || height < 240 || width > 8192 ||
      height > 8192)
    throw ScenarioError("--size " + text + " is not valid; give WIDTHxHEIGHT between 320x240 and 8192x8192, e.g. 1600x1000");
}

int resolve_step(const ViewModel& model, const std::string& text) {
  const int step = model.timeline().parse_step(text);
  if (step < 0) {
    // The stages of the version that ran (the registry's), those this timeline has.
    std::string stages;
    for (const StageInfo& info : all_stages())
      if (model.timeline().first_of(info.stage) >= 0) stages += (stages.empty() ? "" : ", ") + std::string(info.name);
    throw ScenarioError("--step " + text + " is not a step of this timeline; give 0-" +
                        std::to_string(model.timeline().size() - 1) + ", 'last', or a stage name (" + stages + ")");
  }
  return step;
}

// `flag` is --panel (which also takes "app", the whole window) or --panels.
PanelId resolve_panel(const std::string& name, const std::string& flag) {
  PanelId id{};
  if (!parse_panel(name, id))
    throw ScenarioError(flag + " " + name + " is not a panel; panels are timeline, scenario, paging, memory, threads, "
                        "softmax, reductions, output, coalescing, shared, compare" +
                        (flag == "--panel" ? std::string(", or app (the whole window)") : std::string(", or all")));
  return id;
}

MemoryFigure resolve_figure(const std::string& name) {
  MemoryFigure figure{};
  if (!parse_memory_figure(name, figure))
    throw ScenarioError("--figure " + name + " is not a memory-layout figure; figures are query, q_vecs, key, k_vecs, "
                        "value, logits_vec, v_vec");
  return figure;
}

// --batch-dir: an existing folder (a link to one is fine: the pictures go inside it) or a new one;
// anything else at that path is refused rather than replaced or written through.
void prepare_batch_dir(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (fs::exists(status)) {
    if (!fs::is_directory(status))
      throw ScenarioError("--batch-dir '" + path + "' exists and is not a folder; give a folder (new or existing) "
                          "for the pictures");
    return;
  }
  if (error && error != std::errc::no_such_file_or_directory)
    throw ScenarioError("--batch-dir '" + path + "' cannot be examined: " + error.message());
  fs::create_directories(path, error);
  if (error)
    throw ScenarioError("--batch-dir '" + path + "' cannot be created: " + error.message());
}

// Renders a few frames (ImGui sizes windows and tab bars over the first ones) and writes the last.
// With fit_height (a solo panel), the picture is then made as tall as the panel's contents and
// drawn again; a figure that runs past the right edge is reported on stderr ("cut on the right"),
// since a wider --size is the only cure.
void render_to_png(Window& window, ViewModel& model, UiState& ui, const std::string& path, bool fit_height = false) {
  const auto draw_frames = [&] {
    for (int frame = 0; frame < 3; ++frame) {
      window.begin_frame();
      draw_frame(model, ui, 0.0);
      window.end_frame();
    }
  };
  draw_frames();
  if (fit_height && ui.solo) {
    const int fitted = std::clamp(int(std::ceil(ui.solo_content_height)), 40, 8192);
    if (fitted != window.height()) {
      window.resize_offscreen(window.width(), fitted);
      draw_frames();
    }
  }
  if (ui.solo && ui.solo_cut_right > 0.5f)
    std::fprintf(stderr, "pal-viz: %s is cut on the right by %d px at width %d: give a wider --size\n", path.c_str(),
                 int(std::ceil(ui.solo_cut_right)), window.width());
  window.finish();
  window.write_png(path);
}

// The same frames as render_to_png, without anti-aliasing fringes (SVG cannot draw them), written
// as SVG through OutputFile (a failed write leaves an existing file as it was).
void render_to_svg(Window& window, ViewModel& model, UiState& ui, const std::string& path) {
  ImGuiStyle& style = ImGui::GetStyle();
  const ImGuiStyle saved = style;
  prepare_style_for_svg(style);
  for (int frame = 0; frame < 3; ++frame) {
    window.begin_frame();
    draw_frame(model, ui, 0.0);
    window.end_frame();
  }
  const std::string svg = frame_to_svg(*ImGui::GetDrawData(), *ImGui::GetIO().Fonts, style.Colors[ImGuiCol_WindowBg]);
  style = saved;
  OutputFile file(path);
  file.write(svg);
  file.commit();
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}
double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * double(values.size())))];
}

// Where a frame's time goes: building the UI (our panels and ImGui's layout, on the CPU) and
// rasterising it (OpenGL; with llvmpipe that is CPU work too).
// The machine this runs on may be busy; the process's CPU time per frame (all its threads,
// llvmpipe's rasteriser threads included) is what the frame costs whatever else runs.
struct FrameTimes {
  std::vector<double> total, build, render, cpu;
};

double process_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return double(now.tv_sec) * 1e3 + double(now.tv_nsec) * 1e-6;
}

double time_frame(Window& window, ViewModel& model, UiState& ui, FrameTimes* times = nullptr) {
  using clock = std::chrono::steady_clock;
  const auto ms = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  const auto start = clock::now();
  const double cpu_start = process_cpu_ms();
  window.begin_frame();
  draw_frame(model, ui, 0.0);
  ImGui::EndFrame();  // ends the UI build; end_frame's ImGui::Render() then only assembles draw data
  const auto built = clock::now();
  window.end_frame();
  window.finish();
  const auto done = clock::now();
  if (times) {
    times->total.push_back(ms(start, done));
    times->build.push_back(ms(start, built));
    times->render.push_back(ms(built, done));
    times->cpu.push_back(process_cpu_ms() - cpu_start);
  }
  return ms(start, done);
}

int run_benchmark(Window& window, ViewModel& model, UiState& ui, int frames) {
  std::printf("pal-viz benchmark: %s\nrenderer: %s, %dx%d off-screen\n", scenario_summary(model.session().requested_scenario()).c_str(),
              window.renderer().c_str(), window.width(), window.height());
  for (int i = 0; i < 10; ++i) time_frame(window, model, ui);  // warm-up: fonts, first layouts

  // The floor: a frame that only clears the window, i.e. what the GL driver costs per frame before
  // any panel draws anything.
  {
    std::vector<double> empty;
    for (int i = 0; i < 30; ++i) {
      const auto start = std::chrono::steady_clock::now();
      window.begin_frame();
      window.end_frame();
      window.finish();
      empty.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf("empty frame (clear only): median %.2f ms\n", median(empty));
  }

  // Frame time of the full layout while stepping through the whole timeline.
  FrameTimes times;
  for (int i = 0; i < frames; ++i) {
    ui.step = i % model.timeline().size();
    time_frame(window, model, ui, &times);
  }
  std::printf("full layout (timeline, scenario, memory layout, QK and softmax): median %.2f ms, p90 %.2f ms over %d frames\n"
              "  of which building the UI %.2f ms, rendering %.2f ms (medians); process CPU time per frame %.2f ms\n",
              median(times.total), percentile(times.total, 0.9), frames, median(times.build), median(times.render),
              median(times.cpu));

  // Each panel alone, filling the window (the tabs the full layout does not show).
  for (int i = 0; i < kNumPanels; ++i) {
    ui.solo = static_cast<PanelId>(i);
    FrameTimes panel_times;
    for (int f = 0; f < 3; ++f) time_frame(window, model, ui);
    for (int f = 0; f < std::max(10, frames / 4); ++f) {
      ui.step = f % model.timeline().size();
      time_frame(window, model, ui, &panel_times);
    }
    const PanelInfo& info = panel_info(static_cast<PanelId>(i));
    std::printf("  panel %-11s median %6.2f ms (build %5.2f, render %6.2f; CPU time %6.2f)\n", std::string(info.name).c_str(),
                median(panel_times.total), median(panel_times.build), median(panel_times.render), median(panel_times.cpu));
  }
  ui.solo.reset();

  // Edit -> re-run shown: change the seed (new inputs, same shapes), re-run kernel + reference +
  // timeline, and draw the next frame.
  std::vector<double> edit_times, run_times;
  const Scenario original = ui.draft;
  for (int i = 0; i < 30; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ui.draft.seed = original.seed + std::uint64_t(i % 2 ? 0 : 1);
    if (!run_draft(model, ui)) {
      std::fprintf(stderr, "pal-viz: benchmark re-run failed: %s\n", ui.run_error.c_str());
      return 1;
    }
    run_times.push_back(model.last_build_ms());
    window.begin_frame();
    draw_frame(model, ui, 0.0);
    window.end_frame();
    window.finish();
    edit_times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::printf("edit -> re-run shown: median %.2f ms, p90 %.2f ms over 30 edits (of which run + reference + timeline %.2f ms; backend %s)\n",
              median(edit_times), percentile(edit_times, 0.9), median(run_times), model.session().kernel().device_name.c_str());
  return 0;
}

int main_with_errors(int argc, char** argv) {
  Options options;
  CLI::App app{"pal-viz: the paged-attention kernel, step by step, from a recorded run"};
  add_scenario_flags(app, options.scenario, front_end_scenario());
  app.add_option("--dump", options.dump, "open a dump (safetensors from pal-run --output) and re-run its inputs");
  app.add_option("--backend", options.backend, "gpu, emulator, or auto (the GPU when one answers)");
  app.add_option("--seq", options.seq, "sequence in focus (default: the longest)");
  app.add_option("--head", options.head, "query head in focus");
  app.add_option("--step", options.step, "step to show: an index, 'last', or a stage name (its first step)");
  app.add_option("--lane", options.lane, "select this thread (threadIdx.x) of the focused thread block");
  app.add_option("--panel", options.panel, "panel for --screenshot: timeline, scenario, paging, memory, threads, softmax, reductions, output, coalescing, shared, compare, or app (the whole window)");
  app.add_option("--compare", options.compare,
                 "run two versions on the same inputs and compare them (the compare panel, the default --panel "
                 "then), e.g. --compare v1,grouped; the other panels show the second");
  app.add_option("--figure", options.figure, "memory-layout figure: query, q_vecs, key, k_vecs, value, logits_vec, v_vec (default: the "
                 "figure of the current step's data; --batch-dir without it writes every figure)");
  app.add_option("--colour-by", options.colour_by, "colour loads by thread_group, warp, lane, iteration (the kv_block loop) or vec_index (the inner k_vecs[j] / row i loop)");
  app.add_option("--screenshot", options.screenshot, "render --panel at --step off-screen and write this PNG");
  app.add_option("--svg", options.svg, "render --panel at --step off-screen and write it as this SVG file (vector shapes "
                 "and real text, for slides; with --figure-only, the figure alone)");
  app.add_option("--batch-dir", options.batch_dir, "render --panels at --steps into this folder (one PNG each)");
  app.add_option("--steps", options.steps, "comma-separated steps for --batch-dir");
  app.add_option("--panels", options.panels, "comma-separated panels for --batch-dir, or 'all'");
  app.add_option("--size", options.size, "window / image size WIDTHxHEIGHT");
  app.add_flag("--figure-only", options.figure_only,
               "with --screenshot or --batch-dir: the panel's figure alone, for slides: no window title, docs "
               "heading, step explanation or memory-panel controls");
  app.add_flag("--fit-height", options.fit_height,
               "with --screenshot of one panel: make the picture as tall as the panel's contents (the --size height "
               "is only the first guess), for pages whose pictures must not be cut");
  app.add_flag("--benchmark", options.benchmark, "measure frame time and edit -> re-run time, then exit");
  app.add_option("--frames", options.frames, "frames measured by --benchmark");
  app.add_flag("--list-steps", options.list_steps, "print the timeline of the focused (seq, head) and exit");
  if (auto exit_code = parse_command_line(app, argc, argv)) return *exit_code;

  UiState ui;
  if (!parse_backend(options.backend, ui.backend))
    throw ScenarioError("--backend " + options.backend + " is not valid; use gpu, emulator or auto");
  if (options.colour_by == "warp") ui.colour_by = ColourBy::warp;
  else if (options.colour_by == "lane") ui.colour_by = ColourBy::lane;
  else if (options.colour_by == "iteration") ui.colour_by = ColourBy::iteration;
  else if (options.colour_by == "vec_index") ui.colour_by = ColourBy::vec_index;
  else if (options.colour_by != "thread_group")
    throw ScenarioError("--colour-by " + options.colour_by +
                        " is not valid; use thread_group, warp, lane, iteration or vec_index (k_vecs[j] / row i)");
  int width = 0, height = 0;
  parse_size(options.size, width, height);

  // Load and run everything before any window exists.
  ViewModel model;
  if (!options.dump.empty()) {
    if (!options.scenario.scenario_file.empty())
      throw ScenarioError("give either --dump or --scenario, not both: a dump carries its own scenario");
    if (!options.compare.empty())
      throw ScenarioError("--compare runs a scenario's inputs with two versions; a dump holds one run: drop --dump or "
                          "--compare (pal-run --compare --inputs FILE compares a file's inputs)");
    refuse_scenario_flags(options.scenario, "--dump", false);
    model.open_dump(options.dump, ui.backend);
    load_draft(ui, model.session().requested_scenario());
    ui.dump_path = options.dump;
    ui.status = "opened " + options.dump + ": " + model.session().dump_check();
  } else if (!options.compare.empty()) {
    // As pal-run --compare (run/version_compare.h): the flag chooses the versions.
    const std::vector<KernelVersion> versions = parse_compared_versions(options.compare, "--compare");
    if (options.scenario.version) throw ScenarioError("--compare chooses the versions; drop --version");
    const Scenario scenario = resolve_scenario_flags(options.scenario, front_end_scenario());
    if (!options.scenario.scenario_file.empty()) ui.scenario_path = options.scenario.scenario_file;
    model.open_comparison(scenario, versions, ui.backend);
    load_draft(ui, model.session().requested_scenario());
    if (options.panel.empty()) options.panel = "compare";
  } else {
    load_draft(ui, resolve_scenario_flags(options.scenario, front_end_scenario()));
    if (!options.scenario.scenario_file.empty()) ui.scenario_path = options.scenario.scenario_file;
    if (!run_draft(model, ui)) throw ScenarioError(ui.run_error);
  }
  if (options.seq < 0) {
    const auto& lens = model.session().scenario().seq_lens;
    options.seq = static_cast<int>(std::max_element(lens.begin(), lens.end()) - lens.begin());
  }
  model.set_focus(options.seq, options.head);
  ui.step = resolve_step(model, options.step);
  if (options.lane >= model.session().dims().num_threads)
    throw ScenarioError("--lane " + std::to_string(options.lane) + " is not a thread of the block; give 0-" +
                        std::to_string(model.session().dims().num_threads - 1));
  ui.selected_thread = options.lane;
  if (!options.figure.empty()) {
    ui.memory_figure = resolve_figure(options.figure);
    ui.memory_follow_step = false;
  }

  if (options.list_steps) {
    for (int i = 0; i < model.timeline().size(); ++i) {
      const Step& step = model.timeline().steps[static_cast<std::size_t>(i)];
      std::printf("%3d  %-20s %s\n     %s\n", i, std::string(stage_name(step.stage())).c_str(), step.title.c_str(),
                  step.description.c_str());
    }
    return 0;
  }

  const bool offscreen = !options.screenshot.empty() || !options.svg.empty() || !options.batch_dir.empty() || options.benchmark;
  if (options.figure_only && (options.screenshot.empty() && options.svg.empty() && options.batch_dir.empty()))
    throw ScenarioError("--figure-only applies to pictures: give --screenshot FILE.png, --svg FILE.svg or --batch-dir DIR with it");
  if (options.fit_height && (options.screenshot.empty() || options.panel == "app"))
    throw ScenarioError("--fit-height sizes the picture of one panel: give --screenshot FILE.png with a --panel other "
                        "than app");
  if (options.figure_only && options.panel == "app")
    throw ScenarioError("--figure-only draws one panel's figure; --panel app is the whole window: give a panel");
  ui.figure_only = options.figure_only;
  std::vector<PanelId> batch_panels;
  std::vector<int> batch_steps;
  if (!options.batch_dir.empty()) {
    if (options.panels == "all") {  // the compare panel only with a comparison to show (--compare)
      for (int i = 0; i < kNumPanels; ++i)
        if (static_cast<PanelId>(i) != PanelId::compare || model.comparison() != nullptr)
          batch_panels.push_back(static_cast<PanelId>(i));
    } else {
      for (const std::string& name : split_list(options.panels)) batch_panels.push_back(resolve_panel(name, "--panels"));
    }
    for (const std::string& text : split_list(options.steps)) batch_steps.push_back(resolve_step(model, text));
    prepare_batch_dir(options.batch_dir);
  }
  // "app" is the whole window as a learner sees it; any other name is one panel alone.
  const bool screenshot_app = options.panel == "app";
  std::optional<PanelId> screenshot_panel;
  if ((!options.screenshot.empty() || !options.svg.empty()) && !screenshot_app)
    screenshot_panel = resolve_panel(options.panel.empty() ? "memory" : options.panel, "--panel");
  // A FIFO, device, link or folder at the picture's path, or a missing folder, is refused now, not
  // after the window and the rendering.
  if (!options.screenshot.empty()) check_output_path(options.screenshot);
  if (!options.svg.empty()) check_output_path(options.svg);

  Window window(width, height, !offscreen, "pal-viz: " + scenario_summary(model.session().requested_scenario()));
  if (options.benchmark) return run_benchmark(window, model, ui, std::max(10, options.frames));
  if (!options.screenshot.empty()) {
    ui.solo = screenshot_panel;
    render_to_png(window, model, ui, options.screenshot, options.fit_height);
    std::printf("wrote %s (%s at step %d)\n", options.screenshot.c_str(),
                screenshot_app ? "the whole app" : std::string(panel_info(*ui.solo).name).c_str(), ui.step);
  }
  if (!options.svg.empty()) {
    ui.solo = screenshot_panel;
    render_to_svg(window, model, ui, options.svg);
    std::printf("wrote %s (%s at step %d)\n", options.svg.c_str(),
                screenshot_app ? "the whole app" : std::string(panel_info(*ui.solo).name).c_str(), ui.step);
  }
  if (!options.batch_dir.empty()) {
    int written = 0;
    for (const int step : batch_steps)
      for (const PanelId panel : batch_panels) {
        ui.step = step;
        ui.solo = panel;
        // Without --figure the memory panel is written once per figure (and follows no step).
        std::vector<std::pair<std::string, MemoryFigure>> variants{{"", ui.memory_figure}};
        if (panel == PanelId::memory && options.figure.empty()) {
          ui.memory_follow_step = false;
          variants.clear();
          for (int f = 0; f < kNumMemoryFigures; ++f) {
            const auto figure = static_cast<MemoryFigure>(f);
            variants.emplace_back("-" + std::string(memory_figure_name(figure)), figure);
          }
        }
        for (const auto& [suffix, figure] : variants) {
          ui.memory_figure = figure;
          char name[64];
          std::snprintf(name, sizeof name, "step%03d", step);
          const std::string path =
              (std::filesystem::path(options.batch_dir) / (std::string(panel_info(panel).name) + suffix + "_" + name + ".png")).string();
          render_to_png(window, model, ui, path);
          ++written;
        }
      }
    std::printf("wrote %d images to %s\n", written, options.batch_dir.c_str());
  }
  if (offscreen) return 0;

  // Interactive.
  ui.solo.reset();
  auto last = std::chrono::steady_clock::now();
  while (!window.should_close()) {
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last).count();
    last = now;
    // Playing needs a steady frame rate; otherwise redraw when input arrives (or 4 times a second).
    window.begin_frame(ui.playing ? 0.0 : 0.25);
    draw_frame(model, ui, dt);
    window.end_frame();
    handle_requests(model, ui);
  }
  return 0;
}

}  // namespace
}  // namespace pal::viz

int main(int argc, char** argv) {
  try {
    return pal::viz::main_with_errors(argc, argv);
  } catch (const pal::viz::WindowError& error) {
    std::fprintf(stderr, "pal-viz: %s\n", error.what());
    return 3;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pal-viz: %s\n", error.what());
    return 2;
  }
}
