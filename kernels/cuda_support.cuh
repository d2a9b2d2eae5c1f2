// CUDA runtime plumbing shared by the GPU backend (kernels/gpu_backend.cu, kernels/gpu_kernels.cuh)
// and the benchmark (bench/): failed calls become exceptions, and device memory has one owner.
// Runtime API only, no kernels: host C++ files that link the CUDA runtime include it as well as
// .cu files. Everything here works on a stream; nullptr is the legacy default stream, which
// synchronises with all others (what the backend's one-shot runs use).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "core/tensor.h"

namespace pal {

// A failed CUDA call. Some errors (an illegal address, a failed launch) are sticky: they poison the
// context, so nothing after them on this device can be trusted; callers that go on (the benchmark)
// check cudaDeviceSynchronize after catching one.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws CudaError "<what> failed: <error name> (<error text>)" unless `status` is cudaSuccess.
inline void throw_on_cuda_error(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw CudaError(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) +
                    ")");
}

// Device memory released when its owner goes; movable, not copyable. Zero bytes allocates nothing
// (get() is null), so optional buffers (v1's absent tmp_out) need no special case.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// A new device copy of a host tensor. Waits for the copy: the tensor may be freed right after.
DeviceBuffer upload(const Tensor& tensor, cudaStream_t stream = nullptr);
// Copies tensor.bytes.size() bytes of `buffer` into `tensor`, and waits.
void download(Tensor& tensor, const DeviceBuffer& buffer, cudaStream_t stream = nullptr);
// A new device buffer with the same bytes; asynchronous on `stream`.
DeviceBuffer duplicate(const DeviceBuffer& source, cudaStream_t stream = nullptr);
// Fills the whole buffer with 0xFF bytes, which decode as NaN in fp32, fp16 and bf16, so an element
// a kernel forgot to write cannot pass for a value. Asynchronous on `stream`.
void poison(const DeviceBuffer& buffer, cudaStream_t stream = nullptr);

}  // namespace pal
