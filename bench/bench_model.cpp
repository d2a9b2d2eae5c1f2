#include "bench/bench_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <regex>
#include <stdexcept>

namespace pal::bench {

namespace {

std::int64_t element_bytes(const BenchShape& shape) { return dtype_size_bytes(shape.dtype); }

std::int64_t blocks_per_seq(const BenchShape& shape) {
  return (std::int64_t{shape.context_len} + shape.block_size - 1) / shape.block_size;
}

std::int64_t partitions(const BenchShape& shape) {
  return (std::int64_t{shape.context_len} + kPartitionSize - 1) / kPartitionSize;
}

// Quotes a CSV field when it holds a separator, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string optional_number(bool present, double value, int decimals) {
  return present ? format_fixed(value, decimals) : std::string();
}

}  // namespace

std::string format_fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string BenchShape::name() const {
  return std::string(dtype_name(dtype)) + "/h" + std::to_string(head_size) + "/bs" + std::to_string(block_size) + "/" +
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
  return (kv + q_and_out) * element_bytes(shape);
}

std::int64_t kv_cache_bytes(const BenchShape& shape) {
  const std::int64_t num_blocks = std::int64_t{shape.batch} * blocks_per_seq(shape);
  return 2 * num_blocks * shape.num_kv_heads * shape.head_size * shape.block_size * element_bytes(shape);
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

// ---- results ----------------------------------------------------------------------------------------

std::string display_name(const BenchRow& row) {
  return row_name(row.shape, row.version) + (row.recording_probe ? "+record" : "");
}

double hot_tbs(const BenchRow& row) { return row.hot.count ? terabytes_per_second(row.bytes, row.hot.median) : 0; }
double cold_tbs(const BenchRow& row) { return row.cold.count ? terabytes_per_second(row.bytes, row.cold.median) : 0; }

void write_csv_header(std::ostream& out) {
  out << "name,dtype,num_heads,num_kv_heads,head_size,block_size,batch,ctx,version,upstream_picks,input_source,"
         "unique_bytes,hot_median_us,hot_p10_us,hot_p90_us,hot_min_us,hot_max_us,hot_samples,hot_launches_per_sample,"
         "hot_tbs,hot_pct_peak,hot_pct_copy,cold_median_us,cold_p10_us,cold_p90_us,cold_samples,cold_method,"
         "cold_tbs,cold_pct_peak,anchor_us,ratio_vs_anchor,check,skipped\n";
}

void write_csv_row(std::ostream& out, const BenchRow& row, double peak_tbs, double copy_tbs) {
  const BenchShape& s = row.shape;
  const bool hot = row.hot.count > 0;
  const bool cold = row.cold.count > 0;
  const bool ratio = hot && row.anchor_us.has_value();
  out << csv_field(display_name(row)) << ',' << dtype_name(s.dtype) << ',' << s.num_heads << ','
      << s.num_kv_heads << ',' << s.head_size << ',' << s.block_size << ',' << s.batch << ',' << s.context_len << ','
      << version_name(row.version) << ',' << (row.upstream_picks ? "yes" : "no") << ',' << row.input_source << ','
      << row.bytes << ',' << optional_number(hot, row.hot.median, 2) << ',' << optional_number(hot, row.hot.p10, 2)
      << ',' << optional_number(hot, row.hot.p90, 2) << ',' << optional_number(hot, row.hot.min, 2) << ','
      << optional_number(hot, row.hot.max, 2) << ',' << row.hot.count << ',' << row.hot_launches_per_sample << ','
      << optional_number(hot, hot_tbs(row), 3) << ',' << optional_number(hot, 100 * hot_tbs(row) / peak_tbs, 1)
      << ',' << optional_number(hot && copy_tbs > 0, 100 * hot_tbs(row) / copy_tbs, 1) << ','
      << optional_number(cold, row.cold.median, 2) << ',' << optional_number(cold, row.cold.p10, 2) << ','
      << optional_number(cold, row.cold.p90, 2) << ',' << row.cold.count << ',' << csv_field(row.cold_method) << ','
      << optional_number(cold, cold_tbs(row), 3) << ',' << optional_number(cold, 100 * cold_tbs(row) / peak_tbs, 1)
      << ',' << optional_number(row.anchor_us.has_value(), row.anchor_us.value_or(0), 1) << ','
      << optional_number(ratio, ratio ? row.hot.median / *row.anchor_us : 0, 3) << ',' << csv_field(row.check) << ','
      << csv_field(row.skipped) << '\n';
}

std::string table_header() {
  char line[256];
  std::snprintf(line, sizeof line, "%-34s %4s %10s %19s %6s %5s %10s %6s %9s %6s  %s", "shape/version", "pick",
                "hot us", "(p10 .. p90)", "TB/s", "%pk", "cold us", "TB/s", "anchor", "ratio", "check");
  return line;
}

std::string table_line(const BenchRow& row, double peak_tbs) {
  const std::string name = display_name(row);
  char line[512];
  if (!row.skipped.empty()) {
    std::snprintf(line, sizeof line, "%-34s %4s skipped: %s", name.c_str(), row.upstream_picks ? "yes" : "no",
                  row.skipped.c_str());
    return line;
  }
  const std::string range = format_fixed(row.hot.p10, 1) + " .. " + format_fixed(row.hot.p90, 1);
  const std::string cold_us = row.cold.count ? format_fixed(row.cold.median, 1) : std::string("-");
  const std::string cold_rate = row.cold.count ? format_fixed(cold_tbs(row), 2) : std::string("-");
  const std::string anchor = row.anchor_us ? format_fixed(*row.anchor_us, 1) : std::string("-");
  const std::string ratio = row.anchor_us ? format_fixed(row.hot.median / *row.anchor_us, 2) : std::string("-");
  std::snprintf(line, sizeof line, "%-34s %4s %10.1f %19s %6.2f %5.1f %10s %6s %9s %6s  %s", name.c_str(),
                row.upstream_picks ? "yes" : "no", row.hot.median, range.c_str(), hot_tbs(row),
                100 * hot_tbs(row) / peak_tbs, cold_us.c_str(), cold_rate.c_str(), anchor.c_str(), ratio.c_str(),
                row.check.c_str());
  return line;
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
