#include "visualizer/panels/widgets.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <spawn.h>
#include <sys/wait.h>

#include "visualizer/model/format.h"
#include "visualizer/panels/panels.h"

extern char** environ;  // the environment xdg-open inherits (posix_spawnp needs it passed)

namespace pal::viz {

namespace {

constexpr std::array<PanelInfo, kNumPanels> kPanels{{
    {PanelId::timeline, "timeline", "Timeline",
     {{{"chapter_02_concepts", "Chapter 2: Concepts, with this run's numbers"}}},
     "The kernel's story for the focused (sequence, head), one small step at a time: the query copy, each warp "
     "iteration of the QK loop, each exchange of the max and sum reductions, the exp and normalise passes, each V "
     "iteration, the LV and cross-warp reductions, the output, and for v2 each partition and the reduce. Left/Right "
     "arrows step, Space plays. Every other panel shows the state at this step, with the lanes that work in it "
     "highlighted."},
    {PanelId::scenario, "scenario", "Scenario",
     {{{"chapter_01_inputs_and_paging", "Chapter 1: Inputs and paging"}}},
     "What is being run: sequences, heads, sizes, dtype, context lengths, the KV pool, ALiBi, scale, kernel version "
     "and seed. Edits are checked as you type; with live re-run on, every valid edit re-runs the kernel with the "
     "recording probe and every panel updates. Files: open or save a scenario JSON, or open a dump (a safetensors "
     "file written by pal-run --output) whose inputs are re-run here."},
    {PanelId::paging, "paging", "Paging",
     {{{"chapter_01_inputs_and_paging", "Chapter 1: Inputs and paging"}}},
     "How a sequence's tokens find their keys and values. Each sequence is cut into logical kv_blocks of block_size "
     "tokens; its row of the block table says which physical block of the pool holds each one. Blocks are coloured "
     "by sequence; the last block of a sequence is usually only partly used, and pool blocks nobody points to are "
     "unused. The blocks the warps work on at this step are outlined."},
    {PanelId::memory, "memory", "Memory layout",
     {{{"chapter_03_query", "Chapter 3: Query"}, {"chapter_04_key", "Chapter 4: Key"}, {"chapter_07_value", "Chapter 7: Value"}}},
     "The tensors as they lie in memory, each element coloured by who loads it: q, the shared q_vecs array, the key "
     "cache with its x-element chunks, the k_vecs registers of one thread group, the value cache, the logits_vec "
     "slices and one lane's v_vecs. These are the figures of upstream's design doc, drawn from this run's recording. "
     "Hover an element for its index tuple, byte address, value, and the lane and step that loaded it."},
    {PanelId::threads, "threads", "Threads",
     {{{"chapter_02_concepts", "Chapter 2: Concepts, with this run's numbers"}}},
     "How the work is divided: the grid has one thread block per (head, sequence[, partition]); a thread block has "
     "warps of 32 lanes; consecutive lanes form thread groups that share one token's dot product. Click a thread "
     "block to focus it, click a lane to select it: everything that lane touches is outlined in every panel."},
    {PanelId::softmax, "softmax", "QK and softmax",
     {{{"chapter_05_qk", "Chapter 5: QK, one logit per token"}, {"chapter_06_softmax", "Chapter 6: Softmax"}}},
     "Per token of the focused thread block: the scaled dot product q.k (the logit), the block's maximum, "
     "exp(logit - max), and the probabilities. Dots are the kernel's recorded values, the line is the scalar "
     "reference. Values appear as the timeline reaches the step that computes them."},
    {PanelId::reductions, "reductions", "Reductions",
     {{{"chapter_06_softmax", "Chapter 6: Softmax"}, {"chapter_08_lv", "Chapter 8: LV, adding up the accumulators"},
       {"chapter_10_v2_partitions", "Chapter 10: v2, partitions and the reduce"}}},
     "How 128 threads agree on one max and one sum without a global lock: a butterfly of register shuffles inside "
     "each warp (lane i swaps with lane i xor mask), one value per warp through red_smem, a butterfly over those. "
     "Every lane's real value is shown at every exchange. Also the LV reduction, the cross-warp tree through shared "
     "memory, and v2's merge of partition softmax states."},
    {PanelId::output, "output", "Value and output",
     {{{"chapter_07_value", "Chapter 7: Value"}, {"chapter_08_lv", "Chapter 8: LV, adding up the accumulators"},
       {"chapter_09_output", "Chapter 9: Output"}}},
     "Each lane keeps running sums (accs) for the head-dim rows it owns. The heatmap shows them at the current step "
     "for every warp and lane. Below, the focused head's output beside the reference, and the error of every output "
     "element of the run in units in the last place of the dtype."},
    {PanelId::coalescing, "coalescing", "Coalescing",
     {{{"chapter_04_key", "Chapter 4: Key"}, {"chapter_07_value", "Chapter 7: Value"}}},
     "For every warp-wide load: the byte address each lane asks for, the 32-byte sectors and 128-byte lines the "
     "memory system must fetch, and the efficiency = bytes used / bytes fetched. The K layout's x-chunks and the V "
     "layout's token-minor rows are what make neighbouring lanes read neighbouring bytes."},
    {PanelId::shared_memory, "shared", "Shared memory",
     {{{"chapter_03_query", "Chapter 3: Query"}, {"chapter_05_qk", "Chapter 5: QK, one logit per token"}}},
     "For every shared-memory access of the current stage (from the emulator's access profile): how many "
     "wavefronts its warp-wide instructions took against the ideal, and the worst instruction drawn on the 32 "
     "banks, one row per wavefront. Lanes that read the same 4-byte word share it (a broadcast); a bank that must "
     "deliver different words to different lanes serialises them: those cells are red (a bank conflict)."},
    {PanelId::compare, "compare", "Compare versions",
     {{{"chapter_13_grouped_kernel", "Chapter 13: The grouped kernel: one read per KV head"}}},
     "Two kernel versions run on the same inputs (pal-viz --compare v1,grouped), side by side: the numbers pal-run "
     "--compare prints (launches, thread blocks, shared memory, stages, bytes, loads per lane), the bytes each "
     "loaded per KV head against the distinct bytes (v1 and v2 read a KV head once per query head of its group, "
     "the grouped kernel once), and how far apart the two outputs are, element by element. Hover for values."},
}};

constexpr std::array<std::string_view, kNumMemoryFigures> kFigureNames{"query", "q_vecs", "key", "k_vecs", "value",
                                                                       "logits_vec", "v_vec"};

}  // namespace

const PanelInfo& panel_info(PanelId id) { return kPanels[static_cast<std::size_t>(id)]; }

bool parse_panel(std::string_view name, PanelId& id) {
  for (const PanelInfo& info : kPanels)
    if (info.name == name) {
      id = info.id;
      return true;
    }
  return false;
}

std::string_view memory_figure_name(MemoryFigure figure) { return kFigureNames[static_cast<std::size_t>(figure)]; }

bool parse_memory_figure(std::string_view name, MemoryFigure& figure) {
  for (std::size_t i = 0; i < kFigureNames.size(); ++i)
    if (kFigureNames[i] == name) {
      figure = static_cast<MemoryFigure>(i);
      return true;
    }
  return false;
}

void push_visible_wrap() { ImGui::PushTextWrapPos(ImGui::GetWindowContentRegionMax().x); }

void text_wrapped(const char* format, ...) {
  push_visible_wrap();
  va_list args;
  va_start(args, format);
  ImGui::TextV(format, args);
  va_end(args);
  ImGui::PopTextWrapPos();
}

void help_marker(const char* text) {
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 40.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

void panel_header(PanelId id, const ViewModel& model, UiState& ui) {
  const PanelInfo& info = panel_info(id);
  help_marker(std::string(info.help).c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("Docs:");
  for (const DocsPage& page : info.docs) {
    if (page.label.empty()) continue;
    // On the same line while it fits, else on the next: a narrow panel still shows every link.
    const float width = ImGui::CalcTextSize(page.title.data(), page.title.data() + page.title.size()).x;
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x < width) ImGui::NewLine();
    // A link: opens the built page, or says how to build it (ui.status shows either).
    ImGui::PushID(page.label.data(), page.label.data() + page.label.size());
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
    ImGui::TextUnformatted(page.title.data(), page.title.data() + page.title.size());
    ImGui::PopStyleColor();
    if (ImGui::IsItemHovered()) {
      ImGui::SetMouseCursor(ImGuiMouseCursor_Hand);
      ImGui::GetWindowDrawList()->AddLine(ImVec2(ImGui::GetItemRectMin().x, ImGui::GetItemRectMax().y),
                                          ImGui::GetItemRectMax(), ImGui::GetColorU32(ImGuiCol_ButtonActive));
      ImGui::SetTooltip("open docs page %.*s.html", static_cast<int>(page.label.size()), page.label.data());
      if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) ui.status = open_docs_page(page);
    }
    ImGui::PopID();
  }
  if (id != PanelId::timeline && id != PanelId::scenario && id != PanelId::compare && model.ready()) step_badge(model, ui);
  ImGui::Separator();
}

std::string docs_page_path(const DocsPage& page) {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path bin = error ? std::filesystem::current_path(error) : exe.parent_path();
  return (bin.parent_path() / "docs" / "html" / (std::string(page.label) + ".html")).string();
}

std::string open_docs_page(const DocsPage& page) {
  const std::string path = docs_page_path(page);
  std::string message;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    message = "docs page '" + std::string(page.title) + "' is not built (" + path +
              "); build it with: cmake --build build --target docs";
  } else {
    // No shell: the path goes to xdg-open as one argument.
    std::string program = "xdg-open";
    std::string argument = path;
    char* argv[] = {program.data(), argument.data(), nullptr};
    pid_t child = 0;
    if (posix_spawnp(&child, "xdg-open", nullptr, nullptr, argv, environ) == 0) {
      int status = 0;
      waitpid(child, &status, 0);  // xdg-open hands the page to the browser and returns
      message = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "opened " + path
                                                               : "xdg-open could not open " + path + "; open it in a browser";
    } else {
      message = "no xdg-open here; open " + path + " in a browser";
    }
  }
  std::printf("pal-viz: %s\n", message.c_str());  // also where no window shows the status bar
  std::fflush(stdout);
  return message;
}

void step_badge(const ViewModel& model, const UiState& ui) {
  if (!model.ready() || model.timeline().size() == 0) return;
  const int index = model.clamp_step(ui.step);
  const Step& step = model.step(index);
  const ImVec4 colour = ImGui::ColorConvertU32ToFloat4(stage_colour(step.stage()));
  ImGui::TextColored(colour, "step %d/%d  %s", index, model.timeline().size() - 1, step.title.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("(seq %d, head %d)", model.seq_idx(), model.head_idx());
}

ImU32 palette(int index, int count, float saturation, float value) {
  if (count <= 0) count = 1;
  // Golden-ratio hue steps keep neighbours (lanes 0 and 1, groups 0 and 1) far apart in hue.
  const float hue = std::fmod(0.07f + float(index % count) * 0.618034f, 1.0f);
  float r, g, b;
  ImGui::ColorConvertHSVtoRGB(hue, saturation, value, r, g, b);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, b, 1.0f));
}

ImU32 stage_colour(Stage stage) {
  // Hues spread over the stages the timeline shows, query_load first (the prologue has no step).
  const int first = static_cast<int>(Stage::query_load);
  const int position = std::max(static_cast<int>(stage) - first, 0);
  float r, g, b;
  // Over every stage of every kernel variant (the grouped kernel's own stages follow v1/v2's).
  const int num_shown = kNumStages;
  ImGui::ColorConvertHSVtoRGB(float(position) / float(num_shown - first), 0.5f, 0.95f, r, g, b);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, b, 1.0f));
}

ImU32 sequence_colour(int seq_idx) {
  if (seq_idx < 0) return kEmptyColour;
  return palette(seq_idx, 1 << 20, 0.45f, 0.85f);
}

ImU32 thread_colour(const ViewModel& model, const UiState& ui, int thread, int iteration) {
  const KernelGeometry g = model.session().geometry();
  switch (ui.colour_by) {
    case ColourBy::warp: return palette(thread / kWarpSize, g.num_warps(), 0.6f, 0.9f);
    case ColourBy::lane: return lane_colour(thread % kWarpSize);
    case ColourBy::iteration:
    case ColourBy::vec_index: return palette(iteration, 8, 0.6f, 0.9f);
    case ColourBy::thread_group: break;
  }
  // The grouped kernel has no thread groups: its lanes are told apart by lane.
  if (model.session().is_grouped()) return lane_colour(thread % kWarpSize);
  // Thread groups of one warp get distinct hues; the lanes of a group differ in brightness.
  const int group_in_warp = (thread % kWarpSize) / g.thread_group_size();
  const int offset = thread % g.thread_group_size();
  const int groups = kWarpSize / g.thread_group_size();
  const float value = 0.95f - 0.25f * float(offset) / float(std::max(1, g.thread_group_size() - 1));
  return palette(group_in_warp, groups, 0.55f, g.thread_group_size() > 1 ? value : 0.92f);
}

ImU32 lane_colour(int lane) {
  // 16 evenly spaced hues, bright for lanes 0-15 and deep for lanes 16-31: no two lanes of a warp
  // share a colour (golden-ratio hues over 32 put pairs of lanes a few degrees apart).
  const float hue = float((lane % 16) * 7 % 16) / 16.0f;
  float r, g, b;
  if (lane < 16) ImGui::ColorConvertHSVtoRGB(hue, 0.45f, 0.97f, r, g, b);
  else ImGui::ColorConvertHSVtoRGB(hue, 0.85f, 0.68f, r, g, b);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, b, 1.0f));
}

ImU32 loader_colour(const ViewModel& model, const UiState& ui, const Loader& loader) {
  if (ui.colour_by == ColourBy::vec_index) return palette(loader.vec_idx, 8, 0.6f, 0.9f);
  // V loads are owned by lanes, not thread groups: colour them by lane.
  if (ui.colour_by == ColourBy::thread_group && loader.kind == LoadKind::value) return lane_colour(loader.lane);
  return thread_colour(model, ui, loader.thread, loader.kind == LoadKind::query ? loader.trip : loader.iteration);
}

ImU32 dimmed(ImU32 colour, float amount) {
  ImVec4 c = ImGui::ColorConvertU32ToFloat4(colour);
  const ImVec4 background(0.16f, 0.16f, 0.18f, 1.0f);
  c.x = c.x + (background.x - c.x) * amount;
  c.y = c.y + (background.y - c.y) * amount;
  c.z = c.z + (background.z - c.z) * amount;
  return ImGui::ColorConvertFloat4ToU32(c);
}

ImU32 value_colour(float value, float scale) {
  if (std::isnan(value)) return IM_COL32(140, 0, 140, 255);
  const float t = std::clamp(scale > 0 ? value / scale : 0.0f, -1.0f, 1.0f);
  const float a = std::fabs(t);
  // White at 0, toward red for positive and blue for negative values.
  const float r = t >= 0 ? 1.0f : 1.0f - 0.75f * a;
  const float g = 1.0f - 0.75f * a;
  const float b = t <= 0 ? 1.0f : 1.0f - 0.75f * a;
  return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, b, 1.0f));
}

ImU32 error_colour(float ulps) {
  if (std::isnan(ulps)) return IM_COL32(140, 0, 140, 255);
  const float t = std::clamp(ulps / 4.0f, 0.0f, 1.0f);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(0.2f + 0.8f * t, 0.75f - 0.55f * t, 0.3f - 0.1f * t, 1.0f));
}

bool Canvas::hovered(float x0, float y0, float x1, float y1) const {
  return ImGui::IsItemHovered() && ImGui::IsMouseHoveringRect(at(x0, y0), at(x1, y1), false);
}

Canvas begin_canvas(const char* id, ImVec2 size) {
  Canvas canvas;
  canvas.draw = ImGui::GetWindowDrawList();
  canvas.origin = ImGui::GetCursorScreenPos();
  canvas.size = ImVec2(std::max(size.x, 1.0f), std::max(size.y, 1.0f));
  ImGui::InvisibleButton(id, canvas.size);
  return canvas;
}

ImU32 text_colour_on(ImU32 fill) {
  const ImVec4 c = ImGui::ColorConvertU32ToFloat4(fill);
  return 0.299f * c.x + 0.587f * c.y + 0.114f * c.z > 0.55f ? kTextDark : kTextLight;
}

void draw_cell(const Canvas& canvas, float x0, float y0, float x1, float y1, ImU32 fill, const char* text, ImU32 outline,
               float outline_thickness) {
  const ImVec2 a = canvas.at(x0, y0);
  const ImVec2 b = canvas.at(x1, y1);
  canvas.draw->AddRectFilled(a, b, fill);
  if (text && *text) {
    const ImVec2 size = ImGui::CalcTextSize(text);
    if (size.x <= (x1 - x0) - 1.0f && size.y <= (y1 - y0) + 1.0f)
      canvas.draw->AddText(ImVec2((a.x + b.x - size.x) * 0.5f, (a.y + b.y - size.y) * 0.5f), text_colour_on(fill), text);
  }
  if (outline) canvas.draw->AddRect(a, b, outline, 0.0f, 0, outline_thickness);
}

bool thread_active_now(const ViewModel& model, const UiState& ui, int thread) {
  if (!model.ready() || model.timeline().size() == 0) return false;
  return model.step(ui.step).is_active(thread);
}

void note_hovered_thread(UiState& ui, int thread) { ui.hovered_thread_next = thread; }

int focus_thread(const UiState& ui) { return ui.selected_thread >= 0 ? ui.selected_thread : ui.hovered_thread; }

std::string thread_label(const ViewModel& model, int thread) {
  const KernelGeometry g = model.session().geometry();
  if (model.session().is_grouped())  // no thread groups: a warp computes whole 16-token steps
    return "thread " + std::to_string(thread) + " (warp " + std::to_string(thread / kWarpSize) + ", lane " +
           std::to_string(thread % kWarpSize) + ")";
  return "thread " + std::to_string(thread) + " (warp " + std::to_string(thread / kWarpSize) + ", lane " +
         std::to_string(thread % kWarpSize) + ", group " + std::to_string(thread / g.thread_group_size()) + ")";
}

}  // namespace pal::viz
