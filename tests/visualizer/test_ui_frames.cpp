// The views without a window: ImGui builds every panel's frame (no rendering), at every step of
// scenarios that cover the geometries (thread-group sizes 1, 2 and 4; vec sizes 1 to 8; rows a
// warp skips; v2 partitions; the grouped kernel on both math paths). An ImGui misuse asserts and aborts, so passing means none was found.
// Also the keyboard, playback, the requests the scenario panel leaves for the app, and the docs pages
// the panel headings link to.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <vector>
#include <string>

#include <imgui.h>

#include "tests/visualizer/viz_test_support.h"
#include "visualizer/app/app.h"
#include "visualizer/app/svg_export.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {
namespace {

// An ImGui context with a display size and a built font atlas, nothing else.
struct HeadlessImGui {
  HeadlessImGui() {
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;
    io.DisplaySize = ImVec2(1600, 1000);
    io.DeltaTime = 1.0f / 60.0f;
    unsigned char* pixels = nullptr;
    int width = 0, height = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
    // Key indices as a backend would map them (1.86 keyboard API).
    io.KeyMap[ImGuiKey_RightArrow] = 1;
    io.KeyMap[ImGuiKey_LeftArrow] = 2;
    io.KeyMap[ImGuiKey_End] = 3;
    io.KeyMap[ImGuiKey_Space] = 4;
  }
  ~HeadlessImGui() { ImGui::DestroyContext(); }
  void frame(ViewModel& model, UiState& ui, double dt = 1.0 / 60.0) {
    ImGui::NewFrame();
    draw_frame(model, ui, dt);
    ImGui::Render();
  }
  void press(int key, ViewModel& model, UiState& ui) {
    ImGui::GetIO().KeysDown[key] = true;
    frame(model, ui);
    ImGui::GetIO().KeysDown[key] = false;
    frame(model, ui);
  }
};

Scenario scenario_from(std::initializer_list<std::pair<const char*, int>> fields, std::vector<int> seq_lens,
                       DType dtype = DType::fp16, KernelVersion version = KernelVersion::automatic, bool alibi = false) {
  Scenario s;
  for (const auto& [name, value] : fields) {
    const std::string field(name);
    if (field == "head_size") s.head_size = value;
    if (field == "block_size") s.block_size = value;
    if (field == "num_heads") s.num_heads = value;
    if (field == "num_kv_heads") s.num_kv_heads = value;
  }
  s.num_seqs = static_cast<int>(seq_lens.size());
  s.seq_lens = std::move(seq_lens);
  s.dtype = dtype;
  s.version = version;
  s.alibi = alibi;
  return s;
}

// An fp8 cache (non-unit scales) and/or block sparsity (sparse blocks of 32 tokens, 2 local, one
// remote in 4, sliding by query head (step > 0) or by kv head (step < 0); off for step 0), at
// head_size 128 and block_size 16, where this build's emulator has those kernels.
Scenario fp8_sparse_scenario(KvCacheDtype cache, std::vector<int> seq_lens, KernelVersion version, int sliding_step) {
  Scenario s = scenario_from({{"head_size", 128}}, std::move(seq_lens), DType::fp16, version);
  s.kv_cache_dtype = cache;
  if (is_fp8(cache)) {
    s.k_scale = 0.5f;
    s.v_scale = 0.75f;
  }
  if (sliding_step != 0) s.block_sparse = BlockSparseParams{2, 4, 32, sliding_step, 1};
  return s;
}

TEST_CASE("every panel and memory figure draws at every step across geometries") {
  const Scenario scenario = GENERATE(
      Scenario{},
      scenario_from({{"head_size", 256}, {"block_size", 8}}, {5, 40}, DType::fp32),
      scenario_from({{"head_size", 80}, {"block_size", 32}}, {1, 33, 64}, DType::bf16, KernelVersion::automatic, true),
      scenario_from({{"head_size", 120}, {"block_size", 16}}, {17}),
      scenario_from({{"num_heads", 2}, {"num_kv_heads", 1}}, {1100, 300}, DType::fp16, KernelVersion::v2),
      fp8_sparse_scenario(KvCacheDtype::fp8_e4m3, {200, 90}, KernelVersion::v1, 0),
      fp8_sparse_scenario(KvCacheDtype::fp8_e5m2, {300, 90}, KernelVersion::v1, 1),
      fp8_sparse_scenario(KvCacheDtype::automatic, {600}, KernelVersion::v2, -1),
      // The grouped kernel: tensor cores with three splits and split_merge; CUDA cores, one split.
      scenario_from({{"num_heads", 8}, {"num_kv_heads", 2}}, {300, 37}, DType::fp16, KernelVersion::grouped),
      scenario_from({{"num_heads", 4}, {"num_kv_heads", 1}}, {90}, DType::fp32, KernelVersion::grouped, true));
  INFO(scenario_summary(scenario));
  HeadlessImGui imgui;
  ViewModel model;
  model.open_scenario(scenario, Backend::emulator);
  UiState ui;
  load_draft(ui, scenario);
  for (int seq = 0; seq < scenario.num_seqs; ++seq) {
    model.set_focus(seq, scenario.num_heads - 1);
    for (int step = 0; step < model.timeline().size(); ++step) {
      INFO("seq " << seq << " step " << step);
      ui.step = step;
      ui.selected_thread = (step * 37) % 128;  // a different lane each step
      ui.solo.reset();
      imgui.frame(model, ui);  // the tiled layout
      for (int panel = 0; panel < kNumPanels; ++panel) {
        ui.solo = static_cast<PanelId>(panel);
        const int figures = ui.solo == PanelId::memory ? kNumMemoryFigures : 1;
        for (int figure = 0; figure < figures; ++figure) {
          ui.memory_figure = static_cast<MemoryFigure>(figure);
          ui.memory_follow_step = figure == 0;  // once following the step, then each figure
          imgui.frame(model, ui);
        }
      }
      CHECK(ui.step == step);  // drawing never moves the story by itself
    }
  }
}

TEST_CASE("the arrow keys step through the timeline and stop at its ends") {
  HeadlessImGui imgui;
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  UiState ui;
  load_draft(ui, Scenario{});
  imgui.frame(model, ui);
  imgui.press(1, model, ui);
  CHECK(ui.step == 1);
  imgui.press(2, model, ui);
  imgui.press(2, model, ui);
  CHECK(ui.step == 0);
  imgui.press(3, model, ui);
  CHECK(ui.step == model.timeline().size() - 1);
  imgui.press(1, model, ui);
  CHECK(ui.step == model.timeline().size() - 1);
}

TEST_CASE("playback advances at the chosen speed and stops at the last step") {
  HeadlessImGui imgui;
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  UiState ui;
  load_draft(ui, Scenario{});
  ui.playing = true;
  ui.steps_per_second = 8.0f;
  imgui.frame(model, ui, 0.5);  // half a second at 8 steps per second
  CHECK(ui.step == 4);
  imgui.frame(model, ui, 1000.0);
  CHECK(ui.step == model.timeline().size() - 1);
  CHECK_FALSE(ui.playing);
}

TEST_CASE("a re-run request runs the edited scenario; an invalid one keeps the run and says why") {
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  UiState ui;
  load_draft(ui, Scenario{});
  ui.draft.seq_lens = {200};
  ui.draft.num_seqs = 1;
  ui.request = Request::rerun;
  handle_requests(model, ui);
  CHECK(ui.run_error.empty());
  CHECK(model.session().scenario().seq_lens == std::vector<int>{200});
  CHECK(ui.request == Request::none);

  ui.draft.block_size = 12;
  ui.request = Request::rerun;
  handle_requests(model, ui);
  CHECK_THAT(ui.run_error, Catch::Contains("block_size"));
  CHECK(model.session().scenario().block_size == 16);
}

TEST_CASE("opening a scenario file or dump that does not exist reports the path") {
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  UiState ui;
  load_draft(ui, Scenario{});
  ui.scenario_path = "/nonexistent/pal_viz_scenario.json";
  ui.request = Request::open_scenario_file;
  handle_requests(model, ui);
  CHECK_THAT(ui.run_error, Catch::Contains("/nonexistent/pal_viz_scenario.json"));
  ui.dump_path = "/nonexistent/pal_viz_dump.safetensors";
  ui.request = Request::open_dump;
  handle_requests(model, ui);
  CHECK_THAT(ui.run_error, Catch::Contains("/nonexistent/pal_viz_dump.safetensors"));
  CHECK(model.ready());
}

TEST_CASE("the memory-layout panel follows the story: q_vecs, key, logits_vec, value, v_vec") {
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  std::vector<MemoryFigure> order;  // the figures in timeline order, each run once
  for (int step = 0; step < model.timeline().size(); ++step) {
    const MemoryFigure figure = figure_for_step(model.step(step).kind);
    if (order.empty() || order.back() != figure) order.push_back(figure);
  }
  CHECK(order == std::vector<MemoryFigure>{MemoryFigure::q_vecs, MemoryFigure::key, MemoryFigure::logits_vec,
                                           MemoryFigure::value, MemoryFigure::v_vec});
}

TEST_CASE("every panel names docs pages that exist, by their real titles") {
  // Each page's first line is "<title> {#<label>}" (docs/pages/**/*.md).
  std::map<std::string, std::string> title_of_label;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(PAL_SOURCE_DIR) + "/docs/pages")) {
    if (entry.path().extension() != ".md") continue;
    std::ifstream file(entry.path());
    std::string first_line;
    std::getline(file, first_line);
    const auto open = first_line.rfind(" {#");
    if (open == std::string::npos || first_line.back() != '}') continue;
    title_of_label[first_line.substr(open + 3, first_line.size() - open - 4)] = first_line.substr(0, open);
  }
  REQUIRE(title_of_label.size() >= 12);
  for (int i = 0; i < kNumPanels; ++i) {
    const PanelInfo& info = panel_info(static_cast<PanelId>(i));
    INFO("panel " << info.name);
    int num_pages = 0;
    for (const DocsPage& page : info.docs) {
      if (page.label.empty()) continue;
      ++num_pages;
      const auto found = title_of_label.find(std::string(page.label));
      REQUIRE(found != title_of_label.end());
      CHECK(found->second == page.title);
      CHECK_THAT(docs_page_path(page), Catch::EndsWith("/docs/html/" + std::string(page.label) + ".html"));
    }
    CHECK(num_pages >= 1);
  }
}

TEST_CASE("an SVG export keeps a frame's text as characters and its rectangles as shapes") {
  HeadlessImGui imgui;
  prepare_style_for_svg(ImGui::GetStyle());
  ImGui::NewFrame();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(ImVec2(400, 300));
  ImGui::Begin("svg");
  ImGui::TextUnformatted("k_vecs[j] <x&y>");
  ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(50, 100), ImVec2(150, 140), IM_COL32(255, 0, 0, 255));
  ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(60, 150), ImVec2(70, 160), IM_COL32(0, 0, 255, 128));
  ImGui::End();
  ImGui::Render();
  const std::string svg = frame_to_svg(*ImGui::GetDrawData(), *ImGui::GetIO().Fonts, ImVec4(0, 0, 0, 1));
  INFO(svg.substr(0, 4000));
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("width=\"1600\" height=\"1000\"") != std::string::npos);
  // Words are characters, with XML's special characters escaped.
  CHECK(svg.find(">k_vecs[j]</text>") != std::string::npos);
  CHECK(svg.find(">&lt;x&amp;y&gt;</text>") != std::string::npos);
  // The red rectangle is one quadrilateral, not two triangles; translucency is kept as an opacity.
  CHECK(svg.find("M50,100L150,100L150,140L50,140Z\" fill=\"#ff0000\"") != std::string::npos);
  CHECK(svg.find("fill=\"#0000ff\" fill-opacity=\"0.502\"") != std::string::npos);
  // Every group is closed, and the document ends.
  std::size_t opened = 0, closed = 0;
  for (std::size_t at = svg.find("<g "); at != std::string::npos; at = svg.find("<g ", at + 1)) ++opened;
  for (std::size_t at = svg.find("</g>"); at != std::string::npos; at = svg.find("</g>", at + 1)) ++closed;
  CHECK(opened > 0);
  CHECK(opened == closed);
  CHECK(svg.size() > 9);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
}

}  // namespace
}  // namespace pal::viz
