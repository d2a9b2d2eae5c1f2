// The grouped kernel's timing functions (see grouped_timing.h).
#include "kernels/grouped_timing.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>

#include "kernels/grouped_gpu_backend.h"

namespace pal {

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}

// A captured graph and its executable form, destroyed together. Relaxed capture: the first launch
// of a configuration may call cudaFuncSetAttribute, which is not a stream operation.
class CapturedGraph {
 public:
  CapturedGraph(cudaStream_t stream, const std::function<void()>& enqueue) {
    check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
    try {
      enqueue();
    } catch (...) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(stream, &broken);
      if (broken) cudaGraphDestroy(broken);
      cudaGetLastError();
      throw;
    }
    check(cudaStreamEndCapture(stream, &graph_), "cudaStreamEndCapture");
    const cudaError_t status = cudaGraphInstantiate(&exec_, graph_, 0);
    if (status != cudaSuccess) {
      cudaGraphDestroy(graph_);
      check(status, "cudaGraphInstantiate");
    }
  }
  ~CapturedGraph() {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
  }
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  void launch(cudaStream_t stream) const { check(cudaGraphLaunch(exec_, stream), "cudaGraphLaunch"); }

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

// Replays `graph` once untimed (warm-up), then `samples` times between event pairs; returns each
// sample's microseconds divided by `launches_per_replay`.
std::vector<double> time_replays(const CapturedGraph& graph, int launches_per_replay, int samples, cudaStream_t stream) {
  std::vector<cudaEvent_t> starts(static_cast<std::size_t>(samples)), stops(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    check(cudaEventCreate(&starts[std::size_t(i)]), "cudaEventCreate");
    check(cudaEventCreate(&stops[std::size_t(i)]), "cudaEventCreate");
  }
  std::vector<double> per_launch_us;
  try {
    graph.launch(stream);
    for (int i = 0; i < samples; ++i) {
      check(cudaEventRecord(starts[std::size_t(i)], stream), "cudaEventRecord");
      graph.launch(stream);
      check(cudaEventRecord(stops[std::size_t(i)], stream), "cudaEventRecord");
    }
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (timing)");
    for (int i = 0; i < samples; ++i) {
      float ms = 0;
      check(cudaEventElapsedTime(&ms, starts[std::size_t(i)], stops[std::size_t(i)]), "cudaEventElapsedTime");
      per_launch_us.push_back(double(ms) * 1e3 / launches_per_replay);
    }
  } catch (...) {
    for (int i = 0; i < samples; ++i) {
      cudaEventDestroy(starts[std::size_t(i)]);
      cudaEventDestroy(stops[std::size_t(i)]);
    }
    throw;
  }
  for (int i = 0; i < samples; ++i) {
    cudaEventDestroy(starts[std::size_t(i)]);
    cudaEventDestroy(stops[std::size_t(i)]);
  }
  return per_launch_us;
}

}  // namespace

double estimate_grouped_launch_us(const LaunchShape& shape, const GroupedPlan& plan, const LaunchBuffers& buffers,
                                  const GroupedWorkspace& workspace, void* stream) {
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    check(cudaEventRecord(start, cuda_stream), "cudaEventRecord");
    gpu_launch_grouped(shape, buffers, workspace, plan, stream);
    check(cudaEventRecord(stop, cuda_stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    best = std::min(best, double(ms) * 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return std::max(best, 1.0);
}

std::vector<double> time_grouped_hot(const LaunchShape& shape, const GroupedPlan& plan, const LaunchBuffers& buffers,
                                     const GroupedWorkspace& workspace, int launches_per_sample, int samples,
                                     void* stream) {
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  const CapturedGraph graph(cuda_stream, [&] {
    for (int i = 0; i < launches_per_sample; ++i) gpu_launch_grouped(shape, buffers, workspace, plan, stream);
  });
  return time_replays(graph, launches_per_sample, samples, cuda_stream);
}

std::vector<double> time_grouped_cold(const LaunchShape& shape, const GroupedPlan& plan,
                                      const std::vector<LaunchBuffers>& input_sets, const GroupedWorkspace& workspace,
                                      int samples, void* stream) {
  if (input_sets.empty()) throw std::invalid_argument("time_grouped_cold needs at least one input set");
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  const CapturedGraph graph(cuda_stream, [&] {
    for (const LaunchBuffers& set : input_sets) gpu_launch_grouped(shape, set, workspace, plan, stream);
  });
  return time_replays(graph, int(input_sets.size()), samples, cuda_stream);
}

}  // namespace pal
