// The GPU backend of a build without a CUDA compiler: every entry point says so.
#include <stdexcept>

#include "kernels/gpu_backend.h"

namespace pal {

namespace {
constexpr const char* kNoCuda =
    "this build has no GPU backend (no CUDA compiler was found at configure time); "
    "use --backend emulator, or install the CUDA toolkit and reconfigure";
}

bool gpu_backend_available(std::string* why_not) {
  if (why_not) *why_not = kNoCuda;
  return false;
}
std::string gpu_device_name() { return "none"; }
GpuDeviceInfo gpu_device_info() { throw std::runtime_error(kNoCuda); }
std::size_t gpu_max_shared_memory_per_block() { return 0; }
bool gpu_config_compiled(DType, KvCacheDtype, int, int, bool) { return false; }
GpuRunResult run_on_gpu(const LaunchShape&, const Inputs&, Recording*) { throw std::runtime_error(kNoCuda); }
void gpu_launch_production(const LaunchShape&, const LaunchBuffers&, void*) { throw std::runtime_error(kNoCuda); }
void gpu_launch_recording(const LaunchShape&, const LaunchBuffers&, const RecordPointers&, void*) {
  throw std::runtime_error(kNoCuda);
}

}  // namespace pal
