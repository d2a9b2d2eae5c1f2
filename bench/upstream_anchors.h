// The upstream figures pal-bench compares against, measured on the same kind of GPU as the one it
// runs on: the data, with where each table comes from and when it was taken, and (at the end) the
// two look-ups pal-bench makes: which table belongs to this device, and a row's figures.
//
// Source of both tables: ../shared/perf-anchors.md (the project's shared facts), transcribed row by
// row. Every row: fp16 query and KV cache, head_size 128, block_size 16, no ALiBi, every sequence
// `context_len` tokens, a shuffled block table; "hot" = median of CUDA-graph replays of back-to-back
// launches, "cold" = rotating input sets larger than 3x L2. The percentages are copied as published
// (rounded to 1 %) so that bench/bench_model_test.cpp can recompute them from pal-bench's own byte
// count (bench/bench_model.h: each KV head's K and V once, plus q and out) and the times: a wrong
// byte count would miss them by a factor of 2 or more.
//
// Upstream's kernels have versions 1 and 2 (v2 = partitions of 512 tokens + the reduce kernel).
// FlashInfer has no such versions: its time repeats on both rows of a shape.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "bench/bench_model.h"
#include "core/dtype.h"

namespace pal::bench {

// One shape and version of a side-by-side table. Unset: not measured on that device.
struct UpstreamRow {
  int num_heads;
  int num_kv_heads;
  int batch;        // num_seqs
  int context_len;  // tokens of every sequence
  int version;      // 1 or 2, as upstream names its kernels
  bool vllm_picks;  // whether vLLM's heuristic chooses this version for the shape
  std::optional<double> vllm_hot_us;
  std::optional<double> vllm_cold_us;
  std::optional<double> flashinfer_cuda_core_hot_us;    // FlashInfer batch decode, use_tensor_cores=False
  std::optional<double> flashinfer_tensor_core_hot_us;  // FlashInfer batch decode, use_tensor_cores=True
  // As published: percent of the table's nominal bandwidth reached by the hot times, and (H100
  // table only) vLLM's TB/s.
  std::optional<double> published_vllm_percent;
  std::optional<double> published_flashinfer_cuda_core_percent;
  std::optional<double> published_flashinfer_tensor_core_percent;
  std::optional<double> published_vllm_tbs;
};

// One device's table, and the device it was measured on.
struct UpstreamTable {
  // The device, exactly as cudaGetDeviceProperties names it, with the properties that tell its
  // variants apart (an H100 PCIe or an H200 NVL shares part of the name, not the bandwidth).
  std::string_view device_name;
  int compute_major;
  int compute_minor;
  int sm_count;
  double nominal_peak_tbs;  // the vendor's memory bandwidth: the "% of peak" denominator
  std::string_view date;    // when the upstream kernels were timed
  std::string_view source;  // where the table is published, and what was measured
  // The configuration every row shares.
  DType dtype;
  int head_size;
  int block_size;
  std::span<const UpstreamRow> rows;
};

// ---- NVIDIA H200 (141 GB HBM3e, 4.8 TB/s, 60 MiB L2, 132 SMs), 2026-11-29 ---------------------------
// vLLM: upstream paged_attention_v1/v2_kernel + reduce at commit b6553be (2025-06), built standalone
// for sm_90 with upstream's flags and launch configuration (128 threads, partition 512). FlashInfer
// v0.6.17 batch decode with its split-KV planner, programmatic dependent launch on, KV layout NHD.
// Measured side by side with this project's kernel in one device call.
// Columns: heads q/kv, batch, ctx, version, vLLM picks, vLLM hot us, vLLM cold us, FlashInfer
// CUDA-core hot us, FlashInfer tensor-core hot us, % of 4.8 TB/s: vLLM, FI-cc, FI-tc.
inline constexpr std::array<UpstreamRow, 64> kH200Rows{{
    {32, 8, 1, 512, 1, true, 12.5, 18.3, 8.6, 7.7, 4, 5, 6, {}},
    {32, 8, 1, 512, 2, false, 14.1, 22.0, 8.6, 7.7, 3, 5, 6, {}},
    {32, 8, 1, 2048, 1, false, 42.5, 62.2, 9.0, 8.7, 4, 19, 20, {}},
    {32, 8, 1, 2048, 2, true, 15.4, 23.6, 9.0, 8.7, 11, 19, 20, {}},
    {32, 8, 1, 8192, 1, false, 165.3, 240.3, 16.1, 14.0, 4, 43, 50, {}},
    {32, 8, 1, 8192, 2, true, 21.8, 27.9, 16.1, 14.0, 32, 43, 50, {}},
    {32, 8, 1, 32768, 1, false, 943.2, 943.6, 49.8, 41.4, 3, 56, 68, {}},
    {32, 8, 1, 32768, 2, true, 94.7, 95.7, 49.8, 41.4, 30, 56, 68, {}},
    {32, 8, 8, 512, 1, true, 13.2, 19.7, 10.8, 11.5, 27, 32, 31, {}},
    {32, 8, 8, 512, 2, false, 15.5, 23.6, 10.8, 11.5, 23, 32, 31, {}},
    {32, 8, 8, 2048, 1, false, 67.1, 67.5, 27.4, 26.6, 21, 51, 53, {}},
    {32, 8, 8, 2048, 2, true, 49.0, 49.6, 27.4, 26.6, 29, 51, 53, {}},
    {32, 8, 8, 8192, 1, false, 259.7, 259.7, 90.0, 72.3, 22, 62, 77, {}},
    {32, 8, 8, 8192, 2, true, 158.1, 158.1, 90.0, 72.3, 35, 62, 77, {}},
    {32, 8, 8, 32768, 1, false, 1924.2, 1924.2, 336.1, 255.8, 12, 67, 87, {}},
    {32, 8, 8, 32768, 2, true, 573.1, 573.1, 336.1, 255.8, 39, 67, 87, {}},
    {32, 8, 32, 512, 1, true, 42.3, 42.8, 28.9, 24.0, 33, 49, 59, {}},
    {32, 8, 32, 512, 2, false, 48.7, 49.2, 28.9, 24.0, 29, 49, 59, {}},
    {32, 8, 32, 2048, 1, true, 147.4, 147.4, 91.2, 69.6, 38, 61, 81, {}},
    {32, 8, 32, 2048, 2, false, 158.3, 158.3, 91.2, 69.6, 35, 61, 81, {}},
    {32, 8, 32, 8192, 1, true, 576.9, 576.9, 342.9, 251.8, 39, 65, 89, {}},
    {32, 8, 32, 8192, 2, false, 572.6, 572.6, 342.9, 251.8, 39, 65, 89, {}},
    {32, 8, 32, 32768, 1, false, 7671.6, 7671.6, 1410.1, 968.9, 12, 63, 92, {}},
    {32, 8, 32, 32768, 2, true, 2248.2, 2248.2, 1410.1, 968.9, 40, 63, 92, {}},
    {32, 8, 128, 512, 1, true, 143.8, 143.8, 88.2, 79.8, 39, 64, 71, {}},
    {32, 8, 128, 512, 2, false, 160.2, 160.2, 88.2, 79.8, 35, 64, 71, {}},
    {32, 8, 128, 2048, 1, true, 511.7, 511.7, 339.1, 260.4, 44, 66, 86, {}},
    {32, 8, 128, 2048, 2, false, 576.7, 576.7, 339.1, 260.4, 39, 66, 86, {}},
    {32, 8, 128, 8192, 1, true, 1993.5, 1993.5, 1399.7, 977.6, 45, 64, 92, {}},
    {32, 8, 128, 8192, 2, false, 2239.9, 2239.9, 1399.7, 977.6, 40, 64, 92, {}},
    {32, 8, 128, 32768, 1, false, 30036.3, 30036.3, 5679.0, 3857.4, 12, 63, 93, {}},
    {32, 8, 128, 32768, 2, true, 9003.0, 9003.0, 5679.0, 3857.4, 40, 63, 93, {}},
    {32, 32, 1, 512, 1, true, 12.3, 18.8, 6.1, 8.4, 14, 29, 21, {}},
    {32, 32, 1, 512, 2, false, 14.2, 22.5, 6.1, 8.4, 12, 29, 21, {}},
    {32, 32, 1, 2048, 1, false, 42.7, 64.3, 10.1, 14.2, 16, 69, 49, {}},
    {32, 32, 1, 2048, 2, true, 15.6, 25.2, 10.1, 14.2, 45, 69, 49, {}},
    {32, 32, 1, 8192, 1, false, 249.8, 247.6, 39.3, 41.0, 11, 71, 68, {}},
    {32, 32, 1, 8192, 2, true, 40.8, 41.2, 39.3, 41.0, 69, 71, 68, {}},
    {32, 32, 1, 32768, 1, false, 967.3, 967.3, 130.1, 131.1, 12, 86, 85, {}},
    {32, 32, 1, 32768, 2, true, 149.9, 149.9, 130.1, 131.1, 75, 86, 85, {}},
    {32, 32, 8, 512, 1, true, 23.8, 24.1, 24.1, 23.7, 59, 58, 59, {}},
    {32, 32, 8, 512, 2, false, 27.8, 28.1, 24.1, 23.7, 50, 58, 59, {}},
    {32, 32, 8, 2048, 1, false, 82.6, 82.6, 69.3, 68.8, 68, 81, 81, {}},
    {32, 32, 8, 2048, 2, true, 76.1, 76.1, 69.3, 68.8, 73, 81, 81, {}},
    {32, 32, 8, 8192, 1, false, 319.7, 319.7, 250.7, 250.3, 70, 89, 89, {}},
    {32, 32, 8, 8192, 2, true, 267.0, 267.0, 250.7, 250.3, 84, 89, 89, {}},
    {32, 32, 8, 32768, 1, false, 2051.2, 2051.2, 968.8, 966.9, 44, 92, 93, {}},
    {32, 32, 8, 32768, 2, true, 998.8, 998.8, 968.8, 966.9, 90, 92, 93, {}},
    {32, 32, 32, 512, 1, true, 70.0, 70.0, 69.4, 75.6, 80, 81, 74, {}},
    {32, 32, 32, 512, 2, false, 75.1, 75.1, 69.4, 75.6, 75, 81, 74, {}},
    {32, 32, 32, 2048, 1, true, 257.8, 257.8, 253.5, 254.2, 87, 88, 88, {}},
    {32, 32, 32, 2048, 2, false, 264.6, 264.6, 253.5, 254.2, 85, 88, 88, {}},
    {32, 32, 32, 8192, 1, true, 1017.5, 1017.5, 988.7, 972.5, 88, 91, 92, {}},
    {32, 32, 32, 8192, 2, false, 991.7, 991.7, 988.7, 972.5, 90, 91, 92, {}},
    {32, 32, 32, 32768, 1, false, 8137.5, 8137.5, 3922.1, 3854.2, 44, 91, 93, {}},
    {32, 32, 32, 32768, 2, true, 3928.6, 3928.6, 3922.1, 3854.2, 91, 91, 93, {}},
    {32, 32, 128, 512, 1, true, 287.0, 287.0, 280.7, 264.0, 78, 80, 85, {}},
    {32, 32, 128, 512, 2, false, 265.4, 265.4, 280.7, 264.0, 84, 80, 85, {}},
    {32, 32, 128, 2048, 1, true, 990.4, 990.4, 968.6, 984.8, 90, 92, 91, {}},
    {32, 32, 128, 2048, 2, false, 989.1, 989.1, 968.6, 984.8, 91, 92, 91, {}},
    {32, 32, 128, 8192, 1, true, 3931.9, 3931.9, 3850.7, 3878.6, 91, 93, 92, {}},
    {32, 32, 128, 8192, 2, false, 3905.0, 3905.0, 3850.7, 3878.6, 92, 93, 92, {}},
    {32, 32, 128, 32768, 1, false, 32264.0, 32264.0, 15374.8, 15516.8, 44, 93, 92, {}},
    {32, 32, 128, 32768, 2, true, 15658.6, 15658.6, 15374.8, 15516.8, 91, 93, 92, {}},
}};

// ---- NVIDIA H100 80GB HBM3 (SXM, 3.35 TB/s, 50 MiB L2, 132 SMs), 2026-11-21 -------------------------
// vLLM only: upstream's v1 / v2(+reduce) kernels built standalone for sm_90a, hot times. Upstream did
// not time v1 at 32768 tokens. Columns: heads q/kv, batch, ctx, version, vLLM picks, vLLM hot us,
// (no cold, no FlashInfer), % of 3.35 TB/s, TB/s.
inline constexpr std::array<UpstreamRow, 56> kH100Rows{{
    {32, 8, 1, 512, 1, true, 12.0, {}, {}, {}, 5, {}, {}, 0.18},
    {32, 8, 1, 512, 2, false, 13.9, {}, {}, {}, 5, {}, {}, 0.15},
    {32, 8, 1, 2048, 1, false, 41.1, {}, {}, {}, 6, {}, {}, 0.20},
    {32, 8, 1, 2048, 2, true, 15.2, {}, {}, {}, 17, {}, {}, 0.55},
    {32, 8, 1, 8192, 1, false, 202.6, {}, {}, {}, 5, {}, {}, 0.17},
    {32, 8, 1, 8192, 2, true, 21.9, {}, {}, {}, 46, {}, {}, 1.54},
    {32, 8, 1, 32768, 2, true, 98.8, {}, {}, {}, 41, {}, {}, 1.36},
    {32, 8, 8, 512, 1, true, 13.1, {}, {}, {}, 39, {}, {}, 1.29},
    {32, 8, 8, 512, 2, false, 15.5, {}, {}, {}, 32, {}, {}, 1.09},
    {32, 8, 8, 2048, 1, false, 67.6, {}, {}, {}, 30, {}, {}, 0.99},
    {32, 8, 8, 2048, 2, true, 50.1, {}, {}, {}, 40, {}, {}, 1.34},
    {32, 8, 8, 8192, 1, false, 262.4, {}, {}, {}, 31, {}, {}, 1.02},
    {32, 8, 8, 8192, 2, true, 165.5, {}, {}, {}, 48, {}, {}, 1.62},
    {32, 8, 8, 32768, 2, true, 602.8, {}, {}, {}, 53, {}, {}, 1.78},
    {32, 8, 32, 512, 1, true, 43.5, {}, {}, {}, 46, {}, {}, 1.55},
    {32, 8, 32, 512, 2, false, 50.2, {}, {}, {}, 40, {}, {}, 1.35},
    {32, 8, 32, 2048, 1, true, 153.5, {}, {}, {}, 52, {}, {}, 1.75},
    {32, 8, 32, 2048, 2, false, 164.7, {}, {}, {}, 49, {}, {}, 1.63},
    {32, 8, 32, 8192, 1, true, 610.4, {}, {}, {}, 53, {}, {}, 1.76},
    {32, 8, 32, 8192, 2, false, 601.5, {}, {}, {}, 53, {}, {}, 1.79},
    {32, 8, 32, 32768, 2, true, 2487.1, {}, {}, {}, 52, {}, {}, 1.73},
    {32, 8, 128, 512, 1, true, 151.2, {}, {}, {}, 53, {}, {}, 1.79},
    {32, 8, 128, 512, 2, false, 166.7, {}, {}, {}, 48, {}, {}, 1.62},
    {32, 8, 128, 2048, 1, true, 542.6, {}, {}, {}, 59, {}, {}, 1.98},
    {32, 8, 128, 2048, 2, false, 629.8, {}, {}, {}, 51, {}, {}, 1.71},
    {32, 8, 128, 8192, 1, true, 2162.1, {}, {}, {}, 59, {}, {}, 1.99},
    {32, 8, 128, 8192, 2, false, 2472.5, {}, {}, {}, 52, {}, {}, 1.74},
    {32, 8, 128, 32768, 2, true, 9754.4, {}, {}, {}, 53, {}, {}, 1.76},
    {32, 32, 1, 512, 1, true, 12.4, {}, {}, {}, 20, {}, {}, 0.68},
    {32, 32, 1, 512, 2, false, 13.9, {}, {}, {}, 18, {}, {}, 0.60},
    {32, 32, 1, 2048, 1, false, 42.0, {}, {}, {}, 24, {}, {}, 0.80},
    {32, 32, 1, 2048, 2, true, 15.8, {}, {}, {}, 63, {}, {}, 2.12},
    {32, 32, 1, 8192, 1, false, 253.1, {}, {}, {}, 16, {}, {}, 0.53},
    {32, 32, 1, 8192, 2, true, 52.3, {}, {}, {}, 77, {}, {}, 2.57},
    {32, 32, 1, 32768, 2, true, 199.2, {}, {}, {}, 80, {}, {}, 2.70},
    {32, 32, 8, 512, 1, true, 28.2, {}, {}, {}, 71, {}, {}, 2.39},
    {32, 32, 8, 512, 2, false, 31.9, {}, {}, {}, 63, {}, {}, 2.11},
    {32, 32, 8, 2048, 1, false, 101.4, {}, {}, {}, 79, {}, {}, 2.65},
    {32, 32, 8, 2048, 2, true, 97.7, {}, {}, {}, 82, {}, {}, 2.75},
    {32, 32, 8, 8192, 1, false, 398.1, {}, {}, {}, 81, {}, {}, 2.70},
    {32, 32, 8, 8192, 2, true, 366.5, {}, {}, {}, 87, {}, {}, 2.93},
    {32, 32, 8, 32768, 2, true, 1423.8, {}, {}, {}, 90, {}, {}, 3.02},
    {32, 32, 32, 512, 1, true, 93.7, {}, {}, {}, 86, {}, {}, 2.87},
    {32, 32, 32, 512, 2, false, 97.7, {}, {}, {}, 82, {}, {}, 2.75},
    {32, 32, 32, 2048, 1, true, 355.8, {}, {}, {}, 90, {}, {}, 3.02},
    {32, 32, 32, 2048, 2, false, 364.5, {}, {}, {}, 88, {}, {}, 2.95},
    {32, 32, 32, 8192, 1, true, 1435.7, {}, {}, {}, 89, {}, {}, 2.99},
    {32, 32, 32, 8192, 2, false, 1414.7, {}, {}, {}, 91, {}, {}, 3.04},
    {32, 32, 32, 32768, 2, true, 5641.4, {}, {}, {}, 91, {}, {}, 3.05},
    {32, 32, 128, 512, 1, true, 359.8, {}, {}, {}, 89, {}, {}, 2.99},
    {32, 32, 128, 512, 2, false, 364.8, {}, {}, {}, 88, {}, {}, 2.95},
    {32, 32, 128, 2048, 1, true, 1413.9, {}, {}, {}, 91, {}, {}, 3.04},
    {32, 32, 128, 2048, 2, false, 1410.9, {}, {}, {}, 91, {}, {}, 3.05},
    {32, 32, 128, 8192, 1, true, 5644.7, {}, {}, {}, 91, {}, {}, 3.04},
    {32, 32, 128, 8192, 2, false, 5611.8, {}, {}, {}, 91, {}, {}, 3.06},
    {32, 32, 128, 32768, 2, true, 22540.1, {}, {}, {}, 91, {}, {}, 3.05},
}};

inline constexpr std::array<UpstreamTable, 2> kUpstreamTables{{
    {"NVIDIA H200", 9, 0, 132, 4.8, "2026-11-29",
     "../shared/perf-anchors.md, 'Side by side on one H200': vLLM b6553be and FlashInfer v0.6.17, hot and cold",
     DType::fp16, 128, 16, kH200Rows},
    {"NVIDIA H100 80GB HBM3", 9, 0, 132, 3.35, "2026-11-21",
     "../shared/perf-anchors.md, 'Earlier figures: the H100': vLLM's v1/v2 kernels, hot",
     DType::fp16, 128, 16, kH100Rows},
}};

// ---- look-ups (bench/upstream_anchors.cpp) ----------------------------------------------------------

// What identifies a kind of GPU: the name and the properties that tell its variants apart.
struct DeviceIdentity {
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  int sm_count = 0;
};

// The table measured on this kind of device: same name, compute capability and SM count. Null for
// any other device (an H100 PCIe, an H200 NVL, an A100), with `why_none` saying which devices have
// tables, so the output can say why it shows no upstream columns.
const UpstreamTable* upstream_table_for(const DeviceIdentity& device, std::string* why_none);

// The figures a row of ours is compared with. The vLLM figures are those of the same version (v1 or
// v2); a version upstream does not have (a later kernel of ours) is compared with the version vLLM's
// heuristic picks for the shape. FlashInfer's figures are the shape's, whatever the version.
struct UpstreamFigures {
  std::optional<double> vllm_hot_us;
  std::optional<double> vllm_cold_us;
  std::optional<double> flashinfer_cuda_core_hot_us;
  std::optional<double> flashinfer_tensor_core_hot_us;
  int vllm_version = 0;  // 1 or 2: which of vLLM's kernels the vLLM figures are; 0 when none
  bool any() const {
    return vllm_hot_us || vllm_cold_us || flashinfer_cuda_core_hot_us || flashinfer_tensor_core_hot_us;
  }
};
// Empty figures for a shape outside the table (another dtype, head or block size, a quantized
// cache, a batch or context upstream did not time).
UpstreamFigures upstream_figures(const UpstreamTable& table, const BenchShape& shape, KernelVersion version);

}  // namespace pal::bench
