// The rows pal-bench measures and every way it prints them: the terminal line as each row arrives,
// the CSV and Markdown files, and the closing summary against upstream's figures. Plain C++ (no
// CUDA), unit-tested without a GPU (bench/bench_model_test.cpp).
//
// Conventions: times in microseconds; TB/s = 1e12 bytes per second over unique_bytes (bench_model.h);
// "ratio" is always ours / theirs, so < 1 means ours is faster.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_model.h"
#include "bench/upstream_anchors.h"

namespace pal::bench {

struct BenchRow {
  BenchShape shape;  // with the row's cache format
  KernelVersion version = KernelVersion::v1;
  std::string section;          // "primary", "secondary", "shapes" (a --shapes file) or "recording"
  bool upstream_picks = false;  // vLLM's heuristic chooses this version for the shape
  bool auto_picks = false;      // our `auto` chooses it on this device (kernels/auto_version.h)
  KernelVersion auto_version = KernelVersion::v1;  // the version `auto` chooses for this row's shape
  // Set by mark_auto_verdicts from every row of the shape: was auto's version the fastest measured?
  // "fastest", "x1.04 of grouped" (auto's time over the fastest's), "alone" (no other version of the
  // shape measured), "not measured" (auto's row skipped or absent).
  std::string auto_verdict;
  std::string launch;           // what the launch plan chose (describe_launch)
  std::string input_source;     // "host" (core's generate_inputs) or "device" (bench's RNG kernel)
  std::int64_t bytes = 0;       // unique_bytes(shape)
  TimingSummary hot;
  int hot_launches_per_sample = 0;
  TimingSummary cold;         // count 0 when not measured
  std::string cold_method;    // "rotate N sets", "flush ...", "=hot: ...", "not measured"
  UpstreamFigures upstream;   // from the table of this kind of device; empty without one
  std::string baseline;       // the row this one's time is divided by (variants.h: baseline_of); "" none
  std::optional<double> baseline_us;  // that row's hot median, when it was measured
  std::string check;          // output sanity check: "ok", "ok, v1=v2", or what failed
  std::string skipped;        // non-empty: not measured, and why
  bool recording_probe = false;  // timed with the recording probe on: named "<row name>+record"
};

// Fills each measured row's auto_verdict from the hot medians of the rows of its shape (recording
// rows aside). Call once every row is in, before writing the CSV and Markdown files.
void mark_auto_verdicts(std::vector<BenchRow>& rows);
// "grouped, fastest": the version auto picks for the row's shape and its verdict, for the tables.
std::string auto_cell(const BenchRow& row);

// row_name(), plus "+record" for a recording-probe row.
std::string display_name(const BenchRow& row);
double hot_tbs(const BenchRow& row);
double cold_tbs(const BenchRow& row);

// What every format says about the run as a whole.
struct RunContext {
  std::string device;        // name and properties, one line
  double peak_tbs = 0;       // the "% of peak" denominator
  std::string peak_source;   // where it comes from ("the vendor's figure for NVIDIA H200", "--peak-tbs", ...)
  double copy_tbs = 0;       // device-to-device copy, read + write; 0: not measured
  std::string copy_detail;   // "median of 30, 1024.0 MiB each way"
  const UpstreamTable* upstream = nullptr;  // figures measured on this kind of device; null: none
  std::string upstream_absent;              // why there is none, when there is none
  std::string cold_method;                  // how cold was measured, one phrase
};

void write_csv_header(std::ostream& out);
void write_csv_row(std::ostream& out, const BenchRow& row, const RunContext& context);

// One fixed-width terminal line per row as it is measured, and its header.
std::string table_header();
std::string table_line(const BenchRow& row, const RunContext& context);

// Every row as one Markdown table, after a few lines on the device and the method. The upstream
// columns appear only when this device has a table; the baseline column only when a row has one.
void write_markdown(std::ostream& out, const std::vector<BenchRow>& rows, const RunContext& context);

// The closing summary (starting "== pal-bench summary"): each measured row that has upstream
// figures or comes from a --shapes file, then geometric means of the ratios to vLLM (same version;
// by version; over the rows vLLM's heuristic picks, multi-head and GQA apart), to FlashInfer's
// CUDA-core and tensor-core decode, cold to vLLM cold; which version `auto` picked per shape and
// what that cost against the fastest version measured there; and the ratios to baselines.
void write_summary(std::ostream& out, const std::vector<BenchRow>& rows, const RunContext& context);

}  // namespace pal::bench
