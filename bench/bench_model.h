// What the benchmark measures, independent of any GPU: the shapes of the grids, the bytes a launch
// must read, the statistics of a set of timings and name filters. Shared by pal-bench (GPU) and
// pal-bench-emulator (CPU), and unit-tested without a GPU (bench/bench_model_test.cpp). The rows
// of results and their formats are in bench/report.h.
//
// Conventions: "batch" is num_seqs and "ctx" is the context length of every sequence (all
// sequences of a benchmark shape have the same length, as in upstream's benchmark). Times are in
// microseconds, bandwidths in TB/s = 1e12 bytes per second.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp8.h"
#include "core/scenario.h"

namespace pal::bench {

// One set of kernel inputs: everything except the version, which runs on the same inputs.
struct BenchShape {
  DType dtype = DType::fp16;  // query and output
  // The KV cache's format (core/fp8.h); unset: the query's dtype (kv_cache_dtype auto).
  std::optional<KvCacheDtype> kv_cache_dtype;
  int num_heads = 32;
  int num_kv_heads = 32;
  int head_size = 128;
  int block_size = 16;
  int batch = 1;         // num_seqs
  int context_len = 512;  // tokens of every sequence

  KvCacheDtype cache_format() const { return kv_cache_dtype.value_or(KvCacheDtype::automatic); }
  int cache_element_bytes() const { return is_fp8(cache_format()) ? 1 : dtype_size_bytes(dtype); }

  // "fp16/h128/bs16/32x8/b1/c512": the name --filter matches (with "/v1" or "/v2" appended per row).
  // An fp8 cache is named after the query's dtype: "fp16/kv-fp8_e4m3/h128/...".
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
// once (num_seqs * ctx * num_kv_heads * head_size * 2 * cache element size), plus the query and the
// output (query dtype). GQA kernels that re-read a KV head once per query head move more; this is
// the floor. v2's per-partition scratch, block tables and seq_lens are not counted (the upstream
// tables do not count them).
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

// The grid of the upstream tables (bench/upstream_anchors.h): fp16, head 128, block 16, heads 32/8
// and 32/32, batch 1/8/32/128, ctx 512/2048/8192/32768: 32 shapes, 64 rows with v1 and v2 (the
// H200 table has all 64; the H100 table 56, upstream did not time v1 at 32768 tokens there).
// --quick keeps batch 1 and 32, ctx 512 and 8192.
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

// Case-sensitive regular-expression search in row_name(); an empty filter matches everything.
// Throws std::invalid_argument with the filter and the reason when the expression is malformed.
bool filter_matches(const std::string& filter, const std::string& name);

std::string format_fixed(double value, int decimals);

}  // namespace pal::bench
