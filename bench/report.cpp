#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <ostream>

namespace pal::bench {

namespace {

// printf into a std::string of any length.
__attribute__((format(printf, 1, 2))) std::string format(const char* pattern, ...) {
  va_list arguments;
  va_start(arguments, pattern);
  va_list copy;
  va_copy(copy, arguments);
  const int length = std::vsnprintf(nullptr, 0, pattern, copy);
  va_end(copy);
  std::string text(std::size_t(std::max(length, 0)) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), pattern, arguments);
  va_end(arguments);
  text.resize(std::size_t(std::max(length, 0)));
  return text;
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
std::string optional_number(const std::optional<double>& value, int decimals) {
  return value ? format_fixed(*value, decimals) : std::string();
}
// ours / theirs, when both exist.
std::optional<double> ratio_to(const TimingSummary& ours, const std::optional<double>& theirs) {
  if (ours.count == 0 || !theirs || *theirs <= 0) return std::nullopt;
  return ours.median / *theirs;
}
std::string cell(const std::optional<double>& value, int decimals) {
  return value ? format_fixed(*value, decimals) : std::string("-");
}
const char* yes_no(bool value) { return value ? "yes" : "no"; }
// 100 * tbs / reference, when both are known.
std::optional<double> percent_of(double tbs, double reference) {
  if (!(tbs > 0) || !(reference > 0)) return std::nullopt;
  return 100 * tbs / reference;
}

bool check_failed(const BenchRow& row) { return row.check.rfind("FAIL", 0) == 0; }
bool measured(const BenchRow& row) { return row.skipped.empty() && row.hot.count > 0; }

// Geometric mean of ratios, with how many went in.
struct GeometricMean {
  double log_sum = 0;
  int count = 0;
  void add(const std::optional<double>& ratio) {
    if (!ratio || !(*ratio > 0)) return;
    log_sum += std::log(*ratio);
    ++count;
  }
  std::string text() const {
    return count == 0 ? std::string("- (no rows)") : format("%.3f over %d rows", std::exp(log_sum / count), count);
  }
};

// The summary's shape label: for a row with upstream figures, the name without the configuration
// every upstream row shares; the whole name for the others.
std::string short_name(const BenchRow& row, const RunContext& context) {
  std::string name = row.shape.name();
  if (context.upstream && row.upstream.any()) {
    const std::string prefix = std::string(dtype_name(context.upstream->dtype)) + "/h" +
                               std::to_string(context.upstream->head_size) + "/bs" +
                               std::to_string(context.upstream->block_size) + "/";
    if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  }
  return name;
}

}  // namespace

std::string display_name(const BenchRow& row) {
  return row_name(row.shape, row.version) + (row.recording_probe ? "+record" : "");
}

void mark_auto_verdicts(std::vector<BenchRow>& rows) {
  std::map<std::string, std::vector<BenchRow*>> by_shape;
  for (BenchRow& row : rows)
    if (!row.recording_probe) by_shape[row.shape.name()].push_back(&row);
  for (auto& [name, shape_rows] : by_shape) {
    const BenchRow* fastest = nullptr;
    const BenchRow* picked = nullptr;
    int measured_count = 0;
    for (const BenchRow* row : shape_rows) {
      if (!measured(*row)) continue;
      ++measured_count;
      if (!fastest || row->hot.median < fastest->hot.median) fastest = row;
      if (row->version == row->auto_version) picked = row;
    }
    std::string verdict = "not measured";
    if (picked && measured_count == 1) verdict = "alone";
    else if (picked && picked == fastest) verdict = "fastest";
    else if (picked)
      verdict = "x" + format_fixed(picked->hot.median / fastest->hot.median, 2) + " of " +
                std::string(version_name(fastest->version));
    for (BenchRow* row : shape_rows) row->auto_verdict = verdict;
  }
}

std::string auto_cell(const BenchRow& row) {
  const std::string version(version_name(row.auto_version));
  return row.auto_verdict.empty() ? version : version + ", " + row.auto_verdict;
}

double hot_tbs(const BenchRow& row) { return row.hot.count ? terabytes_per_second(row.bytes, row.hot.median) : 0; }
double cold_tbs(const BenchRow& row) { return row.cold.count ? terabytes_per_second(row.bytes, row.cold.median) : 0; }

// ---- CSV --------------------------------------------------------------------------------------------
// The first 33 columns are those of earlier pal-bench versions, in the same order ("anchor_us" is
// vLLM's hot time for the same version on this kind of device); the rest were appended.

void write_csv_header(std::ostream& out) {
  out << "name,dtype,num_heads,num_kv_heads,head_size,block_size,batch,ctx,version,upstream_picks,input_source,"
         "unique_bytes,hot_median_us,hot_p10_us,hot_p90_us,hot_min_us,hot_max_us,hot_samples,hot_launches_per_sample,"
         "hot_tbs,hot_pct_peak,hot_pct_copy,cold_median_us,cold_p10_us,cold_p90_us,cold_samples,cold_method,"
         "cold_tbs,cold_pct_peak,anchor_us,ratio_vs_anchor,check,skipped,"
         "kv_cache_dtype,section,auto_picks,launch,peak_tbs,upstream_device,vllm_version,vllm_cold_us,"
         "cold_ratio_vs_vllm_cold,flashinfer_cuda_core_us,ratio_vs_flashinfer_cuda_core,flashinfer_tensor_core_us,"
         "ratio_vs_flashinfer_tensor_core,baseline,baseline_us,ratio_vs_baseline,auto_version,auto_verdict\n";
}

void write_csv_row(std::ostream& out, const BenchRow& row, const RunContext& context) {
  const BenchShape& s = row.shape;
  const bool hot = row.hot.count > 0;
  const bool cold = row.cold.count > 0;
  const UpstreamFigures& up = row.upstream;
  out << csv_field(display_name(row)) << ',' << dtype_name(s.dtype) << ',' << s.num_heads << ','
      << s.num_kv_heads << ',' << s.head_size << ',' << s.block_size << ',' << s.batch << ',' << s.context_len << ','
      << version_name(row.version) << ',' << yes_no(row.upstream_picks) << ',' << row.input_source << ','
      << row.bytes << ',' << optional_number(hot, row.hot.median, 2) << ',' << optional_number(hot, row.hot.p10, 2)
      << ',' << optional_number(hot, row.hot.p90, 2) << ',' << optional_number(hot, row.hot.min, 2) << ','
      << optional_number(hot, row.hot.max, 2) << ',' << row.hot.count << ',' << row.hot_launches_per_sample << ','
      << optional_number(hot, hot_tbs(row), 3) << ',' << optional_number(percent_of(hot_tbs(row), context.peak_tbs), 1) << ','
      << optional_number(percent_of(hot_tbs(row), context.copy_tbs), 1) << ','
      << optional_number(cold, row.cold.median, 2) << ',' << optional_number(cold, row.cold.p10, 2) << ','
      << optional_number(cold, row.cold.p90, 2) << ',' << row.cold.count << ',' << csv_field(row.cold_method) << ','
      << optional_number(cold, cold_tbs(row), 3) << ',' << optional_number(percent_of(cold_tbs(row), context.peak_tbs), 1)
      << ',' << optional_number(up.vllm_hot_us, 1) << ',' << optional_number(ratio_to(row.hot, up.vllm_hot_us), 3)
      << ',' << csv_field(row.check) << ',' << csv_field(row.skipped) << ','
      << kv_cache_dtype_name(s.cache_format()) << ',' << row.section << ',' << yes_no(row.auto_picks) << ','
      << csv_field(row.launch) << ',' << format_fixed(context.peak_tbs, 2) << ','
      << csv_field(up.any() && context.upstream ? std::string(context.upstream->device_name) : std::string()) << ','
      << (up.vllm_version ? "v" + std::to_string(up.vllm_version) : std::string()) << ','
      << optional_number(up.vllm_cold_us, 1) << ',' << optional_number(ratio_to(row.cold, up.vllm_cold_us), 3) << ','
      << optional_number(up.flashinfer_cuda_core_hot_us, 1) << ','
      << optional_number(ratio_to(row.hot, up.flashinfer_cuda_core_hot_us), 3) << ','
      << optional_number(up.flashinfer_tensor_core_hot_us, 1) << ','
      << optional_number(ratio_to(row.hot, up.flashinfer_tensor_core_hot_us), 3) << ',' << csv_field(row.baseline)
      << ',' << optional_number(row.baseline_us, 2) << ',' << optional_number(ratio_to(row.hot, row.baseline_us), 3)
      << ',' << version_name(row.auto_version) << ',' << csv_field(row.auto_verdict) << '\n';
}

// ---- terminal ---------------------------------------------------------------------------------------

std::string table_header() {
  return format("%-34s %4s %4s %10s %19s %6s %5s %10s %6s %9s %6s  %s", "shape/version", "pick", "auto", "hot us",
                "(p10 .. p90)", "TB/s", "%pk", "cold us", "TB/s", "vllm us", "ratio", "check");
}

std::string table_line(const BenchRow& row, const RunContext& context) {
  const std::string name = display_name(row);
  if (!row.skipped.empty())
    return format("%-34s %4s %4s skipped: %s", name.c_str(), yes_no(row.upstream_picks), yes_no(row.auto_picks),
                  row.skipped.c_str());
  const std::string range = format_fixed(row.hot.p10, 1) + " .. " + format_fixed(row.hot.p90, 1);
  const std::string cold_us = row.cold.count ? format_fixed(row.cold.median, 1) : std::string("-");
  const std::string cold_rate = row.cold.count ? format_fixed(cold_tbs(row), 2) : std::string("-");
  std::string check = row.check;
  if (const auto baseline = ratio_to(row.hot, row.baseline_us))
    check += "; x" + format_fixed(*baseline, 2) + " of " + row.baseline;
  return format("%-34s %4s %4s %10.1f %19s %6.2f %5s %10s %6s %9s %6s  %s", name.c_str(), yes_no(row.upstream_picks),
                yes_no(row.auto_picks), row.hot.median, range.c_str(), hot_tbs(row),
                cell(percent_of(hot_tbs(row), context.peak_tbs), 1).c_str(),
                cold_us.c_str(), cold_rate.c_str(), cell(row.upstream.vllm_hot_us, 1).c_str(),
                cell(ratio_to(row.hot, row.upstream.vllm_hot_us), 2).c_str(), check.c_str());
}

// ---- Markdown ---------------------------------------------------------------------------------------

void write_markdown(std::ostream& out, const std::vector<BenchRow>& rows, const RunContext& context) {
  const bool upstream = context.upstream != nullptr;
  const bool baselines = std::any_of(rows.begin(), rows.end(), [](const BenchRow& row) { return !row.baseline.empty(); });
  out << "# pal-bench results\n\n"
      << "- device: " << context.device << "\n"
      << "- device-to-device copy: "
      << (context.copy_tbs > 0 ? format_fixed(context.copy_tbs, 3) + " TB/s read+write (" + context.copy_detail + ")"
                               : std::string("not measured"))
      << "\n"
      << "- % of peak uses " << format_fixed(context.peak_tbs, 2) << " TB/s (" << context.peak_source
      << "); % of copy uses the copy above; bytes = unique K/V per KV head + q + out\n"
      << "- hot: CUDA-graph replays of back-to-back launches on one input set; cold: " << context.cold_method << "\n"
      << "- pick: vLLM's heuristic chooses this version; auto: this project's `auto` chooses it on this GPU; "
         "auto picks: the version `auto` runs for the shape (kernels/auto_version.h), and whether it was the fastest "
         "measured here (else its time over the fastest's)\n";
  if (upstream)
    out << "- upstream: measured on an " << context.upstream->device_name << " on " << context.upstream->date << " ("
        << context.upstream->source << "); ratio = ours / theirs, < 1 is faster\n";
  else
    out << "- upstream: none shown: " << context.upstream_absent << "\n";
  out << "\n| shape | ver | pick | auto | auto picks | launch | hot µs (median) | p10–p90 | TB/s | % peak | % copy | cold µs | cold TB/s";
  if (upstream)
    out << " | vLLM µs | ratio | vLLM cold µs | cold ratio | FlashInfer CUDA-core µs | ratio | FlashInfer tensor-core µs | "
           "ratio";
  if (baselines) out << " | baseline | ratio";
  out << " | check |\n|---|---|---|---|---|---|---|---|---|---|---|---|---";
  if (upstream) out << "|---|---|---|---|---|---|---|---";
  if (baselines) out << "|---|---";
  out << "|---|\n";

  for (const BenchRow& row : rows) {
    out << "| " << row.shape.name() << " | " << version_name(row.version) << (row.recording_probe ? "+record" : "")
        << " | " << yes_no(row.upstream_picks) << " | " << yes_no(row.auto_picks) << " | " << auto_cell(row) << " | "
        << row.launch << " | ";
    const int columns_after_hot = 7 + (upstream ? 8 : 0) + (baselines ? 2 : 0);
    if (!row.skipped.empty()) {
      out << "skipped: " << row.skipped;
      for (int i = 0; i < columns_after_hot; ++i) out << " |";
      out << " |\n";
      continue;
    }
    const UpstreamFigures& up = row.upstream;
    out << format_fixed(row.hot.median, 1) << " | " << format_fixed(row.hot.p10, 1) << "–"
        << format_fixed(row.hot.p90, 1) << " | " << format_fixed(hot_tbs(row), 2) << " | "
        << cell(percent_of(hot_tbs(row), context.peak_tbs), 1) << " | "
        << cell(percent_of(hot_tbs(row), context.copy_tbs), 1) << " | "
        << (row.cold.count ? format_fixed(row.cold.median, 1) : "-") << " | "
        << (row.cold.count ? format_fixed(cold_tbs(row), 2) : "-");
    if (upstream)
      out << " | " << cell(up.vllm_hot_us, 1) << " | " << cell(ratio_to(row.hot, up.vllm_hot_us), 2) << " | "
          << cell(up.vllm_cold_us, 1) << " | " << cell(ratio_to(row.cold, up.vllm_cold_us), 2) << " | "
          << cell(up.flashinfer_cuda_core_hot_us, 1) << " | " << cell(ratio_to(row.hot, up.flashinfer_cuda_core_hot_us), 2)
          << " | " << cell(up.flashinfer_tensor_core_hot_us, 1) << " | "
          << cell(ratio_to(row.hot, up.flashinfer_tensor_core_hot_us), 2);
    if (baselines)
      out << " | " << (row.baseline.empty() ? "-" : row.baseline) << " | " << cell(ratio_to(row.hot, row.baseline_us), 2);
    out << " | " << row.check << " |\n";
  }
}

// ---- summary ----------------------------------------------------------------------------------------

void write_summary(std::ostream& out, const std::vector<BenchRow>& rows, const RunContext& context) {
  if (context.upstream)
    out << "\n== pal-bench summary: hot medians vs upstream measured on an " << context.upstream->device_name << " ("
        << context.upstream->date << "; ratio = ours / theirs, < 1 is faster) ==\n";
  else
    out << "\n== pal-bench summary: hot medians; no upstream comparison on this GPU ==\n"
        << context.upstream_absent << "\n";
  out << "device " << context.device << "; peak " << format_fixed(context.peak_tbs, 2) << " TB/s ("
      << context.peak_source << "); copy ceiling "
      << (context.copy_tbs > 0 ? format("%.2f TB/s (%s%% of peak)", context.copy_tbs,
                                        cell(percent_of(context.copy_tbs, context.peak_tbs), 0).c_str())
                               : std::string("not measured"))
      << "\n";
  out << format("%-30s %-3s %-4s %-4s %9s %9s %6s %8s %6s %8s %6s %4s %5s\n", "shape", "ver", "pick", "auto",
                "ours us", "vllm us", "ratio", "FI-cc", "ratio", "FI-tc", "ratio", "%pk", "%copy");

  GeometricMean vllm_all, vllm_picked, vllm_picked_mha, vllm_picked_gqa, vllm_cold;
  std::map<std::string, GeometricMean> vllm_by_version;  // "v1/vLLM v1", ...
  GeometricMean fi_cc_all, fi_cc_picked, fi_tc_all, fi_tc_picked;
  for (const BenchRow& row : rows) {
    if (row.recording_probe) continue;
    if (!row.upstream.any() && row.section != "shapes") continue;
    const UpstreamFigures& up = row.upstream;
    if (!measured(row)) {
      out << format("%-30s %-3s %-4s %-4s %9s %9s  (%s)\n", short_name(row, context).c_str(),
                    std::string(version_name(row.version)).c_str(), yes_no(row.upstream_picks), yes_no(row.auto_picks),
                    "-", cell(up.vllm_hot_us, 1).c_str(), row.skipped.empty() ? "failed" : "skipped");
      continue;
    }
    const auto vllm = ratio_to(row.hot, up.vllm_hot_us);
    const auto fi_cc = ratio_to(row.hot, up.flashinfer_cuda_core_hot_us);
    const auto fi_tc = ratio_to(row.hot, up.flashinfer_tensor_core_hot_us);
    out << format("%-30s %-3s %-4s %-4s %9.1f %9s %6s %8s %6s %8s %6s %4s %5s%s\n", short_name(row, context).c_str(),
                  std::string(version_name(row.version)).c_str(), yes_no(row.upstream_picks), yes_no(row.auto_picks),
                  row.hot.median, cell(up.vllm_hot_us, 1).c_str(), cell(vllm, 2).c_str(),
                  cell(up.flashinfer_cuda_core_hot_us, 1).c_str(), cell(fi_cc, 2).c_str(),
                  cell(up.flashinfer_tensor_core_hot_us, 1).c_str(), cell(fi_tc, 2).c_str(),
                  cell(percent_of(hot_tbs(row), context.peak_tbs), 0).c_str(),
                  cell(percent_of(hot_tbs(row), context.copy_tbs), 0).c_str(),
                  check_failed(row) ? "  CHECK FAILED" : "");
    vllm_all.add(vllm);
    vllm_cold.add(ratio_to(row.cold, up.vllm_cold_us));
    if (up.vllm_version)
      vllm_by_version[std::string(version_name(row.version)) + " / vLLM v" + std::to_string(up.vllm_version)].add(vllm);
    fi_cc_all.add(fi_cc);
    fi_tc_all.add(fi_tc);
    if (row.upstream_picks) {
      vllm_picked.add(vllm);
      (row.shape.num_heads == row.shape.num_kv_heads ? vllm_picked_mha : vllm_picked_gqa).add(vllm);
      fi_cc_picked.add(fi_cc);
      fi_tc_picked.add(fi_tc);
    }
  }
  if (vllm_all.count > 0) {
    out << format("geometric-mean ratio over %d anchored rows: %.3f; over the %d rows upstream's heuristic picks: %.3f\n",
                  vllm_all.count, std::exp(vllm_all.log_sum / vllm_all.count), vllm_picked.count,
                  vllm_picked.count ? std::exp(vllm_picked.log_sum / vllm_picked.count) : 0.0);
    out << "  vLLM's picks, multi-head: " << vllm_picked_mha.text() << "; GQA: " << vllm_picked_gqa.text() << "\n";
    for (const auto& [label, mean] : vllm_by_version) out << "  ours " << label << ": " << mean.text() << "\n";
    if (vllm_cold.count > 0) out << "  cold, ours / vLLM cold: " << vllm_cold.text() << "\n";
  }
  if (fi_cc_all.count > 0)
    out << "ours / FlashInfer CUDA-core decode: " << fi_cc_all.text() << "; on vLLM's picks " << fi_cc_picked.text()
        << "\n";
  if (fi_tc_all.count > 0)
    out << "ours / FlashInfer tensor-core decode: " << fi_tc_all.text() << "; on vLLM's picks "
        << fi_tc_picked.text() << "\n";

  // auto: which version it picked per shape, and what that cost against the fastest one measured.
  std::map<std::string, std::vector<const BenchRow*>> by_shape;
  std::vector<std::string> shape_order;
  for (const BenchRow& row : rows) {
    if (row.recording_probe || !measured(row)) continue;
    const std::string name = row.shape.name();
    if (!by_shape.count(name)) shape_order.push_back(name);
    by_shape[name].push_back(&row);
  }
  std::map<std::string, int> picks;
  GeometricMean auto_over_fastest;
  int compared = 0, fastest = 0;
  double worst = 1;
  std::string worst_shape;
  for (const std::string& name : shape_order) {
    const std::vector<const BenchRow*>& shape_rows = by_shape[name];
    const auto picked = std::find_if(shape_rows.begin(), shape_rows.end(), [](const BenchRow* row) { return row->auto_picks; });
    if (picked == shape_rows.end()) continue;
    ++picks[std::string(version_name((*picked)->version))];
    if (shape_rows.size() < 2) continue;
    const BenchRow* best = *std::min_element(shape_rows.begin(), shape_rows.end(),
                                             [](const BenchRow* a, const BenchRow* b) { return a->hot.median < b->hot.median; });
    const double ratio = (*picked)->hot.median / best->hot.median;
    ++compared;
    if (best == *picked) ++fastest;
    auto_over_fastest.add(ratio);
    if (ratio > worst) {
      worst = ratio;
      worst_shape = name + " (auto " + std::string(version_name((*picked)->version)) + ", fastest " +
                    std::string(version_name(best->version)) + ")";
    }
  }
  if (!picks.empty()) {
    out << "auto picks:";
    for (const auto& [version, count] : picks) out << " " << version << " on " << count << " shapes;";
    if (compared > 0)
      out << format(" the fastest measured version on %d of %d shapes; its time / the fastest: geo-mean %.3f, worst %.2f%s",
                    fastest, compared, std::exp(auto_over_fastest.log_sum / compared), worst,
                    worst_shape.empty() ? "" : (" at " + worst_shape).c_str());
    out << "\n";
  }

  // Baselines: each variant with one against it (an fp8 cache against fp16, same version).
  std::map<std::string, GeometricMean> by_variant;  // "<cache dtype> <version>"
  for (const BenchRow& row : rows)
    if (!row.recording_probe && !row.baseline.empty())
      by_variant[std::string(kv_cache_dtype_name(row.shape.cache_format())) + " cache, " + std::string(version_name(row.version))]
          .add(ratio_to(row.hot, row.baseline_us));
  for (const auto& [label, mean] : by_variant)
    out << "vs baseline (" << label << " / the query dtype's cache): " << mean.text() << "\n";
}

}  // namespace pal::bench
