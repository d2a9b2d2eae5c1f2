#include "bench/timing.h"

#include <algorithm>
#include <cmath>

namespace pal::bench {

// ---- plumbing ---------------------------------------------------------------------------------------

EventPairs::EventPairs(int count) {
  starts_.resize(std::size_t(count));
  stops_.resize(std::size_t(count));
  for (int i = 0; i < count; ++i) {
    throw_on_cuda_error(cudaEventCreate(&starts_[std::size_t(i)]), "cudaEventCreate");
    throw_on_cuda_error(cudaEventCreate(&stops_[std::size_t(i)]), "cudaEventCreate");
  }
}

EventPairs::~EventPairs() {
  for (cudaEvent_t event : starts_)
    if (event) cudaEventDestroy(event);
  for (cudaEvent_t event : stops_)
    if (event) cudaEventDestroy(event);
}

double EventPairs::elapsed_us(int i) const {
  float ms = 0;
  throw_on_cuda_error(cudaEventElapsedTime(&ms, start(i), stop(i)), "cudaEventElapsedTime");
  return double(ms) * 1e3;
}

Graph::Graph(cudaStream_t stream, const Enqueue& enqueue) {
  throw_on_cuda_error(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  try {
    enqueue(stream);
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream, &broken);  // leave capture mode before reporting
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    throw;
  }
  throw_on_cuda_error(cudaStreamEndCapture(stream, &graph_), "cudaStreamEndCapture");
  const cudaError_t status = cudaGraphInstantiate(&exec_, graph_, 0);
  if (status != cudaSuccess) {
    cudaGraphDestroy(graph_);  // the destructor does not run for a constructor that throws
    throw_on_cuda_error(status, "cudaGraphInstantiate");
  }
}

Graph::~Graph() {
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
}

void Graph::launch(cudaStream_t stream) const { throw_on_cuda_error(cudaGraphLaunch(exec_, stream), "cudaGraphLaunch"); }

GpuTimer::GpuTimer(cudaStream_t stream, const SamplingOptions& options)
    : stream_(stream), options_(options), events_(std::max(options.max_samples, 64)) {}

double GpuTimer::estimate_launch_us(const Enqueue& launch) {
  for (int i = 0; i < 3; ++i) {
    throw_on_cuda_error(cudaEventRecord(events_.start(i), stream_), "cudaEventRecord");
    launch(stream_);
    throw_on_cuda_error(cudaEventRecord(events_.stop(i), stream_), "cudaEventRecord");
  }
  throw_on_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (estimate)");
  double best = 1e30;
  for (int i = 0; i < 3; ++i) best = std::min(best, events_.elapsed_us(i));
  return std::max(best, 1.0);
}

int GpuTimer::launches_per_sample(double launch_us) const {
  if (options_.launches_per_sample > 0) return options_.launches_per_sample;
  return std::clamp(int(std::ceil(options_.sample_target_us / launch_us)), 1, 64);
}

int GpuTimer::samples_for(double sample_us) const {
  const int wanted = int(std::ceil(options_.target_ms * 1e3 / std::max(sample_us, 1.0)));
  return std::clamp(wanted, options_.min_samples, std::min(options_.max_samples, events_.size()));
}

std::vector<double> GpuTimer::time_graph(const Enqueue& enqueue_round, int launches_per_round, int rounds,
                                         int samples, const DeviceBuffer* flush_before_each) {
  const Graph graph(stream_, [&](cudaStream_t stream) {
    for (int round = 0; round < rounds; ++round) enqueue_round(stream);
  });
  // Warm-up: module load, first touch of the graph, clocks ramping up.
  for (int i = 0; i < 3; ++i) graph.launch(stream_);
  throw_on_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (warm-up)");
  for (int i = 0; i < samples; ++i) {
    if (flush_before_each)  // evicts the inputs from L2; outside the timed events
      throw_on_cuda_error(cudaMemsetAsync(flush_before_each->get(), i & 0xff, flush_before_each->bytes(), stream_),
                          "cudaMemsetAsync (flush)");
    throw_on_cuda_error(cudaEventRecord(events_.start(i), stream_), "cudaEventRecord");
    graph.launch(stream_);
    throw_on_cuda_error(cudaEventRecord(events_.stop(i), stream_), "cudaEventRecord");
  }
  throw_on_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (samples)");
  std::vector<double> per_launch;
  const double launches = double(launches_per_round) * rounds;
  for (int i = 0; i < samples; ++i) per_launch.push_back(events_.elapsed_us(i) / launches);
  return per_launch;
}

// ---- hot ----------------------------------------------------------------------------------------------

HotTiming GpuTimer::time_hot(const Enqueue& launch) {
  HotTiming hot;
  hot.estimate_us = estimate_launch_us(launch);
  hot.launches_per_sample = launches_per_sample(hot.estimate_us);
  hot.time = summarize(
      time_graph(launch, 1, hot.launches_per_sample, samples_for(hot.estimate_us * hot.launches_per_sample), nullptr));
  return hot;
}

// ---- cold ---------------------------------------------------------------------------------------------

TimingSummary GpuTimer::time_cold_rotating(const std::function<void(cudaStream_t, int)>& launch_on_set, int num_sets,
                                           const HotTiming& hot) {
  const auto one_round = [&](cudaStream_t stream) {
    for (int set = 0; set < num_sets; ++set) launch_on_set(stream, set);
  };
  const int rounds = std::max(1, hot.launches_per_sample / num_sets);
  return summarize(time_graph(one_round, num_sets, rounds, samples_for(hot.estimate_us * num_sets * rounds), nullptr));
}

TimingSummary GpuTimer::time_cold_flushed(const Enqueue& launch, const HotTiming& hot, const DeviceBuffer& flush) {
  return summarize(time_graph(launch, 1, 1, samples_for(hot.estimate_us + 100), &flush));
}

// ---- the copy ceiling ---------------------------------------------------------------------------------

CopyCeiling GpuTimer::measure_copy(std::int64_t bytes) {
  CopyCeiling copy;
  copy.bytes = bytes;
  const DeviceBuffer source(static_cast<std::size_t>(bytes)), destination(static_cast<std::size_t>(bytes));
  throw_on_cuda_error(cudaMemsetAsync(source.get(), 0x3c, source.bytes(), stream_), "cudaMemsetAsync");
  const auto copy_once = [&] {
    throw_on_cuda_error(
        cudaMemcpyAsync(destination.get(), source.get(), source.bytes(), cudaMemcpyDeviceToDevice, stream_),
        "cudaMemcpyAsync device to device");
  };
  for (int i = 0; i < 3; ++i) copy_once();
  const int samples = std::min(30, events_.size());
  for (int i = 0; i < samples; ++i) {
    throw_on_cuda_error(cudaEventRecord(events_.start(i), stream_), "cudaEventRecord");
    copy_once();
    throw_on_cuda_error(cudaEventRecord(events_.stop(i), stream_), "cudaEventRecord");
  }
  throw_on_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (copy)");
  std::vector<double> times;
  for (int i = 0; i < samples; ++i) times.push_back(events_.elapsed_us(i));
  copy.time = summarize(times);
  copy.tbs = terabytes_per_second(2 * bytes, copy.time.median);
  return copy;
}

}  // namespace pal::bench
