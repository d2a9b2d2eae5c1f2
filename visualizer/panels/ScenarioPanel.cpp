// Scenario panel: every field of the scenario, checked as it is edited (the messages are the ones
// validate_scenario gives on the command line), the backend, live re-run, and file operations.
#include <algorithm>
#include <charconv>
#include <sstream>
#include <string>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "visualizer/model/format.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

const ImVec4 kErrorText(1.0f, 0.45f, 0.40f, 1.0f);
const ImVec4 kOkText(0.55f, 0.90f, 0.55f, 1.0f);

// "37, 100" -> {37, 100}; false with a message when a piece is not an integer.
bool parse_int_list(const std::string& text, std::vector<int>& values, std::string& error) {
  values.clear();
  std::stringstream stream(text);
  std::string piece;
  while (std::getline(stream, piece, ',')) {
    piece.erase(0, piece.find_first_not_of(" \t"));
    piece.erase(piece.find_last_not_of(" \t") + 1);
    if (piece.empty()) continue;
    int value = 0;
    const auto [end, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), value);
    if (ec != std::errc{} || end != piece.data() + piece.size()) {
      error = "seq_lens: '" + piece + "' is not an integer; write context lengths separated by commas, e.g. 37, 100";
      return false;
    }
    values.push_back(value);
  }
  if (values.empty()) {
    error = "seq_lens: give at least one context length, e.g. 37, 100";
    return false;
  }
  return true;
}

// Shows the problems that name this field right under it.
struct Problems {
  std::vector<std::string> texts;
  std::vector<bool> claimed;  // shown under a field already
};

void field_problems(Problems& problems, const char* field) {
  for (std::size_t i = 0; i < problems.texts.size(); ++i) {
    const std::string& problem = problems.texts[i];
    const std::string name(field);
    // Messages start with the field they are about: "head_size = 100 is not supported; ...".
    const bool about_field = problem.rfind(name + " ", 0) == 0 || problem.rfind(name + "[", 0) == 0 ||
                             problem.rfind(name + ":", 0) == 0;
    if (about_field) {
      problems.claimed[i] = true;
      ImGui::PushStyleColor(ImGuiCol_Text, kErrorText);
      push_visible_wrap();
      ImGui::TextUnformatted(problem.c_str());
      ImGui::PopTextWrapPos();
      ImGui::PopStyleColor();
    }
  }
}

template <std::size_t N>
bool int_combo(const char* label, int& value, const int (&choices)[N]) {
  bool changed = false;
  if (ImGui::BeginCombo(label, std::to_string(value).c_str())) {
    for (int choice : choices)
      if (ImGui::Selectable(std::to_string(choice).c_str(), choice == value)) {
        value = choice;
        changed = true;
      }
    ImGui::EndCombo();
  }
  return changed;
}

bool dtype_combo(const char* label, DType& dtype) {
  bool changed = false;
  if (ImGui::BeginCombo(label, std::string(dtype_name(dtype)).c_str())) {
    for (DType choice : {DType::fp16, DType::bf16, DType::fp32})
      if (ImGui::Selectable(std::string(dtype_name(choice)).c_str(), choice == dtype)) {
        dtype = choice;
        changed = true;
      }
    ImGui::EndCombo();
  }
  return changed;
}

}  // namespace

void draw_scenario_panel(const ViewModel& model, UiState& ui) {
  Scenario& draft = ui.draft;
  bool changed = false;
  ImGui::PushItemWidth(std::min(180.0f, ImGui::GetContentRegionAvail().x * 0.5f));

  std::string list_error;
  std::vector<int> seq_lens;
  const bool list_ok = parse_int_list(ui.seq_lens_text, seq_lens, list_error);
  Problems problems;
  problems.texts = scenario_problems(draft);
  if (!list_ok) problems.texts.insert(problems.texts.begin(), list_error);
  problems.claimed.assign(problems.texts.size(), false);

  ImGui::TextDisabled("Shape");
  changed |= ImGui::InputInt("num_seqs", &draft.num_seqs);
  field_problems(problems, "num_seqs");
  if (ImGui::InputText("seq_lens", &ui.seq_lens_text)) {
    changed = true;
    if (parse_int_list(ui.seq_lens_text, seq_lens, list_error)) {
      draft.seq_lens = seq_lens;
      draft.num_seqs = static_cast<int>(seq_lens.size());  // as --seq-lens does without --num-seqs
    }
  }
  ImGui::SameLine();
  help_marker("Context length of each sequence (tokens, including the current one), separated by commas. "
              "num_seqs follows the list.");
  field_problems(problems, "seq_lens");
  changed |= ImGui::InputInt("num_heads", &draft.num_heads);
  field_problems(problems, "num_heads");
  changed |= ImGui::InputInt("num_kv_heads", &draft.num_kv_heads);
  ImGui::SameLine();
  help_marker("Fewer kv heads than query heads is GQA (MQA with one): consecutive query heads share a kv head.");
  field_problems(problems, "num_kv_heads");
  changed |= int_combo("head_size", draft.head_size, kSupportedHeadSizes);
  field_problems(problems, "head_size");
  changed |= int_combo("block_size", draft.block_size, kSupportedBlockSizes);
  ImGui::SameLine();
  help_marker("Tokens per kv_block. One warp covers one kv_block: THREAD_GROUP_SIZE = 32 / block_size lanes share a token.");
  field_problems(problems, "block_size");
  changed |= dtype_combo("dtype", draft.dtype);
  field_problems(problems, "dtype");
  if (ImGui::BeginCombo("kv_cache_dtype", std::string(kv_cache_dtype_name(draft.kv_cache_dtype)).c_str())) {
    for (KvCacheDtype choice : {KvCacheDtype::automatic, KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2})
      if (ImGui::Selectable(std::string(kv_cache_dtype_name(choice)).c_str(), choice == draft.kv_cache_dtype)) {
        draft.kv_cache_dtype = choice;
        changed = true;
      }
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  help_marker("What the KV cache stores. auto: the query's dtype. fp8_e4m3 / fp8_e5m2: one byte per element, "
              "code = fp8(value / scale); the kernel dequantizes each element as it loads it (code * scale, rounded to "
              "the query dtype). x becomes 16, while VEC_SIZE and V_VEC_SIZE still follow the query dtype.");
  field_problems(problems, "kv_cache_dtype");
  if (is_fp8(draft.kv_cache_dtype)) {
    changed |= ImGui::InputFloat("k_scale", &draft.k_scale, 0.0f, 0.0f, "%.5g");
    field_problems(problems, "k_scale");
    changed |= ImGui::InputFloat("v_scale", &draft.v_scale, 0.0f, 0.0f, "%.5g");
    field_problems(problems, "v_scale");
  }
  changed |= ImGui::InputInt("num_blocks", &draft.num_blocks);
  ImGui::SameLine();
  help_marker("Size of the KV-cache pool in blocks; 0 = the blocks the sequences need plus a few spares.");
  field_problems(problems, "num_blocks");

  ImGui::TextDisabled("Kernel");
  int version = static_cast<int>(draft.version);
  // In KernelVersion's order (v1, v2, automatic, grouped).
  const char* versions[] = {"v1", "v2", "auto", "grouped"};
  if (ImGui::Combo("version", &version, versions, 4)) {
    draft.version = static_cast<KernelVersion>(version);
    changed = true;
  }
  ImGui::SameLine();
  help_marker("v1: one thread block per (head, sequence). v2: the sequence is cut into partition_size-token "
              "partitions, each its own thread block, merged by a second 'reduce' kernel. auto: upstream's rule. "
              "grouped: this project's kernel, one thread block per (KV head, sequence, split) reading each kv_block "
              "once for the whole query group (chapter 13).");
  field_problems(problems, "version");
  changed |= ImGui::Checkbox("alibi", &draft.alibi);
  if (ImGui::Checkbox("custom scale", &ui.custom_scale)) {
    draft.scale = ui.custom_scale ? std::optional<float>(ui.scale_value) : std::nullopt;
    changed = true;
  }
  if (ui.custom_scale) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(100);
    if (ImGui::InputFloat("##scale", &ui.scale_value, 0.0f, 0.0f, "%.5f")) {
      draft.scale = ui.scale_value;
      changed = true;
    }
  } else {
    ImGui::SameLine();
    ImGui::TextDisabled("1/sqrt(head_size) = %.5f", double(draft.effective_scale()));
  }
  field_problems(problems, "scale");
  int seed = static_cast<int>(draft.seed);
  if (ImGui::InputInt("seed", &seed) && seed >= 0) {
    draft.seed = static_cast<std::uint64_t>(seed);
    changed = true;
  }
  if (ImGui::BeginCombo("inputs", std::string(input_preset_name(draft.input_preset)).c_str())) {
    for (InputPreset preset : kInputPresets)
      if (ImGui::Selectable(std::string(input_preset_name(preset)).c_str(), draft.input_preset == preset)) {
        draft.input_preset = preset;
        changed = true;
      }
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  help_marker("The attention pattern of the generated inputs. uniform: upstream's test draws, every element uniform in "
              "+-1/sqrt(head_size), which at the true scale gives an almost flat softmax. peaked: logits spread like a "
              "trained model's. sink: the first 4 tokens take most of the mass. recency: the newest tokens take the "
              "most. needle: one planted token per sequence takes almost all of it.");
  ImGui::TextDisabled("Block sparsity (Phi-3-small's local + vertical stride; on when vert_stride > 1)");
  changed |= ImGui::InputInt("blocksparse_vert_stride", &draft.block_sparse.vert_stride);
  ImGui::SameLine();
  help_marker("One remote sparse block in every vert_stride is read (Phi-3-small: 8); 0 or 1 = dense attention.");
  field_problems(problems, "blocksparse_vert_stride");
  if (draft.block_sparse.enabled()) {
    changed |= ImGui::InputInt("blocksparse_local_blocks", &draft.block_sparse.local_blocks);
    ImGui::SameLine();
    help_marker("The most recent sparse blocks every head reads (Phi-3-small: 16).");
    field_problems(problems, "blocksparse_local_blocks");
    changed |= ImGui::InputInt("blocksparse_block_size", &draft.block_sparse.block_size, 16, 64);
    ImGui::SameLine();
    help_marker("Tokens per sparse block, a multiple of block_size (Phi-3-small: 64).");
    field_problems(problems, "blocksparse_block_size");
    changed |= ImGui::InputInt("blocksparse_head_sliding_step", &draft.block_sparse.head_sliding_step);
    ImGui::SameLine();
    help_marker("Shifts each head's remote blocks: head_offset = (tp_rank * num_heads + head) * step + 1; a negative "
                "step shifts by kv head instead. 0: every head reads the same blocks.");
    field_problems(problems, "blocksparse_head_sliding_step");
    changed |= ImGui::InputInt("tp_rank", &draft.block_sparse.tp_rank);
    ImGui::SameLine();
    help_marker("Tensor-parallel rank: this GPU's heads are heads tp_rank * num_heads ... of the model, which shifts the "
                "remote pattern.");
    field_problems(problems, "tp_rank");
  }
  changed |= ImGui::InputInt("num_threads", &draft.num_threads, 32, 128);
  field_problems(problems, "num_threads");
  changed |= ImGui::InputInt("partition_size", &draft.partition_size, 0, 0);
  field_problems(problems, "partition_size");

  // Problems no field claimed (cross-field ones) are listed together.
  for (std::size_t i = 0; i < problems.texts.size(); ++i)
    if (!problems.claimed[i]) {
      ImGui::PushStyleColor(ImGuiCol_Text, kErrorText);
      push_visible_wrap();
      ImGui::BulletText("%s", problems.texts[i].c_str());
      ImGui::PopTextWrapPos();
      ImGui::PopStyleColor();
    }
  if (!problems.texts.empty())
    ImGui::TextColored(kErrorText, "%d problem%s: not run until fixed", static_cast<int>(problems.texts.size()),
                       problems.texts.size() == 1 ? "" : "s");

  ImGui::TextDisabled("Run");
  static std::string why_no_gpu;
  static const bool have_gpu = gpu_available(&why_no_gpu);
  int backend = static_cast<int>(ui.backend);
  const char* backends[] = {"gpu", "emulator", "auto"};
  if (ImGui::BeginCombo("backend", backends[backend])) {
    for (int b = 0; b < 3; ++b) {
      const bool disabled = b == 0 && !have_gpu;
      if (disabled) ImGui::BeginDisabled();
      if (ImGui::Selectable(backends[b], b == backend)) {
        ui.backend = static_cast<Backend>(b);
        changed = true;
      }
      if (disabled) {
        ImGui::EndDisabled();
        if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("%s", why_no_gpu.c_str());
      }
    }
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  help_marker("auto runs on the GPU when one answers, otherwise on the CPU emulator (the same kernel source, one "
              "fiber per CUDA thread). Both record every intermediate.");
  ImGui::Checkbox("live re-run", &ui.live_rerun);
  ImGui::SameLine();
  const bool runnable = problems.texts.empty();
  if (!runnable) ImGui::BeginDisabled();
  if (ImGui::Button("Run")) ui.request = Request::rerun_background;
  if (!runnable) ImGui::EndDisabled();
  if (changed) ui.draft_changed = true;
  if (changed && ui.live_rerun) {
    // Debounced: the run starts once the edits rest (app.cpp), never while the draft is invalid.
    ui.rerun_pending = runnable;
    ui.rerun_requested_at = ImGui::GetTime();
  }
  if (model.background_running()) {
    // A progress indicator: the run goes on in the background, the window stays live.
    static const char* const kSpinner[] = {"|", "/", "-", "\\"};
    ImGui::SameLine();
    if (model.background_cancelling()) {
      ImGui::TextDisabled("%s cancelling... %.1f s", kSpinner[int(ImGui::GetTime() * 8.0) % 4], model.background_seconds());
    } else {
      ImGui::TextColored(kOkText, "%s running... %.1f s", kSpinner[int(ImGui::GetTime() * 8.0) % 4], model.background_seconds());
      ImGui::SameLine();
      if (ImGui::SmallButton("Cancel")) ui.request = Request::cancel_background;
      ImGui::SameLine();
      help_marker("Stops the run before its next thread_block (Escape does the same, outside a text field); the run "
                  "shown now stays.");
    }
  } else if (ui.rerun_pending) {
    ImGui::SameLine();
    ImGui::TextDisabled("(runs when you stop typing)");
  }

  push_visible_wrap();
  if (!ui.run_error.empty()) ImGui::TextColored(kErrorText, "%s", ui.run_error.c_str());
  if (!ui.status.empty()) ImGui::TextColored(kOkText, "%s", ui.status.c_str());
  if (model.ready()) {
    const Session& s = model.session();
    ImGui::TextDisabled("Showing: %s", s.origin().c_str());
    const bool recorded_elsewhere = !s.dump_path().empty() && !s.rerun_from_dump();
    ImGui::TextDisabled("%s, version %s, kernel %s, reference %s ms, recording %s", s.kernel().device_name.c_str(),
                        std::string(version_name(s.kernel().version)).c_str(),
                        recorded_elsewhere ? "run where the dump was written" : (format_value(float(s.kernel_ms()), 3) + " ms").c_str(),
                        format_value(float(s.reference_ms()), 3).c_str(),
                        format_bytes(static_cast<long long>(s.recording().size_bytes())).c_str());
    if (!s.dump_path().empty()) ImGui::TextDisabled("Dump check: %s", s.dump_check().c_str());
  }
  ImGui::PopTextWrapPos();

  ImGui::TextDisabled("Files");
  ImGui::SetNextItemWidth(std::max(120.0f, ImGui::GetContentRegionAvail().x - 130.0f));
  ImGui::InputText("##scenario_path", &ui.scenario_path);
  ImGui::SameLine();
  if (ImGui::Button("Open")) ui.request = Request::open_scenario_file;
  ImGui::SameLine();
  if (ImGui::Button("Save")) ui.request = Request::save_scenario_file;
  ImGui::SetNextItemWidth(std::max(120.0f, ImGui::GetContentRegionAvail().x - 130.0f));
  ImGui::InputTextWithHint("##dump_path", "dump.safetensors", &ui.dump_path);
  ImGui::SameLine();
  if (ImGui::Button("Open dump")) ui.request = Request::open_dump;
  ImGui::SameLine();
  help_marker("A dump is a safetensors file written by pal-run --output (or any file holding query, key_cache, "
              "value_cache, block_tables and seq_lens). Its inputs and scenario are read and the kernel is re-run "
              "here with the recording probe; if it holds an 'output', the re-run is checked against it.");
  ImGui::PopItemWidth();
}

}  // namespace pal::viz
