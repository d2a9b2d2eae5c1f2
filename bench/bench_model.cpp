#include "bench/bench_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>
#include <stdexcept>

namespace pal::bench {

namespace {

std::int64_t element_bytes(const BenchShape& shape) { return dtype_size_bytes(shape.dtype); }
std::int64_t cache_element_bytes(const BenchShape& shape) { return shape.cache_element_bytes(); }

std::int64_t blocks_per_seq(const BenchShape& shape) {
  return (std::int64_t{shape.context_len} + shape.block_size - 1) / shape.block_size;
}

std::int64_t partitions(const BenchShape& shape) {
  return (std::int64_t{shape.context_len} + kPartitionSize - 1) / kPartitionSize;
}

}  // namespace

std::string format_fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string BenchShape::name() const {
  const std::string cache = is_fp8(cache_format()) ? "/kv-" + std::string(kv_cache_dtype_name(cache_format())) : "";
  return std::string(dtype_name(dtype)) + cache + "/h" + std::to_string(head_size) + "/bs" + std::to_string(block_size) + "/" +
         std::to_string(num_heads) + "x" + std::to_string(num_kv_heads) + "/b" + std::to_string(batch) + "/c" +
         std::to_string(context_len);
}

std::string row_name(const BenchShape& shape, KernelVersion version) {
  return shape.name() + "/" + std::string(version_name(version));
}

Scenario make_scenario(const BenchShape& shape, KernelVersion version, std::uint64_t seed) {
  Scenario scenario;
  scenario.num_seqs = shape.batch;
  scenario.num_heads = shape.num_heads;
  scenario.num_kv_heads = shape.num_kv_heads;
  scenario.head_size = shape.head_size;
  scenario.block_size = shape.block_size;
  scenario.dtype = shape.dtype;
  scenario.kv_cache_dtype = shape.cache_format();
  scenario.seq_lens.assign(static_cast<std::size_t>(shape.batch), shape.context_len);
  scenario.num_blocks = static_cast<int>(std::int64_t{shape.batch} * blocks_per_seq(shape));
  scenario.version = version;
  scenario.seed = seed;
  return scenario;
}

KernelVersion upstream_pick(const BenchShape& shape) {
  return make_scenario(shape, KernelVersion::automatic, 0).resolved_version();
}

std::int64_t unique_bytes(const BenchShape& shape) {
  const std::int64_t kv = std::int64_t{shape.batch} * shape.context_len * shape.num_kv_heads * shape.head_size * 2;
  const std::int64_t q_and_out = 2 * std::int64_t{shape.batch} * shape.num_heads * shape.head_size;
  return kv * cache_element_bytes(shape) + q_and_out * element_bytes(shape);
}

std::int64_t kv_cache_bytes(const BenchShape& shape) {
  const std::int64_t num_blocks = std::int64_t{shape.batch} * blocks_per_seq(shape);
  return 2 * num_blocks * shape.num_kv_heads * shape.head_size * shape.block_size * cache_element_bytes(shape);
}

std::int64_t input_set_bytes(const BenchShape& shape) {
  const std::int64_t query = std::int64_t{shape.batch} * shape.num_heads * shape.head_size * element_bytes(shape);
  const std::int64_t table = std::int64_t{shape.batch} * blocks_per_seq(shape) * 4;
  const std::int64_t seq_lens = std::int64_t{shape.batch} * 4;
  return kv_cache_bytes(shape) + query + table + seq_lens;
}

std::int64_t workspace_bytes(const BenchShape& shape) {
  const std::int64_t seq_heads = std::int64_t{shape.batch} * shape.num_heads;
  const std::int64_t out = seq_heads * shape.head_size * element_bytes(shape);
  const std::int64_t tmp_out = seq_heads * partitions(shape) * shape.head_size * element_bytes(shape);
  const std::int64_t statistics = 2 * seq_heads * partitions(shape) * 4;  // exp_sums, max_logits
  return out + tmp_out + statistics;
}

double terabytes_per_second(std::int64_t bytes, double microseconds) {
  if (microseconds <= 0) return 0;
  return static_cast<double>(bytes) / (microseconds * 1e-6) / 1e12;
}

// ---- grids -----------------------------------------------------------------------------------------

std::vector<BenchShape> primary_grid(bool quick) {
  const std::vector<int> batches = quick ? std::vector<int>{1, 32} : std::vector<int>{1, 8, 32, 128};
  const std::vector<int> contexts = quick ? std::vector<int>{512, 8192} : std::vector<int>{512, 2048, 8192, 32768};
  std::vector<BenchShape> shapes;
  for (int kv_heads : {8, 32})  // the published table's order: GQA first
    for (int batch : batches)
      for (int context : contexts) {
        BenchShape shape;
        shape.num_heads = 32;
        shape.num_kv_heads = kv_heads;
        shape.batch = batch;
        shape.context_len = context;
        shapes.push_back(shape);
      }
  return shapes;
}

std::vector<BenchShape> secondary_grid(bool quick) {
  struct Variant {
    DType dtype;
    int head_size;
    int block_size;
  };
  const Variant variants[] = {{DType::bf16, 128, 16}, {DType::fp16, 64, 16}, {DType::fp16, 256, 16},
                              {DType::fp16, 128, 8}, {DType::fp16, 128, 32}};
  struct Point {
    int kv_heads, batch, context;
  };
  // A medium multi-head shape, a large one, and a GQA one: enough to see whether a variant moves
  // the achieved bandwidth, at a few seconds of GPU time for the whole sweep.
  const std::vector<Point> points = quick ? std::vector<Point>{{32, 8, 2048}}
                                          : std::vector<Point>{{32, 8, 2048}, {32, 32, 8192}, {8, 32, 2048}};
  std::vector<BenchShape> shapes;
  for (const Variant& variant : variants)
    for (const Point& point : points) {
      BenchShape shape;
      shape.dtype = variant.dtype;
      shape.head_size = variant.head_size;
      shape.block_size = variant.block_size;
      shape.num_heads = 32;
      shape.num_kv_heads = point.kv_heads;
      shape.batch = point.batch;
      shape.context_len = point.context;
      shapes.push_back(shape);
    }
  if (!quick) {  // bf16 at the longest context, where v2 alone is upstream's choice
    BenchShape shape;
    shape.dtype = DType::bf16;
    shape.batch = 1;
    shape.context_len = 32768;
    shapes.push_back(shape);
  }
  return shapes;
}

std::vector<BenchShape> recording_grid(bool quick) {
  std::vector<BenchShape> shapes;
  for (int context : quick ? std::vector<int>{512} : std::vector<int>{512, 2048})
    for (int kv_heads : {8, 32}) {
      BenchShape shape;
      shape.num_heads = 32;
      shape.num_kv_heads = kv_heads;
      shape.batch = 1;
      shape.context_len = context;
      shapes.push_back(shape);
    }
  return shapes;
}

// ---- statistics -------------------------------------------------------------------------------------

TimingSummary summarize(std::vector<double> samples) {
  TimingSummary summary;
  if (samples.empty()) return summary;
  std::sort(samples.begin(), samples.end());
  auto percentile = [&samples](double fraction) {
    const double position = fraction * static_cast<double>(samples.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, samples.size() - 1);
    const double weight = position - static_cast<double>(below);
    return samples[below] * (1.0 - weight) + samples[above] * weight;
  };
  summary.median = percentile(0.5);
  summary.p10 = percentile(0.1);
  summary.p90 = percentile(0.9);
  summary.min = samples.front();
  summary.max = samples.back();
  summary.count = static_cast<int>(samples.size());
  return summary;
}

bool filter_matches(const std::string& filter, const std::string& name) {
  if (filter.empty()) return true;
  try {
    return std::regex_search(name, std::regex(filter));
  } catch (const std::regex_error& error) {
    throw std::invalid_argument("--filter '" + filter + "' is not a valid regular expression (" + error.what() +
                                "); example: --filter 'fp16/h128/bs16/32x8/b(1|8)/'");
  }
}

}  // namespace pal::bench
