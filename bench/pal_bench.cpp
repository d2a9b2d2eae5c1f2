// pal-bench: times the GPU kernel (v1, v2 + reduce) over the anchor grid and a secondary sweep, and
// compares with upstream vLLM's kernels measured on an H100 (bench/upstream_anchors.h).
//
// Method (docs/performance/README.md says it at length):
//   - inputs are made once per shape (dtype, heads, head_size, block_size, batch, ctx): on the host
//     with core's generate_inputs while the KV cache is small, on the device beyond that;
//   - "hot": the same inputs launched back to back from a CUDA graph; each sample is one graph
//     replay of N launches timed by CUDA events, divided by N (N makes a sample >= ~200 us so the
//     event resolution does not matter); the median over samples is the result;
//   - "cold": launches rotate through copies of the inputs that together exceed 3x the L2 cache
//     (or, with --cold-method flush, a 256 MiB memset before each timed launch, outside the events);
//   - bytes: the unique K/V of every context once per KV head, plus q and out (bench_model.h);
//   - a device-to-device cudaMemcpy in the same run gives the practical bandwidth ceiling.
// The last lines printed are a compact summary against the upstream anchors.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_model.h"
#include "bench/device_inputs.h"
#include "bench/upstream_anchors.h"
#include "core/command_line.h"
#include "core/inputs.h"
#include "kernels/gpu_backend.h"
#include "kernels/launch_plan.h"
#include "kernels/recording.h"

namespace pal::bench {
namespace {

// ---- CUDA plumbing ----------------------------------------------------------------------------------

// Thrown for any failed CUDA call; `sticky` errors (illegal address, launch failure...) poison the
// context, so nothing after them can be measured.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw CudaError(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) +
                    ")");
}

constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr std::int64_t kGiB = std::int64_t{1} << 30;

std::string gib(std::int64_t bytes) { return format_fixed(double(bytes) / double(kGiB), 2) + " GiB"; }
std::string mib(std::int64_t bytes) { return format_fixed(double(bytes) / double(kMiB), 1) + " MiB"; }

class DeviceAllocation {
 public:
  DeviceAllocation() = default;
  explicit DeviceAllocation(std::int64_t bytes) : bytes_(bytes) {
    if (bytes > 0) check(cudaMalloc(&ptr_, std::size_t(bytes)), "cudaMalloc");
  }
  ~DeviceAllocation() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceAllocation(DeviceAllocation&& other) noexcept : ptr_(other.ptr_), bytes_(other.bytes_) {
    other.ptr_ = nullptr;
    other.bytes_ = 0;
  }
  DeviceAllocation& operator=(DeviceAllocation&& other) noexcept {
    if (this != &other) {
      if (ptr_) cudaFree(ptr_);
      ptr_ = other.ptr_;
      bytes_ = other.bytes_;
      other.ptr_ = nullptr;
      other.bytes_ = 0;
    }
    return *this;
  }
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;

  void* get() const { return ptr_; }
  std::int64_t bytes() const { return bytes_; }
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  std::int64_t bytes_ = 0;
};

DeviceAllocation upload(const Tensor& tensor, cudaStream_t stream) {
  DeviceAllocation allocation(std::int64_t(tensor.bytes.size()));
  if (!tensor.bytes.empty())
    check(cudaMemcpyAsync(allocation.get(), tensor.bytes.data(), tensor.bytes.size(), cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync host to device");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize after upload");  // the tensor may be freed next
  return allocation;
}

DeviceAllocation duplicate(const DeviceAllocation& source, cudaStream_t stream) {
  DeviceAllocation copy(source.bytes());
  if (source.bytes() > 0)
    check(cudaMemcpyAsync(copy.get(), source.get(), std::size_t(source.bytes()), cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync device to device (input copy)");
  return copy;
}

struct DeviceInfo {
  std::string name;
  int sm_count = 0;
  int compute_major = 0, compute_minor = 0;
  std::int64_t l2_bytes = 0;
  std::int64_t global_bytes = 0;
  std::int64_t shared_optin_bytes = 0;
  double attribute_peak_tbs = 0;  // memory clock x bus width x 2, as the driver reports them
};

DeviceInfo query_device() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  DeviceInfo info;
  info.name = prop.name;
  info.sm_count = prop.multiProcessorCount;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.l2_bytes = prop.l2CacheSize;
  info.global_bytes = std::int64_t(prop.totalGlobalMem);
  info.shared_optin_bytes = std::int64_t(prop.sharedMemPerBlockOptin);
  int memory_clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&memory_clock_khz, cudaDevAttrMemoryClockRate, device) == cudaSuccess &&
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) == cudaSuccess)
    info.attribute_peak_tbs = double(memory_clock_khz) * 1e3 * 2.0 * double(bus_bits) / 8.0 / 1e12;
  cudaGetLastError();  // an attribute this driver lacks is not an error worth keeping
  return info;
}

// A pool of event pairs created once: recording them back to back around every sample and reading
// them after one synchronisation keeps host round trips out of the timed stream.
class EventPairs {
 public:
  explicit EventPairs(int count) {
    starts_.resize(std::size_t(count));
    stops_.resize(std::size_t(count));
    for (int i = 0; i < count; ++i) {
      check(cudaEventCreate(&starts_[std::size_t(i)]), "cudaEventCreate");
      check(cudaEventCreate(&stops_[std::size_t(i)]), "cudaEventCreate");
    }
  }
  ~EventPairs() {
    for (cudaEvent_t event : starts_) cudaEventDestroy(event);
    for (cudaEvent_t event : stops_) cudaEventDestroy(event);
  }
  EventPairs(const EventPairs&) = delete;
  EventPairs& operator=(const EventPairs&) = delete;
  int size() const { return int(starts_.size()); }
  cudaEvent_t start(int i) const { return starts_[std::size_t(i)]; }
  cudaEvent_t stop(int i) const { return stops_[std::size_t(i)]; }
  double elapsed_us(int i) const {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start(i), stop(i)), "cudaEventElapsedTime");
    return double(ms) * 1e3;
  }

 private:
  std::vector<cudaEvent_t> starts_, stops_;
};

// A captured graph and its executable form, destroyed together.
class Graph {
 public:
  // Captures whatever `enqueue` puts on `stream`. Relaxed mode: the launch path may call
  // cudaFuncSetAttribute (v1 above 48 KB of shared memory), which is not a stream operation.
  Graph(cudaStream_t stream, const std::function<void(cudaStream_t)>& enqueue) {
    check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
    try {
      enqueue(stream);
    } catch (...) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(stream, &broken);  // leave capture mode before reporting
      if (broken) cudaGraphDestroy(broken);
      cudaGetLastError();
      throw;
    }
    check(cudaStreamEndCapture(stream, &graph_), "cudaStreamEndCapture");
    const cudaError_t status = cudaGraphInstantiate(&exec_, graph_, 0);
    if (status != cudaSuccess) {
      cudaGraphDestroy(graph_);  // the destructor does not run for a constructor that throws
      check(status, "cudaGraphInstantiate");
    }
  }
  ~Graph() {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
  }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  void launch(cudaStream_t stream) const { check(cudaGraphLaunch(exec_, stream), "cudaGraphLaunch"); }

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

// ---- options ----------------------------------------------------------------------------------------

struct Options {
  bool quick = false;
  std::string csv_path;
  std::string markdown_path;
  std::string filter;
  std::vector<std::string> sections = {"copy", "primary", "secondary", "recording"};
  std::vector<std::string> versions = {"v1", "v2"};
  std::string cold_method = "rotate";  // rotate | flush | none
  double time_budget_s = 330;
  double target_ms = 60;       // GPU time per measurement (hot or cold), before clamping samples
  int min_samples = 15;
  int max_samples = 200;
  double sample_target_us = 200;  // launches per sample: enough back-to-back work for this long
  int launches_per_sample = 0;    // 0: chosen from sample_target_us
  double cold_l2_multiple = 3.0;  // cold sets together exceed this many L2 caches
  int max_cold_sets = 128;
  double host_gen_max_mib = 64;   // KV caches up to this size come from core's generate_inputs
  double max_record_mib = 1024;
  double peak_tbs = kH100PeakTerabytesPerSecond;
  double memory_margin_mib = 1024;  // device memory left free for the context, graphs, the driver
  std::uint64_t seed = 1;
};

bool has_section(const Options& options, const std::string& section) {
  return std::find(options.sections.begin(), options.sections.end(), section) != options.sections.end();
}

// ---- one input set on the device --------------------------------------------------------------------

struct InputSet {
  DeviceAllocation query, key_cache, value_cache, block_tables, seq_lens;
};

struct Workspace {
  DeviceAllocation out, tmp_out, exp_sums, max_logits;
};

Workspace make_workspace(const BenchShape& shape) {
  const std::int64_t element = dtype_size_bytes(shape.dtype);
  const std::int64_t seq_heads = std::int64_t{shape.batch} * shape.num_heads;
  const std::int64_t partitions = (std::int64_t{shape.context_len} + kPartitionSize - 1) / kPartitionSize;
  Workspace workspace;
  workspace.out = DeviceAllocation(seq_heads * shape.head_size * element);
  workspace.tmp_out = DeviceAllocation(seq_heads * partitions * shape.head_size * element);
  workspace.exp_sums = DeviceAllocation(seq_heads * partitions * 4);
  workspace.max_logits = DeviceAllocation(seq_heads * partitions * 4);
  return workspace;
}

LaunchBuffers buffers_for(const InputSet& set, const Workspace& workspace) {
  LaunchBuffers buffers;
  buffers.out = workspace.out.get();
  buffers.tmp_out = workspace.tmp_out.get();
  buffers.exp_sums = workspace.exp_sums.as<float>();
  buffers.max_logits = workspace.max_logits.as<float>();
  buffers.q = set.query.get();
  buffers.k_cache = set.key_cache.get();
  buffers.v_cache = set.value_cache.get();
  buffers.block_tables = set.block_tables.as<int>();
  buffers.seq_lens = set.seq_lens.as<int>();
  buffers.alibi_slopes = nullptr;
  return buffers;
}

InputSet inputs_from_host(const Scenario& scenario, cudaStream_t stream) {
  const Inputs inputs = generate_inputs(scenario);
  InputSet set;
  set.query = upload(inputs.query, stream);
  set.key_cache = upload(inputs.key_cache, stream);
  set.value_cache = upload(inputs.value_cache, stream);
  set.block_tables = upload(inputs.block_tables, stream);
  set.seq_lens = upload(inputs.seq_lens, stream);
  return set;
}

InputSet inputs_on_device(const BenchShape& shape, const Scenario& scenario, cudaStream_t stream) {
  const std::int64_t element = dtype_size_bytes(shape.dtype);
  const std::int64_t query_count = std::int64_t{shape.batch} * shape.num_heads * shape.head_size;
  const std::int64_t cache_count = kv_cache_bytes(shape) / 2 / element;  // each of K and V
  const float range = float(1.0 / std::sqrt(double(shape.head_size)));
  InputSet set;
  set.query = DeviceAllocation(query_count * element);
  set.key_cache = DeviceAllocation(cache_count * element);
  set.value_cache = DeviceAllocation(cache_count * element);
  device_fill_uniform(set.query.get(), shape.dtype, query_count, range, scenario.seed * 3 + 0, stream);
  device_fill_uniform(set.key_cache.get(), shape.dtype, cache_count, range, scenario.seed * 3 + 1, stream);
  device_fill_uniform(set.value_cache.get(), shape.dtype, cache_count, range, scenario.seed * 3 + 2, stream);

  // Block table: a seeded shuffle of the pool handed out in order, as core's generator does, so
  // logical neighbours land on unrelated physical blocks. Only ints: small even for 128 x 32k.
  const int num_blocks = scenario.effective_num_blocks();
  const int blocks_per_seq = scenario.max_num_blocks_per_seq();
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  for (int i = 0; i < num_blocks; ++i) pool[std::size_t(i)] = i;
  SplitMix64 random(scenario.seed);
  for (std::size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[std::size_t(random.below(i))]);
  Tensor table(ElementType::i32, {shape.batch, blocks_per_seq});
  std::copy(pool.begin(), pool.begin() + std::ptrdiff_t(table.numel()), table.data<std::int32_t>());
  Tensor seq_lens(ElementType::i32, {shape.batch});
  std::fill_n(seq_lens.data<std::int32_t>(), shape.batch, shape.context_len);
  set.block_tables = upload(table, stream);
  set.seq_lens = upload(seq_lens, stream);
  check(cudaStreamSynchronize(stream), "device input generation");
  return set;
}

InputSet duplicate_set(const InputSet& source, cudaStream_t stream) {
  InputSet set;
  set.query = duplicate(source.query, stream);
  set.key_cache = duplicate(source.key_cache, stream);
  set.value_cache = duplicate(source.value_cache, stream);
  set.block_tables = duplicate(source.block_tables, stream);
  set.seq_lens = duplicate(source.seq_lens, stream);
  return set;
}

// ---- output sanity ----------------------------------------------------------------------------------

// Each output element is a softmax-weighted average of value elements, all drawn from
// [-range, range): it must be finite and inside that range (plus the dtype's rounding).
// Returns the output as floats, or throws with the first offending element's coordinates.
std::vector<float> read_output(const BenchShape& shape, const Workspace& workspace, cudaStream_t stream) {
  const std::int64_t count = std::int64_t{shape.batch} * shape.num_heads * shape.head_size;
  const ElementType type = element_type_of(shape.dtype);
  Tensor host(type, {count});
  check(cudaMemcpyAsync(host.bytes.data(), workspace.out.get(), host.bytes.size(), cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync output to host");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (output)");
  std::vector<float> values(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) values[std::size_t(i)] = host.get_float(i);
  return values;
}

// Relative spacing of the dtype (2^-mantissa_bits), for the tolerances below.
double dtype_epsilon(DType dtype) {
  switch (dtype) {
    case DType::fp16: return std::ldexp(1.0, -10);
    case DType::bf16: return std::ldexp(1.0, -7);
    case DType::fp32: break;
  }
  return std::ldexp(1.0, -23);
}

std::string check_output_range(const BenchShape& shape, const std::vector<float>& values) {
  const double range = 1.0 / std::sqrt(double(shape.head_size));
  const double bound = range * (1.0 + 4.0 * dtype_epsilon(shape.dtype));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double value = values[i];
    if (!std::isfinite(value) || std::fabs(value) > bound) {
      const std::size_t dim = i % std::size_t(shape.head_size);
      const std::size_t head = (i / std::size_t(shape.head_size)) % std::size_t(shape.num_heads);
      const std::size_t seq = i / std::size_t(shape.head_size) / std::size_t(shape.num_heads);
      return "FAIL: out(seq " + std::to_string(seq) + ", head " + std::to_string(head) + ", dim " +
             std::to_string(dim) + ") = " + format_fixed(value, 6) + " is not finite or outside +-" +
             format_fixed(bound, 6);
    }
  }
  return "ok";
}

// v1 and v2 compute the same function; v2 rounds each partition's output to the dtype before the
// reduce, so they differ by a few units of the dtype's last place at the values' scale.
std::string compare_versions(const BenchShape& shape, const std::vector<float>& v1, const std::vector<float>& v2) {
  const double range = 1.0 / std::sqrt(double(shape.head_size));
  const double tolerance = 8.0 * range * dtype_epsilon(shape.dtype);
  double worst = 0;
  std::size_t worst_index = 0;
  for (std::size_t i = 0; i < v1.size() && i < v2.size(); ++i) {
    const double difference = std::fabs(double(v1[i]) - double(v2[i]));
    if (difference > worst) {
      worst = difference;
      worst_index = i;
    }
  }
  if (worst <= tolerance) return "ok, v1=v2";
  return "FAIL: v1 and v2 differ by " + format_fixed(worst, 6) + " at flat index " + std::to_string(worst_index) +
         " (tolerance " + format_fixed(tolerance, 6) + ")";
}

// ---- the benchmark ----------------------------------------------------------------------------------

class Benchmark {
 public:
  explicit Benchmark(Options options)
      : options_(std::move(options)), events_(std::max(options_.max_samples, 64)), start_(Clock::now()) {
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    device_ = query_device();
    if (options_.cold_method == "flush") {
      flush_bytes_ = std::max<std::int64_t>(256 * kMiB, 4 * device_.l2_bytes);
      flush_ = DeviceAllocation(flush_bytes_);
    }
  }
  ~Benchmark() {
    flush_ = DeviceAllocation();
    if (stream_) cudaStreamDestroy(stream_);
  }
  Benchmark(const Benchmark&) = delete;
  Benchmark& operator=(const Benchmark&) = delete;

  int run();

 private:
  using Clock = std::chrono::steady_clock;

  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  bool over_budget() const { return elapsed_s() > options_.time_budget_s; }

  void print_header() const;
  void measure_copy_bandwidth();
  void run_shape(const BenchShape& shape, const std::vector<KernelVersion>& versions);
  void run_recording_shape(const BenchShape& shape, KernelVersion version);
  std::vector<KernelVersion> versions_for(const BenchShape& shape) const;

  double estimate_launch_us(const std::function<void(cudaStream_t)>& launch);
  int samples_for(double sample_us) const;
  int launches_per_sample(double launch_us) const;
  // Times `rounds` repetitions of `enqueue_round` (which issues `launches_per_round` launches) per
  // sample, from a graph; returns the per-launch time of each sample, in us.
  std::vector<double> time_graph(const std::function<void(cudaStream_t)>& enqueue_round, int launches_per_round,
                                 int rounds, int samples, bool flush_before_each);

  void add_row(BenchRow row);
  void skip_row(const BenchShape& shape, KernelVersion version, const std::string& reason);
  void handle_failure(const std::string& what, const std::exception& error);
  void print_summary() const;
  void write_markdown() const;

  Options options_;
  EventPairs events_;
  Clock::time_point start_;
  cudaStream_t stream_ = nullptr;
  DeviceInfo device_;
  std::int64_t flush_bytes_ = 0;
  DeviceAllocation flush_;
  double copy_tbs_ = 0;
  TimingSummary copy_;
  std::int64_t copy_bytes_ = 0;
  std::vector<BenchRow> rows_;
  std::vector<std::string> recording_lines_;
  bool device_broken_ = false;
  int failures_ = 0;
};

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
              mib(device_.l2_bytes).c_str(), gib(device_.global_bytes).c_str(),
              static_cast<long long>(device_.shared_optin_bytes));
  std::printf("CUDA runtime %d, driver %d; peak used for %%: %.2f TB/s (the driver's clock x bus width gives %.2f)\n",
              runtime, driver, options_.peak_tbs, device_.attribute_peak_tbs);
  std::printf("cold method: %s; hot: CUDA graph replays, median over samples; budget %.0f s%s\n",
              options_.cold_method.c_str(), options_.time_budget_s, options_.quick ? "; --quick" : "");
  std::fflush(stdout);
}

void Benchmark::measure_copy_bandwidth() {
  std::size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  copy_bytes_ = std::min<std::int64_t>(kGiB, std::int64_t(free_bytes) / 4);
  DeviceAllocation source(copy_bytes_), destination(copy_bytes_);
  check(cudaMemsetAsync(source.get(), 0x3c, std::size_t(copy_bytes_), stream_), "cudaMemsetAsync");
  for (int i = 0; i < 3; ++i)
    check(cudaMemcpyAsync(destination.get(), source.get(), std::size_t(copy_bytes_), cudaMemcpyDeviceToDevice, stream_),
          "cudaMemcpyAsync device to device");
  const int samples = std::min(30, events_.size());
  for (int i = 0; i < samples; ++i) {
    check(cudaEventRecord(events_.start(i), stream_), "cudaEventRecord");
    check(cudaMemcpyAsync(destination.get(), source.get(), std::size_t(copy_bytes_), cudaMemcpyDeviceToDevice, stream_),
          "cudaMemcpyAsync device to device");
    check(cudaEventRecord(events_.stop(i), stream_), "cudaEventRecord");
  }
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (copy)");
  std::vector<double> times;
  for (int i = 0; i < samples; ++i) times.push_back(events_.elapsed_us(i));
  copy_ = summarize(times);
  // A copy reads and writes every byte once: both count toward the memory system's traffic.
  copy_tbs_ = terabytes_per_second(2 * copy_bytes_, copy_.median);
  std::printf("device-to-device copy: %s each way, median %.1f us (p10 %.1f, p90 %.1f): %.3f TB/s read+write, "
              "%.1f%% of %.2f TB/s\n",
              mib(copy_bytes_).c_str(), copy_.median, copy_.p10, copy_.p90, copy_tbs_,
              100 * copy_tbs_ / options_.peak_tbs, options_.peak_tbs);
  std::fflush(stdout);
}

double Benchmark::estimate_launch_us(const std::function<void(cudaStream_t)>& launch) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    check(cudaEventRecord(events_.start(i), stream_), "cudaEventRecord");
    launch(stream_);
    check(cudaEventRecord(events_.stop(i), stream_), "cudaEventRecord");
  }
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (estimate)");
  for (int i = 0; i < 3; ++i) best = std::min(best, events_.elapsed_us(i));
  return std::max(best, 1.0);
}

int Benchmark::launches_per_sample(double launch_us) const {
  if (options_.launches_per_sample > 0) return options_.launches_per_sample;
  return std::clamp(int(std::ceil(options_.sample_target_us / launch_us)), 1, 64);
}

int Benchmark::samples_for(double sample_us) const {
  const int wanted = int(std::ceil(options_.target_ms * 1e3 / std::max(sample_us, 1.0)));
  return std::clamp(wanted, options_.min_samples, std::min(options_.max_samples, events_.size()));
}

std::vector<double> Benchmark::time_graph(const std::function<void(cudaStream_t)>& enqueue_round,
                                          int launches_per_round, int rounds, int samples, bool flush_before_each) {
  const Graph graph(stream_, [&](cudaStream_t stream) {
    for (int round = 0; round < rounds; ++round) enqueue_round(stream);
  });
  // Warm-up: module load, first-touch of the graph, clocks ramping up.
  for (int i = 0; i < 3; ++i) graph.launch(stream_);
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (warm-up)");
  for (int i = 0; i < samples; ++i) {
    if (flush_before_each)  // evicts the inputs from L2; outside the timed events
      check(cudaMemsetAsync(flush_.get(), i & 0xff, std::size_t(flush_bytes_), stream_), "cudaMemsetAsync (flush)");
    check(cudaEventRecord(events_.start(i), stream_), "cudaEventRecord");
    graph.launch(stream_);
    check(cudaEventRecord(events_.stop(i), stream_), "cudaEventRecord");
  }
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (samples)");
  std::vector<double> per_launch;
  const double launches = double(launches_per_round) * rounds;
  for (int i = 0; i < samples; ++i) per_launch.push_back(events_.elapsed_us(i) / launches);
  return per_launch;
}

std::vector<KernelVersion> Benchmark::versions_for(const BenchShape& shape) const {
  bool v1 = false, v2 = false;
  for (const std::string& version : options_.versions) {
    if (version == "v1") v1 = true;
    if (version == "v2") v2 = true;
    if (version == "auto") (upstream_pick(shape) == KernelVersion::v1 ? v1 : v2) = true;
  }
  std::vector<KernelVersion> versions;
  if (v1) versions.push_back(KernelVersion::v1);
  if (v2) versions.push_back(KernelVersion::v2);
  return versions;
}

void Benchmark::add_row(BenchRow row) {
  if (row.check.rfind("FAIL", 0) == 0) ++failures_;
  std::printf("%s\n", table_line(row, options_.peak_tbs).c_str());
  std::fflush(stdout);
  rows_.push_back(std::move(row));
}

void Benchmark::skip_row(const BenchShape& shape, KernelVersion version, const std::string& reason) {
  BenchRow row;
  row.shape = shape;
  row.version = version;
  row.upstream_picks = upstream_pick(shape) == version;
  row.bytes = unique_bytes(shape);
  const UpstreamAnchor* anchor = find_upstream_anchor(shape.dtype == DType::fp16, shape.head_size, shape.block_size,
                                                      shape.num_heads, shape.num_kv_heads, shape.batch,
                                                      shape.context_len, version == KernelVersion::v1 ? 1 : 2);
  if (anchor) row.anchor_us = anchor->time_us;
  row.skipped = reason;
  add_row(std::move(row));
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

void Benchmark::run_shape(const BenchShape& shape, const std::vector<KernelVersion>& versions) {
  // Everything that decides "skip" before any allocation.
  if (!gpu_config_compiled(shape.dtype, shape.head_size, shape.block_size)) {
    for (KernelVersion version : versions)
      skip_row(shape, version, "this build did not compile dtype/head_size/block_size " +
                                   std::string(dtype_name(shape.dtype)) + "/" + std::to_string(shape.head_size) +
                                   "/" + std::to_string(shape.block_size) +
                                   " (configure with -DPAL_CUDA_INSTANTIATIONS=full)");
    return;
  }
  std::vector<KernelVersion> runnable;
  for (KernelVersion version : versions) {
    const LaunchShape launch = make_launch_shape(make_scenario(shape, version, options_.seed), version);
    // Static shared memory on top of the dynamic part: q_vecs (one head of q) and red_smem.
    const std::int64_t static_bytes =
        std::int64_t{shape.head_size} * dtype_size_bytes(shape.dtype) + 2 * (kNumThreads / 32) * 4;
    const std::int64_t needed = std::int64_t(launch.main_shared_memory_bytes()) + static_bytes;
    if (needed > device_.shared_optin_bytes)
      skip_row(shape, version, "needs " + std::to_string(needed) + " B of shared memory per thread block; this GPU allows " +
                                   std::to_string(device_.shared_optin_bytes));
    else
      runnable.push_back(version);
  }
  if (runnable.empty()) return;

  std::size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  const std::int64_t usable = std::int64_t(free_bytes) - std::int64_t(options_.memory_margin_mib * double(kMiB));
  const std::int64_t set_bytes = input_set_bytes(shape);
  const std::int64_t work_bytes = workspace_bytes(shape);
  if (set_bytes + work_bytes > usable) {
    for (KernelVersion version : runnable)
      skip_row(shape, version, "needs " + gib(set_bytes + work_bytes) + " of device memory; " +
                                   gib(std::max<std::int64_t>(usable, 0)) + " usable (" + gib(std::int64_t(free_bytes)) +
                                   " free minus the margin)");
    return;
  }

  // Cold rotation: enough copies that the inputs of one launch were evicted from L2 by the others.
  const double cold_target = options_.cold_l2_multiple * double(device_.l2_bytes);
  const std::int64_t kv_bytes = kv_cache_bytes(shape);
  int cold_sets_wanted = 1;
  if (options_.cold_method == "rotate")
    cold_sets_wanted = std::clamp(int(std::ceil(cold_target / double(kv_bytes))), 1, options_.max_cold_sets);
  const int cold_sets_fit = int(std::max<std::int64_t>((usable - work_bytes) / set_bytes, 1));
  const int cold_sets = std::min(cold_sets_wanted, cold_sets_fit);

  const bool on_host = double(kv_bytes) <= options_.host_gen_max_mib * double(kMiB);
  const auto generation_start = Clock::now();
  std::vector<InputSet> sets;
  sets.push_back(on_host ? inputs_from_host(make_scenario(shape, KernelVersion::v1, options_.seed), stream_)
                         : inputs_on_device(shape, make_scenario(shape, KernelVersion::v1, options_.seed), stream_));
  for (int i = 1; i < cold_sets; ++i) sets.push_back(duplicate_set(sets.front(), stream_));
  const Workspace workspace = make_workspace(shape);
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (inputs)");
  const double generation_s = std::chrono::duration<double>(Clock::now() - generation_start).count();
  if (generation_s > 2.0)
    std::printf("  (inputs for %s: %.1f s on the %s)\n", shape.name().c_str(), generation_s,
                on_host ? "host" : "device");

  std::map<KernelVersion, std::vector<float>> outputs;
  for (KernelVersion version : runnable) {
    const std::string name = row_name(shape, version);
    try {
      const LaunchShape launch = make_launch_shape(make_scenario(shape, version, options_.seed), version);
      const LaunchBuffers first = buffers_for(sets.front(), workspace);
      const auto launch_first = [&](cudaStream_t stream) { gpu_launch_production(launch, first, stream); };

      BenchRow row;
      row.shape = shape;
      row.version = version;
      row.upstream_picks = upstream_pick(shape) == version;
      row.input_source = on_host ? "host" : "device";
      row.bytes = unique_bytes(shape);
      const UpstreamAnchor* anchor =
          find_upstream_anchor(shape.dtype == DType::fp16, shape.head_size, shape.block_size, shape.num_heads,
                               shape.num_kv_heads, shape.batch, shape.context_len, version == KernelVersion::v1 ? 1 : 2);
      if (anchor) row.anchor_us = anchor->time_us;

      // One checked launch on poisoned output first: errors surface here, not inside a graph.
      check(cudaMemsetAsync(workspace.out.get(), 0xFF, std::size_t(workspace.out.bytes()), stream_), "cudaMemsetAsync");
      launch_first(stream_);
      check(cudaStreamSynchronize(stream_), "first launch");
      outputs[version] = read_output(shape, workspace, stream_);
      row.check = check_output_range(shape, outputs[version]);
      if (version == KernelVersion::v2 && outputs.count(KernelVersion::v1) && row.check == "ok")
        row.check = compare_versions(shape, outputs[KernelVersion::v1], outputs[version]);

      // Hot: the same inputs back to back.
      const double estimate_us = estimate_launch_us(launch_first);
      const int per_sample = launches_per_sample(estimate_us);
      row.hot_launches_per_sample = per_sample;
      row.hot = summarize(time_graph(launch_first, 1, per_sample, samples_for(estimate_us * per_sample), false));

      // Cold.
      if (options_.cold_method == "none") {
        row.cold_method = "not measured";
      } else if (options_.cold_method == "flush") {
        row.cold = summarize(time_graph(launch_first, 1, 1, samples_for(estimate_us + 100), true));
        row.cold_method = "flush " + mib(flush_bytes_) + " before each launch";
      } else if (cold_sets_wanted == 1) {
        row.cold_method = "=hot: one input set is over " + format_fixed(options_.cold_l2_multiple, 0) + "x L2";
      } else {
        const auto launch_all_sets = [&](cudaStream_t stream) {
          for (const InputSet& set : sets) gpu_launch_production(launch, buffers_for(set, workspace), stream);
        };
        const int sets_count = int(sets.size());
        const int rounds = std::max(1, per_sample / sets_count);
        row.cold = summarize(time_graph(launch_all_sets, sets_count, rounds,
                                        samples_for(estimate_us * sets_count * rounds), false));
        row.cold_method = "rotate " + std::to_string(sets_count) + " sets";
        if (sets_count < cold_sets_wanted)
          row.cold_method += " (wanted " + std::to_string(cold_sets_wanted) + "; memory)";
      }
      add_row(std::move(row));
    } catch (const std::exception& error) {
      handle_failure(name, error);
      if (device_broken_) return;
    }
  }
}

void Benchmark::run_recording_shape(const BenchShape& shape, KernelVersion version) {
  const std::string name = row_name(shape, version) + "+record";
  if (!gpu_config_compiled(shape.dtype, shape.head_size, shape.block_size)) {
    recording_lines_.push_back(name + ": skipped: configuration not compiled in this build");
    std::printf("%s\n", recording_lines_.back().c_str());
    return;
  }
  const Scenario scenario = make_scenario(shape, version, options_.seed);
  const RecordLayout layout = record_layout(record_dims(scenario));
  if (double(layout.total_bytes) > options_.max_record_mib * double(kMiB)) {
    recording_lines_.push_back(name + ": skipped: the recording would take " + mib(std::int64_t(layout.total_bytes)) +
                               " (over --max-record-mib " + format_fixed(options_.max_record_mib, 0) + ")");
    std::printf("%s\n", recording_lines_.back().c_str());
    return;
  }
  try {
    const InputSet set = inputs_from_host(scenario, stream_);
    const Workspace workspace = make_workspace(shape);
    DeviceAllocation record(std::int64_t(layout.total_bytes));
    // The 0xFF start of every recording (an unwritten float reads NaN); the kernel overwrites what
    // it records on every launch, so one fill serves all timed launches.
    check(cudaMemsetAsync(record.get(), 0xFF, layout.total_bytes, stream_), "cudaMemsetAsync (record)");
    const RecordPointers pointers = layout.pointers(static_cast<std::byte*>(record.get()));
    const LaunchShape launch = make_launch_shape(scenario, version);
    const LaunchBuffers buffers = buffers_for(set, workspace);
    const auto production = [&](cudaStream_t stream) { gpu_launch_production(launch, buffers, stream); };
    const auto recording = [&](cudaStream_t stream) { gpu_launch_recording(launch, buffers, pointers, stream); };
    production(stream_);
    recording(stream_);
    check(cudaStreamSynchronize(stream_), "first launches");

    const double production_estimate = estimate_launch_us(production);
    const double recording_estimate = estimate_launch_us(recording);
    const int production_per_sample = launches_per_sample(production_estimate);
    const int recording_per_sample = launches_per_sample(recording_estimate);
    const TimingSummary production_time = summarize(time_graph(
        production, 1, production_per_sample, samples_for(production_estimate * production_per_sample), false));
    const TimingSummary recording_time = summarize(time_graph(
        recording, 1, recording_per_sample, samples_for(recording_estimate * recording_per_sample), false));

    BenchRow row;
    row.shape = shape;
    row.version = version;
    row.upstream_picks = upstream_pick(shape) == version;
    row.input_source = "host";
    row.bytes = unique_bytes(shape);
    row.hot = recording_time;
    row.hot_launches_per_sample = recording_per_sample;
    row.recording_probe = true;
    row.cold_method = "not measured";
    row.check = "recording probe: " + mib(std::int64_t(layout.total_bytes)) + " record, production " +
                format_fixed(production_time.median, 1) + " us, x" +
                format_fixed(recording_time.median / production_time.median, 1);
    char line[512];
    std::snprintf(line, sizeof line, "%-40s production %9.1f us   recording %10.1f us   x%6.1f   record %s", name.c_str(),
                  production_time.median, recording_time.median, recording_time.median / production_time.median,
                  mib(std::int64_t(layout.total_bytes)).c_str());
    recording_lines_.push_back(line);
    std::printf("%s\n", line);
    std::fflush(stdout);
    rows_.push_back(std::move(row));  // in the CSV and Markdown as "<name>+record"
  } catch (const std::exception& error) {
    handle_failure(name, error);
  }
}

void Benchmark::print_summary() const {
  std::printf("\n== pal-bench summary: hot medians vs upstream vLLM on an H100 (ratio = ours / upstream; "
              "< 1 is faster) ==\n");
  std::printf("device %s; copy ceiling %.2f TB/s (%.0f%% of %.2f)\n", device_.name.c_str(), copy_tbs_,
              100 * copy_tbs_ / options_.peak_tbs, options_.peak_tbs);
  std::printf("%-30s %-3s %-4s %9s %9s %6s %5s %5s\n", "shape", "ver", "pick", "ours us", "vllm us", "ratio", "%pk",
              "vllm%");
  double log_sum = 0, log_sum_picked = 0;
  int anchored = 0, anchored_picked = 0, measured = 0, skipped = 0;
  for (const BenchRow& row : rows_) {
    if (row.recording_probe) continue;
    if (!row.skipped.empty()) ++skipped;
    if (row.hot.count > 0) ++measured;
    if (!row.anchor_us) continue;
    const UpstreamAnchor* anchor =
        find_upstream_anchor(true, row.shape.head_size, row.shape.block_size, row.shape.num_heads,
                             row.shape.num_kv_heads, row.shape.batch, row.shape.context_len,
                             row.version == KernelVersion::v1 ? 1 : 2);
    const std::string shape = row.shape.name().substr(std::string("fp16/h128/bs16/").size());
    if (row.hot.count == 0) {
      std::printf("%-30s %-3s %-4s %9s %9.1f %6s %5s %5.0f  (%s)\n", shape.c_str(),
                  std::string(version_name(row.version)).c_str(), row.upstream_picks ? "yes" : "no", "-",
                  *row.anchor_us, "-", "-", anchor ? anchor->percent_of_peak : 0.0,
                  row.skipped.empty() ? "failed" : "skipped");
      continue;
    }
    const double ratio = row.hot.median / *row.anchor_us;
    log_sum += std::log(ratio);
    ++anchored;
    if (row.upstream_picks) {
      log_sum_picked += std::log(ratio);
      ++anchored_picked;
    }
    std::printf("%-30s %-3s %-4s %9.1f %9.1f %6.2f %5.0f %5.0f%s\n", shape.c_str(),
                std::string(version_name(row.version)).c_str(), row.upstream_picks ? "yes" : "no", row.hot.median,
                *row.anchor_us, ratio, 100 * hot_tbs(row) / options_.peak_tbs, anchor ? anchor->percent_of_peak : 0.0,
                row.check.rfind("FAIL", 0) == 0 ? "  CHECK FAILED" : "");
  }
  if (anchored > 0)
    std::printf("geometric-mean ratio over %d anchored rows: %.3f; over the %d rows upstream's heuristic picks: %.3f\n",
                anchored, std::exp(log_sum / anchored), anchored_picked,
                anchored_picked ? std::exp(log_sum_picked / anchored_picked) : 0.0);
  std::printf("rows measured %d, skipped %d, failures %d%s; wall %.0f s\n", measured, skipped, failures_,
              device_broken_ ? " (device context broken: later rows not run)" : "", elapsed_s());
}

void Benchmark::write_markdown() const {
  if (options_.markdown_path.empty()) return;
  std::ofstream out(options_.markdown_path);
  if (!out) throw std::runtime_error("cannot write --markdown file '" + options_.markdown_path + "'");
  out << "# pal-bench results\n\n"
      << "- device: " << device_.name << ", " << device_.sm_count << " SMs, L2 " << mib(device_.l2_bytes) << "\n"
      << "- device-to-device copy: " << format_fixed(copy_tbs_, 3) << " TB/s read+write (median of " << copy_.count
      << ", " << mib(copy_bytes_) << " each way)\n"
      << "- % of peak uses " << format_fixed(options_.peak_tbs, 2) << " TB/s; bytes = unique K/V per KV head + q + out\n"
      << "- hot: CUDA-graph replays of back-to-back launches on one input set; cold: " << options_.cold_method << "\n\n"
      << "| shape | ver | pick | hot µs (median) | p10–p90 | TB/s | % peak | cold µs | cold TB/s | upstream µs | ratio | check |\n"
      << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const BenchRow& row : rows_) {
    out << "| " << row.shape.name() << " | " << version_name(row.version) << (row.recording_probe ? "+record" : "")
        << " | " << (row.upstream_picks ? "yes" : "no")
        << " | ";
    if (!row.skipped.empty()) {
      out << "skipped: " << row.skipped << " | | | | | | " << (row.anchor_us ? format_fixed(*row.anchor_us, 1) : "")
          << " | | |\n";
      continue;
    }
    out << format_fixed(row.hot.median, 1) << " | " << format_fixed(row.hot.p10, 1) << "–"
        << format_fixed(row.hot.p90, 1) << " | " << format_fixed(hot_tbs(row), 2) << " | "
        << format_fixed(100 * hot_tbs(row) / options_.peak_tbs, 1) << " | "
        << (row.cold.count ? format_fixed(row.cold.median, 1) : "-") << " | "
        << (row.cold.count ? format_fixed(cold_tbs(row), 2) : "-") << " | "
        << (row.anchor_us ? format_fixed(*row.anchor_us, 1) : "-") << " | "
        << (row.anchor_us ? format_fixed(row.hot.median / *row.anchor_us, 2) : "-") << " | " << row.check << " |\n";
  }
}

int Benchmark::run() {
  print_header();
  if (has_section(options_, "copy")) {
    try {
      measure_copy_bandwidth();
    } catch (const std::exception& error) {
      handle_failure("device-to-device copy", error);
    }
  }

  std::vector<std::pair<std::string, std::vector<BenchShape>>> sections;
  if (has_section(options_, "primary")) sections.emplace_back("primary", primary_grid(options_.quick));
  if (has_section(options_, "secondary")) sections.emplace_back("secondary", secondary_grid(options_.quick));
  for (const auto& [section, shapes] : sections) {
    std::printf("\n-- %s grid --\n%s\n", section.c_str(), table_header().c_str());
    for (const BenchShape& shape : shapes) {
      std::vector<KernelVersion> versions;
      for (KernelVersion version : versions_for(shape))
        if (filter_matches(options_.filter, row_name(shape, version))) versions.push_back(version);
      if (versions.empty()) continue;
      if (device_broken_) {
        for (KernelVersion version : versions) skip_row(shape, version, "not run: the device failed in an earlier row");
        continue;
      }
      if (over_budget()) {
        for (KernelVersion version : versions)
          skip_row(shape, version, "time budget of " + format_fixed(options_.time_budget_s, 0) + " s spent (--time-budget-s)");
        continue;
      }
      try {
        run_shape(shape, versions);
      } catch (const std::exception& error) {
        handle_failure(shape.name(), error);
      }
    }
  }

  if (has_section(options_, "recording") && !device_broken_) {
    std::printf("\n-- recording probe: its cost over the production kernel (hot medians) --\n");
    for (const BenchShape& shape : recording_grid(options_.quick))
      for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
        if (!filter_matches(options_.filter, row_name(shape, version))) continue;
        if (over_budget()) {
          recording_lines_.push_back(row_name(shape, version) + "+record: skipped: time budget spent");
          std::printf("%s\n", recording_lines_.back().c_str());
          continue;
        }
        run_recording_shape(shape, version);
        if (device_broken_) break;
      }
  }

  if (!options_.csv_path.empty()) {
    std::ofstream csv(options_.csv_path);
    if (!csv) throw std::runtime_error("cannot write --csv file '" + options_.csv_path + "'");
    write_csv_header(csv);
    for (const BenchRow& row : rows_) write_csv_row(csv, row, options_.peak_tbs, copy_tbs_);
  }
  write_markdown();
  print_summary();
  if (device_broken_) return 2;
  return failures_ > 0 ? 1 : 0;
}

}  // namespace
}  // namespace pal::bench

int main(int argc, char** argv) {
  using pal::bench::Options;
  Options options;
  CLI::App app{"pal-bench: time the paged-attention kernel on the GPU and compare with upstream vLLM's H100 figures"};
  app.add_flag("--quick", options.quick, "A small subset of every grid (a smoke run of about a minute)");
  app.add_option("--csv", options.csv_path, "Write every row to this CSV file");
  app.add_option("--markdown", options.markdown_path, "Write every row as a Markdown table to this file");
  app.add_option("--filter", options.filter,
                 "Only rows whose name matches this regular expression, e.g. 'fp16/h128/bs16/32x32/b8/' or '/v2$'");
  app.add_option("--sections", options.sections, "Any of: copy primary secondary recording")
      ->delimiter(',')
      ->check(CLI::IsMember({"copy", "primary", "secondary", "recording"}));
  app.add_option("--versions", options.versions,
                 "Kernel versions: v1, v2, auto (upstream's heuristic: v1 iff max_seq_len <= 8192 and "
                 "(one partition or num_seqs*num_heads > 512))")
      ->delimiter(',')
      ->check(CLI::IsMember({"v1", "v2", "auto"}));
  app.add_option("--cold-method", options.cold_method,
                 "rotate: launches cycle through input copies larger than 3x L2; flush: a 256 MiB memset before "
                 "each timed launch; none")
      ->check(CLI::IsMember({"rotate", "flush", "none"}));
  app.add_option("--time-budget-s", options.time_budget_s,
                 "Wall-clock budget: shapes not started when it is spent are skipped (and listed)")
      ->check(CLI::PositiveNumber);
  app.add_option("--target-ms", options.target_ms, "GPU time per measurement before clamping the sample count")
      ->check(CLI::PositiveNumber);
  app.add_option("--min-samples", options.min_samples, "Fewest timed samples per measurement")->check(CLI::Range(3, 1000));
  app.add_option("--max-samples", options.max_samples, "Most timed samples per measurement")->check(CLI::Range(3, 1000));
  app.add_option("--launches-per-sample", options.launches_per_sample,
                 "Launches per timed graph replay (0: enough for --sample-target-us)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--sample-target-us", options.sample_target_us, "Aim for samples at least this long")
      ->check(CLI::PositiveNumber);
  app.add_option("--cold-l2-multiple", options.cold_l2_multiple, "Cold input copies together exceed this many L2s")
      ->check(CLI::Range(1.0, 100.0));
  app.add_option("--host-gen-max-mib", options.host_gen_max_mib,
                 "KV caches up to this size are generated on the host by core's generate_inputs; larger on the device")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-record-mib", options.max_record_mib, "Skip recording-probe shapes whose record is larger")
      ->check(CLI::PositiveNumber);
  app.add_option("--peak-tbs", options.peak_tbs, "Peak memory bandwidth for the % columns (H100 SXM: 3.35)")
      ->check(CLI::PositiveNumber);
  app.add_option("--memory-margin-mib", options.memory_margin_mib, "Device memory left unallocated")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", options.seed, "Seed of the inputs");
  if (auto exit_code = pal::parse_command_line(app, argc, argv)) return *exit_code;
  if (options.min_samples > options.max_samples) {
    std::fprintf(stderr, "--min-samples %d is larger than --max-samples %d; give min <= max\n", options.min_samples,
                 options.max_samples);
    return 64;
  }
  if (options.quick) {
    options.target_ms = std::min(options.target_ms, 20.0);
    options.min_samples = std::min(options.min_samples, 10);
  }
  try {
    pal::bench::filter_matches(options.filter, "");  // reject a malformed expression before any GPU work
    std::string why_not;
    if (!pal::gpu_backend_available(&why_not)) {
      std::fprintf(stderr, "pal-bench needs a CUDA GPU: %s\n", why_not.c_str());
      return 3;
    }
    pal::bench::Benchmark benchmark(options);
    return benchmark.run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pal-bench: %s\n", error.what());
    return 1;
  }
}
