// The walkthroughs' shared harness: flags, the recorded run, the reference, the comparison, text
// layout and the checks. See harness.h for what a chapter gets from it.
#include "walkthroughs/harness.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>

#include "core/command_line.h"
#include "kernels/simt/emulator.h"

namespace pal::walkthrough {

Scenario teaching_scenario() {
  Scenario s;
  s.num_seqs = 3;
  s.seq_lens = {37, 5, 70};
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 32;
  s.block_size = 16;
  s.dtype = DType::fp16;
  // Upstream's test inputs (uniform in +-1/sqrt(head_size), --input-preset uniform) make q.k tiny
  // and the softmax almost flat at the true scale 1/sqrt(head_size); the front ends' preset shapes
  // the queries and keys so that the softmax has the spread of a trained model's at that scale.
  s.input_preset = kFrontEndInputPreset;
  s.seed = 0;
  return s;
}

std::string program_name(int number) {
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "pal-%02d-", number);
  return prefix + std::string(kChapters[number - 1].slug);
}

// ---- text helpers -------------------------------------------------------------------------------

Colour palette(int index) {
  static constexpr Colour kCycle[] = {Colour::cyan, Colour::yellow, Colour::magenta,
                                      Colour::green, Colour::blue, Colour::red};
  constexpr int n = int(sizeof kCycle / sizeof kCycle[0]);
  return kCycle[((index % n) + n) % n];
}

namespace {

std::string special_value(double value) {
  if (std::isnan(value)) return "nan";
  if (value <= -double(FLT_MAX)) return "-FLT_MAX";  // the identity of a max that saw nothing
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return "";
}

const char* ansi_code(Colour colour) {
  switch (colour) {
    case Colour::red: return "\033[31m";
    case Colour::green: return "\033[32m";
    case Colour::yellow: return "\033[33m";
    case Colour::blue: return "\033[34m";
    case Colour::magenta: return "\033[35m";
    case Colour::cyan: return "\033[36m";
    case Colour::grey: return "\033[90m";
    case Colour::bold: return "\033[1m";
    case Colour::none: break;
  }
  return "";
}

std::string pad(const std::string& text, std::size_t width, Table::Align align) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return align == Table::Align::left ? text + fill : fill + text;
}

// Greedy word wrap; `first` prefixes the first line, `rest` the others.
std::vector<std::string> wrap(std::string_view text, std::size_t width, const std::string& first,
                              const std::string& rest) {
  std::vector<std::string> lines;
  std::string current = first;
  bool empty = true;
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    if (!empty && current.size() + 1 + word.size() > width) {
      lines.push_back(current);
      current = rest;
      empty = true;
    }
    if (!empty) current += ' ';
    current += word;
    empty = false;
  }
  if (!empty) lines.push_back(current);
  return lines;
}

}  // namespace

std::string fixed(double value, int decimals) {
  if (std::string special = special_value(value); !special.empty()) return special;
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string signed_fixed(double value, int decimals) {
  if (std::string special = special_value(value); !special.empty()) return special;
  char text[64];
  std::snprintf(text, sizeof text, "%+.*f", decimals, value);
  return text;
}

std::string general(double value, int significant) {
  if (std::string special = special_value(value); !special.empty()) return special;
  char text[64];
  std::snprintf(text, sizeof text, "%.*g", significant, value);
  return text;
}

std::string counted(std::int64_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

std::string join(const std::vector<int>& values, std::string_view separator) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += separator;
    text += std::to_string(values[i]);
  }
  return text;
}

std::string ranges(const std::vector<int>& values) {
  std::string text;
  std::size_t i = 0;
  while (i < values.size()) {
    std::size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!text.empty()) text += ",";
    text += std::to_string(values[i]);
    if (j > i) text += (j == i + 1 ? "," : "-") + std::to_string(values[j]);
    i = j + 1;
  }
  return text;
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::row(std::vector<std::string> cells, Colour colour) {
  cells.resize(columns_.size());
  rows_.push_back({std::move(cells), colour, false});
  ++num_rows_;
}

void Table::separator() { rows_.push_back({{}, Colour::none, true}); }

Grid::Grid(std::string corner, std::vector<std::string> column_labels)
    : corner_(std::move(corner)), column_labels_(std::move(column_labels)) {}

void Grid::row(std::string label, std::vector<std::string> cells, std::vector<Colour> colours) {
  cells.resize(column_labels_.size());
  colours.resize(column_labels_.size(), Colour::none);
  row_labels_.push_back(std::move(label));
  cells_.push_back(std::move(cells));
  colours_.push_back(std::move(colours));
}

std::string Terminal::paint(std::string_view text, Colour colour) const {
  if (!colour_ || colour == Colour::none) return std::string(text);
  return ansi_code(colour) + std::string(text) + "\033[0m";
}

void Terminal::heading(std::string_view text) {
  std::printf("\n%s\n%s\n", paint(text, Colour::bold).c_str(), std::string(text.size(), '-').c_str());
}

void Terminal::paragraph(std::string_view text) {
  for (const std::string& l : wrap(text, kTerminalWidth, "", "")) std::printf("%s\n", l.c_str());
  std::printf("\n");
}

void Terminal::line(std::string_view text) { std::printf("%.*s\n", int(text.size()), text.data()); }

void Terminal::bullet(std::string_view text) {
  for (const std::string& l : wrap(text, kTerminalWidth, "  - ", "    ")) std::printf("%s\n", l.c_str());
}

void Terminal::formula(std::string_view text) { std::printf("    %.*s\n", int(text.size()), text.data()); }

void Terminal::print(const Table& table, int indent) {
  const std::size_t n = table.columns_.size();
  std::vector<std::size_t> widths(n);
  for (std::size_t c = 0; c < n; ++c) widths[c] = table.columns_[c].header.size();
  for (const Table::Row& r : table.rows_)
    for (std::size_t c = 0; c < n && !r.separator; ++c) widths[c] = std::max(widths[c], r.cells[c].size());
  const std::string margin(std::size_t(indent), ' ');
  auto render = [&](const std::vector<std::string>& cells, bool header) {
    std::string text = margin;
    for (std::size_t c = 0; c < n; ++c) {
      if (c > 0) text += "  ";
      // The last column is left-aligned text more often than not: no trailing padding for it.
      const bool last = c + 1 == n;
      const Table::Align align = header && table.columns_[c].align == Table::Align::left ? Table::Align::left
                                                                                         : table.columns_[c].align;
      text += last && align == Table::Align::left ? cells[c] : pad(cells[c], widths[c], align);
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  };
  std::vector<std::string> headers;
  for (const Table::Column& c : table.columns_) headers.push_back(c.header);
  std::printf("%s\n", paint(render(headers, true), Colour::bold).c_str());
  std::size_t total = 0;
  for (std::size_t c = 0; c < n; ++c) total += widths[c] + (c > 0 ? 2 : 0);
  for (const Table::Row& r : table.rows_) {
    if (r.separator) {
      std::printf("%s%s\n", margin.c_str(), std::string(std::min<std::size_t>(total, kTerminalWidth - margin.size()), '-').c_str());
      continue;
    }
    std::printf("%s\n", paint(render(r.cells, false), r.colour).c_str());
  }
}

void Terminal::print(const Grid& grid, int indent) {
  const std::size_t n = grid.column_labels_.size();
  std::size_t label_width = grid.corner_.size();
  for (const std::string& l : grid.row_labels_) label_width = std::max(label_width, l.size());
  std::size_t cell_width = 1;
  for (const std::string& l : grid.column_labels_) cell_width = std::max(cell_width, l.size());
  for (const auto& r : grid.cells_)
    for (const std::string& c : r) cell_width = std::max(cell_width, c.size());
  const std::string margin(std::size_t(indent), ' ');
  // Cells of numbers stay close together; longer cells get a wider gap so they do not run into each other.
  const std::string gap = cell_width > 4 ? "  " : " ";
  std::string header = margin + pad(grid.corner_, label_width, Table::Align::left);
  for (std::size_t c = 0; c < n; ++c) header += gap + pad(grid.column_labels_[c], cell_width, Table::Align::right);
  while (!header.empty() && header.back() == ' ') header.pop_back();
  std::printf("%s\n", paint(header, Colour::bold).c_str());
  for (std::size_t r = 0; r < grid.row_labels_.size(); ++r) {
    std::string text = margin + pad(grid.row_labels_[r], label_width, Table::Align::left);
    for (std::size_t c = 0; c < n; ++c)
      text += gap + paint(pad(grid.cells_[r][c], cell_width, Table::Align::right), grid.colours_[r][c]);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    std::printf("%s\n", text.c_str());
  }
}

// ---- the run ------------------------------------------------------------------------------------

namespace {

RecordedRun chapter_run(const Scenario& scenario, Backend backend) {
  RecordedRunOptions options;
  options.backend = backend;
  options.record = true;
  return RecordedRun::from_scenario(scenario, options);
}

}  // namespace

Walkthrough::Walkthrough(const ChapterInfo& chapter, Scenario scenario, Backend backend, bool colour, int focus_seq,
                         int focus_head)
    : chapter_(chapter), terminal_(colour), run_(chapter_run(scenario, backend)), focus_seq_(focus_seq),
      focus_head_(focus_head) {}

int Walkthrough::kv_head() const { return run_.kv_head_of(focus_head_); }

int Walkthrough::seq_len(int seq_idx) const { return run_.seq_len(seq_idx); }

std::vector<LoadRecord> Walkthrough::loads(int thread, int partition_idx) const {
  const std::span<const LoadRecord> loads = record(partition_idx).loads(thread);
  return std::vector<LoadRecord>(loads.begin(), loads.end());
}

std::string Walkthrough::focus_name() const {
  return "seq " + std::to_string(focus_seq_) + ", head " + std::to_string(focus_head_) + " (kv head " +
         std::to_string(kv_head()) + ")";
}

void Walkthrough::check(const std::string& name, bool passed, const std::string& what) {
  ++num_checks_;
  if (!passed) ++num_failed_;
  const std::string verdict = passed ? terminal_.paint("ok", Colour::green) : terminal_.paint("MISMATCH", Colour::red);
  // Wrap the plain text, then colour the verdict word in the first line.
  const std::string plain_verdict = passed ? "ok" : "MISMATCH";
  std::vector<std::string> lines = wrap("check " + name + ": " + plain_verdict + " - " + what, kTerminalWidth, "", "    ");
  const std::string prefix = "check " + name + ": ";
  if (!lines.empty() && lines[0].compare(0, prefix.size() + plain_verdict.size(), prefix + plain_verdict) == 0)
    lines[0] = prefix + verdict + lines[0].substr(prefix.size() + plain_verdict.size());
  for (const std::string& l : lines) std::printf("%s\n", l.c_str());
}

void Walkthrough::check_stage(StageOrCheck subject) {
  const std::string stage(subject.name());
  bool found = false;
  for (const StageComparison& s : report().stages) {
    if (!(s.subject == subject)) continue;
    found = true;
    std::string what = s.what + ": " + std::to_string(s.num_compared) + " values against the reference, largest error " +
                       general(s.max_abs_error, 3) + "; allowed |kernel - ref| <= " + general(s.tolerance.atol, 3) +
                       " + " + general(s.tolerance.rtol, 3) + " * |ref| (" + s.tolerance.reason + ")";
    if (!s.passed())
      what += "; " + std::to_string(s.num_failed) + " outside, worst at " + s.worst_where + ": kernel " +
              general(s.worst_actual, 7) + ", reference " + general(s.worst_expected, 7);
    check(stage, s.passed() && s.num_compared > 0, what);
  }
  if (!found) check(stage, false, "this stage is not in the comparison report (was the run recorded?)");
}

namespace {

std::string viz_args_for(const Scenario& s, int seq, int head) {
  std::string args = "--num-seqs " + std::to_string(s.num_seqs) + " --seq-lens " + join(s.seq_lens) +
                     " --num-heads " + std::to_string(s.num_heads) + " --num-kv-heads " +
                     std::to_string(s.num_kv_heads) + " --head-size " + std::to_string(s.head_size) +
                     " --block-size " + std::to_string(s.block_size) + " --dtype " + std::string(dtype_name(s.dtype));
  if (s.num_blocks != 0) args += " --num-blocks " + std::to_string(s.num_blocks);
  if (s.alibi) args += " --alibi";
  if (s.scale) {
    char scale[32];
    std::snprintf(scale, sizeof scale, "%.9g", double(*s.scale));
    args += std::string(" --scale ") + scale;
  }
  if (is_fp8(s.kv_cache_dtype)) {
    char scales[96];
    std::snprintf(scales, sizeof scales, " --k-scale %.9g --v-scale %.9g", double(s.k_scale), double(s.v_scale));
    args += " --kv-cache-dtype " + std::string(kv_cache_dtype_name(s.kv_cache_dtype)) + scales;
  }
  if (s.block_sparse.enabled()) {
    const BlockSparseParams& p = s.block_sparse;
    args += " --blocksparse-local-blocks " + std::to_string(p.local_blocks) + " --blocksparse-vert-stride " +
            std::to_string(p.vert_stride) + " --blocksparse-block-size " + std::to_string(p.block_size) +
            " --blocksparse-head-sliding-step " + std::to_string(p.head_sliding_step) + " --tp-rank " +
            std::to_string(p.tp_rank);
  }
  args += " --version " + std::string(version_name(s.version)) + " --seed " + std::to_string(s.seed) +
          " --input-preset " + std::string(input_preset_name(s.input_preset));
  args += " --seq " + std::to_string(seq) + " --head " + std::to_string(head);
  return args;
}

void print_banner(Walkthrough& w) {
  Terminal& out = w.out();
  const ChapterInfo& c = w.chapter();
  const std::string rule(kTerminalWidth, '=');
  const std::string_view chapter_title = kChapters[c.number - 1].title;
  char left[128];
  std::snprintf(left, sizeof left, "Chapter %d of %d: %.*s", c.number, kNumChapters, int(chapter_title.size()),
                chapter_title.data());
  const std::string right = program_name(c.number);
  std::string title = left;
  if (title.size() + right.size() + 1 < std::size_t(kTerminalWidth))
    title += std::string(kTerminalWidth - title.size() - right.size(), ' ') + right;
  std::printf("%s\n%s\n", rule.c_str(), out.paint(title, Colour::bold).c_str());
  for (const std::string& l : wrap(c.teaches, kTerminalWidth, "", "")) std::printf("%s\n", l.c_str());
  std::printf("%s\n", rule.c_str());
  const KernelRun& run = w.run();
  for (const std::string& l : wrap(scenario_summary(run.scenario), kTerminalWidth, "run     : ", "          "))
    std::printf("%s\n", l.c_str());
  const std::string backend = std::string(backend_name(run.backend)) + " (" + run.device_name + "), kernel " +
                              std::string(version_name(run.version)) + ", recorded";
  for (const std::string& l : wrap(backend, kTerminalWidth, "backend : ", "          ")) std::printf("%s\n", l.c_str());
  std::printf("focus   : thread_block of %s\n", w.focus_name().c_str());
  std::printf("          (--seq/--head move the focus; the shared scenario flags change the run: --help)\n");
}

void print_footer(Walkthrough& w) {
  Terminal& out = w.out();
  const ChapterInfo& c = w.chapter();
  std::printf("\n");
  const std::string verdict = std::to_string(w.num_checks() - w.num_failed()) + " of " + std::to_string(w.num_checks()) +
                              " checks passed";
  std::printf("%s\n", out.paint(verdict, w.num_failed() == 0 ? Colour::green : Colour::red).c_str());
  for (const std::string& l :
       wrap(viz_args_for(w.scenario(), w.seq(), w.head()), kTerminalWidth, "this run in the visualizer: pal-viz ", "    "))
    std::printf("%s\n", l.c_str());
  if (c.number < kNumChapters)
    std::printf("next: chapter %d, %s (%s)\n", c.number + 1, std::string(kChapters[c.number].title).c_str(),
                program_name(c.number + 1).c_str());
}

}  // namespace

std::string Walkthrough::viz_args() const { return viz_args_for(scenario(), focus_seq_, focus_head_); }

int run_chapter(int argc, char** argv, const ChapterInfo& chapter, const std::function<void(Walkthrough&)>& body) {
  if (chapter.number < 1 || chapter.number > kNumChapters) {
    std::fprintf(stderr, "walkthrough: chapter number %d is not in 1-%d\n", chapter.number, kNumChapters);
    return 2;
  }
  const std::string name = program_name(chapter.number);
  CLI::App app{name + ": chapter " + std::to_string(chapter.number) + " of the paged-attention walkthrough, " +
               std::string(kChapters[chapter.number - 1].title) + ".\n" + std::string(chapter.teaches)};
  ScenarioFlags flags;
  add_scenario_flags(app, flags, chapter.scenario);
  std::string backend_text = "auto";
  bool no_colour = false;
  bool print_viz_args = false;
  std::optional<int> focus_seq, focus_head;
  app.add_option("--backend", backend_text, "gpu, emulator, or auto (the GPU when one answers, else the emulator)")
      ->check(CLI::IsMember({"gpu", "emulator", "auto"}));
  app.add_flag("--no-color,--no-colour", no_colour, "plain text even on a terminal");
  app.add_option("--seq", focus_seq, "sequence of the thread_block in focus (default: the chapter's)");
  app.add_option("--head", focus_head, "query head of the thread_block in focus (default: the chapter's)");
  app.add_flag("--viz-args", print_viz_args, "print the pal-viz flags that show this run and focus, then exit");
  if (auto exit_code = parse_command_line(app, argc, argv)) return *exit_code;

  try {
    const Scenario scenario = resolve_scenario_flags(flags, chapter.scenario);
    const int seq = focus_seq.value_or(std::min(chapter.focus_seq, scenario.num_seqs - 1));
    const int head = focus_head.value_or(std::min(chapter.focus_head, scenario.num_heads - 1));
    if (seq < 0 || seq >= scenario.num_seqs)
      throw ScenarioError("--seq " + std::to_string(seq) + " is not a sequence of this run; give 0-" +
                          std::to_string(scenario.num_seqs - 1));
    if (head < 0 || head >= scenario.num_heads)
      throw ScenarioError("--head " + std::to_string(head) + " is not a query head of this run; give 0-" +
                          std::to_string(scenario.num_heads - 1));
    if (print_viz_args) {
      Scenario resolved = scenario;
      resolved.version = scenario.resolved_version();
      std::printf("%s\n", viz_args_for(resolved, seq, head).c_str());
      return 0;
    }
    Backend backend = Backend::automatic;
    parse_backend(backend_text, backend);
    const char* no_color_env = std::getenv("NO_COLOR");
    const bool colour = !no_colour && isatty(fileno(stdout)) && (no_color_env == nullptr || *no_color_env == '\0');

    Walkthrough walkthrough(chapter, scenario, backend, colour, seq, head);
    print_banner(walkthrough);
    body(walkthrough);
    print_footer(walkthrough);
    std::fflush(stdout);
    return walkthrough.num_failed() == 0 ? 0 : 1;
  } catch (const ScenarioError& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", name.c_str(), error.what());
    return 2;
  } catch (const simt::EmulatorError& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: emulator: %s\n", name.c_str(), error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", name.c_str(), error.what());
    return 2;
  }
}

}  // namespace pal::walkthrough
