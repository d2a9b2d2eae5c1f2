// The grouped kernel's GPU backend in a build without CUDA: every entry point says so.
#include "kernels/grouped_gpu_backend.h"

namespace pal {

namespace {
[[noreturn]] void no_cuda() {
  throw ScenarioError("this build has no CUDA backend (no nvcc at configure time): use --backend emulator");
}
}  // namespace

bool grouped_gpu_available(std::string* why_not) {
  if (why_not) *why_not = "this build has no CUDA backend (no nvcc at configure time)";
  return false;
}
std::string grouped_gpu_device_name() { return "no GPU backend"; }
GroupedDevice gpu_grouped_device(const LaunchShape&, GroupedMath, int) { no_cuda(); }
bool gpu_grouped_config_compiled(DType, KvCacheDtype, int, int, GroupedMath) { return false; }
GroupedPlan gpu_plan_grouped(const LaunchShape&, GroupedMath, int, int) { no_cuda(); }
GroupedRun run_grouped_on_gpu(const LaunchShape&, const Inputs&, GroupedMath, const GroupedOptions&) { no_cuda(); }
void gpu_launch_grouped(const LaunchShape&, const LaunchBuffers&, const GroupedWorkspace&, const GroupedPlan&, void*) {
  no_cuda();
}

}  // namespace pal
