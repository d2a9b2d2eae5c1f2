// The shared harness of the walkthroughs: everything a chapter needs except its idea.
//
// A chapter (walkthroughs/NN_topic.cpp, built as build/bin/pal-NN-topic) describes itself with a
// ChapterInfo (its number, title and default scenario) and a body that prints what the chapter
// teaches. run_chapter() does the rest: it parses the flags every tool shares (plus --backend,
// --no-color, --seq and --head), runs the real kernel with the recording probe (on the GPU when one
// answers, else on the CPU emulator), runs the scalar reference, compares the two stage by stage,
// calls the body, and turns the chapter's checks into the exit status:
//   0  every check passed
//   1  a check failed: the kernel disagrees with the reference in this chapter's stage
//   2  bad input (a flag, a scenario file), with a message saying what would be valid
//
// Output is plain text for a 100-column terminal. Colour is used only when stdout is a terminal,
// NO_COLOR is unset and --no-color is not given, and it never carries information on its own: every
// coloured cell also has a label.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "compare/stage_compare.h"
#include "core/inputs.h"
#include "core/scenario.h"
#include "kernels/geometry.h"
#include "kernels/launch.h"
#include "kernels/record_view.h"
#include "kernels/stage_registry.h"
#include "reference/paged_reference.h"
#include "run/paged_lookups.h"
#include "run/recorded_run.h"

namespace pal::walkthrough {

inline constexpr int kTerminalWidth = 100;

// The run most chapters start from: three sequences of different lengths (one shorter than a
// kv_block, one ending in a partial kv_block after more kv_blocks than there are warps), GQA with two
// query heads per kv head, the smallest head size (so that whole heads fit in a table), and the
// front ends' input preset (kFrontEndInputPreset) at the true scale 1/sqrt(head_size).
Scenario teaching_scenario();

// The table of contents: chapter n is kChapters[n - 1], built as pal-NN-<slug>, and its docs page
// is docs/chapters/NN_<slug with underscores>.md.
struct ChapterTitle {
  std::string_view slug;   // "inputs-and-paging"
  std::string_view title;  // "Inputs and paging"
};
inline constexpr ChapterTitle kChapters[] = {
    {"inputs-and-paging", "Inputs and paging"},
    {"concepts", "Concepts, with this run's numbers"},
    {"query", "Query"},
    {"key", "Key"},
    {"qk", "QK: one logit per token"},
    {"softmax", "Softmax"},
    {"value", "Value"},
    {"lv", "LV: adding up the accumulators"},
    {"output", "Output"},
    {"v2-partitions", "v2: partitions and the reduce"},
    {"gqa-alibi", "GQA and ALiBi"},
    {"what-came-next", "Where the ideas went next"},
    {"grouped-kernel", "The grouped kernel: one read per KV head"},
    {"fp8-kv-cache", "The fp8 KV cache"},
    {"block-sparse", "Block-sparse attention"},
};
inline constexpr int kNumChapters = int(sizeof kChapters / sizeof kChapters[0]);

struct ChapterInfo {
  int number = 0;               // 1 .. kNumChapters: the reading order (slug and title come from kChapters)
  std::string_view teaches;     // one sentence: what the reader will see
  Scenario scenario;            // the chapter's default run (flags and --scenario override it)
  int focus_seq = 0;            // the thread_block the chapter looks at, unless --seq/--head say otherwise
  int focus_head = 0;
};

std::string program_name(int number);  // "pal-01-inputs-and-paging"

// ---- text helpers -------------------------------------------------------------------------------

// Colours of the palette; a cell's colour is a hint, its text says the same thing.
enum class Colour : std::uint8_t { none, red, green, yellow, blue, magenta, cyan, grey, bold };
// One colour per warp, thread_group or sequence: cycles through six distinguishable colours.
Colour palette(int index);

std::string fixed(double value, int decimals);          // "0.01234" ("nan", "inf" spelled out)
std::string signed_fixed(double value, int decimals);   // "+0.01234"
std::string general(double value, int significant = 4); // %g
std::string join(const std::vector<int>& values, std::string_view separator = ",");
// "1 partition", "3 partitions": a count and its noun, plural by an appended 's'.
std::string counted(std::int64_t count, std::string_view noun);
// "0-3" for a run of consecutive integers, "0,2,4" otherwise.
std::string ranges(const std::vector<int>& values);

// A table with a header row; columns are sized to their widest cell. Numbers right-aligned.
class Table {
 public:
  enum class Align : std::uint8_t { left, right };
  struct Column {
    std::string header;
    Align align = Align::right;
  };
  explicit Table(std::vector<Column> columns);
  void row(std::vector<std::string> cells, Colour colour = Colour::none);
  void separator();  // a dashed line between groups of rows
  int num_rows() const { return num_rows_; }

 private:
  friend class Terminal;
  struct Row {
    std::vector<std::string> cells;
    Colour colour;
    bool separator;
  };
  std::vector<Column> columns_;
  std::vector<Row> rows_;
  int num_rows_ = 0;
};

// A grid of short cells with row labels and column labels: memory layouts, lane assignments.
class Grid {
 public:
  Grid(std::string corner, std::vector<std::string> column_labels);
  void row(std::string label, std::vector<std::string> cells, std::vector<Colour> colours = {});

 private:
  friend class Terminal;
  std::string corner_;
  std::vector<std::string> column_labels_;
  std::vector<std::string> row_labels_;
  std::vector<std::vector<std::string>> cells_;
  std::vector<std::vector<Colour>> colours_;
};

class Terminal {
 public:
  explicit Terminal(bool colour) : colour_(colour) {}
  bool colour() const { return colour_; }
  std::string paint(std::string_view text, Colour colour) const;

  void heading(std::string_view text);        // a numbered section of the chapter
  void paragraph(std::string_view text);      // wrapped to the terminal width
  void line(std::string_view text = "");      // as is (callers keep it under 100 columns)
  void bullet(std::string_view text);         // "  - text", wrapped with a hanging indent
  void formula(std::string_view text);        // an indented line of arithmetic
  void print(const Table& table, int indent = 2);
  void print(const Grid& grid, int indent = 2);

 private:
  bool colour_;
};

// ---- the run and its checks ----------------------------------------------------------------------

class Walkthrough {
 public:
  Walkthrough(const ChapterInfo& chapter, Scenario scenario, Backend backend, bool colour, int focus_seq,
              int focus_head);

  const ChapterInfo& chapter() const { return chapter_; }
  Terminal& out() { return terminal_; }

  // The chapter's run (run/recorded_run.h), recorded, and its v1/v2 look-ups.
  const RecordedRun& recorded_run() const { return run_; }
  PagedLookups paged() const { return run_.paged(); }
  const Scenario& scenario() const { return run_.scenario(); }  // as run: the version is resolved
  const Inputs& inputs() const { return run_.inputs(); }
  const KernelRun& run() const { return run_.kernel(); }
  const RecordDims& dims() const { return run_.dims(); }
  const ReferenceRun& reference() const { return run_.reference(); }
  const ComparisonReport& report() const { return run_.report(); }
  KernelGeometry geometry() const { return run_.geometry(); }
  ThreadMapping mapping() const { return paged().mapping(); }
  bool is_v2() const { return paged().is_v2(); }

  // The thread_block the chapter looks at (v2: partition 0 unless a chapter asks for another).
  int seq() const { return focus_seq_; }
  int head() const { return focus_head_; }
  int kv_head() const;
  int seq_len(int seq_idx) const;
  std::int64_t tb(int partition_idx = 0) const { return paged().tb_index(focus_seq_, focus_head_, partition_idx); }
  const ThreadBlockStages& focus(int partition_idx = 0) const {
    return reference().thread_block(focus_seq_, focus_head_, partition_idx);
  }
  int physical_block(int seq_idx, int logical_block_idx) const {  // block_tables[seq][logical]
    return run_.physical_block(seq_idx, logical_block_idx);
  }
  // What the focus thread_block recorded (v2: partition 0 unless asked), any thread_block's
  // records by index, and the v2 reduce's records of the focus (seq, head).
  ThreadBlockRecord record(int partition_idx = 0) const { return paged().thread_block(tb(partition_idx)); }
  ThreadBlockRecord record_of(std::int64_t tb_index) const { return paged().thread_block(tb_index); }
  ReduceRecord reduce_record() const { return paged().reduce(focus_seq_, focus_head_); }
  // The focus thread_block's token slot t, and one thread's global loads in the order it issued them.
  const TokenRecord& token(int t, int partition_idx = 0) const { return record(partition_idx).token(t); }
  std::vector<LoadRecord> loads(int thread, int partition_idx = 0) const;
  std::string focus_name() const;  // "seq 2, head 0 (kv head 0)"

  // Prints one stage's (or check's) row of the kernel-vs-reference comparison; a failure makes the
  // exit status 1.
  void check_stage(StageOrCheck subject);
  // A check the chapter computes itself (what it compares is said in `what`).
  void check(const std::string& name, bool passed, const std::string& what);
  int num_checks() const { return num_checks_; }
  int num_failed() const { return num_failed_; }

  // pal-viz flags that show this very run and focus.
  std::string viz_args() const;

 private:
  ChapterInfo chapter_;
  Terminal terminal_;
  RecordedRun run_;
  int focus_seq_ = 0;
  int focus_head_ = 0;
  int num_checks_ = 0;
  int num_failed_ = 0;
};

// Parses the flags, runs everything, calls `body`, prints the checks' verdict; returns the exit
// status (0, 1 or 2, as above).
int run_chapter(int argc, char** argv, const ChapterInfo& chapter, const std::function<void(Walkthrough&)>& body);

}  // namespace pal::walkthrough
