#include "run/version_compare.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>

#include "kernels/launch_plan.h"
#include "kernels/record_view.h"
#include "kernels/stage_registry.h"

namespace pal {

namespace {

std::string format(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* pattern, ...) {
  char buffer[512];
  va_list args;
  va_start(args, pattern);
  std::vsnprintf(buffer, sizeof buffer, pattern, args);
  va_end(args);
  return buffer;
}

std::string format_fixed(double value, int decimals) { return format("%.*f", decimals, value); }

// Tallies K/V loads per KV head, marking the cache bytes each one read to count distinct bytes.
class TrafficCounter {
 public:
  TrafficCounter(const RecordedRun& run)
      : layout_(run.kv_layout()),
        element_bytes_(run.cache_element_size()),
        key_elements_(run.inputs().key_cache.numel()),
        value_elements_(run.inputs().value_cache.numel()),
        key_marks_(std::size_t(key_elements_) * std::size_t(element_bytes_), 0),
        value_marks_(std::size_t(value_elements_) * std::size_t(element_bytes_), 0),
        heads_(std::size_t(run.scenario().num_kv_heads)) {
    for (std::size_t i = 0; i < heads_.size(); ++i) heads_[i].kv_head_idx = int(i);
  }

  // One load of `bytes` bytes starting at element `element` of k_cache (kind key) or v_cache.
  void add(LoadKind kind, std::int64_t element, int bytes) {
    const bool key = kind == LoadKind::key;
    const std::int64_t num_elements = key ? key_elements_ : value_elements_;
    const std::int64_t elements_read = (bytes + element_bytes_ - 1) / element_bytes_;
    if (bytes <= 0 || element < 0 || element + elements_read > num_elements)
      throw ScenarioError("recording: a " + std::string(key ? "key" : "value") + " load of " + std::to_string(bytes) +
                          " bytes at element " + std::to_string(element) + " lies outside the cache of " +
                          std::to_string(num_elements) + " elements; the recording is damaged or was written for "
                          "other inputs");
    const int kv_head = key ? layout_.key_coordinates(element).kv_head : layout_.value_coordinates(element).kv_head;
    KvHeadTraffic& head = heads_.at(std::size_t(kv_head));
    head.loaded_bytes += bytes;
    ++head.num_loads;
    std::vector<unsigned char>& marks = key ? key_marks_ : value_marks_;
    const std::size_t first = std::size_t(element) * std::size_t(element_bytes_);
    for (std::size_t b = first; b < first + std::size_t(bytes); ++b)
      if (!marks[b]) {
        marks[b] = 1;
        ++head.unique_bytes;
      }
  }

  void finish(VersionProfile& profile) {
    profile.kv_heads = heads_;
    for (const KvHeadTraffic& head : heads_) {
      profile.loaded_bytes += head.loaded_bytes;
      profile.unique_bytes += head.unique_bytes;
    }
  }

 private:
  KvCacheLayout layout_;
  int element_bytes_;
  std::int64_t key_elements_, value_elements_;
  std::vector<unsigned char> key_marks_, value_marks_;
  std::vector<KvHeadTraffic> heads_;
};

// The ordered integer of a dtype's bit pattern: adjacent representable values differ by one.
std::int64_t ordered_bits(float value, DType dtype) {
  Tensor one(dtype == DType::fp32 ? ElementType::f32 : dtype == DType::fp16 ? ElementType::f16 : ElementType::bf16, {1});
  one.set_float(0, value);
  std::int64_t magnitude = 0, sign_bit = 0;
  if (dtype == DType::fp32) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, one.bytes.data(), 4);
    magnitude = bits & 0x7fffffffu;
    sign_bit = bits >> 31;
  } else {
    std::uint16_t bits = 0;
    std::memcpy(&bits, one.bytes.data(), 2);
    magnitude = bits & 0x7fffu;
    sign_bit = bits >> 15;
  }
  return sign_bit ? -magnitude : magnitude;
}

std::string kib(std::int64_t bytes) { return format_fixed(double(bytes) / 1024.0, 1) + " KiB"; }

}  // namespace

std::int64_t ulps_between(float a, float b, DType dtype) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<std::int64_t>::max();
  const std::int64_t distance = ordered_bits(a, dtype) - ordered_bits(b, dtype);
  return distance < 0 ? -distance : distance;
}

VersionProfile profile_version(const RecordedRun& run) {
  if (!run.recorded())
    throw ScenarioError("the comparison counts recorded loads: run " + std::string(version_name(run.version())) +
                        " with a recording (the emulator records every version)");
  VersionProfile profile;
  profile.version = run.version();
  profile.device = run.kernel().device_name;
  for (const StageInfo& info : all_stages())
    if (info.variants.contains(run.version())) profile.stages.emplace_back(info.name);

  const Recording& recording = run.recording();
  const RecordDims& d = recording.dims();
  const RecordPointers& p = recording.ptr();
  TrafficCounter traffic(run);
  std::int64_t kv_loads = 0;
  int max_loads = 0;
  profile.threads_per_block = d.num_threads;
  if (run.version() == KernelVersion::grouped) {
    const GroupedPlan& plan = run.kernel().grouped_plan;
    profile.num_launches = plan.uses_split_merge() ? 2 : 1;
    profile.num_thread_blocks = d.num_grouped_blocks();
    profile.shared_memory_bytes = std::size_t(plan.shared_bytes);
    for (std::int64_t gb = 0; gb < d.num_grouped_blocks(); ++gb)
      for (int thread = 0; thread < d.num_threads; ++thread) {
        const int count = p.grouped_copy_counts_at(gb, thread);
        // -1 (the buffer's 0xFF bytes): a split past its sequence's end, which returns before copying.
        if (count == -1) continue;
        if (count < 0 || count > d.max_loads_per_thread)
          throw ScenarioError("recording: grouped thread_block " + std::to_string(gb) + " thread " +
                              std::to_string(thread) + " claims " + std::to_string(count) + " copies (at most " +
                              std::to_string(d.max_loads_per_thread) + "); the recording is damaged");
        for (int i = 0; i < count; ++i) {
          const LoadRecord& copy = p.grouped_copies_at(gb, thread, i);
          if (copy.kind != LoadKind::key && copy.kind != LoadKind::value)
            throw ScenarioError("recording: a grouped copy of kind " + std::to_string(int(copy.kind)) +
                                " (key 2 or value 3 expected); the recording is damaged");
          traffic.add(copy.kind, copy.element_offset, copy.vec_idx);
        }
        kv_loads += count;
        max_loads = std::max(max_loads, count);
      }
  } else {
    const KernelGeometry g = run.geometry();
    profile.num_launches = run.version() == KernelVersion::v2 ? 2 : 1;
    profile.num_thread_blocks = d.num_thread_blocks();
    profile.shared_memory_bytes = make_launch_shape(run.scenario(), run.version()).main_total_shared_memory_bytes();
    for (std::int64_t tb = 0; tb < d.num_thread_blocks(); ++tb) {
      const ThreadBlockRecord record(recording, tb);
      for (int thread = 0; thread < d.num_threads; ++thread) {
        int thread_kv_loads = 0;
        for (const LoadRecord& load : record.loads(thread)) {
          if (load.kind == LoadKind::query) {
            ++profile.query_loads;
            continue;
          }
          if (load.kind != LoadKind::key && load.kind != LoadKind::value)
            throw ScenarioError("recording: a load of kind " + std::to_string(int(load.kind)) +
                                "; the recording is damaged");
          traffic.add(load.kind, load.element_offset,
                      load.kind == LoadKind::key ? g.key_load_bytes() : g.value_load_bytes());
          ++thread_kv_loads;
        }
        kv_loads += thread_kv_loads;
        max_loads = std::max(max_loads, thread_kv_loads);
      }
    }
  }
  traffic.finish(profile);
  const std::int64_t lanes = profile.num_thread_blocks * profile.threads_per_block;
  profile.mean_loads_per_lane = lanes > 0 ? double(kv_loads) / double(lanes) : 0.0;
  profile.max_loads_per_lane = max_loads;
  return profile;
}

OutputDifference output_difference(const Tensor& a, const Tensor& b, DType dtype, int num_heads, int head_size) {
  if (a.shape != b.shape || a.type != b.type)
    throw ScenarioError("the outputs to compare differ in shape or type: " + a.shape_string() + " and " +
                        b.shape_string());
  OutputDifference diff;
  diff.num_elements = a.numel();
  diff.num_heads = num_heads;
  diff.head_size = head_size;
  const std::int64_t head_elements = std::int64_t(num_heads) * head_size;
  diff.num_seqs = head_elements > 0 ? int(a.numel() / head_elements) : 0;
  diff.values_a.resize(std::size_t(a.numel()));
  diff.values_b.resize(std::size_t(a.numel()));
  diff.abs_diff.resize(std::size_t(a.numel()));
  diff.head_max_abs.assign(std::size_t(diff.num_seqs) * std::size_t(num_heads), 0.0);
  const std::size_t element_bytes = a.numel() > 0 ? a.bytes.size() / std::size_t(a.numel()) : 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.get_float(i), y = b.get_float(i);
    if (std::memcmp(a.bytes.data() + std::size_t(i) * element_bytes, b.bytes.data() + std::size_t(i) * element_bytes,
                    element_bytes) != 0)
      ++diff.num_different;
    const double abs_diff = std::fabs(double(x) - double(y));
    diff.values_a[std::size_t(i)] = x;
    diff.values_b[std::size_t(i)] = y;
    diff.abs_diff[std::size_t(i)] = float(abs_diff);
    double& head_max = diff.head_max_abs[std::size_t(i / head_size)];
    if (abs_diff > head_max || std::isnan(abs_diff)) head_max = abs_diff;
    diff.max_ulps = std::max(diff.max_ulps, ulps_between(x, y, dtype));
    if (abs_diff > diff.max_abs || (std::isnan(abs_diff) && !std::isnan(diff.max_abs))) {
      diff.max_abs = abs_diff;
      diff.dim_idx = int(i % head_size);
      diff.head_idx = int((i / head_size) % num_heads);
      diff.seq_idx = int(i / (std::int64_t(head_size) * num_heads));
      diff.value_a = x;
      diff.value_b = y;
      diff.ulps_at_max_abs = ulps_between(x, y, dtype);
    }
  }
  return diff;
}

VersionComparison compare_versions(const RecordedRun& a, const RecordedRun& b) {
  Scenario sa = a.scenario(), sb = b.scenario();
  sa.version = sb.version = KernelVersion::automatic;
  const Inputs& ia = a.inputs();
  const Inputs& ib = b.inputs();
  const bool same_inputs = ia.query.bytes == ib.query.bytes && ia.key_cache.bytes == ib.key_cache.bytes &&
                           ia.value_cache.bytes == ib.value_cache.bytes && ia.block_tables.bytes == ib.block_tables.bytes &&
                           ia.seq_lens.bytes == ib.seq_lens.bytes && ia.alibi_slopes.bytes == ib.alibi_slopes.bytes;
  if (scenario_summary(sa) != scenario_summary(sb) || !same_inputs)
    throw ScenarioError("the two runs to compare must run the same scenario on the same inputs; they differ (" +
                        scenario_summary(sa) + " vs " + scenario_summary(sb) + ")");
  VersionComparison comparison;
  comparison.a = profile_version(a);
  comparison.b = profile_version(b);
  comparison.difference =
      output_difference(a.kernel().output, b.kernel().output, sa.dtype, sa.num_heads, sa.head_size);
  return comparison;
}

std::vector<KernelVersion> parse_compared_versions(const std::string& text, const std::string& flag) {
  std::vector<KernelVersion> versions;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    const std::string name = text.substr(begin, comma - begin);
    KernelVersion version = KernelVersion::automatic;
    if (!parse_version(name, version) || version == KernelVersion::automatic)
      throw ScenarioError(flag + " " + text + ": '" + name +
                          "' is not a version; give two of v1, v2, grouped, e.g. " + flag + " v1,grouped");
    versions.push_back(version);
    begin = comma + 1;
  }
  if (versions.size() != 2)
    throw ScenarioError(flag + " " + text + ": give two versions of v1, v2, grouped, e.g. " + flag + " v1,grouped");
  if (versions[0] == versions[1])
    throw ScenarioError(flag + " " + text + ": the same version twice; give two different versions of v1, v2, "
                        "grouped, e.g. " + flag + " v1,grouped");
  return versions;
}

namespace {

// The scenario as version `version` runs it, validated; a version the scenario cannot run is
// refused naming it.
Scenario scenario_for_version(Scenario scenario, KernelVersion version) {
  scenario.version = version;
  try {
    validate_scenario(scenario);
  } catch (const ScenarioError& error) {
    throw ScenarioError("the comparison cannot run " + std::string(version_name(version)) + " on this scenario: " +
                        error.what());
  }
  return scenario;
}

}  // namespace

std::vector<RecordedRun> run_compared_versions(const Scenario& scenario, const std::vector<KernelVersion>& versions,
                                               RecordedRunOptions options) {
  options.record = true;
  for (KernelVersion version : versions) (void)scenario_for_version(scenario, version);  // each valid, first
  for (KernelVersion version : versions) check_run_fits(scenario_for_version(scenario, version), options);
  const CheckedInputs checked = CheckedInputs::generate(scenario);
  return run_compared_versions(checked, versions, options,
                               "scenario (inputs generated from seed " + std::to_string(scenario.seed) + ")");
}

std::vector<RecordedRun> run_compared_versions(const CheckedInputs& checked, const std::vector<KernelVersion>& versions,
                                               RecordedRunOptions options, const std::string& origin) {
  options.record = true;  // the comparison counts recorded loads
  for (KernelVersion version : versions) (void)scenario_for_version(checked.scenario(), version);
  std::vector<RecordedRun> runs;
  for (KernelVersion version : versions) {
    CheckedInputs copy = checked;
    copy.set_version(version);
    runs.push_back(RecordedRun::from_checked(std::move(copy), options, origin));
  }
  return runs;
}

std::vector<ComparisonRow> comparison_rows(const VersionComparison& c) {
  std::vector<ComparisonRow> rows;
  auto row = [&rows](const std::string& what, const std::string& a, const std::string& b) { rows.push_back({what, a, b}); };
  row("kernel launches", std::to_string(c.a.num_launches), std::to_string(c.b.num_launches));
  row("thread_blocks (main kernel)", std::to_string(c.a.num_thread_blocks), std::to_string(c.b.num_thread_blocks));
  row("threads per thread_block", std::to_string(c.a.threads_per_block), std::to_string(c.b.threads_per_block));
  row("shared memory per thread_block", std::to_string(c.a.shared_memory_bytes) + " B",
      std::to_string(c.b.shared_memory_bytes) + " B");
  row("stages", std::to_string(c.a.stages.size()), std::to_string(c.b.stages.size()));
  row("K/V bytes loaded", kib(c.a.loaded_bytes), kib(c.b.loaded_bytes));
  row("distinct K/V bytes", kib(c.a.unique_bytes), kib(c.b.unique_bytes));
  auto reads = [](const VersionProfile& p) {
    return p.unique_bytes > 0 ? format_fixed(double(p.loaded_bytes) / double(p.unique_bytes), 2) + "x" : std::string("-");
  };
  row("reads of each K/V byte", reads(c.a), reads(c.b));
  row("K/V loads per lane (mean / max)", format_fixed(c.a.mean_loads_per_lane, 1) + " / " + std::to_string(c.a.max_loads_per_lane),
      format_fixed(c.b.mean_loads_per_lane, 1) + " / " + std::to_string(c.b.max_loads_per_lane));
  for (std::size_t h = 0; h < c.a.kv_heads.size() && h < c.b.kv_heads.size(); ++h) {
    const KvHeadTraffic& x = c.a.kv_heads[h];
    const KvHeadTraffic& y = c.b.kv_heads[h];
    row("KV head " + std::to_string(h) + ": loaded (reads/byte)",
        kib(x.loaded_bytes) + " (" + format_fixed(x.reads_per_byte(), 2) + "x)",
        kib(y.loaded_bytes) + " (" + format_fixed(y.reads_per_byte(), 2) + "x)");
  }
  return rows;
}

std::string format_comparison(const VersionComparison& c) {
  const std::string name_a(version_name(c.a.version)), name_b(version_name(c.b.version));
  std::string text;
  text += format("  %-34s %22s %22s\n", "", name_a.c_str(), name_b.c_str());
  for (const ComparisonRow& row : comparison_rows(c))
    text += format("  %-34s %22s %22s\n", row.quantity.c_str(), row.a.c_str(), row.b.c_str());
  for (const VersionProfile* p : {&c.a, &c.b}) {
    text += "  stages of " + std::string(version_name(p->version)) + ":";
    for (const std::string& stage : p->stages) text += " " + stage;
    text += "\n";
  }
  const OutputDifference& d = c.difference;
  text += format("  outputs: %lld of %lld elements differ; max |%s - %s| = %.3g at seq %d, head %d, dim %d (%.6g vs "
                 "%.6g, %lld ulps apart); most ulps apart anywhere: %lld (ulps are finest near zero)\n",
                 static_cast<long long>(d.num_different), static_cast<long long>(d.num_elements), name_a.c_str(),
                 name_b.c_str(), d.max_abs, d.seq_idx, d.head_idx, d.dim_idx, double(d.value_a), double(d.value_b),
                 static_cast<long long>(d.ulps_at_max_abs), static_cast<long long>(d.max_ulps));
  return text;
}

}  // namespace pal
