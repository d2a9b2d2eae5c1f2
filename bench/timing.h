// Timing GPU work from the host: CUDA events around replays of a captured CUDA graph, so host
// round trips stay out of what is timed. Host C++ over the CUDA runtime.
//
//   hot   the same inputs launched back to back (as the upstream figures were taken): one sample is
//         one graph replay of N launches (N makes a sample >= sample_target_us, at most 64) divided
//         by N; after three warm-up replays, samples until about target_ms of GPU time (clamped to
//         [min_samples, max_samples]); the median over samples is the result, p10 and p90 beside it.
//   cold  launches that find their inputs evicted from L2: a graph launches once on each of several
//         copies of the inputs in turn (together larger than 3x L2, bench/plan.h), or one launch
//         after writing a flush buffer larger than L2 outside the events.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "bench/bench_model.h"
#include "kernels/cuda_support.cuh"

namespace pal::bench {

using Enqueue = std::function<void(cudaStream_t)>;

struct SamplingOptions {
  double target_ms = 60;          // GPU time per measurement, before clamping the sample count
  int min_samples = 15;
  int max_samples = 200;
  double sample_target_us = 200;  // launches per sample: enough back-to-back work for this long
  int launches_per_sample = 0;    // 0: chosen from sample_target_us
};

// A pool of start/stop event pairs created once and reused by every measurement.
class EventPairs {
 public:
  explicit EventPairs(int count);
  ~EventPairs();
  EventPairs(const EventPairs&) = delete;
  EventPairs& operator=(const EventPairs&) = delete;
  int size() const { return int(starts_.size()); }
  cudaEvent_t start(int i) const { return starts_[std::size_t(i)]; }
  cudaEvent_t stop(int i) const { return stops_[std::size_t(i)]; }
  double elapsed_us(int i) const;

 private:
  std::vector<cudaEvent_t> starts_, stops_;
};

// A captured graph and its executable form, destroyed together.
class Graph {
 public:
  // Captures whatever `enqueue` puts on `stream`. Relaxed mode: the launch path may call
  // cudaFuncSetAttribute (v1 above 48 KB of shared memory), which is not a stream operation.
  Graph(cudaStream_t stream, const Enqueue& enqueue);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  void launch(cudaStream_t stream) const;

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

struct HotTiming {
  TimingSummary time;           // per launch, us
  int launches_per_sample = 0;
  double estimate_us = 0;       // best of three single launches, which sized the samples
};

struct CopyCeiling {
  TimingSummary time;       // one copy, us
  std::int64_t bytes = 0;   // each way
  double tbs = 0;           // read + write: both are traffic of the memory system
};

class GpuTimer {
 public:
  GpuTimer(cudaStream_t stream, const SamplingOptions& options);

  // Hot: `launch` replayed back to back on the same inputs.
  HotTiming time_hot(const Enqueue& launch);
  // Cold by rotation: `launch_on_set(stream, i)` launches on input set i of `num_sets` (> 1); one
  // round launches every set once, and a sample holds as many rounds as fit the hot sample's launches.
  TimingSummary time_cold_rotating(const std::function<void(cudaStream_t, int)>& launch_on_set, int num_sets,
                                   const HotTiming& hot);
  // Cold by flushing: `flush` is overwritten before each timed launch, outside the events.
  TimingSummary time_cold_flushed(const Enqueue& launch, const HotTiming& hot, const DeviceBuffer& flush);
  // The practical bandwidth ceiling: a device-to-device cudaMemcpy of `bytes` each way.
  CopyCeiling measure_copy(std::int64_t bytes);

 private:
  double estimate_launch_us(const Enqueue& launch);
  int launches_per_sample(double launch_us) const;
  int samples_for(double sample_us) const;
  // Captures `rounds` repetitions of `enqueue_round` (which issues `launches_per_round` launches)
  // in one graph and returns the per-launch time of each of `samples` replays, in us.
  std::vector<double> time_graph(const Enqueue& enqueue_round, int launches_per_round, int rounds, int samples,
                                 const DeviceBuffer* flush_before_each);

  cudaStream_t stream_;
  SamplingOptions options_;
  EventPairs events_;
};

}  // namespace pal::bench
