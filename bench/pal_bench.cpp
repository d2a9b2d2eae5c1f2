// pal-bench: times the GPU kernel over the primary grid (the shapes upstream was measured on), a
// secondary sweep, and any shapes a user gives (--shapes), and compares with upstream vLLM's and
// FlashInfer's figures measured on the same kind of GPU (bench/upstream_anchors.h).
//
// What runs where (docs/performance/README.md says it at length):
//   bench/plan.h        per shape: which rows can run, cold input sets, host or device inputs
//   bench/gpu_inputs.h  the inputs, their cold copies and the outputs in device memory
//   bench/timing.h      hot (CUDA-graph replays, median) and cold (rotating sets / flush) timing
//   bench/report.h      the terminal lines, CSV, Markdown and the closing summary
// This file reads the options, walks the sections shape by shape, and turns failures into rows
// that say what happened instead of stopping.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_model.h"
#include "bench/gpu_inputs.h"
#include "bench/output_check.h"
#include "bench/plan.h"
#include "bench/report.h"
#include "bench/shapes_file.h"
#include "bench/timing.h"
#include "bench/upstream_anchors.h"
#include "bench/variants.h"
#include "core/command_line.h"
#include "core/inputs.h"
#include "core/output_file.h"
#include "kernels/gpu_backend.h"
#include "kernels/grouped_gpu_backend.h"
#include "kernels/recording.h"

namespace pal::bench {
namespace {

constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr std::int64_t kGiB = std::int64_t{1} << 30;

// Exit codes, as docs/performance/README.md lists them.
constexpr int kExitOk = 0;
constexpr int kExitFailures = 1;     // a row's output check or a CUDA call failed
constexpr int kExitBadInput = 2;     // the command line or the --shapes file; nothing was run
constexpr int kExitNoGpu = 3;
constexpr int kExitDeviceBroken = 4;  // the device context broke; later rows were not run

struct Options {
  bool quick = false;
  std::string csv_path;
  std::string markdown_path;
  std::string filter;
  std::string shapes_path;
  std::vector<std::string> sections = {"copy", "primary", "secondary", "recording"};
  std::vector<std::string> versions = {"v1", "v2", "grouped"};
  std::string cold_method = "rotate";
  double time_budget_s = 330;
  SamplingOptions sampling;
  double cold_l2_multiple = 3.0;
  int max_cold_sets = 128;
  double host_gen_max_mib = 64;
  double max_record_mib = 1024;
  double peak_tbs = 0;  // 0: the device's nominal figure
  double memory_margin_mib = 1024;
  std::uint64_t seed = 1;
  // The grouped kernel's launch: its math path ("auto": tensor cores for fp16/bf16), a forced number
  // of KV splits (0: the split planner's choice on this GPU), and the planner's shortest split.
  std::string grouped_math = "auto";
  int grouped_splits = 0;
  int grouped_min_split_tokens = kMinSplitTokens;
};

bool has_section(const Options& options, const std::string& section) {
  return std::find(options.sections.begin(), options.sections.end(), section) != options.sections.end();
}

ColdMethod parse_cold_method(const std::string& name) {
  for (ColdMethod method : {ColdMethod::rotate, ColdMethod::flush, ColdMethod::none})
    if (name == cold_method_name(method)) return method;
  throw std::invalid_argument("unknown --cold-method " + name);
}

class Benchmark {
 public:
  Benchmark(Options options, std::vector<UserShape> user_shapes);
  ~Benchmark();
  Benchmark(const Benchmark&) = delete;
  Benchmark& operator=(const Benchmark&) = delete;

  int run();

 private:
  using Clock = std::chrono::steady_clock;

  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  bool over_budget() const { return elapsed_s() > options_.time_budget_s; }

  // Now, with the free memory (cudaMemGetInfo); kernel_limits() has only what never changes, and
  // needs no working context (rows skipped after a device failure still say what auto picks).
  DeviceLimits device_limits() const;
  DeviceLimits kernel_limits() const;
  // What `auto` runs for the shape on this GPU with this build (bench/plan.h's auto_pick).
  KernelVersion auto_pick_here(const BenchShape& shape) const;
  void print_header() const;
  void measure_copy_ceiling();
  // Every row of one base shape: its variants, grouped by the inputs they read.
  void run_shape(const std::string& section, const BenchShape& base, const std::vector<std::string>& versions);
  // The rows of one input set: plan, make the inputs, check and time each row.
  void run_input_set(const std::string& section, const BenchShape& base, const BenchShape& shape,
                     const std::vector<KernelVariant>& variants, std::map<std::string, double>& hot_by_row);
  void run_recording_shape(const BenchShape& shape, KernelVersion version);

  BenchRow new_row(const std::string& section, const BenchShape& base, const BenchShape& shape,
                   const KernelVariant& variant, const std::map<std::string, double>& hot_by_row) const;
  void add_row(BenchRow row);
  void handle_failure(const std::string& what, const std::exception& error);
  void print_recording_line(const std::string& line);

  Options options_;
  std::vector<UserShape> user_shapes_;
  PlanOptions plan_options_;
  Clock::time_point start_;
  cudaStream_t stream_ = nullptr;
  GpuDeviceInfo device_;
  RunContext context_;
  std::unique_ptr<GpuTimer> timer_;
  DeviceBuffer flush_;
  std::vector<BenchRow> rows_;
  bool device_broken_ = false;
  int failures_ = 0;
};

Benchmark::Benchmark(Options options, std::vector<UserShape> user_shapes)
    : options_(std::move(options)), user_shapes_(std::move(user_shapes)), start_(Clock::now()) {
  throw_on_cuda_error(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  timer_ = std::make_unique<GpuTimer>(stream_, options_.sampling);
  device_ = gpu_device_info();

  plan_options_.cold_method = parse_cold_method(options_.cold_method);
  plan_options_.cold_l2_multiple = options_.cold_l2_multiple;
  plan_options_.max_cold_sets = options_.max_cold_sets;
  plan_options_.host_generation_max_bytes = std::int64_t(options_.host_gen_max_mib * double(kMiB));
  plan_options_.seed = options_.seed;
  if (plan_options_.cold_method == ColdMethod::flush)
    flush_ = DeviceBuffer(std::size_t(std::max<std::int64_t>(256 * kMiB, 4 * device_.l2_bytes)));

  context_.device = device_.name + ", compute " + std::to_string(device_.compute_major) + "." +
                    std::to_string(device_.compute_minor) + ", " + std::to_string(device_.sm_count) + " SMs, L2 " +
                    mib(device_.l2_bytes);
  context_.upstream = upstream_table_for(
      {device_.name, device_.compute_major, device_.compute_minor, device_.sm_count}, &context_.upstream_absent);
  if (options_.peak_tbs > 0) {
    context_.peak_tbs = options_.peak_tbs;
    context_.peak_source = "--peak-tbs";
  } else if (context_.upstream) {
    context_.peak_tbs = context_.upstream->nominal_peak_tbs;
    context_.peak_source = "the vendor's figure for the " + std::string(context_.upstream->device_name);
  } else if (device_.memory_clock_bus_tbs > 0) {
    context_.peak_tbs = device_.memory_clock_bus_tbs;
    context_.peak_source = "memory clock x bus width x 2 from the driver: no vendor figure is recorded for this GPU";
  } else {
    context_.peak_source = "unknown: give --peak-tbs";
  }
  context_.cold_method = std::string(cold_method_name(plan_options_.cold_method));
  if (plan_options_.cold_method == ColdMethod::rotate)
    context_.cold_method += ": launches cycle through input copies larger than " +
                            format_fixed(options_.cold_l2_multiple, 0) + "x L2 together";
}

Benchmark::~Benchmark() {
  flush_ = DeviceBuffer();
  timer_.reset();
  if (stream_) cudaStreamDestroy(stream_);
}

DeviceLimits Benchmark::kernel_limits() const {
  DeviceLimits limits;
  limits.shared_memory_per_block = device_.shared_memory_per_block_optin;
  limits.l2_bytes = device_.l2_bytes;
  return limits;
}

KernelVersion Benchmark::auto_pick_here(const BenchShape& shape) const {
  const GroupedMath math = default_grouped_math(dtype_size_bytes(shape.dtype));
  return auto_pick(shape, kernel_limits(),
                   gpu_grouped_config_compiled(shape.dtype, shape.cache_format(), shape.head_size, shape.block_size, math));
}

DeviceLimits Benchmark::device_limits() const {
  std::size_t free_bytes = 0, total_bytes = 0;
  throw_on_cuda_error(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  DeviceLimits limits = kernel_limits();
  limits.free_memory_bytes = std::int64_t(free_bytes);
  limits.memory_margin_bytes = std::int64_t(options_.memory_margin_mib * double(kMiB));
  return limits;
}

void Benchmark::print_header() const {
  const std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  std::printf("pal-bench  %s\n", date);
  std::printf("device: %s, compute %d.%d, %d SMs, L2 %s, memory %s, shared memory opt-in %lld B per block\n",
              device_.name.c_str(), device_.compute_major, device_.compute_minor, device_.sm_count,
              mib(device_.l2_bytes).c_str(), gib(device_.global_memory_bytes).c_str(),
              static_cast<long long>(device_.shared_memory_per_block_optin));
  std::printf("CUDA runtime %d, driver %d; peak used for %%: %.2f TB/s (%s; the driver's clock x bus width gives %.2f)\n",
              runtime, driver, context_.peak_tbs, context_.peak_source.c_str(), device_.memory_clock_bus_tbs);
  if (context_.upstream)
    std::printf("upstream figures: measured on an %s on %s (%s)\n", std::string(context_.upstream->device_name).c_str(),
                std::string(context_.upstream->date).c_str(), std::string(context_.upstream->source).c_str());
  else
    std::printf("upstream figures: none for this GPU: %s\n", context_.upstream_absent.c_str());
  std::printf("cold method: %s; hot: CUDA graph replays, median over samples; budget %.0f s%s\n",
              options_.cold_method.c_str(), options_.time_budget_s, options_.quick ? "; --quick" : "");
  std::fflush(stdout);
}

void Benchmark::measure_copy_ceiling() {
  std::size_t free_bytes = 0, total_bytes = 0;
  throw_on_cuda_error(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  const CopyCeiling copy = timer_->measure_copy(std::min<std::int64_t>(kGiB, std::int64_t(free_bytes) / 4));
  context_.copy_tbs = copy.tbs;
  context_.copy_detail = "median of " + std::to_string(copy.time.count) + ", " + mib(copy.bytes) + " each way";
  std::printf("device-to-device copy: %s each way, median %.1f us (p10 %.1f, p90 %.1f): %.3f TB/s read+write, "
              "%.1f%% of %.2f TB/s\n",
              mib(copy.bytes).c_str(), copy.time.median, copy.time.p10, copy.time.p90, copy.tbs,
              context_.peak_tbs > 0 ? 100 * copy.tbs / context_.peak_tbs : 0.0, context_.peak_tbs);
  std::fflush(stdout);
}

BenchRow Benchmark::new_row(const std::string& section, const BenchShape& base, const BenchShape& shape,
                            const KernelVariant& variant, const std::map<std::string, double>& hot_by_row) const {
  BenchRow row;
  row.shape = shape;
  row.version = variant.version;
  row.section = section;
  row.upstream_picks = upstream_pick(shape) == variant.version;
  row.auto_version = auto_pick_here(shape);
  row.auto_picks = row.auto_version == variant.version;
  row.bytes = unique_bytes(shape);
  row.launch = describe_launch(make_launch_shape(make_scenario(shape, variant.version, options_.seed), variant.version));
  if (context_.upstream) row.upstream = upstream_figures(*context_.upstream, shape, variant.version);
  if (const std::optional<KernelVariant> baseline = baseline_of(variant)) {
    row.baseline = row_name(shape_for(base, *baseline), baseline->version);
  } else if (variant.version == KernelVersion::grouped) {
    // The grouped kernel against the faithful kernel's version that auto runs on this shape, timed
    // just before it on the same inputs (kernel_variants() order): the baseline column is then
    // grouped / (v1 or v2), beside the ratios to vLLM and FlashInfer.
    row.baseline = row_name(shape, upstream_auto_pick(shape, kernel_limits()));
  }
  if (!row.baseline.empty())
    if (const auto found = hot_by_row.find(row.baseline); found != hot_by_row.end()) row.baseline_us = found->second;
  return row;
}

void Benchmark::add_row(BenchRow row) {
  if (row.check.rfind("FAIL", 0) == 0) ++failures_;
  std::printf("%s\n", table_line(row, context_).c_str());
  std::fflush(stdout);
  rows_.push_back(std::move(row));
}

// After an exception: a sticky CUDA error leaves the context unusable, so everything after it is
// skipped (and said so) instead of producing misleading numbers.
void Benchmark::handle_failure(const std::string& what, const std::exception& error) {
  ++failures_;
  std::printf("ERROR in %s: %s\n", what.c_str(), error.what());
  cudaGetLastError();
  const cudaError_t status = cudaDeviceSynchronize();
  if (status != cudaSuccess) {
    device_broken_ = true;
    std::printf("ERROR: the device context is broken (%s); the remaining rows are not run\n",
                cudaGetErrorName(status));
  }
  std::fflush(stdout);
}

void Benchmark::run_shape(const std::string& section, const BenchShape& base, const std::vector<std::string>& versions) {
  std::vector<KernelVariant> variants;
  for (const KernelVariant& variant : variants_for(base, versions, auto_pick_here(base)))
    if (filter_matches(options_.filter, row_name(shape_for(base, variant), variant.version)))
      variants.push_back(variant);
  if (variants.empty()) return;

  if (device_broken_ || over_budget()) {
    const std::string reason = device_broken_ ? "not run: the device failed in an earlier row"
                                              : "time budget of " + format_fixed(options_.time_budget_s, 0) +
                                                    " s spent (--time-budget-s)";
    for (const KernelVariant& variant : variants) {
      BenchRow row = new_row(section, base, shape_for(base, variant), variant, {});
      row.skipped = reason;
      add_row(std::move(row));
    }
    return;
  }
  // Variants that read the same inputs share them; the first group is the base shape's own cache,
  // so a baseline (variants.h) is measured before the rows divided by it.
  std::vector<std::pair<BenchShape, std::vector<KernelVariant>>> groups;
  for (const KernelVariant& variant : variants) {
    const BenchShape shape = shape_for(base, variant);
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const auto& entry) { return entry.first.name() == shape.name(); });
    if (group == groups.end()) groups.push_back({shape, {variant}});
    else group->second.push_back(variant);
  }
  std::map<std::string, double> hot_by_row;
  for (const auto& [shape, group_variants] : groups) {
    if (device_broken_) break;
    try {
      run_input_set(section, base, shape, group_variants, hot_by_row);
    } catch (const std::exception& error) {
      handle_failure(shape.name(), error);
    }
  }
}

void Benchmark::run_input_set(const std::string& section, const BenchShape& base, const BenchShape& shape,
                              const std::vector<KernelVariant>& variants, std::map<std::string, double>& hot_by_row) {
  const ShapePlan plan = plan_shape(shape, variants,
                                    gpu_config_compiled(shape.dtype, shape.cache_format(), shape.head_size,
                                                        shape.block_size, false),
                                    device_limits(), plan_options_);
  for (const PlannedRow& planned : plan.rows)
    if (!planned.skipped.empty()) {
      BenchRow row = new_row(section, base, shape, planned.variant, hot_by_row);
      row.skipped = planned.skipped;
      add_row(std::move(row));
    }
  if (!plan.any_runnable()) return;

  const auto generation_start = Clock::now();
  const Scenario scenario = make_scenario(shape, KernelVersion::v1, options_.seed);
  std::vector<InputSet> sets;
  sets.push_back(plan.inputs_on_host ? inputs_from_host(scenario, stream_) : inputs_on_device(shape, scenario, stream_));
  for (int i = 1; i < plan.cold_sets; ++i) sets.push_back(duplicate_set(sets.front(), stream_));
  const Workspace workspace = make_workspace(shape);
  throw_on_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (inputs)");
  const double generation_s = std::chrono::duration<double>(Clock::now() - generation_start).count();
  if (generation_s > 2.0)
    std::printf("  (inputs for %s: %.1f s on the %s)\n", shape.name().c_str(), generation_s,
                plan.inputs_on_host ? "host" : "device");

  std::optional<std::pair<std::string, std::vector<float>>> reference;  // the first output that passed its check
  for (const PlannedRow& planned : plan.rows) {
    if (!planned.skipped.empty()) continue;
    const std::string name = row_name(shape, planned.variant.version);
    try {
      const LaunchShape& launch = planned.launch;
      BenchRow row = new_row(section, base, shape, planned.variant, hot_by_row);
      row.input_source = plan.inputs_on_host ? "host" : "device";

      // The grouped kernel plans its splits on this GPU (SM count, occupancy) and needs a workspace
      // of its own for them; v1/v2 use the shared one.
      const bool grouped = planned.variant.version == KernelVersion::grouped;
      GroupedPlan grouped_plan;
      DeviceBuffer split_partial_out, split_max_logits, split_exp_sums;
      GroupedWorkspace grouped_workspace;
      if (grouped) {
        const int element_size = dtype_size_bytes(shape.dtype);
        const GroupedMath math = options_.grouped_math == "cuda" || (options_.grouped_math == "auto" && element_size != 2)
                                     ? GroupedMath::cuda_cores
                                     : GroupedMath::tensor_cores;
        if (math == GroupedMath::tensor_cores && element_size != 2) {
          row.skipped = "--grouped-math tensor: the tensor-core path takes fp16 or bf16";
          add_row(std::move(row));
          continue;
        }
        if (!gpu_grouped_config_compiled(shape.dtype, shape.cache_format(), shape.head_size, shape.block_size, math)) {
          row.skipped = "this build did not compile the grouped kernel for this dtype/head_size/block_size "
                        "(configure with -DPAL_CUDA_INSTANTIATIONS=full)";
          add_row(std::move(row));
          continue;
        }
        grouped_plan = gpu_plan_grouped(launch, math, options_.grouped_splits, options_.grouped_min_split_tokens);
        const GroupedWorkspaceBytes bytes = grouped_workspace_bytes(launch, grouped_plan);
        split_partial_out = DeviceBuffer(bytes.partial_out);
        split_max_logits = DeviceBuffer(bytes.max_logits);
        split_exp_sums = DeviceBuffer(bytes.exp_sums);
        grouped_workspace = {split_partial_out.as<float>(), split_max_logits.as<float>(), split_exp_sums.as<float>()};
        row.launch = describe_grouped_launch(launch, grouped_plan);
      }
      const auto launch_on = [&](const LaunchBuffers& buffers, cudaStream_t stream) {
        if (grouped) gpu_launch_grouped(launch, buffers, grouped_workspace, grouped_plan, stream);
        else gpu_launch_production(launch, buffers, stream);
      };
      const LaunchBuffers first = buffers_for(sets.front(), workspace);
      const Enqueue launch_first = [&](cudaStream_t stream) { launch_on(first, stream); };

      // One checked launch on poisoned output first: errors surface here, not inside a graph.
      poison(workspace.out, stream_);
      launch_first(stream_);
      throw_on_cuda_error(cudaStreamSynchronize(stream_), "first launch");
      std::vector<float> output = read_output(shape, workspace, stream_);
      row.check = check_output_range(shape, output);
      const std::string version(version_name(planned.variant.version));
      if (row.check == "ok") {
        if (reference) row.check = compare_outputs(shape, reference->first, reference->second, version, output);
        else reference.emplace(version, std::move(output));
      }

      const HotTiming hot = timer_->time_hot(launch_first);
      row.hot = hot.time;
      row.hot_launches_per_sample = hot.launches_per_sample;
      hot_by_row[name] = hot.time.median;

      switch (plan_options_.cold_method) {
        case ColdMethod::none:
          row.cold_method = "not measured";
          break;
        case ColdMethod::flush:
          row.cold = timer_->time_cold_flushed(launch_first, hot, flush_);
          row.cold_method = "flush " + mib(std::int64_t(flush_.bytes())) + " before each launch";
          break;
        case ColdMethod::rotate:
          if (plan.cold_sets_wanted == 1) {
            row.cold_method = "=hot: one input set is over " + format_fixed(options_.cold_l2_multiple, 0) + "x L2";
            break;
          }
          row.cold = timer_->time_cold_rotating(
              [&](cudaStream_t stream, int set) { launch_on(buffers_for(sets[std::size_t(set)], workspace), stream); },
              int(sets.size()), hot);
          row.cold_method = "rotate " + std::to_string(sets.size()) + " sets";
          if (plan.cold_sets < plan.cold_sets_wanted)
            row.cold_method += " (wanted " + std::to_string(plan.cold_sets_wanted) + "; memory)";
          break;
      }
      add_row(std::move(row));
    } catch (const std::exception& error) {
      handle_failure(name, error);
      if (device_broken_) return;
    }
  }
}

void Benchmark::print_recording_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Benchmark::run_recording_shape(const BenchShape& shape, KernelVersion version) {
  const std::string name = row_name(shape, version) + "+record";
  if (!gpu_config_compiled(shape.dtype, shape.cache_format(), shape.head_size, shape.block_size, false)) {
    print_recording_line(name + ": skipped: configuration not compiled in this build");
    return;
  }
  const Scenario scenario = make_scenario(shape, version, options_.seed);
  const RecordLayout layout = record_layout(record_dims(scenario));
  if (double(layout.total_bytes) > options_.max_record_mib * double(kMiB)) {
    print_recording_line(name + ": skipped: the recording would take " + mib(std::int64_t(layout.total_bytes)) +
                         " (over --max-record-mib " + format_fixed(options_.max_record_mib, 0) + ")");
    return;
  }
  try {
    const InputSet set = inputs_from_host(scenario, stream_);
    const Workspace workspace = make_workspace(shape);
    DeviceBuffer record(layout.total_bytes);
    // The 0xFF start of every recording (an unwritten float reads NaN); the kernel overwrites what
    // it records on every launch, so one fill serves all timed launches.
    poison(record, stream_);
    const RecordPointers pointers = layout.pointers(static_cast<std::byte*>(record.get()));
    const LaunchShape launch = make_launch_shape(scenario, version);
    const LaunchBuffers buffers = buffers_for(set, workspace);
    const Enqueue production = [&](cudaStream_t stream) { gpu_launch_production(launch, buffers, stream); };
    const Enqueue recording = [&](cudaStream_t stream) { gpu_launch_recording(launch, buffers, pointers, stream); };
    production(stream_);
    recording(stream_);
    throw_on_cuda_error(cudaStreamSynchronize(stream_), "first launches");

    const HotTiming production_time = timer_->time_hot(production);
    const HotTiming recording_time = timer_->time_hot(recording);
    const double factor = recording_time.time.median / production_time.time.median;

    BenchRow row;
    row.shape = shape;
    row.version = version;
    row.section = "recording";
    row.upstream_picks = upstream_pick(shape) == version;
    row.auto_version = auto_pick_here(shape);
    row.auto_picks = row.auto_version == version;
    row.launch = describe_launch(launch);
    row.input_source = "host";
    row.bytes = unique_bytes(shape);
    row.hot = recording_time.time;
    row.hot_launches_per_sample = recording_time.launches_per_sample;
    row.recording_probe = true;
    row.cold_method = "not measured";
    row.check = "recording probe: " + mib(std::int64_t(layout.total_bytes)) + " record, production " +
                format_fixed(production_time.time.median, 1) + " us, x" + format_fixed(factor, 1);
    char line[512];
    std::snprintf(line, sizeof line, "%-40s production %9.1f us   recording %10.1f us   x%6.1f   record %s", name.c_str(),
                  production_time.time.median, recording_time.time.median, factor,
                  mib(std::int64_t(layout.total_bytes)).c_str());
    print_recording_line(line);
    rows_.push_back(std::move(row));  // in the CSV and Markdown as "<name>+record"
  } catch (const std::exception& error) {
    handle_failure(name, error);
  }
}

int Benchmark::run() {
  print_header();
  if (has_section(options_, "copy")) {
    try {
      measure_copy_ceiling();
    } catch (const std::exception& error) {
      handle_failure("device-to-device copy", error);
    }
  }

  struct Section {
    std::string name;
    std::vector<UserShape> shapes;
  };
  std::vector<Section> sections;
  const auto grid_section = [](const std::string& name, const std::vector<BenchShape>& grid) {
    Section section{name, {}};
    for (const BenchShape& shape : grid) section.shapes.push_back({shape, {}, ""});
    return section;
  };
  if (has_section(options_, "primary")) sections.push_back(grid_section("primary", primary_grid(options_.quick)));
  if (has_section(options_, "secondary")) sections.push_back(grid_section("secondary", secondary_grid(options_.quick)));
  if (has_section(options_, "shapes")) sections.push_back({"shapes", user_shapes_});
  for (const Section& section : sections) {
    if (section.name == "shapes") {
      std::printf("\n-- shapes from %s --\n", options_.shapes_path.c_str());
      for (const UserShape& shape : section.shapes)
        std::printf("  %-24s %s%s\n", shape.label.c_str(), shape.shape.name().c_str(),
                    shape.versions.empty() ? "" : (" (version " + shape.versions.front() + ")").c_str());
    }
    std::printf("\n-- %s grid --\n%s\n", section.name.c_str(), table_header().c_str());
    for (const UserShape& shape : section.shapes)
      run_shape(section.name, shape.shape, shape.versions.empty() ? options_.versions : shape.versions);
  }

  if (has_section(options_, "recording") && !device_broken_) {
    std::printf("\n-- recording probe: its cost over the production kernel (hot medians) --\n");
    for (const BenchShape& shape : recording_grid(options_.quick))
      for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
        if (!filter_matches(options_.filter, row_name(shape, version))) continue;
        if (over_budget()) {
          print_recording_line(row_name(shape, version) + "+record: skipped: time budget spent");
          continue;
        }
        run_recording_shape(shape, version);
        if (device_broken_) break;
      }
  }

  mark_auto_verdicts(rows_);
  if (!options_.csv_path.empty()) {
    std::ostringstream csv;
    write_csv_header(csv);
    for (const BenchRow& row : rows_) write_csv_row(csv, row, context_);
    pal::write_output_file(options_.csv_path, csv.str());  // temporary + rename: never a half-written table
  }
  if (!options_.markdown_path.empty()) {
    std::ostringstream markdown;
    write_markdown(markdown, rows_, context_);
    pal::write_output_file(options_.markdown_path, markdown.str());
  }
  write_summary(std::cout, rows_, context_);
  int measured = 0, skipped = 0;
  for (const BenchRow& row : rows_) {
    if (row.recording_probe) continue;
    if (!row.skipped.empty()) ++skipped;
    if (row.hot.count > 0) ++measured;
  }
  std::cout << "rows measured " << measured << ", skipped " << skipped << ", failures " << failures_
            << (device_broken_ ? " (device context broken: later rows not run)" : "") << "; wall "
            << format_fixed(elapsed_s(), 0) << " s" << std::endl;
  if (device_broken_) return kExitDeviceBroken;
  return failures_ > 0 ? kExitFailures : kExitOk;
}

// Joins names for a --help text: "v1, v2, auto".
std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace
}  // namespace pal::bench

int main(int argc, char** argv) {
  using namespace pal::bench;
  Options options;
  CLI::App app{"pal-bench: time the paged-attention kernel on the GPU and compare with upstream vLLM's and "
               "FlashInfer's figures measured on the same kind of GPU"};
  app.add_flag("--quick", options.quick, "A small subset of every grid (a smoke run of about a minute)");
  app.add_option("--csv", options.csv_path, "Write every row to this CSV file");
  app.add_option("--markdown", options.markdown_path, "Write every row as a Markdown table to this file");
  app.add_option("--filter", options.filter,
                 "Only rows whose name matches this regular expression, e.g. 'fp16/h128/bs16/32x32/b8/' or '/v2$'");
  app.add_option("--shapes", options.shapes_path,
                 "Time these shapes too (JSON, or CSV by its .csv extension; fields as in a scenario plus "
                 "context_len, see bench/shapes_file.h); without --sections, only the copy and these shapes run");
  CLI::Option* sections =
      app.add_option("--sections", options.sections, "Any of: copy primary secondary shapes recording")
          ->delimiter(',')
          ->check(CLI::IsMember({"copy", "primary", "secondary", "shapes", "recording"}));
  const std::vector<std::string> versions = selectable_versions();
  app.add_option("--versions", options.versions,
                 "Kernel versions: " + joined(versions) +
                     " (auto: the version this project's auto picks for each shape on this GPU; upstream's heuristic is "
                     "v1 iff max_seq_len <= 8192 and (one partition or num_seqs*num_heads > 512))")
      ->delimiter(',')
      ->check(CLI::IsMember(versions));
  app.add_option("--cold-method", options.cold_method,
                 "rotate: launches cycle through input copies larger than 3x L2; flush: a 256 MiB memset before "
                 "each timed launch; none")
      ->check(CLI::IsMember({"rotate", "flush", "none"}));
  app.add_option("--time-budget-s", options.time_budget_s,
                 "Wall-clock budget: shapes not started when it is spent are skipped (and listed)")
      ->check(CLI::PositiveNumber);
  app.add_option("--target-ms", options.sampling.target_ms, "GPU time per measurement before clamping the sample count")
      ->check(CLI::PositiveNumber);
  app.add_option("--min-samples", options.sampling.min_samples, "Fewest timed samples per measurement")
      ->check(CLI::Range(3, 1000));
  app.add_option("--max-samples", options.sampling.max_samples, "Most timed samples per measurement")
      ->check(CLI::Range(3, 1000));
  app.add_option("--launches-per-sample", options.sampling.launches_per_sample,
                 "Launches per timed graph replay (0: enough for --sample-target-us)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--sample-target-us", options.sampling.sample_target_us, "Aim for samples at least this long")
      ->check(CLI::PositiveNumber);
  app.add_option("--cold-l2-multiple", options.cold_l2_multiple, "Cold input copies together exceed this many L2s")
      ->check(CLI::Range(1.0, 100.0));
  app.add_option("--host-gen-max-mib", options.host_gen_max_mib,
                 "KV caches up to this size are generated on the host by core's generate_inputs; larger on the device")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-record-mib", options.max_record_mib, "Skip recording-probe shapes whose record is larger")
      ->check(CLI::PositiveNumber);
  app.add_option("--peak-tbs", options.peak_tbs,
                 "Peak memory bandwidth for the % columns (default: the vendor's figure for a GPU with upstream "
                 "figures, H200 4.8 and H100 SXM 3.35; else the driver's clock x bus width)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--memory-margin-mib", options.memory_margin_mib, "Device memory left unallocated")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", options.seed, "Seed of the inputs");
  app.add_option("--grouped-math", options.grouped_math,
                 "The grouped kernel's math path: auto (tensor cores for fp16/bf16, CUDA cores for fp32), tensor "
                 "or cuda (compiled for fp16/bf16 only at head 128, block 16 unless built with "
                 "-DPAL_CUDA_GROUPED_INSTANTIATIONS=full or -DPAL_CUDA_INSTANTIATIONS=full)")
      ->check(CLI::IsMember({"auto", "tensor", "cuda"}));
  app.add_option("--grouped-splits", options.grouped_splits,
                 "KV splits of the grouped kernel (0: its split planner chooses from the SM count and occupancy)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--grouped-min-split-tokens", options.grouped_min_split_tokens,
                 "The grouped split planner's shortest split, in tokens")
      ->check(CLI::Range(16, 1 << 20));
  if (auto exit_code = pal::parse_command_line(app, argc, argv)) return *exit_code;

  std::vector<UserShape> user_shapes;
  try {
    if (options.sampling.min_samples > options.sampling.max_samples)
      throw std::invalid_argument("--min-samples " + std::to_string(options.sampling.min_samples) +
                                  " is larger than --max-samples " + std::to_string(options.sampling.max_samples) +
                                  "; give min <= max");
    filter_matches(options.filter, "");  // reject a malformed expression before any GPU work
    // An output path that cannot be written is refused before minutes of timing, not after.
    for (const std::string& path : {options.csv_path, options.markdown_path})
      if (!path.empty()) pal::check_output_path(path);
    if (!options.shapes_path.empty()) {
      user_shapes = load_shapes_file(options.shapes_path);
      if (sections->count() == 0) options.sections = {"copy", "shapes"};
    }
    if (has_section(options, "shapes") && options.shapes_path.empty())
      throw std::invalid_argument("--sections shapes needs --shapes FILE");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pal-bench: %s\n", error.what());
    return kExitBadInput;
  }
  if (options.quick) {
    options.sampling.target_ms = std::min(options.sampling.target_ms, 20.0);
    options.sampling.min_samples = std::min(options.sampling.min_samples, 10);
  }
  try {
    std::string why_not;
    if (!pal::gpu_backend_available(&why_not)) {
      std::fprintf(stderr, "pal-bench needs a CUDA GPU: %s\n", why_not.c_str());
      return kExitNoGpu;
    }
    Benchmark benchmark(options, std::move(user_shapes));
    return benchmark.run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pal-bench: %s\n", error.what());
    return kExitFailures;
  }
}
