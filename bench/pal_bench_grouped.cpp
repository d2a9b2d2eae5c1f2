// pal-bench-grouped: times the grouped decode kernel's production launch over the primary grid
// (fp16, head 128, block 16, heads 32/8 and 32/32, batch 1/8/32/128, ctx 512/2048/8192/32768), hot
// and cold, checks sampled outputs against float64 attention over the same device inputs, and
// compares with the H200 figures of ../shared/perf-anchors.md (FlashInfer's CUDA-core and
// tensor-core decode, vLLM's pick, and this project's v1/v2 at 09fd832, all measured on one H200 on
// 2026-11-29). It links only the grouped kernels (not v1/v2), to stay small enough to carry.
//
// A small driver of its own until phase 2 of issue 11 adds the grouped kernel to pal-bench; the
// measurement is kernels/grouped_timing.h, the shapes and statistics are bench/bench_model.h's.
// Input sets are generated on the device (bench/device_inputs.h) with a shuffled block table.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_model.h"
#include "bench/device_inputs.h"
#include "core/command_line.h"
#include "core/inputs.h"
#include "core/output_file.h"
#include "kernels/grouped_gpu_backend.h"
#include "kernels/grouped_timing.h"

namespace pal::bench {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}

std::string fixed(double value, int decimals) { return format_fixed(value, decimals); }

// ---- the H200 anchors (../shared/perf-anchors.md, "Side by side on one H200, 2026-11-29") --------
struct Anchor {
  int num_kv_heads, batch, ctx;
  double flashinfer_cuda_cores_us, flashinfer_tensor_cores_us, vllm_pick_us, ours_pick_us;
};
// Hot medians in microseconds; vLLM's and ours are the version upstream's heuristic picks.
constexpr Anchor kAnchors[] = {
    {8, 1, 512, 8.6, 7.7, 12.5, 13.7},          {8, 1, 2048, 9.0, 8.7, 15.4, 14.4},
    {8, 1, 8192, 16.1, 14.0, 21.8, 21.8},       {8, 1, 32768, 49.8, 41.4, 94.7, 76.3},
    {8, 8, 512, 10.8, 11.5, 13.2, 14.7},        {8, 8, 2048, 27.4, 26.6, 49.0, 47.6},
    {8, 8, 8192, 90.0, 72.3, 158.1, 129.8},     {8, 8, 32768, 336.1, 255.8, 573.1, 479.8},
    {8, 32, 512, 28.9, 24.0, 42.3, 36.0},       {8, 32, 2048, 91.2, 69.6, 147.4, 124.0},
    {8, 32, 8192, 342.9, 251.8, 576.9, 815.7},  {8, 32, 32768, 1410.1, 968.9, 2248.2, 1878.3},
    {8, 128, 512, 88.2, 79.8, 143.8, 130.9},    {8, 128, 2048, 339.1, 260.4, 511.7, 466.5},
    {8, 128, 8192, 1399.7, 977.6, 1993.5, 2373.9}, {8, 128, 32768, 5679.0, 3857.4, 9003.0, 8240.4},
    {32, 1, 512, 6.1, 8.4, 12.3, 13.7},         {32, 1, 2048, 10.1, 14.2, 15.6, 14.7},
    {32, 1, 8192, 39.3, 41.0, 40.8, 39.2},      {32, 1, 32768, 130.1, 131.1, 149.9, 140.8},
    {32, 8, 512, 24.1, 23.7, 23.8, 30.6},       {32, 8, 2048, 69.3, 68.8, 76.1, 79.7},
    {32, 8, 8192, 250.7, 250.3, 267.0, 254.8},  {32, 8, 32768, 968.8, 966.9, 998.8, 973.4},
    {32, 32, 512, 69.4, 75.6, 70.0, 65.5},      {32, 32, 2048, 253.5, 254.2, 257.8, 247.0},
    {32, 32, 8192, 988.7, 972.5, 1017.5, 1180.4}, {32, 32, 32768, 3922.1, 3854.2, 3928.6, 3855.0},
    {32, 128, 512, 280.7, 264.0, 287.0, 248.9}, {32, 128, 2048, 968.6, 984.8, 990.4, 958.4},
    {32, 128, 8192, 3850.7, 3878.6, 3931.9, 4174.8}, {32, 128, 32768, 15374.8, 15516.8, 15658.6, 15414.7},
};
const Anchor* anchor_for(const BenchShape& shape) {
  if (shape.dtype != DType::fp16 || shape.head_size != 128 || shape.block_size != 16 || shape.num_heads != 32)
    return nullptr;
  for (const Anchor& anchor : kAnchors)
    if (anchor.num_kv_heads == shape.num_kv_heads && anchor.batch == shape.batch && anchor.ctx == shape.context_len)
      return &anchor;
  return nullptr;
}

// ---- device memory ---------------------------------------------------------------------------------------
struct DeviceMemory {
  void* ptr = nullptr;
  explicit DeviceMemory(std::int64_t bytes) {
    if (bytes > 0) check(cudaMalloc(&ptr, std::size_t(bytes)), "cudaMalloc");
  }
  ~DeviceMemory() {
    if (ptr) cudaFree(ptr);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  template <typename T> T* as() const { return static_cast<T*>(ptr); }
};

// One input set: query, caches, a shuffled block table (logical neighbours on unrelated physical
// blocks, as core's generator does), seq_lens all ctx.
struct InputSet {
  std::unique_ptr<DeviceMemory> query, key_cache, value_cache, block_tables, seq_lens;
  LaunchBuffers buffers(void* out) const {
    LaunchBuffers b;
    b.out = out;
    b.q = query->ptr;
    b.k_cache = key_cache->ptr;
    b.v_cache = value_cache->ptr;
    b.block_tables = block_tables->as<int>();
    b.seq_lens = seq_lens->as<int>();
    return b;
  }
};

InputSet make_input_set(const BenchShape& shape, const Scenario& scenario, std::uint64_t seed, cudaStream_t stream) {
  const std::int64_t element = dtype_size_bytes(shape.dtype);
  const std::int64_t query_count = std::int64_t{shape.batch} * shape.num_heads * shape.head_size;
  const std::int64_t cache_count = kv_cache_bytes(shape) / 2 / element;
  const float range = float(1.0 / std::sqrt(double(shape.head_size)));
  InputSet set;
  set.query = std::make_unique<DeviceMemory>(query_count * element);
  set.key_cache = std::make_unique<DeviceMemory>(cache_count * element);
  set.value_cache = std::make_unique<DeviceMemory>(cache_count * element);
  device_fill_uniform(set.query->ptr, shape.dtype, query_count, range, seed * 3 + 0, stream);
  device_fill_uniform(set.key_cache->ptr, shape.dtype, cache_count, range, seed * 3 + 1, stream);
  device_fill_uniform(set.value_cache->ptr, shape.dtype, cache_count, range, seed * 3 + 2, stream);
  const int num_blocks = scenario.effective_num_blocks();
  const int blocks_per_seq = scenario.max_num_blocks_per_seq();
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  for (int i = 0; i < num_blocks; ++i) pool[std::size_t(i)] = i;
  SplitMix64 random(seed);
  for (std::size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[std::size_t(random.below(i))]);
  std::vector<std::int32_t> seq_lens(std::size_t(shape.batch), shape.context_len);
  set.block_tables = std::make_unique<DeviceMemory>(std::int64_t(shape.batch) * blocks_per_seq * 4);
  set.seq_lens = std::make_unique<DeviceMemory>(std::int64_t(shape.batch) * 4);
  check(cudaMemcpyAsync(set.block_tables->ptr, pool.data(), std::size_t(shape.batch) * std::size_t(blocks_per_seq) * 4,
                        cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync block tables");
  check(cudaMemcpyAsync(set.seq_lens->ptr, seq_lens.data(), seq_lens.size() * 4, cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync seq_lens");
  check(cudaStreamSynchronize(stream), "device input generation");
  return set;
}

// Copies `count` elements of `dtype` at device address `source` to host floats.
std::vector<double> download_as_double(const void* source, DType dtype, std::int64_t count, cudaStream_t stream) {
  Tensor host(element_type_of(dtype), {count});
  check(cudaMemcpyAsync(host.bytes.data(), source, host.bytes.size(), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (check)");
  std::vector<double> values(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) values[std::size_t(i)] = host.get_float(i);
  return values;
}

// The check: for the first and the last sequence and the first and the last KV head, every query
// head of the group against float64 attention over the same device inputs (K/V gathered through
// the block table here, with the cache layouts' own index formulas). Tolerance as the tests'
// (tests/kernels/grouped_grid.h): twice (2^-11 * max|v| + 1e-6) absolute plus 2 * 2^-11 relative.
std::string check_sampled_outputs(const BenchShape& shape, const LaunchShape& launch, const InputSet& set,
                                  const std::vector<float>& grouped, cudaStream_t stream) {
  const int H = shape.head_size, B = shape.block_size, x = 16 / dtype_size_bytes(shape.dtype);
  const int group = shape.num_heads / shape.num_kv_heads;
  const double u = std::ldexp(1.0, -11), max_v = 1.0 / std::sqrt(double(H));
  const double atol = 2 * (u * max_v + 1e-6), rtol = 2 * u;
  const int blocks_per_seq = launch.max_num_blocks_per_seq;
  double worst = 0;
  int failures = 0, checked = 0;
  for (int seq : {0, shape.batch - 1}) {
    std::vector<std::int32_t> table(static_cast<std::size_t>(blocks_per_seq));
    check(cudaMemcpyAsync(table.data(), set.block_tables->as<int>() + std::int64_t(seq) * blocks_per_seq,
                          table.size() * 4, cudaMemcpyDeviceToHost, stream),
          "cudaMemcpyAsync block table row");
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (check)");
    for (int kv_head : {0, shape.num_kv_heads - 1}) {
      const int n = shape.context_len;
      std::vector<double> keys(std::size_t(n) * H), values(std::size_t(n) * H);
      for (int b = 0; b * B < n; ++b) {
        const std::int64_t region = std::int64_t(table[std::size_t(b)]) * launch.kv_block_stride + kv_head * launch.kv_head_stride;
        const std::int64_t element = dtype_size_bytes(shape.dtype);
        const auto* key_base = static_cast<const unsigned char*>(set.key_cache->ptr) + region * element;
        const auto* value_base = static_cast<const unsigned char*>(set.value_cache->ptr) + region * element;
        const std::vector<double> k = download_as_double(key_base, shape.dtype, std::int64_t(H) * B, stream);
        const std::vector<double> v = download_as_double(value_base, shape.dtype, std::int64_t(H) * B, stream);
        for (int o = 0; o < B && b * B + o < n; ++o)
          for (int d = 0; d < H; ++d) {
            // K [head_size/x][block_size][x], V [head_size][block_size] for one (block, KV head).
            keys[std::size_t(b * B + o) * H + d] = k[std::size_t((d / x) * B * x + o * x + d % x)];
            values[std::size_t(b * B + o) * H + d] = v[std::size_t(d * B + o)];
          }
      }
      for (int h = kv_head * group; h < (kv_head + 1) * group; ++h) {
        const std::vector<double> q =
            download_as_double(static_cast<const unsigned char*>(set.query->ptr) +
                                   (std::int64_t(seq) * shape.num_heads + h) * H * dtype_size_bytes(shape.dtype),
                               shape.dtype, H, stream);
        std::vector<double> logits(static_cast<std::size_t>(n));
        double max_logit = -1e300, sum = 0;
        for (int t = 0; t < n; ++t) {
          double dot = 0;
          for (int d = 0; d < H; ++d) dot += q[std::size_t(d)] * keys[std::size_t(t) * H + d];
          logits[std::size_t(t)] = dot * launch.scale;
          max_logit = std::max(max_logit, logits[std::size_t(t)]);
        }
        for (double& logit : logits) sum += (logit = std::exp(logit - max_logit));
        for (int d = 0; d < H; ++d) {
          double want = 0;
          for (int t = 0; t < n; ++t) want += logits[std::size_t(t)] * values[std::size_t(t) * H + d];
          want /= sum;
          const double got = grouped[std::size_t((std::int64_t(seq) * shape.num_heads + h) * H + d)];
          const double diff = std::fabs(got - want);
          worst = std::max(worst, std::isfinite(got) ? diff : 1e300);
          if (!(diff <= atol + rtol * std::fabs(want))) ++failures;
          ++checked;
        }
      }
    }
  }
  return std::string(failures == 0 ? "ok" : "FAIL") + " (" + std::to_string(checked) +
         " sampled outputs vs float64, max |diff| " + fixed(worst, 6) +
         (failures ? ", " + std::to_string(failures) + " outside tolerance" : "") + ")";
}

std::vector<float> download_output(const BenchShape& shape, const void* out, cudaStream_t stream) {
  const std::int64_t count = std::int64_t{shape.batch} * shape.num_heads * shape.head_size;
  Tensor host(element_type_of(shape.dtype), {count});
  check(cudaMemcpyAsync(host.bytes.data(), out, host.bytes.size(), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (output)");
  std::vector<float> values(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) values[std::size_t(i)] = host.get_float(i);
  return values;
}

struct Options {
  bool quick = false;
  std::string filter;
  std::string csv_path;
  std::string markdown_path;
  std::string math = "auto";
  int forced_num_splits = 0;
  int min_split_tokens = kMinSplitTokens;
  double time_budget_s = 300;
  double peak_tbs = 4.8;
  double cold_l2_multiple = 3.0;
  int samples = 30;
  double sample_target_us = 200;
  bool check_outputs = true;
};

struct Row {
  BenchShape shape;
  GroupedPlan plan;
  TimingSummary hot, cold;
  int hot_launches = 0, cold_sets = 0;
  std::int64_t bytes = 0;
  std::string check = "not checked";
  const Anchor* anchor = nullptr;
};


int run(const Options& options) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed_s = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("pal-bench-grouped: %s, %d SMs, L2 %d MiB; peak for %%: %.2f TB/s; math %s; min split %d tokens%s\n",
              prop.name, prop.multiProcessorCount, int(prop.l2CacheSize >> 20), options.peak_tbs, options.math.c_str(),
              options.min_split_tokens,
              options.forced_num_splits > 0 ? (", forced splits " + std::to_string(options.forced_num_splits)).c_str() : "");
  std::printf("%-32s %6s %9s %9s %7s %6s %9s %9s %7s %7s %s\n", "shape", "splits", "hot us", "cold us", "TB/s", "%peak",
              "FI-cc us", "FI-tc us", "/FI-cc", "/FI-tc", "check");
  std::fflush(stdout);

  std::vector<Row> rows;
  int failures = 0;
  for (const BenchShape& shape : primary_grid(options.quick)) {
    const std::string name = shape.name() + "/grouped";
    if (!filter_matches(options.filter, name)) continue;
    if (elapsed_s() > options.time_budget_s) {
      std::printf("%-32s skipped: time budget of %.0f s spent\n", name.c_str(), options.time_budget_s);
      continue;
    }
    try {
      Row row;
      row.shape = shape;
      row.anchor = anchor_for(shape);
      row.bytes = unique_bytes(shape);
      const Scenario scenario = make_scenario(shape, KernelVersion::v2, 1);
      LaunchShape launch = make_launch_shape(scenario, KernelVersion::v2);
      const GroupedMath math = options.math == "cuda" ? GroupedMath::cuda_cores
                               : options.math == "tensor" ? GroupedMath::tensor_cores
                                                          : default_grouped_math(dtype_size_bytes(shape.dtype));
      row.plan = gpu_plan_grouped(launch, math, options.forced_num_splits, options.min_split_tokens);

      const InputSet first = make_input_set(shape, scenario, 1, stream);
      const std::int64_t out_bytes = std::int64_t{shape.batch} * shape.num_heads * shape.head_size * dtype_size_bytes(shape.dtype);
      DeviceMemory out(out_bytes);
      const GroupedWorkspaceBytes ws_bytes = grouped_workspace_bytes(launch, row.plan);
      DeviceMemory partial(std::int64_t(ws_bytes.partial_out)), maxes(std::int64_t(ws_bytes.max_logits)),
          sums(std::int64_t(ws_bytes.exp_sums));
      const GroupedWorkspace workspace{partial.as<float>(), maxes.as<float>(), sums.as<float>()};
      const LaunchBuffers buffers = first.buffers(out.ptr);

      // Check: sampled outputs against float64 attention over the same device inputs.
      if (options.check_outputs) {
        gpu_launch_grouped(launch, buffers, workspace, row.plan, stream);
        const std::vector<float> grouped = download_output(shape, out.ptr, stream);
        row.check = check_sampled_outputs(shape, launch, first, grouped, stream);
        if (row.check.rfind("ok", 0) != 0) ++failures;
      }

      // Hot.
      const double launch_us = estimate_grouped_launch_us(launch, row.plan, buffers, workspace, stream);
      row.hot_launches = std::max(1, int(std::ceil(options.sample_target_us / launch_us)));
      row.hot = summarize(time_grouped_hot(launch, row.plan, buffers, workspace, row.hot_launches, options.samples, stream));

      // Cold: enough input sets to exceed cold_l2_multiple x L2, as far as memory allows.
      const std::int64_t set_bytes = input_set_bytes(shape);
      const std::int64_t wanted = std::int64_t(std::ceil(options.cold_l2_multiple * double(prop.l2CacheSize) / double(set_bytes)));
      std::size_t free_bytes = 0, total_bytes = 0;
      check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
      const std::int64_t affordable = std::max<std::int64_t>(1, (std::int64_t(free_bytes) - (std::int64_t(1) << 30)) / set_bytes + 1);
      const int num_sets = int(std::clamp<std::int64_t>(wanted, 1, std::min<std::int64_t>(affordable, 64)));
      std::vector<InputSet> extra;
      std::vector<LaunchBuffers> sets = {buffers};
      for (int i = 1; i < num_sets; ++i) {
        extra.push_back(make_input_set(shape, scenario, std::uint64_t(1 + i), stream));
        sets.push_back(extra.back().buffers(out.ptr));
      }
      row.cold_sets = num_sets;
      row.cold = summarize(time_grouped_cold(launch, row.plan, sets, workspace, std::max(5, options.samples / 3), stream));

      const double tbs = terabytes_per_second(row.bytes, row.hot.median);
      std::printf("%-32s %6d %9.1f %9.1f %7.3f %5.1f%% %9s %9s %7s %7s %s\n", name.c_str(), row.plan.num_splits,
                  row.hot.median, row.cold.median, tbs, 100 * tbs / options.peak_tbs,
                  row.anchor ? fixed(row.anchor->flashinfer_cuda_cores_us, 1).c_str() : "-",
                  row.anchor ? fixed(row.anchor->flashinfer_tensor_cores_us, 1).c_str() : "-",
                  row.anchor ? fixed(row.hot.median / row.anchor->flashinfer_cuda_cores_us, 3).c_str() : "-",
                  row.anchor ? fixed(row.hot.median / row.anchor->flashinfer_tensor_cores_us, 3).c_str() : "-",
                  row.check.c_str());
      std::fflush(stdout);
      rows.push_back(row);
    } catch (const std::exception& error) {
      ++failures;
      std::printf("%-32s FAILED: %s\n", name.c_str(), error.what());
      cudaGetLastError();
    }
  }

  // Summary against the targets (docs/performance/NOTES.md, "The grouped kernel").
  auto geo_mean = [&](auto ratio, auto keep) {
    double log_sum = 0;
    int count = 0;
    for (const Row& row : rows)
      if (row.anchor && keep(row)) {
        log_sum += std::log(ratio(row));
        ++count;
      }
    return count > 0 ? std::exp(log_sum / count) : 0.0;
  };
  auto all = [](const Row&) { return true; };
  auto gqa = [](const Row& row) { return row.shape.num_kv_heads == 8; };
  std::printf("\n== pal-bench-grouped summary (hot medians; ratios < 1: grouped is faster)\n");
  std::printf("geo-mean grouped / FlashInfer CUDA-core: %.3f (all), %.3f (GQA 32/8)\n",
              geo_mean([](const Row& r) { return r.hot.median / r.anchor->flashinfer_cuda_cores_us; }, all),
              geo_mean([](const Row& r) { return r.hot.median / r.anchor->flashinfer_cuda_cores_us; }, gqa));
  std::printf("geo-mean grouped / FlashInfer tensor-core: %.3f (all), %.3f (GQA 32/8)\n",
              geo_mean([](const Row& r) { return r.hot.median / r.anchor->flashinfer_tensor_cores_us; }, all),
              geo_mean([](const Row& r) { return r.hot.median / r.anchor->flashinfer_tensor_cores_us; }, gqa));
  std::printf("geo-mean grouped / vLLM's pick: %.3f; grouped / ours (v1/v2 at 09fd832, vLLM's pick): %.3f\n",
              geo_mean([](const Row& r) { return r.hot.median / r.anchor->vllm_pick_us; }, all),
              geo_mean([](const Row& r) { return r.hot.median / r.anchor->ours_pick_us; }, all));
  for (const Row& row : rows) {
    const double percent = 100 * terabytes_per_second(row.bytes, row.hot.median) / options.peak_tbs;
    const bool gqa_target = row.shape.num_kv_heads == 8 && row.shape.batch >= 8 && row.shape.context_len >= 2048;
    const bool mha_large = row.shape.num_kv_heads == 32 && row.shape.batch * row.shape.context_len >= 32 * 8192;
    const bool latency = row.shape.batch == 1 && row.shape.context_len == 512;
    if (gqa_target) std::printf("target GQA >= 85%%: %s %.1f%% %s\n", row.shape.name().c_str(), percent, percent >= 85 ? "met" : "MISSED");
    if (mha_large) std::printf("target MHA large >= 93%%: %s %.1f%% %s\n", row.shape.name().c_str(), percent, percent >= 93 ? "met" : "MISSED");
    if (latency) std::printf("target batch 1 x 512 <= 7 us: %s %.1f us %s\n", row.shape.name().c_str(), row.hot.median, row.hot.median <= 7.0 ? "met" : "MISSED");
    if (row.anchor && row.hot.median > row.anchor->flashinfer_cuda_cores_us)
      std::printf("target faster than FlashInfer CUDA-core: %s %.1f vs %.1f us MISSED\n", row.shape.name().c_str(), row.hot.median,
                  row.anchor->flashinfer_cuda_cores_us);
  }
  if (!options.csv_path.empty()) {
    std::ostringstream csv;
    csv << "shape,num_splits,kv_blocks_per_split,row_tiles,hot_median_us,hot_p10_us,hot_p90_us,hot_launches_per_sample,"
           "cold_median_us,cold_sets,bytes,hot_tbs,percent_of_peak,flashinfer_cc_us,flashinfer_tc_us,vllm_pick_us,ours_pick_us,check\n";
    for (const Row& row : rows) {
      const double tbs = terabytes_per_second(row.bytes, row.hot.median);
      csv << row.shape.name() << "," << row.plan.num_splits << "," << row.plan.kv_blocks_per_split << "," << row.plan.row_tiles
          << "," << row.hot.median << "," << row.hot.p10 << "," << row.hot.p90 << "," << row.hot_launches << ","
          << row.cold.median << "," << row.cold_sets << "," << row.bytes << "," << tbs << "," << 100 * tbs / options.peak_tbs
          << "," << (row.anchor ? row.anchor->flashinfer_cuda_cores_us : 0) << ","
          << (row.anchor ? row.anchor->flashinfer_tensor_cores_us : 0) << "," << (row.anchor ? row.anchor->vllm_pick_us : 0)
          << "," << (row.anchor ? row.anchor->ours_pick_us : 0) << ",\"" << row.check << "\"\n";
    }
    write_output_file(options.csv_path, csv.str());  // temporary + rename: never a half-written table
  }
  if (!options.markdown_path.empty()) {
    std::ostringstream md;
    md << "| shape | splits | hot us | cold us | TB/s | % of " << options.peak_tbs
       << " TB/s | FI-cc us | FI-tc us | grouped/FI-cc | grouped/FI-tc | check |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const Row& row : rows) {
      const double tbs = terabytes_per_second(row.bytes, row.hot.median);
      md << "| " << row.shape.name() << " | " << row.plan.num_splits << " | " << fixed(row.hot.median, 1) << " | "
         << fixed(row.cold.median, 1) << " | " << fixed(tbs, 3) << " | " << fixed(100 * tbs / options.peak_tbs, 1) << " | "
         << (row.anchor ? fixed(row.anchor->flashinfer_cuda_cores_us, 1) : "-") << " | "
         << (row.anchor ? fixed(row.anchor->flashinfer_tensor_cores_us, 1) : "-") << " | "
         << (row.anchor ? fixed(row.hot.median / row.anchor->flashinfer_cuda_cores_us, 3) : "-") << " | "
         << (row.anchor ? fixed(row.hot.median / row.anchor->flashinfer_tensor_cores_us, 3) : "-") << " | " << row.check
         << " |\n";
    }
    write_output_file(options.markdown_path, md.str());
  }
  cudaStreamDestroy(stream);
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pal::bench

int main(int argc, char** argv) {
  pal::bench::Options options;
  CLI::App app{"pal-bench-grouped: the grouped decode kernel on the primary grid, hot and cold, against the H200 anchors"};
  app.add_flag("--quick", options.quick, "batch 1 and 32, ctx 512 and 8192 only");
  app.add_option("--filter", options.filter, "regular expression on the row name, e.g. '32x8/b128'");
  app.add_option("--csv", options.csv_path, "write the rows as CSV");
  app.add_option("--markdown", options.markdown_path, "write the rows as a Markdown table");
  app.add_option("--math", options.math, "auto (tensor cores for fp16), tensor or cuda")
      ->check(CLI::IsMember({"auto", "tensor", "cuda"}));
  app.add_option("--forced-splits", options.forced_num_splits, "0: the split planner decides")->check(CLI::NonNegativeNumber);
  app.add_option("--min-split-tokens", options.min_split_tokens, "the planner's shortest split")->check(CLI::Range(16, 1 << 20));
  app.add_option("--time-budget-s", options.time_budget_s, "stop starting shapes after this many seconds")->check(CLI::PositiveNumber);
  app.add_option("--samples", options.samples, "hot samples per shape (cold: a third)")->check(CLI::Range(3, 1000));
  app.add_option("--peak-tbs", options.peak_tbs, "the bandwidth % of peak is taken against")->check(CLI::PositiveNumber);
  app.add_flag("!--no-check", options.check_outputs, "skip the check of sampled outputs against float64 attention");
  if (auto exit_code = pal::parse_command_line(app, argc, argv)) return *exit_code;
  try {
    // An output path that cannot be written is refused before the timing, not after.
    for (const std::string& path : {options.csv_path, options.markdown_path})
      if (!path.empty()) pal::check_output_path(path);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pal-bench-grouped: %s\n", error.what());
    return 2;
  }
  std::string why;
  if (!pal::grouped_gpu_available(&why)) {
    std::fprintf(stderr, "pal-bench-grouped: no GPU (%s)\n", why.c_str());
    return 2;
  }
  try {
    return pal::bench::run(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pal-bench-grouped: %s\n", error.what());
    return 2;
  }
}
