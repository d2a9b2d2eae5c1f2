// Upstream vLLM's own decode kernels timed on an H100 80GB HBM3 (2026-11-21): the figures pal-bench
// compares against. Data transcribed from ../shared/perf-anchors.md, which says how they were taken:
// a standalone sm_90a build of upstream's v1 / v2(+reduce) kernels, fp16 q and KV cache,
// head_size 128, block_size 16, 128 threads, partitions of 512 tokens, no ALiBi, a random
// permutation as block table, every sequence ctx tokens long, launches replayed back to back from a
// CUDA graph ("hot"), median time. Their TB/s counts each KV head's K and V of the context once,
// plus q and out: the bytes pal-bench counts too (bench/bench_model.h), so ratios compare like with
// like. bench/bench_model_test.cpp checks that those bytes over these times give the published TB/s.
#pragma once

#include <array>

namespace pal::bench {

struct UpstreamAnchor {
  int num_heads;
  int num_kv_heads;
  int batch;        // num_seqs
  int context_len;  // tokens of every sequence
  int version;      // 1 or 2
  bool upstream_picks;  // whether upstream's v1/v2 heuristic chooses this version for the shape
  double time_us;       // median, hot
  double terabytes_per_second;  // as published (rounded to 0.01)
  double percent_of_peak;       // of 3.35 TB/s, as published (rounded to 1)
};

// The configuration every anchor shares.
inline constexpr int kAnchorHeadSize = 128;
inline constexpr int kAnchorBlockSize = 16;
inline constexpr double kH100PeakTerabytesPerSecond = 3.35;  // H100 SXM: 2619 MHz x 5120 bit x 2 (DDR)

// Rows in the order of the published table: 32/8 heads then 32/32, batch, context, version.
inline constexpr std::array<UpstreamAnchor, 56> kUpstreamAnchors{{
    {32, 8, 1, 512, 1, true, 12.0, 0.18, 5},
    {32, 8, 1, 512, 2, false, 13.9, 0.15, 5},
    {32, 8, 1, 2048, 1, false, 41.1, 0.20, 6},
    {32, 8, 1, 2048, 2, true, 15.2, 0.55, 17},
    {32, 8, 1, 8192, 1, false, 202.6, 0.17, 5},
    {32, 8, 1, 8192, 2, true, 21.9, 1.54, 46},
    {32, 8, 1, 32768, 2, true, 98.8, 1.36, 41},
    {32, 8, 8, 512, 1, true, 13.1, 1.29, 39},
    {32, 8, 8, 512, 2, false, 15.5, 1.09, 32},
    {32, 8, 8, 2048, 1, false, 67.6, 0.99, 30},
    {32, 8, 8, 2048, 2, true, 50.1, 1.34, 40},
    {32, 8, 8, 8192, 1, false, 262.4, 1.02, 31},
    {32, 8, 8, 8192, 2, true, 165.5, 1.62, 48},
    {32, 8, 8, 32768, 2, true, 602.8, 1.78, 53},
    {32, 8, 32, 512, 1, true, 43.5, 1.55, 46},
    {32, 8, 32, 512, 2, false, 50.2, 1.35, 40},
    {32, 8, 32, 2048, 1, true, 153.5, 1.75, 52},
    {32, 8, 32, 2048, 2, false, 164.7, 1.63, 49},
    {32, 8, 32, 8192, 1, true, 610.4, 1.76, 53},
    {32, 8, 32, 8192, 2, false, 601.5, 1.79, 53},
    {32, 8, 32, 32768, 2, true, 2487.1, 1.73, 52},
    {32, 8, 128, 512, 1, true, 151.2, 1.79, 53},
    {32, 8, 128, 512, 2, false, 166.7, 1.62, 48},
    {32, 8, 128, 2048, 1, true, 542.6, 1.98, 59},
    {32, 8, 128, 2048, 2, false, 629.8, 1.71, 51},
    {32, 8, 128, 8192, 1, true, 2162.1, 1.99, 59},
    {32, 8, 128, 8192, 2, false, 2472.5, 1.74, 52},
    {32, 8, 128, 32768, 2, true, 9754.4, 1.76, 53},
    {32, 32, 1, 512, 1, true, 12.4, 0.68, 20},
    {32, 32, 1, 512, 2, false, 13.9, 0.60, 18},
    {32, 32, 1, 2048, 1, false, 42.0, 0.80, 24},
    {32, 32, 1, 2048, 2, true, 15.8, 2.12, 63},
    {32, 32, 1, 8192, 1, false, 253.1, 0.53, 16},
    {32, 32, 1, 8192, 2, true, 52.3, 2.57, 77},
    {32, 32, 1, 32768, 2, true, 199.2, 2.70, 80},
    {32, 32, 8, 512, 1, true, 28.2, 2.39, 71},
    {32, 32, 8, 512, 2, false, 31.9, 2.11, 63},
    {32, 32, 8, 2048, 1, false, 101.4, 2.65, 79},
    {32, 32, 8, 2048, 2, true, 97.7, 2.75, 82},
    {32, 32, 8, 8192, 1, false, 398.1, 2.70, 81},
    {32, 32, 8, 8192, 2, true, 366.5, 2.93, 87},
    {32, 32, 8, 32768, 2, true, 1423.8, 3.02, 90},
    {32, 32, 32, 512, 1, true, 93.7, 2.87, 86},
    {32, 32, 32, 512, 2, false, 97.7, 2.75, 82},
    {32, 32, 32, 2048, 1, true, 355.8, 3.02, 90},
    {32, 32, 32, 2048, 2, false, 364.5, 2.95, 88},
    {32, 32, 32, 8192, 1, true, 1435.7, 2.99, 89},
    {32, 32, 32, 8192, 2, false, 1414.7, 3.04, 91},
    {32, 32, 32, 32768, 2, true, 5641.4, 3.05, 91},
    {32, 32, 128, 512, 1, true, 359.8, 2.99, 89},
    {32, 32, 128, 512, 2, false, 364.8, 2.95, 88},
    {32, 32, 128, 2048, 1, true, 1413.9, 3.04, 91},
    {32, 32, 128, 2048, 2, false, 1410.9, 3.05, 91},
    {32, 32, 128, 8192, 1, true, 5644.7, 3.04, 91},
    {32, 32, 128, 8192, 2, false, 5611.8, 3.06, 91},
    {32, 32, 128, 32768, 2, true, 22540.1, 3.05, 91},
}};

// The anchor for a shape, or nullptr (another dtype, head or block size, or a row upstream did not
// time, such as v1 at 32768 tokens).
inline const UpstreamAnchor* find_upstream_anchor(bool is_fp16, int head_size, int block_size, int num_heads,
                                                  int num_kv_heads, int batch, int context_len, int version) {
  if (!is_fp16 || head_size != kAnchorHeadSize || block_size != kAnchorBlockSize) return nullptr;
  for (const UpstreamAnchor& anchor : kUpstreamAnchors)
    if (anchor.num_heads == num_heads && anchor.num_kv_heads == num_kv_heads && anchor.batch == batch &&
        anchor.context_len == context_len && anchor.version == version)
      return &anchor;
  return nullptr;
}

}  // namespace pal::bench
