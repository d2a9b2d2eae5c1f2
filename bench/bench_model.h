// What the benchmark measures, independent of any GPU: the shapes of the grids, the bytes a launch
// must read, the statistics of a set of timings, name filters and the CSV / table formatting.
// Shared by pal-bench (GPU) and pal-bench-emulator (CPU), and unit-tested without a GPU
// (bench/bench_model_test.cpp).
//
// Conventions: "batch" is num_seqs and "ctx" is the context length of every sequence (all
// sequences of a benchmark shape have the same length, as in upstream's benchmark). Times are in
// microseconds, bandwidths in TB/s = 1e12 bytes per second.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/scenario.h"

namespace pal::bench {

// One set of kernel inputs: everything except the version, which runs on the same inputs.
struct BenchShape {
  DType dtype = DType::fp16;
  int num_heads = 32;
  int num_kv_heads = 32;
  int head_size = 128;
  int block_size = 16;
  int batch = 1;         // num_seqs
  int context_len = 512;  // tokens of every sequence

  // "fp16/h128/bs16/32x8/b1/c512": the name --filter matches (with "/v1" or "/v2" appended per row).
  std::string name() const;
};

// A shape and a resolved version (v1 or v2): one row of results.
std::string row_name(const BenchShape& shape, KernelVersion version);

// The scenario pal's launch code expects for this shape: seq_lens all context_len, num_blocks
// exactly the blocks the sequences need (no spare blocks, so the cache holds only what is read).
Scenario make_scenario(const BenchShape& shape, KernelVersion version, std::uint64_t seed);

// The version upstream's heuristic picks: v1 iff max_seq_len <= 8192 and (one partition or
// num_seqs * num_heads > 512). Delegates to Scenario::resolved_version so there is one rule.
KernelVersion upstream_pick(const BenchShape& shape);

// Bytes a launch cannot avoid reading or writing: each KV head's keys and values over the context
// once (num_seqs * ctx * num_kv_heads * head_size * 2 * element size), plus the query and the output.
// GQA kernels that re-read a KV head once per query head move more; this is the floor. v2's
// per-partition scratch, block tables and seq_lens are not counted (the anchors do not count them).
std::int64_t unique_bytes(const BenchShape& shape);
// Bytes of the allocated K and V caches (num_blocks = exactly what the sequences need).
std::int64_t kv_cache_bytes(const BenchShape& shape);
// Everything one input set allocates on the device: both caches, query, block table, seq_lens.
std::int64_t input_set_bytes(const BenchShape& shape);
// Output and v2 scratch (tmp_out, exp_sums, max_logits), sized for v2 so both versions share them.
std::int64_t workspace_bytes(const BenchShape& shape);

// TB/s for `bytes` moved in `microseconds`.
double terabytes_per_second(std::int64_t bytes, double microseconds);

// ---- grids -----------------------------------------------------------------------------------------

// The anchor grid: fp16, head 128, block 16, heads 32/8 and 32/32, batch 1/8/32/128,
// ctx 512/2048/8192/32768 (64 shapes x versions; 56 rows have an upstream anchor, the v1 rows at
// 32768 tokens have none). --quick keeps batch 1 and 32, ctx 512 and 8192.
std::vector<BenchShape> primary_grid(bool quick);
// The other dtype, head sizes and block sizes at a few shapes each (bf16; head 64 and 256; block 8
// and 32), around the fp16 / 128 / 16 centre.
std::vector<BenchShape> secondary_grid(bool quick);
// Small shapes whose recording fits in device memory comfortably: for the recording probe's cost.
std::vector<BenchShape> recording_grid(bool quick);

// ---- statistics -------------------------------------------------------------------------------------

struct TimingSummary {
  double median = 0, p10 = 0, p90 = 0, min = 0, max = 0;
  int count = 0;
};
// Percentiles by linear interpolation between order statistics; empty input gives count 0.
TimingSummary summarize(std::vector<double> samples);

// ---- results ----------------------------------------------------------------------------------------

struct BenchRow {
  BenchShape shape;
  KernelVersion version = KernelVersion::v1;
  bool upstream_picks = false;
  std::string input_source;  // "host" (core's generate_inputs) or "device" (bench's RNG kernel)
  std::int64_t bytes = 0;    // unique_bytes(shape)
  TimingSummary hot;
  int hot_launches_per_sample = 0;
  TimingSummary cold;        // count 0 when not measured
  std::string cold_method;   // "rotate N sets", "flush", "=hot (one set > 3x L2)", ...
  std::optional<double> anchor_us;
  std::string check;         // output sanity check: "ok", "v1=v2 ok", or what failed
  std::string skipped;       // non-empty: not measured, and why
  bool recording_probe = false;  // timed with the recording probe on: named "<row name>+record"
};

// row_name(), plus "+record" for a recording-probe row.
std::string display_name(const BenchRow& row);

double hot_tbs(const BenchRow& row);
double cold_tbs(const BenchRow& row);

void write_csv_header(std::ostream& out);
void write_csv_row(std::ostream& out, const BenchRow& row, double peak_tbs, double copy_tbs);
// One fixed-width line for the terminal table (and its header).
std::string table_header();
std::string table_line(const BenchRow& row, double peak_tbs);

// Case-sensitive regular-expression search in row_name(); an empty filter matches everything.
// Throws std::invalid_argument with the filter and the reason when the expression is malformed.
bool filter_matches(const std::string& filter, const std::string& name);

std::string format_fixed(double value, int decimals);

}  // namespace pal::bench
